#!/usr/bin/env bash
# Runs scenario.txt with leasekvctl on a fresh data directory and compares the transcript with the one
# recorded from etcd 3.4 (record.sh). Prints a unified diff and fails on any difference.
# Then runs known-differences.txt the same way and shows how it still differs from its recording
# (etcd-3.4-known-differences.golden) without failing; a case there that now matches should move to
# scenario.txt.
#   check.sh LEASEKVCTL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$here/run_scenario.sh" "$here/scenario.txt" "$1" --data-dir "$dir/db" >"$dir/leasekvctl.txt"
diff -u "$here/etcd-3.4.golden" "$dir/leasekvctl.txt"
echo "leasekvctl matches etcdctl 3.4 on $(grep -c '^\$ ' "$here/etcd-3.4.golden") commands"

"$here/run_scenario.sh" "$here/known-differences.txt" "$1" --data-dir "$dir/known" >"$dir/known.txt"
if diff -u "$here/etcd-3.4-known-differences.golden" "$dir/known.txt" >"$dir/known.diff"; then
  echo "known-differences.txt now matches etcdctl 3.4: move its cases to scenario.txt"
else
  echo "known differences from etcdctl 3.4 (not failures; see known-differences.txt):"
  cat "$dir/known.diff"
fi
