#!/usr/bin/env bash
# Runs scenario.txt with leasekvctl on a fresh data directory and compares the transcript with the one
# recorded from etcd 3.4 (record.sh). Prints a unified diff and fails on any difference.
#   check.sh LEASEKVCTL
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$here/run_scenario.sh" "$here/scenario.txt" "$1" --data-dir "$dir/db" >"$dir/leasekvctl.txt"
diff -u "$here/etcd-3.4.golden" "$dir/leasekvctl.txt"
echo "leasekvctl matches etcdctl 3.4 on $(grep -c '^\$ ' "$here/etcd-3.4.golden") commands"
