#!/usr/bin/env bash
# Records etcd 3.4's answers to scenario.txt into etcd-3.4.golden: starts a throwaway etcd on loopback
# (Debian's etcd-server and etcd-client), runs the scenario with etcdctl, stops it. CI does not run this;
# it compares leasekvctl against the recorded file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
etcd --data-dir "$dir" --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
  --listen-peer-urls http://127.0.0.1:23800 >"$dir.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir" "$dir.log"' EXIT
for _ in $(seq 50); do ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:23790 endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
export ETCDCTL_API=3
"$here/run_scenario.sh" "$here/scenario.txt" etcdctl --endpoints=127.0.0.1:23790 >"$here/etcd-3.4.golden"
echo "recorded $(grep -c '^\$ ' "$here/etcd-3.4.golden") commands into $here/etcd-3.4.golden"
