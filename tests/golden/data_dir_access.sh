#!/usr/bin/env bash
# Data directories a read must not, or cannot, write:
#   - a mistyped --data-dir: a read answers as etcdctl does against an empty etcd and creates nothing, so
#     a `snapshot restore` into that path works afterwards;
#   - a read-only bind mount of a store (root only): reads work, a write fails naming the path.
# Exits 77 (ctest: skipped) after the first part when not run as root.
#   data_dir_access.sh LEASEKVCTL
set -euo pipefail
ctl=$1
dir=$(mktemp -d)
ro=$dir/ro
cleanup() {
  if mountpoint -q "$ro" 2>/dev/null; then umount "$ro" || umount -l "$ro"; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
unset LEASEKV_DATA_DIR
# What must not differ between two stores (normalize.sh's rules for ids and terms).
ids() { sed -e 's/"cluster_id":[0-9]*/"cluster_id":C/g' -e 's/"member_id":[0-9]*/"member_id":M/g' -e 's/"raft_term":[0-9]*/"raft_term":T/g'; }

# --- A mistyped --data-dir ---
missing=$dir/mistyped
out=$("$ctl" --data-dir "$missing" get foo 2>&1) || fail "get on a missing data dir exited $?: $out"
[[ -z $out ]] || fail "get on a missing data dir printed: $out"
# etcdctl 3.4 against a fresh etcd (tests/golden/etcd-3.4.golden, its first command).
out=$("$ctl" --data-dir "$missing" get foo -w json 2>&1 | ids)
[[ $out == '{"header":{"cluster_id":C,"member_id":M,"revision":1,"raft_term":T}}' ]] || fail "get -w json: $out"
out=$("$ctl" --data-dir "$missing" lease list 2>&1) || fail "lease list on a missing data dir exited $?: $out"
[[ $out == "found 0 leases" ]] || fail "lease list on a missing data dir printed: $out"
[[ ! -e $missing ]] || fail "a read created $missing: $(ls -la "$missing")"

# ...so a restore into it works.
"$ctl" --data-dir "$dir/source" put restored yes >/dev/null
"$ctl" --data-dir "$dir/source" snapshot save "$dir/source.db" >/dev/null
out=$("$ctl" --data-dir "$missing" snapshot restore "$dir/source.db" 2>&1) || fail "restore into the path a read was given: $out"
[[ $("$ctl" --data-dir "$missing" get restored --print-value-only) == yes ]] || fail "restored store"

# --- A read-only file system ---
if [[ $(id -u) -ne 0 ]]; then
  echo "skipped: a read-only bind mount needs root (CI runs the suite as root)"
  exit 77
fi
store=$dir/store
"$ctl" --data-dir "$store" put k v >/dev/null
id=$("$ctl" --data-dir "$store" lease grant 600 | awk '{print $2}')
"$ctl" --data-dir "$store" put leased v --lease="$id" >/dev/null
mkdir "$ro"
mount --bind "$store" "$ro" || fail "mount --bind $store $ro"
mount -o remount,bind,ro "$ro" || fail "mount -o remount,bind,ro $ro"
touch "$ro/probe" 2>/dev/null && fail "$ro is writable after the read-only remount"

out=$("$ctl" --data-dir "$ro" get k 2>&1) || fail "get on a read-only file system exited $?: $out"
[[ $out == $'k\nv' ]] || fail "get on a read-only file system printed: $out"
out=$("$ctl" --data-dir "$ro" lease list 2>&1) || fail "lease list on a read-only file system exited $?: $out"
[[ $out == $'found 1 leases\n'"$id" ]] || fail "lease list on a read-only file system printed: $out"
out=$("$ctl" --data-dir "$ro" lease timetolive "$id" --keys 2>&1) || fail "lease timetolive on a read-only file system: $out"
[[ $out == *"attached keys([leased])"* ]] || fail "lease timetolive on a read-only file system printed: $out"

set +e
out=$("$ctl" --data-dir "$ro" put x y 2>&1)
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "put on a read-only file system succeeded: $out"
[[ $out == *"Read-only file system"* && $out == *"$ro"* ]] || fail "put's error does not name the path and the cause: $out"
echo "put on a read-only file system: $out"
