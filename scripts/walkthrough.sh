#!/usr/bin/env bash
# Quick start, command 1: installs what is missing, builds leasekv, and runs the seed walkthrough with
# leasekvctl: grant a lease, put a key on it, read it back as text and JSON, list leases, show its
# time-to-live, then watch it expire. LEASE_TTL (seconds, default 10) sets the lease's TTL.
# Then the same tutorial over the wire: leasekv-server on a loopback port the OS picks, the tutorial's Go
# program (clientv3: Grant(30), Put with the lease) against it, and real etcdctl 3.4 reading the result;
# the server runs on a manual clock, so one HTTP call moves time 31 s on and the lease expires at once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DLEASEKV_BUILD_TESTS=OFF >/dev/null
cmake --build build/release --target leasekvctl leasekv-server >/dev/null

ttl=${LEASE_TTL:-10}
ctl=build/release/tools/leasekvctl/leasekvctl
scratch=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
export LEASEKV_DATA_DIR=$scratch/walkthrough.leasekv
run() { printf '\n$ leasekvctl %s\n' "$*"; "$ctl" "$@"; }

printf '$ leasekvctl lease grant %s\n' "$ttl"
grant=$("$ctl" lease grant "$ttl")
echo "$grant"
id=$(echo "$grant" | awk '{print $2}')
run put /tmp/pid 2187 --lease="$id"
run get /tmp/pid
run get /tmp/pid -w json
run lease list
run lease timetolive "$id" --keys
printf '\n(waiting %ss for the lease to expire...)\n' "$ttl"
sleep "$ttl"
sleep 1
run lease timetolive "$id" --keys
run get /tmp/pid
printf '(nothing: /tmp/pid is gone)\n'
run get /tmp/pid -w json

printf '\n==== the same tutorial over the wire: Go clientv3 and etcdctl 3.4 against leasekv-server ====\n'
(cd tests/server/tutorial && GO111MODULE=off GOPATH=/usr/share/gocode \
  go build -o "$scratch/tutorial" main.go)
printf '\n$ leasekv-server --manual-clock --listen-client-urls http://127.0.0.1:0 --advertise-client-urls http://127.0.0.1:2379\n'
build/release/tools/leasekv-server/leasekv-server --manual-clock --listen-client-urls http://127.0.0.1:0 \
  --advertise-client-urls http://127.0.0.1:2379 >/dev/null 2>"$scratch/server.err" &
server_pid=$!
addr=
for _ in $(seq 1000); do
  addr=$(sed -n 's/.*serving insecure client requests on \([^,]*\),.*/\1/p' "$scratch/server.err")
  [[ -n $addr ]] && break
  sleep 0.01
done
[[ -n $addr ]] || { cat "$scratch/server.err" >&2; exit 1; }
cat "$scratch/server.err"
etcdctl() { printf '\n$ etcdctl %s\n' "$*"; ETCDCTL_API=3 command etcdctl --endpoints="$addr" "$@"; }
printf '\n$ go run tests/server/tutorial/main.go %s   # Grant(30), then Put("/tmp/pid", "2187", WithLease)\n' "$addr"
"$scratch/tutorial" "$addr"
etcdctl get /tmp/pid -w json
echo
id=$(ETCDCTL_API=3 command etcdctl --endpoints="$addr" lease list | sed -n 2p)
etcdctl lease list
etcdctl lease timetolive "$id" --keys
printf '\n$ curl -X POST http://%s/leasekv/clock/advance?by=31s   # the manual clock, 31 s on\n' "$addr"
curl -sS -X POST "http://$addr/leasekv/clock/advance?by=31s"
echo
etcdctl lease timetolive "$id"
etcdctl get /tmp/pid
printf '(nothing: the lease expired, and took /tmp/pid with it)\n'
