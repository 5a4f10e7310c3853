#!/usr/bin/env bash
# Quick start, command 1: installs what is missing, builds leasekv, and runs the seed walkthrough with
# leasekvctl: grant a lease, put a key on it, read it back as text and JSON, list leases, show its
# time-to-live, then watch it expire. LEASE_TTL (seconds, default 10) sets the lease's TTL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DLEASEKV_BUILD_TESTS=OFF >/dev/null
cmake --build build/release --target leasekvctl >/dev/null

ttl=${LEASE_TTL:-10}
ctl=build/release/tools/leasekvctl/leasekvctl
export LEASEKV_DATA_DIR=$(mktemp -d)/walkthrough.leasekv
trap 'rm -rf "$(dirname "$LEASEKV_DATA_DIR")"' EXIT
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
