#!/usr/bin/env bash
# Writes startup-order.txt beside this script: the functions a static leasekv-server runs from exec to
# its first second of idling and a first put and get, in memory and then with --data-dir, as callgrind
# sees them, in the order callgrind lists them. leasekv-server's static link places the sections holding
# them first and together (CMakeLists.txt here), so that a start and an idle server touch ~4 MB of code
# rather than pages spread over all of its 12 MB. Run it on a static build after changing what a start
# runs (or after a gRPC, protobuf or glibc upgrade), then rebuild and commit the list:
#
#   tools/leasekv-server/startup-order.sh build/bench/tools/leasekv-server/leasekv-server
#
# Needs valgrind (callgrind) and etcdctl. Takes ~30 s. The server listens on loopback, port 0.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 LEASEKV-SERVER" >&2; exit 2; }
server=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

profile() {  # NAME [FLAG...]: $work/NAME.out.1 profiles a start, 1 s idle, a put and a get
  local name=$1 addr=""
  shift
  valgrind --tool=callgrind --callgrind-out-file="$work/$name.out" --dump-instr=no --compress-strings=no \
    --demangle=no "$server" --listen-client-urls http://127.0.0.1:0 --advertise-client-urls http://127.0.0.1:2379 \
    "$@" 2>"$work/$name.log" &
  pid=$!
  for _ in $(seq 6000); do
    addr=$(sed -n 's/.*serving insecure client requests on \([^,]*\),.*/\1/p' "$work/$name.log")
    [ -n "$addr" ] && break
    sleep 0.01
  done
  [ -n "$addr" ] || { echo "$0: the server did not start:" >&2; cat "$work/$name.log" >&2; exit 1; }
  sleep 1
  ETCDCTL_API=3 etcdctl --endpoints "$addr" put /startup-order v >/dev/null
  ETCDCTL_API=3 etcdctl --endpoints "$addr" get /startup-order >/dev/null
  # What ran so far, not the shutdown.
  callgrind_control --dump "$pid" >/dev/null 2>&1
  for _ in $(seq 1000); do
    [ -s "$work/$name.out.1" ] && break
    sleep 0.01
  done
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
  [ -s "$work/$name.out.1" ] || { echo "$0: no profile from callgrind" >&2; exit 1; }
}

profile memory
mkdir "$work/data"
profile durable --data-dir "$work/data"

nm --defined-only "$server" | awk 'NF == 3 { print $3 }' >"$work/defined"
{
  echo "# The functions a start of leasekv-server runs, for lld's --symbol-ordering-file. Written by"
  echo "# startup-order.sh (the script beside it) from a profiled start; do not edit by hand."
  cat "$work/memory.out.1" "$work/durable.out.1" | sed -n 's/^fn=//p' | awk '!seen[$0]++' |
    awk 'NR == FNR { defined[$0] = 1; next } defined[$0]' "$work/defined" -
} >"$here/startup-order.txt"
echo "$0: $(grep -vc '^#' "$here/startup-order.txt") functions in $here/startup-order.txt" >&2
