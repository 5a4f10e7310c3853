#!/usr/bin/env bash
# End-to-end: separate leasekvctl processes behave like one running etcd. No test waits for a lease to
# expire: an invocation with LEASEKV_CLOCK_SKEW_MS=N runs N ms in the future, so it finds due leases
# expired. Only keep-alive needs real time to pass (it renews every TTL/3); it waits for its own output.
#   e2e.sh LEASEKVCTL
set -euo pipefail
ctl=$1
dir=$(mktemp -d)
export LEASEKV_DATA_DIR=$dir/db
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A lease expires across invocations, in wall-clock time. The TTL leaves 8.5 s for the invocations before
# the skewed one (under ASan, beside other tests on both cores, a few hundred ms each).
id=$("$ctl" lease grant 10 | awk '{print $2}')
[[ $("$ctl" put /tmp/pid 2187 --lease="$id") == OK ]] || fail "put"
[[ $("$ctl" get /tmp/pid --print-value-only) == 2187 ]] || fail "get before expiry"
[[ $(LEASEKV_CLOCK_SKEW_MS=1500 "$ctl" get /tmp/pid --print-value-only) == 2187 ]] || fail "get before the deadline"
[[ $(LEASEKV_CLOCK_SKEW_MS=10000 "$ctl" lease timetolive "$id") == "lease $id already expired" ]] || fail "timetolive after expiry"
[[ -z $("$ctl" get /tmp/pid) ]] || fail "key still there after expiry"

# watch in one process prints a put made by another, promptly.
"$ctl" watch w --prefix >"$dir/watch.out" 2>"$dir/watch.err" &
watcher=$!
sleep 0.5
start=$(date +%s%N)
"$ctl" put w1 hello >/dev/null
for _ in $(seq 100); do grep -q hello "$dir/watch.out" && break; sleep 0.01; done
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[[ $(cat "$dir/watch.out") == $'PUT\nw1\nhello' ]] || fail "watch output: $(cat "$dir/watch.out")"
echo "watch saw another process's put after ${elapsed_ms} ms"
# ...and a lease expiry, as DELETE events, made by another process that finds the lease due.
id=$("$ctl" lease grant 2 | awk '{print $2}')
"$ctl" put w2 bye --lease="$id" >/dev/null
LEASEKV_CLOCK_SKEW_MS=2000 "$ctl" lease timetolive "$id" >/dev/null
for _ in $(seq 400); do grep -q DELETE "$dir/watch.out" && break; sleep 0.01; done
grep -q $'DELETE' "$dir/watch.out" || fail "watch did not see the expiry: $(cat "$dir/watch.out")"
# SIGTERM ends it cleanly.
kill -TERM "$watcher"
wait "$watcher" && rc=0 || rc=$?
[[ $rc -eq 0 ]] || fail "watch exited $rc on SIGTERM"

# keep-alive keeps a key alive while it runs, and a second writer waits for the lock meanwhile.
id=$("$ctl" lease grant 2 | awk '{print $2}')
"$ctl" put ka v --lease="$id" >/dev/null
"$ctl" lease keep-alive "$id" >"$dir/ka.out" &
ka=$!
# Four renewals, one every TTL/3, take it past the 2 s it was granted.
for _ in $(seq 1000); do [[ $(grep -c keepalived "$dir/ka.out") -ge 4 ]] && break; sleep 0.01; done
[[ $(grep -c keepalived "$dir/ka.out") -ge 4 ]] || fail "keep-alive did not renew: $(cat "$dir/ka.out")"
[[ $("$ctl" get ka --print-value-only) == v ]] || fail "key lost while keep-alive ran"
kill -INT "$ka"
wait "$ka" || true
grep -q "lease $id keepalived with TTL(2)" "$dir/ka.out" || fail "keep-alive output: $(cat "$dir/ka.out")"
# watch -i: watch lines, progress requests, bad lines, and the end of input (etcdctl's transcript).
export LEASEKV_DATA_DIR=$dir/interactive
"$ctl" put x 1 >/dev/null
set +e
out=$( (echo "watch pw --prev-kv"; echo progress; sleep 0.5; "$ctl" put pw v1 >/dev/null; sleep 0.5; echo progress;
        echo bogus; echo watch; sleep 0.3) | "$ctl" watch -i 2>"$dir/wi.err")
rc=$?
set -e
[[ "$out" == $'progress notify: 2\nPUT\npw\nv1\nprogress notify: 3' ]] || fail "watch -i stdout: $out"
[[ $rc -eq 3 ]] || fail "watch -i exit code $rc"
[[ $(cat "$dir/wi.err") == $'Invalid command bogus (only support watch)\nInvalid command watch (command type or key is not provided)\nError: Error reading watch request line: EOF' ]] ||
  fail "watch -i stderr: $(cat "$dir/wi.err")"
echo "e2e: all passed"
