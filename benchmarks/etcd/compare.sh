#!/usr/bin/env bash
# Runs the standard workloads on leasekv and on etcd 3.4's own mvcc and lease packages in one go and
# prints, per workload, the figure for each and the ratio etcd/leasekv (how many times leasekv is ahead).
#
#   benchmarks/etcd/compare.sh [--quick] [--out DIR] [--keep-etcd]
#
# --keep-etcd reruns only leasekv and pairs it with DIR/etcd.jsonl from an earlier run (for before/after
# measurements of a leasekv change; etcd does not change).
# --quick uses small sizes (a minute in all); the default sizes are the issue's (1,000,000 keys and
# leases, a storm of 10,000 x 10), which take several minutes, most of it etcd's gets.
# DIR (default build/compare) receives leasekv.jsonl, etcd.jsonl, table.md and plot.svg.
# Installs golang-go and golang-etcd-server-dev (Debian 12) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

sizes=()
out=build/compare
keep_etcd=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) sizes=(--keys 50000 --ranges 2000 --leases 50000 --storm-leases 2000 --storm-keys 5) ;;
    --out) out="$2"; shift ;;
    --keep-etcd) keep_etcd=1 ;;
    *) echo "usage: $0 [--quick] [--out DIR] [--keep-etcd]" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
out=$(cd "$out" && pwd)

scripts/setup.sh golang-go golang-etcd-server-dev

echo "compare: building leasekv (Release)" >&2
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DLEASEKV_BUILD_TESTS=OFF -DLEASEKV_BUILD_BENCHMARKS=ON >/dev/null
cmake --build build/bench --target leasekv_workloads >/dev/null
echo "compare: running leasekv" >&2
build/bench/benchmarks/leasekv_workloads --only compare "${sizes[@]}" | tee "$out/leasekv.jsonl" >&2
if [ "$keep_etcd" -eq 0 ] || [ ! -s "$out/etcd.jsonl" ]; then
  echo "compare: building the etcd program (GOPATH mode, Debian's etcd 3.4 sources)" >&2
  (cd benchmarks/etcd && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$out/gocache" \
    go build -o "$out/etcd_workloads" main.go)
  echo "compare: running etcd" >&2
  "$out/etcd_workloads" "${sizes[@]}" | tee "$out/etcd.jsonl" >&2
fi

python3 benchmarks/etcd/table.py "$out/leasekv.jsonl" "$out/etcd.jsonl" "$out/plot.svg" | tee "$out/table.md"
