#!/usr/bin/env bash
# Records etcd 3.4's answers into the golden files: for each scenario, starts a throwaway etcd on loopback
# (Debian's etcd-server and etcd-client) on ports nothing listens on, runs the scenario with etcdctl, and
# stops it. CI does not run this; check.sh compares leasekvctl against the recordings.
#   scenario.txt             -> etcd-3.4.golden              (leasekvctl must match it)
#   known-differences.txt    -> etcd-3.4-known-differences.golden (cases leasekvctl does not match yet)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ETCDCTL_API=3

# A loopback port nothing accepts connections on (bash's /dev/tcp fails to connect).
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free port found" >&2
  return 1
}

pid=
dir=
stop_etcd() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  [[ -n "$dir" ]] && rm -rf "$dir"
  pid= dir=
}
trap stop_etcd EXIT

record() {
  local scenario=$1 golden=$2 client peer
  dir=$(mktemp -d)
  client=$(free_port)
  peer=$(free_port)
  etcd --name default --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$client" \
    --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "default=http://127.0.0.1:$peer" \
    >"$dir/etcd.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do etcdctl --endpoints="127.0.0.1:$client" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
  etcdctl --endpoints="127.0.0.1:$client" endpoint health >/dev/null 2>&1 || { cat "$dir/etcd.log" >&2; return 1; }
  "$here/run_scenario.sh" "$here/$scenario" etcdctl --endpoints="127.0.0.1:$client" >"$here/$golden"
  echo "recorded $(grep -c '^\$ ' "$here/$golden") commands into $here/$golden"
  stop_etcd
}

record scenario.txt etcd-3.4.golden
record known-differences.txt etcd-3.4-known-differences.golden
