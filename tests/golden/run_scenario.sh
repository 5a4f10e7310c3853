#!/usr/bin/env bash
# Runs a scenario with CTL (etcdctl or leasekvctl, with its arguments) and prints the normalized
# transcript: each command, its stdout, every line of its stderr (prefixed "stderr: "), its exit code.
#   run_scenario.sh SCENARIO CTL [ARGS...]
# In a scenario line, $L1, $L2, ... are the lease ids granted so far and $DIR is a scratch directory
# (fresh for each run, shown as $DIR in the transcript).
set -uo pipefail
scenario=$1
shift
CTL=("$@")
here=$(cd "$(dirname "$0")" && pwd)
leases=()
transcript=$(mktemp)
DIR=$(mktemp -d)
trap 'rm -rf "$DIR" "$transcript" "$transcript.err"' EXIT
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
  cmd=${cmd//\$DIR/$DIR}
  # "@timeout N COMMAND" runs a command that never ends on its own (watch, keep-alive) for N seconds.
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
  sed 's/^/stderr: /' "$transcript.err" >>"$transcript"
  printf 'rc=%d\n' "$rc" >>"$transcript"
  # Each lease grant names the next lease ($L1, $L2, ...), in any output format.
  if [[ "$line" == "lease grant"* ]]; then
    if [[ "$out" =~ ^lease\ ([0-9a-f]{16})\ granted ]]; then leases+=("${BASH_REMATCH[1]}"); fi
    if [[ "$out" =~ \"ID\":([0-9]+),\"TTL\" ]]; then leases+=("$(printf '%016x' "${BASH_REMATCH[1]}")"); fi
    if [[ "$out" =~ \"ID\"\ :\ ([0-9]+) ]]; then leases+=("$(printf '%016x' "${BASH_REMATCH[1]}")"); fi
  fi
done <"$scenario"
# What CTL names its endpoint in `endpoint status` (etcdctl's address, leasekvctl's data directory)
# must differ: both read ENDPOINT.
endpoint=
for ((i = 1; i < ${#CTL[@]}; i++)); do
  case "${CTL[$i]}" in
    --endpoints=*) endpoint=${CTL[$i]#--endpoints=} ;;
    --data-dir=*) endpoint=${CTL[$i]#--data-dir=} ;;
    --data-dir) endpoint=${CTL[$((i + 1))]} ;;
  esac
done
sed -e "s|$DIR|\$DIR|g" ${endpoint:+-e "s|$endpoint|ENDPOINT|g"} "$transcript" | "$here/normalize.sh" "${leases[@]}"
