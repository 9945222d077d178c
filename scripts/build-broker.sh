#!/usr/bin/env bash
# Builds the browser token broker into dist/:
#   dist/tessera-broker.js    one classic script, wasm inlined as base64 (a Dataverse JS web resource)
#   dist/redirect.html        the blank sign-in redirect page (an HTML web resource)
#   dist/tessera-broker.d.ts  the window.Tessera v1 API for TypeScript (PCF) authors
# and prints raw and gzipped sizes against the 40 KB (gzipped) budget.
#
# Tools: the wasm32-unknown-unknown target; the wasm-bindgen CLI at exactly the version of the
# wasm-bindgen crate in Cargo.lock (installed with `cargo install` if missing or different);
# wasm-opt (Debian package `binaryen`) if present — without it the bundle is larger.
#
# Environment: DIST (output folder, default dist), BROKER_SIZE_BUDGET_GZ (bytes, default 40960),
# BROKER_SIZE_REPORT (optional file to write the sizes to, as JSON), BROKER_SIZE_STRICT=1 (exit 2
# when over budget; by default it is reported only).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIST="${DIST:-$ROOT/dist}"
BUDGET="${BROKER_SIZE_BUDGET_GZ:-40960}"
CRATE="$ROOT/broker-wasm"
WORK="$ROOT/target/broker-dist"

# --- tools -------------------------------------------------------------------------------------
want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)"
if [[ -z "$want" ]]; then
  echo "build-broker: wasm-bindgen is not in Cargo.lock (run cargo build -p broker-wasm once)" >&2
  exit 1
fi
have="$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)"
if [[ "$have" != "$want" ]]; then
  echo "build-broker: installing wasm-bindgen-cli $want (found: ${have:-none})" >&2
  cargo install wasm-bindgen-cli --version "$want"
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "build-broker: missing target: rustup target add wasm32-unknown-unknown" >&2
  exit 1
fi

# --- build -------------------------------------------------------------------------------------
# Without reference-types: Debian's binaryen (108) rewrites the export of wasm-bindgen's externref
# table to point at the funcref table, and the module then fails to start ("Table.set(): Argument
# 1 is invalid"). Without the feature wasm-bindgen keeps JS values in a JS-side heap instead.
# The profile's strip=true also removes the target_features section, so wasm-bindgen warns that it
# cannot detect features and uses no externref table: that is what we want here (with the section
# present, the precompiled std still lists reference-types and wasm-bindgen fails to find
# `__wbindgen_externref_table_alloc`). The warning is expected.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=-reference-types" \
  cargo build -p broker-wasm --target wasm32-unknown-unknown --profile wasm-release
rm -rf "$WORK" && mkdir -p "$WORK" "$DIST"
wasm-bindgen --target no-modules --no-typescript --out-dir "$WORK" \
  "$ROOT/target/wasm32-unknown-unknown/wasm-release/broker_wasm.wasm"
wasm="$WORK/broker_wasm_bg.wasm"
if [[ "${BROKER_WASM_OPT:-1}" != 0 ]] && command -v wasm-opt >/dev/null; then
  # The features rustc enables by default for wasm32-unknown-unknown; every current browser has them.
  wasm-opt -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int --enable-multivalue \
    "$wasm" -o "$WORK/opt.wasm"
  wasm="$WORK/opt.wasm"
else
  echo "build-broker: not running wasm-opt (BROKER_WASM_OPT=0 or not installed: apt-get install binaryen); bundle will be larger" >&2
fi

# --- assemble ----------------------------------------------------------------------------------
version="$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)"
# gzip (zopfli when installed: a few % smaller, same format), then base64; the loader inflates it
# with DecompressionStream.
if command -v zopfli >/dev/null; then
  zopfli --gzip --i50 -c "$wasm" > "$WORK/wasm.gz"
else
  gzip -9 -n -c "$wasm" > "$WORK/wasm.gz"
fi
base64 -w0 "$WORK/wasm.gz" > "$WORK/wasm.b64"
awk -v glue="$WORK/broker_wasm.js" -v b64="$WORK/wasm.b64" -v version="$version" '
  /\/\*@@WASM_BINDGEN_GLUE@@\*\// { while ((getline line < glue) > 0) print line; next }
  /@@WASM_BASE64@@/ {
    getline data < b64
    sub(/@@WASM_BASE64@@/, data)
    print
    next
  }
  { gsub(/@@VERSION@@/, version); print }
' "$CRATE/js/loader.js" > "$DIST/tessera-broker.js"
cp "$CRATE/js/redirect.html" "$DIST/redirect.html"
cp "$CRATE/js/tessera-broker.d.ts" "$DIST/tessera-broker.d.ts"
if command -v node >/dev/null && ! node --check "$DIST/tessera-broker.js"; then
  echo "build-broker: the assembled script does not parse" >&2
  exit 1
fi

# --- sizes -------------------------------------------------------------------------------------
size() { wc -c < "$1" | tr -d ' '; }
gz() { gzip -9 -c "$1" | wc -c | tr -d ' '; }
wasm_raw=$(size "$wasm"); wasm_gz=$(gz "$wasm")
js_raw=$(size "$DIST/tessera-broker.js"); js_gz=$(gz "$DIST/tessera-broker.js")
glue_raw=$(size "$WORK/broker_wasm.js")
printf 'broker wasm (optimised)     %7d bytes raw %7d bytes gzip\n' "$wasm_raw" "$wasm_gz"
printf 'wasm-bindgen glue           %7d bytes raw\n' "$glue_raw"
printf 'dist/tessera-broker.js      %7d bytes raw %7d bytes gzip (budget %d gzip)\n' \
  "$js_raw" "$js_gz" "$BUDGET"
printf 'dist/redirect.html          %7d bytes raw\n' "$(size "$DIST/redirect.html")"
if [[ -n "${BROKER_SIZE_REPORT:-}" ]]; then
  printf '{"wasm_raw":%d,"wasm_gzip":%d,"js_raw":%d,"js_gzip":%d,"budget_gzip":%d}\n' \
    "$wasm_raw" "$wasm_gz" "$js_raw" "$js_gz" "$BUDGET" > "$BROKER_SIZE_REPORT"
fi
if (( js_gz > BUDGET )); then
  echo "build-broker: OVER BUDGET: tessera-broker.js is $js_gz bytes gzipped (> $BUDGET)" >&2
  # A size report, not a gate, unless asked (the E2E suite must still run on an over-size build).
  if [[ "${BROKER_SIZE_STRICT:-0}" == 1 ]]; then exit 2; fi
fi
