#!/usr/bin/env bash
# The one command to run Tessera (the README's run command): builds the browser broker bundle when
# it is missing or older than its sources, then starts `sts demo` (emulator, demo registry,
# development certificate, STS and demo page, all on embedded defaults). Extra arguments go to
# `sts demo` (see `cargo run -p sts --features demo -- demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

# build-broker.sh installs the tools it needs when they are missing (scripts/setup.sh --broker: the
# wasm32 target, rust-src, wasm-bindgen-cli), so this works on a machine with only the Rust
# toolchain and Node/npm.
# Both bundles: the demo page's (tessera-broker.js) and the Power Pages site's (-pages).
if [ ! -f dist/tessera-broker.js ] || [ ! -f dist/tessera-broker.js.gz ] \
  || [ ! -f dist/tessera-broker-pages.js ] || [ ! -f dist/tessera-broker-pages.js.gz ] \
  || [ -n "$(find broker-wasm scripts/build-broker.sh Cargo.lock -newer dist/tessera-broker.js -print -quit)" ]; then
  bash scripts/build-broker.sh
fi
exec cargo run -q -p sts --features demo -- demo "$@"
