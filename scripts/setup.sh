#!/usr/bin/env bash
# Installs what Tessera's build and tests need on a fresh machine, skipping what is already there.
# Idempotent; safe to run before every test run. Root (or sudo-less apt) is assumed, as on CI.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== setup: %s\n' "$*" >&2; }

# Rust toolchain parts.
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup target list --installed | grep -q '^wasm32-unknown-unknown$' || { log "wasm32 target"; rustup target add wasm32-unknown-unknown; }
# core's sources: scripts/build-broker.sh rebuilds core and alloc for size (-Zbuild-std).
rustup component list --installed 2>/dev/null | grep -q '^rust-src' || { log "rust-src"; rustup component add rust-src; }

# Debian packages: Chromium for the browser tests, docker-compose to validate
# the compose file, xz for the broker build. Installed only when missing.
need=()

command -v chromium >/dev/null || need+=(chromium)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v xz >/dev/null || need+=(xz-utils)   # compresses the wasm inside the broker bundle
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# wasm-bindgen CLI: its version must equal the wasm-bindgen crate's in Cargo.lock.
want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ -n "$want" ] && [ "$have" != "$want" ]; then
  log "cargo install wasm-bindgen-cli $want"
  cargo install -q wasm-bindgen-cli --version "$want"
fi
