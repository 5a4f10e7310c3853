#!/usr/bin/env bash
# Quick start, command 2: installs what is missing, then builds and runs every test three ways:
#   1. g++, warnings as errors: every test, the package tests included;
#   2. clang with AddressSanitizer + UndefinedBehaviorSanitizer (and -Wthread-safety): every test;
#   3. libFuzzer targets (log and snapshot readers, the CLI's parsers, the store against the model, the
#      server's request handling), 60 s each (LEASEKV_FUZZ_SECONDS), from stage 2's build: it is built
#      with libFuzzer's coverage instrumentation too, so the library is compiled once for both;
#   4. clang with ThreadSanitizer: the concurrency and conformance tests;
#   5. a smoke run of the benchmarks' workload runner at small sizes, from stage 1's build.
# Each stage prints ctest's summary and how long the stage took; the script fails if any stage fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

jobs=$(nproc)
stage_start=$SECONDS
stage() {
  printf '\n==== (%d s since the previous stage) %s ====\n' "$((SECONDS - stage_start))" "$*"
  stage_start=$SECONDS
}

stage "g++ -Werror: all tests"
cmake -S . -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=g++ -DLEASEKV_WERROR=ON \
  -DLEASEKV_BUILD_BENCHMARKS=ON >/dev/null
cmake --build build/gcc -j "$jobs"
ctest --test-dir build/gcc -j "$jobs" --output-on-failure

stage "clang ASan+UBSan -Werror -Wthread-safety: all tests"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ -DLEASEKV_WERROR=ON \
  -DLEASEKV_SANITIZE=address,undefined -DLEASEKV_BUILD_FUZZERS=ON >/dev/null
cmake --build build/asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan -j "$jobs" --output-on-failure

stage "libFuzzer (ASan+UBSan): 60 s per target on its seed corpus"
LEASEKV_FUZZ_BUILD=build/asan scripts/fuzz.sh wal snapshot store cli server

stage "clang TSan: concurrency and conformance tests"
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DLEASEKV_WERROR=ON \
  -DLEASEKV_SANITIZE=thread >/dev/null
cmake --build build/tsan -j "$jobs" --target concurrency_tests conformance_tests
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build/tsan -j "$jobs" -L 'concurrency|conformance' --output-on-failure

stage "benchmark smoke run (small sizes; the real-clock expiry storm included)"
build/gcc/benchmarks/leasekv_workloads --keys 20000 --ranges 200 --leases 20000 --storm-leases 200 --storm-keys 5 \
  --watch-events 20000 --durable-puts 200 --durable-keys 20000

stage "all stages passed"
