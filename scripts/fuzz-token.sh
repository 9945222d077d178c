#!/usr/bin/env bash
# Mutation fuzz of POST /token against the real binary (issue 16): starts `sts demo` (debug build,
# loopback, free ports, a throw-away state directory), sends FUZZ_REQUESTS mutated requests per
# seed with scripts/fuzz_token.py, then checks the process is alive and its log has no `panicked`
# line. Seeds: the fixed seed 16 plus a fresh one (printed, so a failure can be replayed).
#
#   bash scripts/fuzz-token.sh                  # seed 16 + a fresh seed, 1500 requests each
#   bash scripts/fuzz-token.sh --seed 123456    # replay one seed
#   FUZZ_REQUESTS=20000 bash scripts/fuzz-token.sh
set -euo pipefail
cd "$(dirname "$0")/.."

requests=${FUZZ_REQUESTS:-1500}
seeds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seeds+=("$2"); shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    *) echo "usage: $0 [--seed N]... [--requests N]" >&2; exit 2 ;;
  esac
done
if [ ${#seeds[@]} -eq 0 ]; then
  fresh=${FUZZ_SEED:-$(python3 -c 'import random; print(random.randrange(1 << 32))')}
  seeds=(16 "$fresh")
fi
echo "fuzz-token: seeds ${seeds[*]} (replay one with: bash scripts/fuzz-token.sh --seed N), $requests requests each"

# The debug build CI already made (`--features demo` works whether or not `demo` is a default).
cargo build -q -p sts --features demo --locked
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
sts="$target_dir/debug/sts"

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$sts" demo --no-page --sts-port 0 --emulator-port 0 --state-dir "$work/state" --write-info "$work/info.json" \
  --log-level info >"$work/sts.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ -s "$work/info.json" ] && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/info.json" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/sts.log"; echo "fuzz-token: sts demo exited before it was ready" >&2; exit 1; }
  sleep 0.1
done
[ -s "$work/info.json" ] || { cat "$work/sts.log"; echo "fuzz-token: sts demo did not start" >&2; exit 1; }

status=0
seed_args=()
for s in "${seeds[@]}"; do seed_args+=(--seed "$s"); done
python3 scripts/fuzz_token.py --info "$work/info.json" --requests "$requests" "${seed_args[@]}" || status=1

if ! kill -0 "$pid" 2>/dev/null; then
  echo "fuzz-token: FAILED: sts demo is no longer running" >&2
  status=1
fi
if grep -n 'panicked' "$work/sts.log" >&2; then
  echo "fuzz-token: FAILED: the log above has 'panicked' lines" >&2
  status=1
fi
panics=$(curl -s "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"])' "$work/info.json")" \
  | awk '$1 == "tessera_panics_total" { print $2 }')
echo "fuzz-token: tessera_panics_total ${panics:-?}, process alive: $(kill -0 "$pid" 2>/dev/null && echo yes || echo no)"
if [ "${panics:-unread}" != "0" ]; then status=1; fi
if [ $status -ne 0 ]; then
  echo "fuzz-token: FAILED (seeds ${seeds[*]}); the last lines of the log:" >&2
  tail -n 20 "$work/sts.log" >&2
else
  echo "fuzz-token: ok"
fi
exit $status
