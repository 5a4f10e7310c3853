#!/usr/bin/env bash
# The CLI's half of the bad-input catalogue (the API's is tests/unit/store/bad_input_test.cpp): arguments
# missing, extra, unknown or contradictory; malformed lease ids, TTLs and revisions; garbage on stdin.
# Each case must exit with etcdctl 3.4's code and print its error line (checked against real etcd 3.4.23
# where the spec is silent), print nothing on stdout, and leave the data directory exactly as it was.
#   bad_input.sh LEASEKVCTL
set -uo pipefail
ctl=$1
dir=$(mktemp -d)
export LEASEKV_DATA_DIR=$dir/db
trap 'rm -rf "$dir"' EXIT
failures=0

"$ctl" put a 1 >/dev/null && "$ctl" put b 2 >/dev/null && "$ctl" put a 3 >/dev/null || { echo "FAIL: setup" >&2; exit 1; }
lease=$("$ctl" lease grant 600 | awk '{print $2}')
"$ctl" put l/1 x --lease="$lease" >/dev/null
"$ctl" compaction 3 >/dev/null

state() {
  "$ctl" get "" --prefix -w json
  echo
  "$ctl" get a --rev 3 -w json
  echo
  "$ctl" lease list
  "$ctl" lease timetolive "$lease" --keys | sed -E 's/remaining\([0-9]+s\)/remaining(N)/'
}
before=$(state)

# check RC STDIN 'expected stderr (first line)' ARGS...
check() {
  local rc=$1 input=$2 want=$3
  shift 3
  local out err got
  out=$(printf '%b' "$input" | "$ctl" "$@" 2>"$dir/err")
  got=$?
  err=$(head -n 1 "$dir/err")
  if [[ $got -ne $rc || "$err" != "$want" || -n "$out" ]]; then
    echo "FAIL: leasekvctl $*: rc $got (want $rc), stderr '$err' (want '$want'), stdout '$out'" >&2
    failures=$((failures + 1))
  fi
  if [[ "$(state)" != "$before" ]]; then
    echo "FAIL: leasekvctl $* changed the store" >&2
    failures=$((failures + 1))
    before=$(state)
  fi
}

# Missing arguments.
check 128 '' 'Error: put command needs 1 argument and input from stdin or 2 arguments' put
check 128 '' 'Error: get command needs one argument as key and an optional argument as range_end' get
check 128 '' 'Error: del command needs one argument as key and an optional argument as range_end' del
check 128 '' 'Error: compaction command needs 1 argument' compaction
check 128 '' 'Error: lease grant command needs TTL argument' lease grant
check 128 '' 'Error: lease revoke command needs 1 argument' lease revoke
check 128 '' 'Error: lease timetolive command needs lease ID as argument' lease timetolive
check 128 '' 'Error: lease keep-alive command needs lease ID as argument' lease keep-alive
check 128 '' 'Error: lease command needs a subcommand: grant, revoke, timetolive, list, keep-alive' lease
check 128 '' 'Error: bad number of arguments' watch
# Extra arguments (etcdctl ignores a third `put` argument; these it refuses).
check 128 '' 'Error: get command needs one argument as key and an optional argument as range_end' get a b c
check 128 '' 'Error: del command needs one argument as key and an optional argument as range_end' del a b c
check 128 '' 'Error: compaction command needs 1 argument' compaction 1 2
check 128 '' 'Error: lease grant command needs TTL argument' lease grant 10 20
check 128 '' 'Error: lease revoke command needs 1 argument' lease revoke "$lease" 2
check 128 '' 'Error: lease timetolive command needs lease ID as argument' lease timetolive "$lease" 2
check 128 '' 'Error: lease keep-alive command needs lease ID as argument' lease keep-alive --once "$lease" 2
check 128 '' 'Error: bad number of arguments' watch a b c
check 128 '' 'Error: txn command does not accept argument' txn extra
check 128 '' "Error: put command needs only 1 argument when 'ignore-value' is set" put a --ignore-value b
# Unknown commands, subcommands, flags and formats.
check 1 '' 'Error: unknown command "frobnicate" for "leasekvctl"' frobnicate
check 128 '' 'Error: unknown lease subcommand "explode"' lease explode
check 1 '' 'Error: unknown flag: --nope' put a b --nope
check 1 '' "Error: unknown shorthand flag: '5' in -5" compaction -5
check 4 '' 'Error: unknown output format yaml' -w yaml get a
check 4 '' 'Error: bad sort target NOPE' get a --sort-by=NOPE
check 4 '' 'Error: bad sort order SIDEWAYS' get a --order=SIDEWAYS
# Contradictory flags.
check 128 '' 'Error: `--prefix` and `--from-key` cannot be set at the same time, choose one' get a --prefix --from-key
# Malformed or unknown lease ids, TTLs, revisions.
check 128 '' 'Error: bad lease ID (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex' put a b --lease zz
check 128 '' 'Error: bad lease ID arg (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex' lease revoke zz
check 128 '' 'Error: bad lease ID arg (strconv.ParseInt: parsing "1x": invalid syntax), expecting ID in Hex' lease timetolive 1x
check 1 '' 'Error: etcdserver: requested lease not found' put a b --lease 123
check 1 '' 'Error: failed to revoke lease (etcdserver: requested lease not found)' lease revoke 123
check 2 '' 'Error: etcdserver: requested lease not found' lease keep-alive --once 123
check 128 '' 'Error: bad TTL (strconv.ParseInt: parsing "abc": invalid syntax)' lease grant abc
check 1 '' 'Error: failed to grant lease (etcdserver: too large lease TTL)' lease grant 9000000001
check 128 '' 'Error: invalid argument: strconv.ParseInt: parsing "abc": invalid syntax' get a --rev abc
check 1 '' 'Error: strconv.ParseInt: parsing "abc": invalid syntax' compaction abc
check 1 '' 'Error: etcdserver: mvcc: required revision is a future revision' compaction 999
check 1 '' 'Error: etcdserver: mvcc: required revision has been compacted' compaction 2
check 1 '' 'Error: etcdserver: mvcc: required revision is a future revision' get a --rev 999
check 1 '' 'Error: etcdserver: mvcc: required revision has been compacted' get a --rev 2
check 5 '' 'watch was canceled (etcdserver: mvcc: required revision has been compacted)' watch a --rev 2
check 5 '' 'watch was canceled (mvcc: watcher range is empty)' watch b a
# Empty keys.
check 1 '' 'Error: etcdserver: key is not provided' put '' b
check 1 '' 'Error: etcdserver: key is not provided' del ''
# Garbage on stdin.
check 3 'garbage here\n' 'Error: malformed comparison: garbage here' txn
check 3 'mod("a") ? 3\n\n\n' 'Error: malformed comparison: mod("a") ? 3' txn
check 3 '\n\nput a\n' 'Error: invalid txn request: put a' txn
check 3 '\x00\xff\xfe' 'Error: malformed comparison: ' txn
check 3 'put\n' 'Error: malformed comparison: put' txn
check 3 'frob a\nwatch\n' 'Invalid command frob a (only support watch)' watch -i

if [[ $failures -ne 0 ]]; then
  echo "$failures failures" >&2
  exit 1
fi
echo "bad input: every case refused with its error, the store unchanged"
