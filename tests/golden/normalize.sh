#!/usr/bin/env bash
# Normalizes a transcript on stdin: what etcdctl and leasekvctl may print differently and be right —
# lease ids (given as arguments, in order: L1 L2 ...; hex and decimal forms), cluster and member ids,
# raft terms, and remaining TTLs of two or more digits (they depend on how fast the commands ran; the
# truncation itself is unit-tested on the manual clock; 0 and -1 stay exact).
set -euo pipefail
args=()
n=1
for id in "$@"; do
  dec=$(printf '%d' "0x$id")
  args+=(-e "s/$id/L$n/g" -e "s/\\b$dec\\b/L${n}d/g")
  n=$((n + 1))
done
args+=(-e 's/"cluster_id":[0-9]*/"cluster_id":C/g' -e 's/"member_id":[0-9]*/"member_id":M/g'
       -e 's/"raft_term":[0-9]*/"raft_term":T/g' -e 's/"ClusterID" : [0-9]*/"ClusterID" : C/'
       -e 's/"MemberID" : [0-9]*/"MemberID" : M/' -e 's/"RaftTerm" : [0-9]*/"RaftTerm" : T/'
       -e 's/remaining([0-9][0-9]*[0-9]s)/remaining(Rs)/' -e 's/"ttl":[0-9][0-9]*[0-9],"granted-ttl"/"ttl":R,"granted-ttl"/')
# In -w fields the remaining TTL is the "TTL" line just before "GrantedTTL".
sed "${args[@]}" | awk '
  NR > 1 {
    if ($0 ~ /^"GrantedTTL"/ && held ~ /^"TTL" : [0-9][0-9]+$/) held = "\"TTL\" : R"
    print held
  }
  { held = $0 }
  END { if (NR > 0) print held }'
