#!/usr/bin/env bash
# Locks and elections against leasekv-server with real etcd clients:
#  - clientv3/concurrency's Mutex and Election between Go processes (recipes clientv3 runs itself over KV,
#    Lease and Watch): mutual exclusion, waiting in line, a leader resigning, a leader's session closing,
#    an observer seeing each leader;
#  - the server-side v3lockpb.Lock and v3electionpb.Election services through their Go stubs;
#  - etcdctl lock and elect.
# The server listens on a loopback port the OS picked and is stopped here.
#   concurrency.sh LEASEKV_SERVER WORK_DIR
set -euo pipefail
server=$1
mkdir -p "$2"
work=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
source "$here/server_lib.sh"
children=()
cleanup() {
  for c in "${children[@]}"; do kill "$c" 2>/dev/null || true; done
  cleanup_server
  rm -rf "$dir"
}
trap cleanup EXIT
command -v go >/dev/null || fail "go is missing (scripts/setup.sh installs golang-go)"
command -v etcdctl >/dev/null || fail "etcdctl is missing (scripts/setup.sh installs etcd-client)"

# The Go program (compiled packages are kept in Go's own cache, shared by every build directory).
(cd "$here/concurrency" && GO111MODULE=off GOPATH=/usr/share/gocode \
  go build -o "$work/concurrency" .) || fail "building the Go clients"
bin=$work/concurrency

start_server "$server"
etcdctl=(env ETCDCTL_API=3 etcdctl --endpoints="$addr")  # run in the background as is, $! is etcdctl
ctl() { "${etcdctl[@]}" "$@"; }
count() { ctl get "$1" --prefix --keys-only | grep -c . || true; }
wait_count() {  # wait_count PREFIX N: until N keys are under PREFIX
  for _ in $(seq 6000); do [[ $(count "$1") -ge $2 ]] && return 0; sleep 0.01; done
  fail "fewer than $2 keys under $1"
}
# run NAME ARGS...: a Go client in the background, its output in $dir/NAME.out.
run() { local n=$1; shift; "$bin" "$@" >"$dir/$n.out" 2>"$dir/$n.err" & children+=($!); eval "pid_$n=$!"; }
finished() { local p="pid_$1"; wait "${!p}" || fail "$1 failed: $(cat "$dir/$1.out" "$dir/$1.err")"; }
stamp() { sed -n "s/^$1 \([0-9]*\)$/\1/p" "$dir/$2.out"; }

# Mutex: A holds the lock until B waits for it; B gets it only after A let go, and neither ever finds
# the other's marker.
run a mutex "$addr" /mx A 1
wait_for "$dir/a.out" '^locked A'
run b mutex "$addr" /mx B 0
finished a
finished b
(( $(stamp "locked B" b) > $(stamp "unlocking A" a) )) || fail "B locked before A unlocked"
[[ $(count /mx) -eq 0 ]] || fail "lock keys left behind"
echo "ok clientv3 Mutex: mutual exclusion between two processes"

# Election: one leads; two and three campaign in that order; one resigns and two leads; two's session
# closes (its lease revoked) and three leads. An observer sees one, two, three.
run one campaign "$addr" /el one "$dir/end-one"
wait_for "$dir/one.out" '^leader one'
run obs observe "$addr" /el 3
wait_for "$dir/obs.out" '^observed one'
run two campaign "$addr" /el two "$dir/end-two"
wait_count /el/ 2
run three campaign "$addr" /el three "$dir/end-three"
wait_count /el/ 3
printf resign >"$dir/end-one"
finished one
wait_for "$dir/two.out" '^leader two'
printf close >"$dir/end-two"
finished two
wait_for "$dir/three.out" '^leader three'
printf resign >"$dir/end-three"
finished three
finished obs
(( $(stamp "leader two" two) > $(stamp "leaving one" one) )) || fail "two led before one resigned"
(( $(stamp "leader three" three) > $(stamp "leaving two" two) )) || fail "three led before two left"
[[ $(cat "$dir/obs.out") == $'observed one\nobserved two\nobserved three' ]] || fail "observed: $(cat "$dir/obs.out")"
[[ $(count /el/) -eq 0 ]] || fail "election keys left behind"
echo "ok clientv3 Election: resign, a closed session, observe"

# The server-side services.
"$bin" services "$addr" 2>"$dir/services.err" || fail "server-side services: $(cat "$dir/services.err")"

# etcdctl lock: two commands under one lock never overlap (the first holds on until the second waits).
lock_cmd='if mkdir "$D/first" 2>/dev/null; then
  for _ in $(seq 6000); do
    [ "$(ETCDCTL_API=3 etcdctl --endpoints=$A get /cl/ --prefix --keys-only | grep -c .)" -ge 2 ] && break
    sleep 0.01
  done
fi
mkdir "$D/held" && sleep 0.1 && rmdir "$D/held"'
D=$dir A=$addr "${etcdctl[@]}" lock /cl -- sh -c "$lock_cmd" >"$dir/lock1.out" 2>&1 & l1=$!
D=$dir A=$addr "${etcdctl[@]}" lock /cl -- sh -c "$lock_cmd" >"$dir/lock2.out" 2>&1 & l2=$!
children+=("$l1" "$l2")
wait "$l1" || fail "etcdctl lock: $(cat "$dir/lock1.out")"
wait "$l2" || fail "etcdctl lock: $(cat "$dir/lock2.out")"
echo "ok etcdctl lock"

# etcdctl elect: a listener sees p1, then p2 once p1's campaign is stopped (SIGTERM: it resigns).
"${etcdctl[@]}" elect -l /ce >"$dir/listen.out" 2>&1 & listener=$!
"${etcdctl[@]}" elect /ce p1 >"$dir/p1.out" 2>&1 & p1=$!
children+=("$listener" "$p1")
wait_for "$dir/p1.out" '^p1$'
wait_for "$dir/listen.out" '^p1$'
"${etcdctl[@]}" elect /ce p2 >"$dir/p2.out" 2>&1 & p2=$!
children+=("$p2")
wait_count /ce/ 2
grep -q p2 "$dir/p2.out" && fail "p2 elected while p1 led"
kill -TERM "$p1"
wait "$p1" || fail "etcdctl elect p1: $(cat "$dir/p1.out")"
wait_for "$dir/p2.out" '^p2$'
wait_for "$dir/listen.out" '^p2$'
kill -TERM "$p2" "$listener"
wait "$p2" || fail "etcdctl elect p2: $(cat "$dir/p2.out")"
wait "$listener" || true
[[ $(count /ce/) -eq 0 ]] || fail "etcdctl elect left keys behind"
echo "ok etcdctl elect"

stop_server
echo "1 passed, 0 failed"
