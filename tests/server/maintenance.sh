#!/usr/bin/env bash
# Maintenance, Cluster and Auth of leasekv-server through real etcdctl 3.4, expecting what etcdctl prints
# against a single-member etcd 3.4.23 (measured on loopback with the same commands): `snapshot save`,
# `status` and `restore`, the NOSPACE alarm of a tiny --quota-backend-bytes and etcd's way out of it
# (compact, defrag, disarm), membership changes refused, users and roles with authentication disabled,
# health, HashKV (etcd's value) and leadership.
# The server listens on a loopback port the OS picked and is stopped here.
#   maintenance.sh LEASEKV_SERVER
set -euo pipefail
server=$1
dir=$(mktemp -d)
# shellcheck source=server_lib.sh
source "$(dirname "$0")/server_lib.sh"
trap 'cleanup_server; rm -rf "$dir"' EXIT
command -v etcdctl >/dev/null || fail "etcdctl is missing (scripts/setup.sh installs etcd-client)"

start_server "$server" --quota-backend-bytes 65536
ctl() { ETCDCTL_API=3 etcdctl --endpoints="$addr" "$@"; }
member=8e9e05c52164694d  # etcd's default member id (peer URL http://localhost:2380)
alarm="memberID:10276657743932975437 alarm:NOSPACE "

# expect OUT CMD...: the command succeeds and prints exactly OUT on stdout.
expect() {
  local want=$1 got
  shift
  got=$(ctl "$@" 2>"$dir/err") || fail "etcdctl $*: $(cat "$dir/err")"
  [[ $got == "$want" ]] || fail "etcdctl $*: printed [$got], expected [$want]"
}
# refused MESSAGE CMD...: the command fails and its last line on stderr is "Error: MESSAGE".
refused() {
  local want=$1
  shift
  if ctl "$@" >/dev/null 2>"$dir/err"; then fail "etcdctl $* succeeded"; fi
  [[ $(tail -n 1 "$dir/err") == "Error: $want" ]] || fail "etcdctl $*: $(cat "$dir/err"), expected Error: $want"
}

# A snapshot etcdctl accepts (its size 32 past a multiple of 512, ending in the SHA-256 of the rest) and
# opens as etcd's bbolt database: status (after bbolt's own consistency check) and restore.
expect OK put k v
expect "Snapshot saved at $dir/snap.db" snapshot save "$dir/snap.db"
python3 - "$dir/snap.db" <<'PY' || fail "snapshot file"
import hashlib, sys
d = open(sys.argv[1], "rb").read()
assert len(d) % 512 == 32, len(d)
assert hashlib.sha256(d[:-32]).digest() == d[-32:]
PY
# Revision 2; five entries: k's version, consistent_index, authRevision, clusterVersion, this member.
[[ $(ctl snapshot status "$dir/snap.db" -w json 2>"$dir/err") =~ ^\{\"hash\":[0-9]+,\"revision\":2,\"totalKey\":5, ]] ||
  fail "snapshot status: $(ctl snapshot status "$dir/snap.db" -w json 2>&1)"
ctl snapshot restore "$dir/snap.db" --data-dir "$dir/restored" >/dev/null 2>"$dir/err" || fail "snapshot restore: $(cat "$dir/err")"
[[ $(ctl snapshot status "$dir/restored/member/snap/db" -w json 2>"$dir/err") =~ \"revision\":2,\"totalKey\":5, ]] ||
  fail "restored: $(ctl snapshot status "$dir/restored/member/snap/db" -w json 2>&1)"

# NOSPACE: a put over the quota raises the alarm; it refuses data-adding writes until disarmed.
expect "" alarm list
big=$(head -c 100000 /dev/zero | tr '\0' x)
refused "etcdserver: mvcc: database space exceeded" put big "$big"
expect "$alarm" alarm list
status=$(ctl endpoint status) || fail "endpoint status"
[[ $status == "$addr, $member, 3.4.23, "*", true, false, 2, "*", $alarm" ]] || fail "endpoint status: $status"
refused "etcdserver: mvcc: database space exceeded" put small y
# /health on the client port (HTTP/1 beside gRPC, as etcd): unhealthy while the alarm is raised, unless
# the request excludes it.
[[ $(curl -s -w ' %{http_code}' "http://$addr/health") == $'{"health":"false"}\n 503' ]] ||
  fail "/health under NOSPACE: $(curl -s -i "http://$addr/health")"
[[ $(curl -s -w ' %{http_code}' "http://$addr/health?exclude=NOSPACE") == '{"health":"true"} 200' ]] ||
  fail "/health?exclude=NOSPACE: $(curl -s -i "http://$addr/health?exclude=NOSPACE")"
refused "failed to grant lease (etcdserver: mvcc: database space exceeded)" lease grant 10
expect 1 del k
rev=$(ctl get x -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
expect "compacted revision $rev" compaction "$rev"
expect "Finished defragmenting etcd member[$addr]" defrag
refused "etcdserver: mvcc: database space exceeded" put small y
expect "$alarm" alarm disarm
expect "" alarm list
expect OK put small y
[[ $(curl -s -w ' %{http_code}' "http://$addr/health") == '{"health":"true"} 200' ]] || fail "/health after disarm"

# Membership: a single member can be neither removed, promoted nor joined.
refused "etcdserver: Peer URLs already exists" member add x --peer-urls=http://localhost:2380
refused "etcdserver: member not found" member remove 1234
refused "etcdserver: re-configuration failed due to not enough started members" member remove "$member"
refused "etcdserver: member not found" member promote 1234
refused "etcdserver: can only promote a learner member" member promote "$member"
if ctl member add x --peer-urls=http://127.0.0.1:2390 >/dev/null 2>"$dir/err"; then fail "member add succeeded"; fi
grep -q 'code = Unimplemented desc = leasekv-server: cannot add a member' "$dir/err" || fail "member add: $(cat "$dir/err")"
expect "Leadership transferred from $member to $member" move-leader "$member"
refused "etcdserver: bad leader transferee" move-leader 1234

# Auth, disabled: users and roles are managed all the same.
expect "" user list
expect "" role list
refused "etcdserver: root user does not exist" auth enable
expect "User alice created" user add alice:secret
expect "Role reader created" role add reader
expect "Role reader is granted to user alice" user grant-role alice reader
expect $'User: alice\nRoles: reader' user get alice
expect "Role reader updated" role grant-permission reader read k
expect $'Role reader\nKV Read:\n\tk\nKV Write:' role get reader
expect alice user list
expect reader role list
refused "etcdserver: user name not found" user get bob
expect "User alice deleted" user delete alice
expect "Authentication Disabled" auth disable

# Health through etcdctl (a quorum read), and HashKV, whose value is etcd's for the same history
# (etcd 3.4.23 answers 2293199920 after these commands, and 1084519789 when fresh).
ctl endpoint health >/dev/null 2>"$dir/err" || fail "endpoint health: $(cat "$dir/err")"
grep -q "^$addr is healthy: successfully committed proposal" "$dir/err" || fail "endpoint health: $(cat "$dir/err")"
expect "$addr, 2293199920" endpoint hashkv

stop_server
echo "1 passed, 0 failed"
