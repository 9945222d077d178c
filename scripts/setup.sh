#!/usr/bin/env bash
# Installs what Tessera's build and tests need on a fresh machine, skipping what is already there.
# Idempotent; safe to run before every test run. Root (or sudo-less apt) is assumed, as on CI.
#
#   scripts/setup.sh            everything: the broker's tools below, plus rustfmt, clippy,
#                               Chromium (browser tests) and docker-compose (compose validation)
#   scripts/setup.sh --broker   only what scripts/build-broker.sh needs (the run command,
#                               scripts/demo.sh, gets here through it): the pinned toolchain of
#                               broker-wasm/tools/rust-version with the wasm32 target and rust-src,
#                               wasm-bindgen-cli at the Cargo.lock version
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

# The broker bundle is built with a pinned toolchain (broker-wasm/tools/rust-version: the one its
# unstable size flags were measured with), for wasm32, rebuilding core and alloc (-Zbuild-std),
# which needs core's sources. Only that build uses it; everything else stays on the default one.
pin=$(tr -d ' \n' < broker-wasm/tools/rust-version)
rustup toolchain list | grep -q "^$pin-" || { log "Rust $pin (the broker bundle's toolchain)"; rustup toolchain install "$pin" --profile minimal; }
rustup target list --installed --toolchain "$pin" | grep -q '^wasm32-unknown-unknown$' || { log "wasm32 target ($pin)"; rustup target add --toolchain "$pin" wasm32-unknown-unknown; }
rustup component list --installed --toolchain "$pin" 2>/dev/null | grep -q '^rust-src' || { log "rust-src ($pin)"; rustup component add --toolchain "$pin" rust-src; }
if [ "$only_broker" = 0 ]; then
  # CI's plain wasm build of the crate (stable, no unstable flags).
  rustup target list --installed | grep -q '^wasm32-unknown-unknown$' || { log "wasm32 target"; rustup target add wasm32-unknown-unknown; }
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

need=()
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
