#!/usr/bin/env bash
# Lock hand-off latency and contended lock throughput (issue 22), in one run:
#   - leasekv::mutex in process (lock_bench, on the embedded in-memory store);
#   - clientv3's concurrency.Mutex (clientv3/main.go) through leasekv-server (in memory);
#   - clientv3's concurrency.Mutex against etcd 3.4 (Debian's etcd-server, its own data directory).
# Rounds alternate the three (A B C A B C ...); every raw JSON line goes to DIR/results.jsonl with the
# system it measured and the round, and the script prints the medians and ranges.
#
#   benchmarks/recipes/run.sh LOCK_BENCH LEASEKV_SERVER [--out DIR] [--rounds N] [--seconds S] [--handoffs N]
#
# Not a test and not in CI. Needs golang-go, golang-etcd-server-dev (clientv3 in GOPATH mode) and
# etcd-server. Servers listen on loopback only (leasekv-server on port 0, etcd on free ports) and are
# stopped here.
set -euo pipefail
lock_bench=$(realpath "$1")
server=$(realpath "$2")
shift 2
out=build/recipes-bench
rounds=3
seconds=2
handoffs=100
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --handoffs) handoffs="$2"; shift ;;
    *) echo "usage: $0 LOCK_BENCH LEASEKV_SERVER [--out DIR] [--rounds N] [--seconds S] [--handoffs N]" >&2; exit 2 ;;
  esac
  shift
done
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$here/clientv3" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$out/gocache" go build -o "$out/recipes" .)
gobench=$out/recipes

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
client=$(free_port)
peer=$(free_port)
etcd --name bench --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$client" \
  --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
  --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "bench=http://127.0.0.1:$peer" \
  >"$work/etcd.log" 2>&1 &
pids+=($!)
"$server" --listen-client-urls http://127.0.0.1:0 --advertise-client-urls http://127.0.0.1:2379 \
  >/dev/null 2>"$work/server.err" &
pids+=($!)
srv=
for _ in $(seq 500); do
  srv=$(sed -n 's/.*serving insecure client requests on \([^,]*\),.*/\1/p' "$work/server.err")
  [[ -n $srv ]] && break
  sleep 0.02
done
[[ -n $srv ]] || { cat "$work/server.err" >&2; exit 1; }
for _ in $(seq 100); do ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$client" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done

results=$out/results.jsonl
: >"$results"
tag() { sed "s/^{/{\"system\":\"$1\",\"round\":$2,/" >>"$results"; }
uptime | tee "$out/load.txt"
for ((r = 1; r <= rounds; r++)); do
  "$lock_bench" handoff "$handoffs" | tag in-process "$r"
  "$gobench" handoff "$srv" "$handoffs" | tag leasekv-server "$r"
  "$gobench" handoff "127.0.0.1:$client" "$((handoffs / 4))" | tag etcd "$r"
  for n in 1 16 64; do
    "$lock_bench" throughput "$n" "$seconds" | tag in-process "$r"
    "$gobench" throughput "$srv" "$n" "$seconds" | tag leasekv-server "$r"
    "$gobench" throughput "127.0.0.1:$client" "$n" "$seconds" | tag etcd "$r"
  done
done
uptime | tee -a "$out/load.txt"
python3 - "$results" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
def cell(vals, fmt):
    return f"{fmt(statistics.median(vals))} ({fmt(min(vals))}–{fmt(max(vals))})"
systems = ["in-process", "leasekv-server", "etcd"]
print("| measurement | " + " | ".join(systems) + " |")
print("|---|" + "---|" * len(systems))
h = {s: [r["p50_us"] for r in rows if r["bench"] == "handoff" and r["system"] == s] for s in systems}
print("| hand-off p50, µs | " + " | ".join(cell(h[s], lambda v: f"{v:,.0f}") for s in systems) + " |")
for n in (1, 16, 64):
    t = {s: [r["locks_per_s"] for r in rows if r["bench"] == "throughput" and r["system"] == s and r["contenders"] == n] for s in systems}
    print(f"| locks/s, {n} contenders | " + " | ".join(cell(t[s], lambda v: f"{v:,.0f}") for s in systems) + " |")
PY
