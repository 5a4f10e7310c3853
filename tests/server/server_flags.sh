#!/usr/bin/env bash
# leasekv-server as a drop-in etcd, with real etcdctl 3.4, curl and openssl:
#  - https:// with --cert-file/--key-file/--trusted-ca-file/--client-cert-auth (certificates made here by
#    openssl): etcdctl with a client certificate is served, one without is refused;
#  - a unix:// listen URL served to etcdctl, and an http:// one serving etcdctl and HTTP/1 (/health) on
#    one port, as etcd's client port does;
#  - /health, /version, /metrics on --listen-metrics-urls;
#  - --manual-clock: a key on a 30 s lease outlives a 10 s advance, and is gone (a watcher sees its
#    DELETE) right after another 21 s advance over HTTP; no sleeping for the lease;
#  - with --data-dir, raft_term 2, then 3 after a restart (etcd's term grows by one per restart), with
#    the data kept; the restart logs with --logger zap.
# Servers listen on loopback ports the OS picked and are stopped here.
#   server_flags.sh LEASEKV_SERVER
set -euo pipefail
server=$1
dir=$(mktemp -d)
pid=""
watcher=""
cleanup() {
  if [[ -n $watcher ]]; then kill "$watcher" 2>/dev/null || true; fi
  if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $dir/server.err ]] && sed 's/^/server: /' "$dir/server.err" >&2; exit 1; }
for tool in etcdctl openssl curl; do
  command -v $tool >/dev/null || fail "$tool is missing (scripts/setup.sh installs it)"
done

# A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA.
tls=$dir/tls
mkdir "$tls"
(
  cd "$tls"
  ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 1 -subj /CN=leasekv-test-ca
  openssl req "${ec[@]}" -keyout server.key -out server.csr -subj /CN=localhost
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile server.ext
  openssl req "${ec[@]}" -keyout client.key -out client.csr -subj /CN=client
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 1 -extfile client.ext
) >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; fail "openssl could not make the certificates"; }

sock=$dir/leasekv.sock
# start [extra flags...]: starts the server, then sets addr (the https address), plain (the http one) and
# metrics (host:port).
start() {
  "$server" --data-dir "$dir/data" --manual-clock \
    --listen-client-urls "https://127.0.0.1:0,http://127.0.0.1:0,unix://$sock" \
    --advertise-client-urls https://127.0.0.1:2379 \
    --cert-file "$tls/server.crt" --key-file "$tls/server.key" --trusted-ca-file "$tls/ca.crt" --client-cert-auth \
    --listen-metrics-urls http://127.0.0.1:0 "$@" 2>"$dir/server.err" &
  pid=$!
  addr=""
  metrics=""
  for _ in $(seq 3000); do  # generous: under the sanitizers, beside other tests
    if [[ $* == *zap* ]]; then
      addr=$(sed -n 's/.*"serving client traffic securely","address":"\([^"]*\)".*/\1/p' "$dir/server.err")
      metrics=$(sed -n 's/.*"serving metrics","address":"http:\/\/\([^"]*\)".*/\1/p' "$dir/server.err")
      plain=$(sed -n 's/.*"serving client traffic insecurely; [^"]*","address":"\(127[^"]*\)".*/\1/p' "$dir/server.err")
    else
      addr=$(sed -n 's/.* I | embed: serving client requests on \(.*\)$/\1/p' "$dir/server.err")
      metrics=$(sed -n 's/.*embed: listening for metrics on http:\/\/\(.*\)$/\1/p' "$dir/server.err")
      plain=$(sed -n 's/.* N | embed: serving insecure client requests on \(127[^,]*\),.*/\1/p' "$dir/server.err")
    fi
    [[ -n $addr && -n $metrics && -n $plain ]] && break
    kill -0 "$pid" 2>/dev/null || fail "leasekv-server exited"
    sleep 0.01
  done
  [[ $addr =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "no https address printed"
  [[ $metrics =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "no metrics address printed"
  [[ $plain =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "no http address printed"
}
stop() {
  kill -TERM "$pid"
  wait "$pid" && rc=0 || rc=$?
  pid=""
  [[ $rc -eq 0 ]] || fail "leasekv-server exited $rc on SIGTERM"
}
tls_ctl() { ETCDCTL_API=3 etcdctl --endpoints="$addr" --cacert "$tls/ca.crt" --cert "$tls/client.crt" --key "$tls/client.key" "$@"; }
unix_ctl() { ETCDCTL_API=3 etcdctl --endpoints="unix://$sock" "$@"; }
# http METHOD PATH: prints the status code, a newline, then the body.
http() {
  local code
  code=$(curl -sS --max-time 30 -o "$dir/http.body" -w '%{http_code}' -X "$1" "http://$metrics$2")
  printf '%s\n%s' "$code" "$(cat "$dir/http.body")"
}
# json_number NAME: the first "NAME":<number> of the JSON on stdin (etcdctl -w json).
json_number() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -1; }

start

# TLS: the client certificate is checked; without one (or without TLS) the call fails. The refused calls
# fail within their short timeouts; curl shows the refusal is the TLS handshake's, and that the same
# connection with the certificate gets an HTTP/2 answer.
[[ $(tls_ctl put /tls/key yes) == OK ]] || fail "put over TLS with a client certificate"
[[ $(tls_ctl get /tls/key --print-value-only) == yes ]] || fail "get over TLS"
if ETCDCTL_API=3 etcdctl --endpoints="$addr" --cacert "$tls/ca.crt" --dial-timeout=1s --command-timeout=1s \
  get /tls/key >/dev/null 2>&1; then
  fail "etcdctl without a client certificate was served"
fi
if ETCDCTL_API=3 etcdctl --endpoints="$addr" --dial-timeout=1s --command-timeout=1s get /tls/key >/dev/null 2>&1; then
  fail "a plaintext client was served on the https port"
fi
if curl -sS --max-time 30 --cacert "$tls/ca.crt" -o /dev/null "https://$addr/" 2>"$dir/curl.err"; then
  fail "a TLS connection without a client certificate was accepted"
fi
version=$(curl -sS --max-time 30 --cacert "$tls/ca.crt" --cert "$tls/client.crt" --key "$tls/client.key" -o /dev/null \
  -w '%{http_version}' "https://$addr/") || fail "a TLS connection with a client certificate: $(cat "$dir/curl.err")"
[[ $version == 2 ]] || fail "HTTP/$version over TLS"

# The unix socket serves the same store, and so does the http port, which answers HTTP/1 too.
[[ $(unix_ctl get /tls/key --print-value-only) == yes ]] || fail "get over the unix socket"
[[ $(ETCDCTL_API=3 etcdctl --endpoints="$plain" get /tls/key --print-value-only) == yes ]] || fail "get over http"
out=$(curl -sS --max-time 30 "http://$plain/health")
[[ $out == '{"health":"true"}' ]] || fail "/health on the client port: $out"

# HTTP on the metrics listener.
out=$(http GET /health)
[[ $out == $'200\n{"health":"true"}' ]] || fail "/health: $out"
out=$(http POST /health)
[[ $out == $'405\nMethod Not Allowed' ]] || fail "POST /health: $out"
out=$(http GET /version)
[[ $out == $'200\n{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}' ]] || fail "/version: $out"
http GET /metrics >"$dir/metrics"
head -1 "$dir/metrics" | grep -qx 200 || fail "/metrics: $(head -3 "$dir/metrics")"
grep -q '^grpc_server_handled_total{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"} 1$' \
  "$dir/metrics" || fail "/metrics has no Put handled: $(grep handled "$dir/metrics")"
grep -q '^grpc_server_started_total{grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 3$' \
  "$dir/metrics" || fail "/metrics has not three Range started: $(grep started "$dir/metrics")"
grep -qx 'etcd_server_has_leader 1' "$dir/metrics" || fail "/metrics: no etcd_server_has_leader 1"
grep -qx 'etcd_debugging_mvcc_keys_total 1' "$dir/metrics" || fail "/metrics: keys_total"

# The manual clock: a 30 s lease, a watcher on its key, time moved over HTTP.
lease=$(unix_ctl lease grant 30 | sed -n 's/^lease \([0-9a-f]*\) granted with TTL(30s)$/\1/p')
[[ -n $lease ]] || fail "lease grant"
unix_ctl put /tmp/pid 2187 --lease="$lease" >/dev/null
# etcdctl itself in the background (not a function's subshell), so that $! is the process to stop.
ETCDCTL_API=3 etcdctl --endpoints="unix://$sock" watch /tmp/ --prefix >"$dir/watch.out" 2>&1 &
watcher=$!
for _ in $(seq 3000); do
  unix_ctl put /tmp/ready x >/dev/null
  grep -q '/tmp/ready' "$dir/watch.out" && break
  sleep 0.01
done
grep -q '/tmp/ready' "$dir/watch.out" || fail "the watch never started"
out=$(http GET /leasekv/clock)
[[ $out == $'200\n{"now_ns":0,"now_ms":0}' ]] || fail "GET /leasekv/clock: $out"
out=$(http POST '/leasekv/clock/advance?by=10s')
[[ $out == $'200\n{"now_ns":10000000000,"now_ms":10000}' ]] || fail "advance 10s: $out"
ttl=$(unix_ctl lease timetolive "$lease")
[[ $ttl == "lease $lease granted with TTL(30s), remaining(20s)" ]] || fail "timetolive after 10 s: $ttl"
[[ $(unix_ctl get /tmp/pid --print-value-only) == 2187 ]] || fail "the key went before its lease"
out=$(http POST '/leasekv/clock/advance?by=21s')
[[ $out == $'200\n{"now_ns":31000000000,"now_ms":31000}' ]] || fail "advance 21s: $out"
[[ -z $(unix_ctl get /tmp/pid) ]] || fail "the key outlived its lease"
ttl=$(unix_ctl lease timetolive "$lease")
[[ $ttl == "lease $lease already expired" ]] || fail "timetolive after expiry: $ttl"
for _ in $(seq 3000); do grep -q DELETE "$dir/watch.out" && break; sleep 0.01; done
grep -A1 -x DELETE "$dir/watch.out" | grep -qx /tmp/pid || fail "the watcher saw no DELETE: $(cat "$dir/watch.out")"
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
watcher=""
out=$(http POST '/leasekv/clock/advance?by=soon')
[[ $(head -1 <<<"$out") == 400 ]] || fail "a bad duration: $out"

# raft_term: 2 on the new data directory, 3 after a restart (with the data), as etcd's.
term=$(tls_ctl endpoint status -w json | json_number raftTerm)
[[ $term == 2 ]] || fail "raftTerm on the first start: $term"
term=$(tls_ctl get /tls/key -w json | json_number raft_term)
[[ $term == 2 ]] || fail "the header's raft_term on the first start: $term"
stop

start --logger zap
grep -q '"msg":"published local member to cluster through raft"' "$dir/server.err" || fail "zap: no published line"
grep -q '"msg":"enabled capabilities for version","cluster-version":"3.4"' "$dir/server.err" || fail "zap: no capabilities line"
json=$(tls_ctl get /tls/key -w json)
[[ $(json_number raft_term <<<"$json") == 3 ]] || fail "raft_term after a restart: $json"
[[ $(json_number count <<<"$json") == 1 ]] || fail "the data did not survive the restart: $json"
term=$(tls_ctl endpoint status -w json | json_number raftTerm)
[[ $term == 3 ]] || fail "raftTerm after a restart: $term"
stop
echo "1 passed, 0 failed"
