#!/usr/bin/env bash
# The lease tutorial against leasekv-server with real etcd clients: its Go program (clientv3, built in
# GOPATH mode from Debian's etcd 3.4 sources) grants a 30 s lease and puts /tmp/pid on it, then etcdctl
# 3.4 reads the key and the lease back. Then etcdctl's watch, keep-alive, txn, compaction and errors.
# The server listens on a loopback port the OS picked and is stopped here.
#   tutorial.sh LEASEKV_SERVER WORK_DIR
set -euo pipefail
server=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
dir=$(mktemp -d)
# shellcheck source=server_lib.sh
source "$here/server_lib.sh"
watcher=""
cleanup() {
  if [[ -n $watcher ]]; then kill "$watcher" 2>/dev/null || true; fi
  cleanup_server
  rm -rf "$dir"
}
trap cleanup EXIT
command -v go >/dev/null || fail "go is missing (scripts/setup.sh installs golang-go)"
command -v etcdctl >/dev/null || fail "etcdctl is missing (scripts/setup.sh installs etcd-client)"

# The Go program (compiled packages are kept in Go's own cache, shared by every build directory).
(cd "$here/tutorial" && GO111MODULE=off GOPATH=/usr/share/gocode \
  go build -o "$work/tutorial" main.go) || fail "building the tutorial's Go program"

start_server "$server"
grep -q 'embed: ready to serve client requests' "$dir/server.err" || fail "no ready line"
ctl() { ETCDCTL_API=3 etcdctl --endpoints="$addr" "$@"; }

"$work/tutorial" "$addr" || fail "the tutorial's Go program"

# etcdctl get /tmp/pid -w json: the key on the lease, etcd's default ids in the header.
json=$(ctl get /tmp/pid -w json)
echo "get -w json: $json"
python3 - "$json" <<'PY' || fail "get -w json: $json"
import base64, json, sys
r = json.loads(sys.argv[1])
h = r["header"]
assert h["cluster_id"] == 14841639068965178418, h
assert h["member_id"] == 10276657743932975437, h
assert h["revision"] == 2 and h["raft_term"] == 2, h
assert r["count"] == 1 and len(r["kvs"]) == 1, r
kv = r["kvs"][0]
assert base64.b64decode(kv["key"]) == b"/tmp/pid" and base64.b64decode(kv["value"]) == b"2187", kv
assert kv["create_revision"] == 2 and kv["mod_revision"] == 2 and kv["version"] == 1, kv
assert format(kv["lease"], "x").startswith("694d"), kv
PY
lease_dec=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["kvs"][0]["lease"])' "$json")
id=$(printf '%x' "$lease_dec")

list=$(ctl lease list)
echo "lease list: $list"
[[ $list == $'found 1 leases\n'"$id" ]] || fail "lease list: $list"

ttl=$(ctl lease timetolive "$id")
echo "lease timetolive: $ttl"
[[ $ttl =~ ^lease\ $id\ granted\ with\ TTL\(30s\),\ remaining\([12][0-9]s\)$ ]] || fail "timetolive: $ttl"
ttl=$(ctl lease timetolive "$id" --keys)
[[ $ttl =~ attached\ keys\(\[/tmp/pid\]\)$ ]] || fail "timetolive --keys: $ttl"

# MemberList: this one member, with etcd's default member id.
members=$(ctl member list)
[[ $members == "8e9e05c52164694d, started, default, http://localhost:2380, http://127.0.0.1:2379, false" ]] ||
  fail "member list: $members"

# A watch sees puts and deletes, with previous values; events are held until it is created.
ETCDCTL_API=3 etcdctl --endpoints="$addr" watch w --prefix --prev-kv >"$dir/watch.out" 2>&1 &  # etcdctl itself, so kill reaches it
watcher=$!
for _ in $(seq 300); do
  ctl put w/ready x >/dev/null
  grep -q 'w/ready' "$dir/watch.out" && break
  sleep 0.01
done
ctl put w/1 a >/dev/null
ctl put w/1 b >/dev/null
ctl del w/1 >/dev/null
for _ in $(seq 3000); do grep -q DELETE "$dir/watch.out" && break; sleep 0.01; done
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
watcher=""
tail -n 11 "$dir/watch.out" | grep -q $'^DELETE$' || fail "watch output: $(cat "$dir/watch.out")"
grep -q -x 'b' "$dir/watch.out" || fail "watch output: $(cat "$dir/watch.out")"

# Keep-alive stream: a live lease is renewed, an unknown one is not found.
[[ $(ctl lease keep-alive --once "$id") == "lease $id keepalived with TTL(30)" ]] || fail "keep-alive --once"
if ctl lease keep-alive --once 1234 2>"$dir/ka.err"; then fail "keep-alive of an unknown lease succeeded"; fi
grep -q 'requested lease not found' "$dir/ka.err" || fail "keep-alive error: $(cat "$dir/ka.err")"

# Txn, compaction, and etcd's error texts.
[[ $(ctl txn <<<$'value("/tmp/pid") = "2187"\n\nput /tmp/pid 2188\n\n' | head -1) == SUCCESS ]] || fail "txn"
[[ $(ctl get /tmp/pid --print-value-only) == 2188 ]] || fail "txn did not put"
rev=$(ctl get /tmp/pid -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
[[ $(ctl compaction "$rev") == "compacted revision $rev" ]] || fail "compaction"
if ctl get /tmp/pid --rev=2 2>"$dir/err"; then fail "read below the compacted revision succeeded"; fi
grep -q '^Error: etcdserver: mvcc: required revision has been compacted$' "$dir/err" || fail "compacted: $(cat "$dir/err")"
if ctl put "" x 2>"$dir/err"; then fail "put of an empty key succeeded"; fi
grep -q '^Error: etcdserver: key is not provided$' "$dir/err" || fail "empty key: $(cat "$dir/err")"
if ctl lease revoke 1234 2>"$dir/err"; then fail "revoke of an unknown lease succeeded"; fi
grep -q 'code = NotFound desc = etcdserver: requested lease not found' "$dir/err" || fail "revoke: $(cat "$dir/err")"
ctl put /tmp/pid 2187 --lease="$id" >/dev/null
[[ $(ctl lease revoke "$id") == "lease $id revoked" ]] || fail "revoke"
[[ -z $(ctl get /tmp/pid) ]] || fail "the lease's key outlived its revoke"

# SIGTERM stops it cleanly.
stop_server
echo "1 passed, 0 failed"
