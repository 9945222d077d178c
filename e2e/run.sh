#!/usr/bin/env bash
# Browser tests of window.Tessera: builds what they need, then runs them with node's test runner.
#
#   e2e/run.sh            build the broker bundle, sts and entra-emulator, install playwright-core,
#                         run every test in e2e/tests/ (headless Debian Chromium)
#
# The suite starts its own processes on free loopback ports (see e2e/lib/stack.js): a static page
# server, target/debug/entra-emulator (generated config, admin API on) and target/debug/sts (fresh
# SQLite registry from a generated operator migration, certificate from `sts cert new`).
# Needs: node >= 20, npm, /usr/bin/chromium (Debian package `chromium`; never a downloaded
# browser), the wasm32-unknown-unknown target. Set E2E_SKIP_BUILD=1 to reuse existing builds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ ! -x /usr/bin/chromium ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "e2e: installing Debian chromium" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null \
      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; }
  else
    echo "e2e: /usr/bin/chromium is missing: apt-get install -y chromium" >&2
    exit 1
  fi
fi

if [[ "${E2E_SKIP_BUILD:-0}" != 1 ]]; then
  ./scripts/build-broker.sh
  # `sts demo` (tests/demo.test.js) exists only with the demo feature.
  cargo build -p sts --features demo
  cargo build -p entra-emulator
fi

cd e2e
if [[ ! -d node_modules/playwright-core ]]; then
  if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi
exec node --test --test-concurrency=1 tests/
