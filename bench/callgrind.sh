#!/usr/bin/env bash
# Instructions per cached exchange, by step (BENCHMARKS.md's per-step tables): deterministic where
# wall-clock figures on a shared 2-core machine are not.
#
#   bash bench/callgrind.sh [seconds]     # default 20; needs valgrind and wrk (Debian packages)
#   STS_BIN=/path/to/sts bash bench/callgrind.sh   # measure that release build instead (built
#                                                  # with --features sts/demo), e.g. a baseline
#
# The release `sts demo` (emulator + STS) runs under callgrind uninstrumented (--instr-atstart=no); one user
# token is minted and exchanged once (the miss that fills the cache); then instrumentation is on
# only while `wrk -t1 -c4` sends that same exchange (all cache hits), and the counts are divided
# by the cache hits the STS counted meanwhile. User-space instructions only: the kernel's TCP work
# is the same for every server. Valgrind hides the CPU's SHA extensions, so SHA-256 runs in
# software here (tens of thousands of instructions, ~1 µs on the real CPU): it is reported on its
# own line and left out of the total, as in the earlier tables.
#
# The output is target/callgrind/callgrind.out (open it with callgrind_annotate or kcachegrind)
# and a table on stdout. The subject token is kept in the environment, never written to disk.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-20}"

for tool in valgrind callgrind_control callgrind_annotate wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench/callgrind.sh needs $tool (apt-get install valgrind wrk curl)" >&2; exit 1; }
done
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
if [ -z "${STS_BIN:-}" ]; then
  cargo build --release --locked -p sts --features sts/demo
  STS_BIN="$target_dir/release/sts"
fi
out="$target_dir/callgrind"
rm -rf "$out" && mkdir -p "$out"

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/callgrind.out" \
  "$STS_BIN" demo --state-dir "$out/state" --sts-port 0 --emulator-port 0 --page-port 0 \
  --no-page --log-level warn --write-info "$out/info.json" >"$out/sts.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  [ -s "$out/info.json" ] && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out/info.json" 2>/dev/null && break
  kill -0 $pid 2>/dev/null || { echo "sts demo exited:" >&2; tail -20 "$out/sts.log" >&2; exit 1; }
  sleep 0.5
done
info() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$out/info.json" "$1"; }
sts="$(info sts)"; metrics="$(info metrics)"; admin="$(info emulator_http)/_admin"; scope="$(info scope)"

body="$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); print(json.dumps({
  "tenant": i["tenant"], "user": i["user"], "client_app": i["client_app_id"], "broker_app": i["broker_app_id"],
  "scopes": ["access_as_user"], "version": 2, "lifetime_secs": 3600}))' "$out/info.json")"
BENCH_SUBJECT_TOKEN="$(curl -sf -X POST -H 'content-type: application/json' -d "$body" "$admin/tokens/user" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
export BENCH_SUBJECT_TOKEN BENCH_SCOPE="$scope"
# The first exchange: a miss (signature, OBO to the emulator), which fills the cache. The token
# goes to curl on stdin, not on its command line.
printf '%s' "$BENCH_SUBJECT_TOKEN" | curl -sf -o /dev/null -X POST "$sts/token" \
  --data-urlencode 'grant_type=urn:ietf:params:oauth:grant-type:token-exchange' \
  --data-urlencode 'subject_token_type=urn:ietf:params:oauth:token-type:access_token' \
  --data-urlencode 'subject_token@-' --data-urlencode "scope=$scope"

hits() { curl -sf "$metrics" | awk '$1 == "tessera_cache_hits_total" { print $2 }'; }
before="$(hits)"
callgrind_control -i on $pid >/dev/null
wrk -t1 -c4 -d"${seconds}s" --script bench/wrk/exchange.lua "$sts/token" >"$out/wrk.txt"
callgrind_control -i off $pid >/dev/null
after="$(hits)"
callgrind_control -d $pid >/dev/null
kill -TERM $pid; wait $pid || true
trap - EXIT
requests=$((after - before))
grep -q '"non_2xx":0' "$out/wrk.txt" || { echo "some answers were not 2xx:" >&2; cat "$out/wrk.txt" >&2; exit 1; }

dump="$out/callgrind.out.1" # the dump `callgrind_control -d` asked for (callgrind.out is the empty one at exit)
callgrind_annotate --inclusive=yes --threshold=100 "$dump" >"$out/inclusive.txt"
callgrind_annotate --inclusive=no --threshold=100 "$dump" >"$out/exclusive.txt"
python3 bench/callgrind_steps.py "$out/inclusive.txt" "$out/exclusive.txt" "$requests"
