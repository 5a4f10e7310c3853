#!/usr/bin/env bash
# Runs the libFuzzer targets of a build configured with -DLEASEKV_BUILD_FUZZERS=ON (clang, ASan+UBSan;
# LEASEKV_FUZZ_BUILD, default build/asan: scripts/test.sh's second stage) for LEASEKV_FUZZ_SECONDS
# (default 60) each, starting from their seed corpus and regressions. Fails if any target fails.
#   scripts/fuzz.sh [TARGET...]        (default: wal snapshot store cli server; the binaries must be built)
# A crash, timeout, leak or OOM keeps the fuzzer's log and its input under <build>/artifacts/<target>/
# and prints both (the input as a hex dump); copy the input to tests/fuzz/regressions/<target>/ (see the
# README there) and fix the bug. Targets run LEASEKV_FUZZ_JOBS (default: the number of cores) at a time,
# each on one core; their reports are printed in the order given.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${LEASEKV_FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(wal snapshot store cli server)
jobs=${LEASEKV_FUZZ_JOBS:-$(nproc)}
build=${LEASEKV_FUZZ_BUILD:-build/asan}

# Runs one target; prints its report; returns non-zero if it failed.
fuzz_one() {
  local target=$1 work artifacts status found input
  work=$(mktemp -d)
  artifacts=$build/artifacts/$target
  rm -rf "$artifacts"
  mkdir -p "$artifacts"
  regressions=()
  [ -d "tests/fuzz/regressions/$target" ] && regressions=("tests/fuzz/regressions/$target")
  # The fuzzer's status is taken from the fuzzer itself, not from a pipe (a `| grep ... || true`
  # hides it from PIPESTATUS under pipefail).
  status=0
  "$build/tests/fuzz/fuzz_$target" -max_total_time="$fuzz_seconds" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" "tests/fuzz/corpus/$target" "${regressions[@]}" \
    >"$artifacts/log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units)|ERROR|SUMMARY' "$artifacts/log" || true
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    printf '\n---- fuzz_%s failed (exit %d); the end of its log (all of it: %s) ----\n' "$target" "$status" "$artifacts/log"
    tail -n 60 "$artifacts/log"
    found=0
    for input in "$artifacts"/crash-* "$artifacts"/timeout-* "$artifacts"/leak-* "$artifacts"/oom-* \
                 "$artifacts"/slow-unit-*; do
      [ -e "$input" ] || continue
      found=1
      printf '\n---- input kept: %s (%d bytes); replay: %s/tests/fuzz/fuzz_%s %s ----\n' \
        "$input" "$(stat -c %s "$input")" "$build" "$target" "$input"
      od -A d -t x1z -v "$input" | head -n 64
    done
    [ "$found" -eq 1 ] || echo "(the fuzzer left no input file; see its log)"
    return 1
  fi
  rm -rf "$artifacts"
}

reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
pids=()
for i in "${!targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  (fuzz_one "${targets[$i]}" >"$reports/$i" 2>&1 && echo ok >"$reports/$i.status" || echo failed >"$reports/$i.status") &
  pids+=($!)
done
wait "${pids[@]}" || true
failed=()
for i in "${!targets[@]}"; do
  printf '%s:\n' "fuzz_${targets[$i]}"
  cat "$reports/$i"
  [ "$(cat "$reports/$i.status" 2>/dev/null)" = ok ] || failed+=("${targets[$i]}")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing failed: ${failed[*]}" >&2
  exit 1
fi
