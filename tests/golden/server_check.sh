#!/usr/bin/env bash
# Replays scenario.txt with real etcdctl 3.4 against leasekv-server (in memory, on a loopback port the OS
# picked) and compares the transcript with the one recorded from real etcd 3.4 (record.sh), under the
# same normalisation as check.sh. Prints a unified diff and fails on any difference. Then shows how
# known-differences.txt still differs, without failing (as check.sh does).
#   server_check.sh LEASEKV_SERVER
set -euo pipefail
server=$1
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
pid=
stop() {
  if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pid=
}
trap 'stop; rm -rf "$dir"' EXIT
command -v etcdctl >/dev/null || { echo "etcdctl is missing (scripts/setup.sh installs etcd-client)" >&2; exit 1; }
export ETCDCTL_API=3

# Starts a fresh server; sets addr to its bound address (etcd's "serving insecure client requests on" line).
addr=
start() {
  "$server" --listen-client-urls http://127.0.0.1:0 --advertise-client-urls http://127.0.0.1:2379 \
    >/dev/null 2>"$dir/server.err" &
  pid=$!
  addr=
  for _ in $(seq 3000); do  # generous: under the sanitizers, beside other tests
    addr=$(sed -n 's/.*serving insecure client requests on \([^,]*\),.*/\1/p' "$dir/server.err")
    [[ -n $addr ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/server.err" >&2; echo "leasekv-server exited" >&2; return 1; }
    sleep 0.01
  done
  [[ -n $addr ]] || { cat "$dir/server.err" >&2; echo "no bound address printed" >&2; return 1; }
}

start
"$here/run_scenario.sh" "$here/scenario.txt" etcdctl --endpoints="$addr" >"$dir/server.txt"
stop
diff -u "$here/etcd-3.4.golden" "$dir/server.txt"
echo "etcdctl against leasekv-server matches etcdctl against etcd 3.4 on $(grep -c '^\$ ' "$here/etcd-3.4.golden") commands"

start
"$here/run_scenario.sh" "$here/known-differences.txt" etcdctl --endpoints="$addr" >"$dir/known.txt"
stop
if diff -u "$here/etcd-3.4-known-differences.golden" "$dir/known.txt" >"$dir/known.diff"; then
  echo "known-differences.txt matches too against leasekv-server"
else
  echo "known differences from etcd 3.4 against leasekv-server (not failures; see known-differences.txt):"
  cat "$dir/known.diff"
fi
