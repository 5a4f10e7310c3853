#!/usr/bin/env bash
# Quick start, command 1: installs what is missing, builds leasekv, and runs the seed walkthrough.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DLEASEKV_BUILD_TESTS=OFF >/dev/null
cmake --build build/release --target lease_tutorial >/dev/null
exec build/release/tools/lease_tutorial/lease_tutorial
