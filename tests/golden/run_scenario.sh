#!/usr/bin/env bash
# Runs scenario.txt with CTL (etcdctl or leasekvctl, with its arguments) and prints the normalized
# transcript: each command, its stdout, its "Error:" lines on stderr, its exit code.
#   run_scenario.sh SCENARIO CTL [ARGS...]
set -uo pipefail
scenario=$1
shift
CTL=("$@")
here=$(cd "$(dirname "$0")" && pwd)
leases=()
transcript=$(mktemp)
while IFS= read -r line; do
  [[ -z "$line" || "$line" == \#* ]] && continue
  cmd=$line
  input=""
  # "COMMAND <<< TEXT" feeds TEXT (with printf escapes such as \n) to the command's stdin.
  if [[ "$cmd" == *" <<< "* ]]; then
    input=${cmd#* <<< }
    cmd=${cmd%% <<< *}
  fi
  for i in "${!leases[@]}"; do cmd=${cmd//\$L$((i + 1))/${leases[$i]}}; done
  # "@timeout N COMMAND" runs a command that never ends on its own (watch) for N seconds.
  limit=()
  if [[ "$cmd" =~ ^@timeout\ ([0-9.]+)\ (.*)$ ]]; then
    limit=(timeout "${BASH_REMATCH[1]}")
    cmd=${BASH_REMATCH[2]}
  fi
  eval "set -- $cmd"
  out=$(printf '%b' "$input" | "${limit[@]}" "${CTL[@]}" "$@" 2>"$transcript.err")
  rc=$?
  printf '$ %s\n' "$line" >>"$transcript"
  [[ -n "$out" ]] && printf '%s\n' "$out" >>"$transcript"
  grep '^Error:' "$transcript.err" | sed 's/^/stderr: /' >>"$transcript" || true
  printf 'rc=%d\n' "$rc" >>"$transcript"
  if [[ "$out" =~ ^lease\ ([0-9a-f]{16})\ granted ]]; then leases+=("${BASH_REMATCH[1]}"); fi
  if [[ "$out" =~ \"ID\":([0-9]+),\"TTL\" ]]; then leases+=("$(printf '%016x' "${BASH_REMATCH[1]}")"); fi
  if [[ "$out" =~ \"ID\"\ :\ ([0-9]+) && "$line" == "lease grant"* ]]; then leases+=("$(printf '%016x' "${BASH_REMATCH[1]}")"); fi
done <"$scenario"
"$here/normalize.sh" "${leases[@]}" <"$transcript"
rm -f "$transcript" "$transcript.err"
