#!/usr/bin/env bash
# SIGKILL of a durable leasekv-server under client load: every acknowledged put survives. Rounds: start
# the server on one --data-dir (an OS-picked loopback port each time), check every put acknowledged so
# far, start a Go clientv3 program putting keys from 16 goroutines and recording each acknowledged put,
# SIGKILL the server at a different point of the load each round (after 1, 50, 300 or 1000
# acknowledgements, plus 0-250 ms), let the program see its puts fail, and go on. A last start checks
# everything once more.
#   sigkill.sh LEASEKV_SERVER WORK_DIR
set -euo pipefail
server=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
dir=$(mktemp -d)
pid=""
loader=""
cleanup() {
  if [[ -n $loader ]]; then kill "$loader" 2>/dev/null || true; fi
  if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $dir/server.err ]] && tail -n 20 "$dir/server.err" | sed 's/^/server: /' >&2; exit 1; }
command -v go >/dev/null || fail "go is missing (scripts/setup.sh installs golang-go)"

(cd "$here/sigkill" && GO111MODULE=off GOPATH=/usr/share/gocode \
  go build -o "$work/sigkill" main.go) || fail "building the Go client"

addr=""
start_server() {
  : >"$dir/server.err"
  "$server" --data-dir "$dir/data" --listen-client-urls http://127.0.0.1:0 \
    --advertise-client-urls http://127.0.0.1:2379 2>"$dir/server.err" &
  pid=$!
  addr=""
  for _ in $(seq 3000); do  # generous: under the sanitizers, beside other tests
    addr=$(sed -n 's/.*serving insecure client requests on \([^,]*\),.*/\1/p' "$dir/server.err")
    [[ -n $addr ]] && return 0
    kill -0 "$pid" 2>/dev/null || fail "leasekv-server exited"
    sleep 0.01
  done
  fail "no bound address printed"
}

: >"$dir/acks"
round=0
for after in 1 50 300 1000; do
  round=$((round + 1))
  start_server
  n=$("$work/sigkill" check "$addr" "$dir/acks") || fail "round $round: acknowledged puts lost after a restart"
  echo "round $round: $n acknowledged puts found after the restart"
  "$work/sigkill" load "$addr" "r$round" 16 >"$dir/load.out" 2>"$dir/load.err" &
  loader=$!
  for _ in $(seq 6000); do
    [[ $(wc -l <"$dir/load.out") -ge $after ]] && break
    kill -0 "$loader" 2>/dev/null || fail "round $round: the Go client exited: $(cat "$dir/load.err")"
    sleep 0.01
  done
  [[ $(wc -l <"$dir/load.out") -ge $after ]] || fail "round $round: fewer than $after puts acknowledged in 60 s"
  sleep "0.$(printf '%03d' $((RANDOM % 250)))"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  wait "$loader" || fail "round $round: the Go client failed: $(cat "$dir/load.err")"
  loader=""
  acked=$(wc -l <"$dir/load.out")
  echo "round $round: killed after $acked acknowledged puts"
  cat "$dir/load.out" >>"$dir/acks"
done
start_server
n=$("$work/sigkill" check "$addr" "$dir/acks") || fail "acknowledged puts lost after the last restart"
echo "last start: all $n acknowledged puts found"
kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
pid=""
[[ $rc -eq 0 ]] || fail "leasekv-server exited $rc on SIGTERM"
echo "1 passed, 0 failed"
