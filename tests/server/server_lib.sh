# Sourced by the end-to-end server tests: start_server SERVER [FLAG...] starts leasekv-server (with FLAGs
# added) on a loopback port the OS picks, sets $addr to the bound address and $pid to its process, and leaves its stderr in
# $dir/server.err; stop_server stops it with SIGTERM and fails unless it exits 0. The caller sets $dir
# (a temporary directory it removes) and calls cleanup_server from its EXIT trap.
pid=""
fail() { echo "FAIL: $*" >&2; [[ -f $dir/server.err ]] && sed 's/^/server: /' "$dir/server.err" >&2; exit 1; }
cleanup_server() { if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; fi; }
start_server() {
  "$1" --listen-client-urls http://127.0.0.1:0 --advertise-client-urls http://127.0.0.1:2379 "${@:2}" \
    2>"$dir/server.err" &
  pid=$!
  addr=""
  for _ in $(seq 3000); do  # generous: under the sanitizers, beside other tests
    addr=$(sed -n 's/.*serving insecure client requests on \([^,]*\),.*/\1/p' "$dir/server.err")
    [[ -n $addr ]] && break
    kill -0 "$pid" 2>/dev/null || fail "leasekv-server exited"
    sleep 0.01
  done
  [[ $addr =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "no bound address printed"
}
stop_server() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  [[ $rc -eq 0 ]] || fail "leasekv-server exited $rc on SIGTERM"
}
# wait_for FILE REGEX: waits (up to 60 s) for a line matching REGEX in FILE.
wait_for() {
  for _ in $(seq 6000); do
    grep -q -E "$2" "$1" 2>/dev/null && return 0
    sleep 0.01
  done
  fail "no line matching '$2' in $1: $(cat "$1" 2>/dev/null)"
}
