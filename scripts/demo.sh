#!/usr/bin/env bash
# The one command to run Tessera (the README's run command): builds the browser broker bundle when
# it is missing or older than its sources, then starts `sts demo` (emulator, demo registry,
# development certificate, STS and demo page, all on embedded defaults). Extra arguments go to
# `sts demo` (see `cargo run -p sts --features demo -- demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f dist/tessera-broker.js ] || [ -n "$(find broker-wasm Cargo.lock -newer dist/tessera-broker.js -print -quit)" ]; then
  rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
  bash scripts/build-broker.sh
fi
exec cargo run -q -p sts --features demo -- demo "$@"
