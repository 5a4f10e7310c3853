#!/usr/bin/env bash
# Normalizes a transcript on stdin to what etcdctl and leasekvctl must print alike. Only what must
# differ between a Raft cluster and an embedded store, or between two runs, is replaced:
#   - lease ids (given as arguments, in order: L1 L2 ...; hex and decimal forms), cluster and member ids
#     (decimal and hex), raft terms and indexes (run_scenario.sh already wrote ENDPOINT for the endpoint
#     etcdctl dials and the data directory leasekvctl opens);
#   - sizes and hashes of the database (bbolt's pages and checksum against leasekv's files): endpoint
#     status's db size, snapshot status's hash, key count and size;
#   - in etcdctl's log lines on stderr (JSON, zap), the timestamp and the time taken;
#   - the Go client's "retrying of unary invoker failed" warning before an RPC error (it carries a
#     timestamp and a client uuid; leasekvctl makes no RPC, so it has nothing to retry). Every other
#     stderr line is kept as it is;
#   - the lease id in the keys of the scenario's locks and elections (mylock/<hex>, myelection/<hex>):
#     each session grants its own lease, which no command of the transcript names;
#   - a remaining TTL at most 10 s below its granted TTL becomes "G~" (G the granted TTL): the time
#     between a grant or renewal and the timetolive that reads it depends on how fast the commands in
#     between ran (recorded: 3-4 s over ~30 etcdctl commands), and remaining time is truncated. The
#     scenario's TTLs (50-200 s) are far larger than 10 s, so a remaining TTL that is wrong in kind
#     (the granted one, a wrong unit, time counted the wrong way) still shows; 0 and -1 stay exact.
set -euo pipefail
args=()
n=1
for id in "$@"; do
  dec=$(printf '%d' "0x$id")
  args+=(-e "s/$id/L$n/g" -e "s/\\b$dec\\b/L${n}d/g")
  n=$((n + 1))
done
args+=(
  -e 's#\b\(mylock\|myelection\)/[0-9a-f]\{1,16\}\b#\1/LEASE#g'
  -e '/^stderr: {"level":"warn",.*"msg":"retrying of unary invoker failed"/d'
  -e 's/"ts":"[^"]*"/"ts":"TS"/; s/"ts":[0-9][0-9.]*/"ts":TS/; s/"took":"[^"]*"/"took":"TOOK"/; s/"took":[0-9][0-9.e-]*/"took":TOOK/'
  -e 's/"cluster_id":[0-9]*/"cluster_id":C/g' -e 's/"member_id":[0-9]*/"member_id":M/g'
  -e 's/"raft_term":[0-9]*/"raft_term":T/g' -e 's/"ClusterID" : [0-9]*/"ClusterID" : C/'
  -e 's/"MemberID" : [0-9]*/"MemberID" : M/' -e 's/"RaftTerm" : [0-9]*/"RaftTerm" : T/'
  -e 's/"leader":[0-9]*/"leader":M/; s/"Leader" : [0-9]*/"Leader" : M/'
  -e 's/"raftIndex":[0-9]*/"raftIndex":I/; s/"raftTerm":[0-9]*/"raftTerm":T/; s/"raftAppliedIndex":[0-9]*/"raftAppliedIndex":I/'
  -e 's/"RaftIndex" : [0-9]*/"RaftIndex" : I/; s/"RaftAppliedIndex" : [0-9]*/"RaftAppliedIndex" : I/'
  -e 's/"dbSize":[0-9]*/"dbSize":S/; s/"dbSizeInUse":[0-9]*/"dbSizeInUse":S/; s/"DBSize" : [0-9]*/"DBSize" : S/'
  -e 's/"hash":[0-9]*,"revision":\([0-9]*\),"totalKey":[0-9]*,"totalSize":[0-9]*/"hash":H,"revision":\1,"totalKey":K,"totalSize":S/'
  -e 's/"Hash" : [0-9]*/"Hash" : H/; s/"TotalKey" : [0-9]*/"TotalKey" : K/; s/"TotalSize" : [0-9]*/"TotalSize" : S/'
)
sed "${args[@]}" | awk '
  # endpoint status, simple: "ENDPOINT, ID, VERSION, DB SIZE, LEADER, LEARNER, TERM, INDEX, APPLIED, ERRORS"
  /^ENDPOINT, [0-9a-f]+, / { n = split($0, f, ", "); f[2] = "M"; f[4] = "S"; f[7] = "T"; f[8] = "I"; f[9] = "I";
    line = f[1]; for (i = 2; i <= n; i++) line = line ", " f[i]; $0 = line }
  # snapshot status, simple: "HASH, REVISION, TOTAL KEYS, TOTAL SIZE"
  /^[0-9a-f]+, [0-9]+, [0-9]+, [0-9.]+ [kMG]?B$/ { split($0, f, ", "); $0 = "H, " f[2] ", K, S" }
  # tables (endpoint status, snapshot status): the same columns, by header
  # tables (endpoint status, snapshot status): column widths follow the contents, so cells are
  # trimmed; in data rows the columns named above become X
  /^\$ / { table = "" }
  /^\| .*\| IS LEADER \|/ { table = "endpoint"; header = 1 }
  /^\| .*\| TOTAL KEYS \|/ { table = "snapshot"; header = 1 }
  /^\| / && table != "" {
    n = split($0, f, "|"); line = "|";
    for (i = 2; i < n; i++) {
      c = f[i]; gsub(/^ +| +$/, "", c);
      if (!header && table == "endpoint" && (i == 3 || i == 5 || i == 8 || i == 9 || i == 10)) c = "X";
      if (!header && table == "snapshot" && (i == 2 || i == 4 || i == 5)) c = "X";
      line = line " " c " |" }
    $0 = line; header = 0 }
  /^\+-/ { $0 = "+--+" }
  # remaining TTLs: simple, json, fields
  match($0, /TTL\([0-9]+s\), remaining\([0-9]+s\)/) {
    s = substr($0, RSTART, RLENGTH); g = s; sub(/^TTL\(/, "", g); sub(/s\).*/, "", g);
    r = s; sub(/.*remaining\(/, "", r); sub(/s\)$/, "", r);
    if (r + 0 > 0 && g - r >= 0 && g - r <= 10) sub(/remaining\([0-9]+s\)/, "remaining(" g "~s)") }
  match($0, /"ttl":[0-9]+,"granted-ttl":[0-9]+/) {
    s = substr($0, RSTART, RLENGTH); split(s, p, /[:,]/); r = p[2]; g = p[4];
    if (r + 0 > 0 && g - r >= 0 && g - r <= 10) sub(/"ttl":[0-9]+,/, "\"ttl\":" g "~,") }
  NR > 1 {
    if ($0 ~ /^"GrantedTTL" : [0-9]+$/ && held ~ /^"TTL" : [0-9]+$/) {
      g = $0; sub(/.* : /, "", g); r = held; sub(/.* : /, "", r);
      if (r + 0 > 0 && g - r >= 0 && g - r <= 10) held = "\"TTL\" : " g "~" }
    print held }
  { held = $0 }
  END { if (NR > 0) print held }'
