#!/usr/bin/env bash
# Installs the Debian 12 packages leasekv needs to build and test, if any is missing, and any further
# packages named as arguments (benchmarks/etcd/compare.sh adds Go and etcd's sources). Run as root (or
# with sudo available). Safe to run again: it installs nothing when everything is there.
set -euo pipefail

packages=(
  g++ clang libclang-rt-14-dev cmake ninja-build
  # leasekv-server's static link places its start-up code together with lld (tools/leasekv-server)
  lld
  libboost-dev libboost-system-dev libfmt-dev libspdlog-dev catch2 libbenchmark-dev
  # benchmarks/durable: RocksDB beside leasekv (built only when found)
  librocksdb-dev
  # leasekv-server: gRPC and protobuf, and the real etcd clients its tests run against it
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler golang-go golang-etcd-server-dev etcd-client
  python3-etcd3
  # leasekv-server's flags test: certificates made by the openssl command, HTTP calls by curl
  openssl curl
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
