#!/usr/bin/env bash
# Installs what Tessera's build and tests need on a fresh machine, skipping what is already there.
# Idempotent; safe to run before every test run. Root (or sudo-less apt) is assumed, as on CI.
#
#   scripts/setup.sh            everything: the broker's tools below, plus rustfmt, clippy,
#                               Chromium (browser tests) and docker-compose (compose validation)
#   scripts/setup.sh --broker   only what scripts/build-broker.sh needs (the run command,
#                               scripts/demo.sh, calls this): the wasm32 target, rust-src,
#                               wasm-bindgen-cli at the Cargo.lock version, xz
set -euo pipefail
cd "$(dirname "$0")/.."

only_broker=0
if [ "${1:-}" = "--broker" ]; then only_broker=1; fi

log() { printf '\n== setup: %s\n' "$*" >&2; }

# Debian packages, installed only when missing: as root through apt-get, else through a sudo that
# needs no password; otherwise the message says what to install.
apt_install() {
  local apt=(apt-get)
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then apt=(sudo -n apt-get); else
      echo "setup: missing Debian packages: $* (run: sudo apt-get install $*)" >&2
      exit 1
    fi
  fi
  log "apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  "${apt[@]}" update -qq
  "${apt[@]}" install -y -qq --no-install-recommends "$@" >/dev/null
}

# Rust toolchain parts: the broker bundle is wasm32, and build-broker.sh rebuilds core and alloc
# for size (-Zbuild-std), which needs core's sources.
rustup target list --installed | grep -q '^wasm32-unknown-unknown$' || { log "wasm32 target"; rustup target add wasm32-unknown-unknown; }
rustup component list --installed 2>/dev/null | grep -q '^rust-src' || { log "rust-src"; rustup component add rust-src; }
if [ "$only_broker" = 0 ]; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

need=()
command -v xz >/dev/null || need+=(xz-utils)   # compresses the wasm inside the broker bundle
if [ "$only_broker" = 0 ]; then
  command -v chromium >/dev/null || need+=(chromium)             # the browser tests
  command -v docker-compose >/dev/null || need+=(docker-compose) # validates the compose file
fi
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

# wasm-bindgen CLI: its version must equal the wasm-bindgen crate's in Cargo.lock.
want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ -n "$want" ] && [ "$have" != "$want" ]; then
  log "cargo install wasm-bindgen-cli $want"
  cargo install -q wasm-bindgen-cli --version "$want"
fi
