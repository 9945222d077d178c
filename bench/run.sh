#!/usr/bin/env bash
# Tessera's benchmark (issue 6), side by side in one run: Tessera (release `sts demo`: emulator +
# STS on loopback), an msal-node peer (bench/peer) and a bare axum endpoint (the ceiling).
#
#   bash bench/run.sh            # full run (~5 minutes on 2 cores); report in target/bench/report.md
#   bash bench/run.sh --smoke    # tiny durations; exits non-zero if anything is broken (CI)
#   bash bench/run.sh --shared   # wrk and the servers share every CPU (the default pins them apart)
#
# Installs what it needs: wrk (Debian), the peer's npm packages (npm ci, pinned by
# package-lock.json). Other arguments go to `tessera-bench run` (see `--help`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get install -y -qq wrk >/dev/null || { $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq wrk >/dev/null; }
fi
if ! command -v node >/dev/null 2>&1; then
  echo "node >= 20.19 is required for the peer (bench/peer)" >&2
  exit 1
fi
(cd bench/peer && npm ci --no-audit --no-fund --loglevel=error)

# The smoke run checks that the benchmark works, not how fast: it reuses the debug build the tests
# made instead of spending minutes on a release build. Real runs are release builds.
profile=release
build_flags=(--release)
for arg in "$@"; do
  if [ "$arg" = "--smoke" ]; then profile=debug; build_flags=(); fi
done
# `sts demo` is opt-in (the deployable build has no emulator): the benchmark needs it.
cargo build "${build_flags[@]}" --locked -p sts -p tessera-bench --features sts/demo
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

exec "$target_dir/$profile/tessera-bench" run \
  --sts-bin "$target_dir/$profile/sts" \
  --out "$target_dir/bench" \
  "$@"
