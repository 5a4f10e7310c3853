#!/usr/bin/env bash
# leasekv-server against Debian's etcd 3.4 in one run, through the same Go clientv3 load generator
# (loadgen.go here): time from spawn to the first put, idle RSS and RSS at 100,000 keys, throughput and
# p50/p99 latency of put / get / lease (grant + put on it) / txn (compare-and-swap) at 1, 16 and 64
# clients, and watch events delivered per second to 100 watchers of one prefix. Three servers: etcd,
# leasekv-server in memory ("leasekv"), leasekv-server with --data-dir ("leasekv-durable"). Prints the
# table (markdown) and writes DIR/table.md, DIR/plot.svg and every raw line in DIR/*.jsonl.
#
#   benchmarks/server/run.sh [--server PATH] [--out DIR] [--rounds N] [--seconds S] [--starts N] [--quick]
#
# --server: a leasekv-server binary (default: build it, Release, in build/bench as benchmarks/etcd does).
# --rounds: each measurement is taken this many times, the three servers alternating in a rotating order
#   (default 3); the table shows the median and the range. --seconds: length of each (default 2).
# --starts: spawn-to-first-put repetitions per server (default 10). --quick: 1 round of 1 s, 3 starts,
#   10,000 keys.
#
# Not a test and not in CI. Needs Debian 12's golang-go, golang-etcd-server-dev (clientv3 in GOPATH mode)
# and etcd-server (/usr/bin/etcd 3.4); scripts/setup.sh installs them with the build's packages. Every
# server listens on loopback only: leasekv-server on port 0 (the bound address is read from its log),
# etcd on free ports this script asks the OS for. Data directories live under DIR (a real disk, so syncs
# cost what they cost). Every server started here is stopped here.
#
# The machine is shared: each JSON line carries the CPU (in cores) the server, the load generator and
# everything else used during that measurement (server_cores, gen_cores, other_cores), and the table
# marks a cell whose measurements saw other_cores > 0.5 with "*".
set -euo pipefail
cd "$(dirname "$0")/../.."

server=""
out=build/server-bench
rounds=3
seconds=2
starts=10
fill=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --server) server="$2"; shift ;;
    --out) out="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --starts) starts="$2"; shift ;;
    --quick) rounds=1; seconds=1; starts=3; fill=10000 ;;
    *) echo "usage: $0 [--server PATH] [--out DIR] [--rounds N] [--seconds S] [--starts N] [--quick]" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
work="$out/run"
rm -rf "$work"
mkdir -p "$work"

scripts/setup.sh golang-go golang-etcd-server-dev etcd-server
command -v etcd >/dev/null || { echo "run.sh: etcd is missing (etcd-server)" >&2; exit 1; }

if [ -z "$server" ]; then
  echo "run.sh: building leasekv-server (Release, build/bench)" >&2
  cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DLEASEKV_BUILD_TESTS=OFF >/dev/null
  cmake --build build/bench --target leasekv-server >/dev/null
  server=build/bench/tools/leasekv-server/leasekv-server
fi
server=$(cd "$(dirname "$server")" && pwd)/$(basename "$server")
echo "run.sh: building the load generator (GOPATH mode, Debian's clientv3)" >&2
(cd benchmarks/server && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$out/gocache" \
  go build -o "$out/loadgen" loadgen.go)
gen="$out/loadgen"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
lk_flags=(--listen-client-urls http://127.0.0.1:0 --advertise-client-urls http://127.0.0.1:2379)
etcd_args() {  # DIR CLIENT_PORT PEER_PORT: sets etcd_argv, a single member on loopback
  etcd_argv=(--data-dir "$1" --listen-client-urls "http://127.0.0.1:$2" --advertise-client-urls "http://127.0.0.1:$2"
    --listen-peer-urls "http://127.0.0.1:$3" --initial-advertise-peer-urls "http://127.0.0.1:$3"
    --initial-cluster "default=http://127.0.0.1:$3")
}
servers=(etcd leasekv leasekv-durable)
# The servers in a rotating order: measurement k starts with server k mod 3.
order() { local k=$1 i; for i in 0 1 2; do echo "${servers[$(((k + i) % 3))]}"; done; }

# ---- spawn to first put ----
echo "run.sh: spawn to first put, $starts times each" >&2
for ((i = 0; i < starts; i++)); do
  for s in $(order "$i"); do
    d="$work/start-$s-$i"
    cp=$(free_port)
    etcd_args "$d" "$cp" "$(free_port)"
    case $s in
      etcd) "$gen" start -endpoint "127.0.0.1:$cp" -- etcd "${etcd_argv[@]}" ;;
      leasekv) "$gen" start -stderr-addr -- "$server" "${lk_flags[@]}" ;;
      leasekv-durable) "$gen" start -stderr-addr -- "$server" "${lk_flags[@]}" --data-dir "$d" ;;
    esac | sed "s/^{/{\"label\":\"$s\",/" >>"$work/start.jsonl"
    rm -rf "$d"
  done
done

# ---- the three servers, kept up for the rest ----
declare -A pid endpoint
start_server() {  # NAME
  local s=$1 log="$work/$1.log"
  case $s in
    etcd)
      local cp pp; cp=$(free_port); pp=$(free_port)
      etcd_args "$work/etcd.data" "$cp" "$pp"
      etcd "${etcd_argv[@]}" 2>"$log" &
      endpoint[$s]="127.0.0.1:$cp" ;;
    leasekv) "$server" "${lk_flags[@]}" 2>"$log" & ;;
    leasekv-durable) "$server" "${lk_flags[@]}" --data-dir "$work/leasekv.data" 2>"$log" & ;;
  esac
  pid[$s]=$!
  pids+=("${pid[$s]}")
  local a=""
  for _ in $(seq 3000); do
    if [ "$s" = etcd ]; then
      grep -q 'ready to serve client requests' "$log" && a=${endpoint[$s]}
    else
      a=$(sed -n 's/.*serving insecure client requests on \([^,]*\),.*/\1/p' "$log")
    fi
    [ -n "$a" ] && break
    kill -0 "${pid[$s]}" 2>/dev/null || { echo "run.sh: $s exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.01
  done
  [ -n "$a" ] || { echo "run.sh: $s did not start" >&2; exit 1; }
  endpoint[$s]=$a
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
for s in "${servers[@]}"; do start_server "$s"; done
sleep 1
for s in "${servers[@]}"; do
  echo "{\"label\":\"$s\",\"workload\":\"rss_idle\",\"rss_kib\":$(rss_kib "${pid[$s]}")}" >>"$work/results.jsonl"
done

echo "run.sh: filling $fill keys into each" >&2
for s in $(order 0); do
  "$gen" fill -endpoint "${endpoint[$s]}" -keys "$fill" | sed "s/^{/{\"label\":\"$s\",\"workload\":\"fill\",/" \
    >>"$work/results.jsonl"
  sleep 0.5
  echo "{\"label\":\"$s\",\"workload\":\"rss_filled\",\"keys\":$fill,\"rss_kib\":$(rss_kib "${pid[$s]}")}" \
    >>"$work/results.jsonl"
done

k=0
for w in get put txn lease; do
  for c in 1 16 64; do
    echo "run.sh: $w, $c clients" >&2
    for ((r = 0; r < rounds; r++)); do
      for s in $(order "$k"); do
        "$gen" run -endpoint "${endpoint[$s]}" -workload "$w" -clients "$c" -seconds "$seconds" \
          -fill-keys "$fill" -server-pid "${pid[$s]}" -label "$s" >>"$work/results.jsonl"
      done
      k=$((k + 1))
    done
  done
done
echo "run.sh: watch, 100 watchers" >&2
for ((r = 0; r < rounds; r++)); do
  for s in $(order "$k"); do
    "$gen" watch -endpoint "${endpoint[$s]}" -watchers 100 -seconds "$seconds" -server-pid "${pid[$s]}" \
      -label "$s" >>"$work/results.jsonl"
  done
  k=$((k + 1))
done
for s in "${servers[@]}"; do
  echo "{\"label\":\"$s\",\"workload\":\"rss_end\",\"rss_kib\":$(rss_kib "${pid[$s]}")}" >>"$work/results.jsonl"
done
cleanup
pids=()

cp "$work/start.jsonl" "$work/results.jsonl" "$out/"
python3 benchmarks/server/table.py "$out/start.jsonl" "$out/results.jsonl" "$out/plot.svg" | tee "$out/table.md"
