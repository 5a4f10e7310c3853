#!/usr/bin/env bash
# python3-etcd3 against leasekv-server (python_etcd3_test.py), on a loopback port the OS picked; the
# server is stopped here.
#   python_etcd3.sh LEASEKV_SERVER
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
source "$here/server_lib.sh"
trap 'cleanup_server; rm -rf "$dir"' EXIT
# Debian's interpreter, where python3-etcd3 is installed (a python3 earlier on PATH may lack it).
py=/usr/bin/python3
"$py" -c 'import etcd3' 2>/dev/null || fail "python3-etcd3 is missing (scripts/setup.sh installs it)"
start_server "$1"
"$py" "$here/python_etcd3_test.py" "$addr" || fail "python_etcd3_test.py"
stop_server
echo "1 passed, 0 failed"
