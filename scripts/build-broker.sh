#!/usr/bin/env bash
# Builds the browser token broker into dist/:
#   dist/tessera-broker.js    one classic script, wasm inlined as base64 (a Dataverse JS web resource):
#                             the Power Apps bundle, without the Power Pages mode (40 KB gzip budget)
#   dist/tessera-broker-pages.js  the Power Pages bundle: the crate built with `power-pages` and
#                             without its default `entra` feature (configure({ identity: "powerPages",
#                             … }) only, no Entra popup sign-in): a Power Pages site's web file
#   dist/redirect.html        the blank sign-in redirect page (an HTML web resource)
#   dist/tessera-broker.d.ts  the window.Tessera v1 API for TypeScript (PCF) authors
#   dist/tessera-broker.js.gz, dist/tessera-broker-pages.js.gz  each script gzip -9'd once, for
#                             servers that send it to clients which accept gzip (the demo does)
# and prints raw and gzipped sizes against the budgets (gzipped): 40,960 B for each script.
# Intermediates: target/broker-dist (tessera-broker.js) and target/broker-dist-pages.
#
# Tools (installed when missing, by `scripts/setup.sh --broker`): the Rust toolchain named in
# broker-wasm/tools/rust-version with the wasm32-unknown-unknown target and the rust-src component (core
# is rebuilt for size with unstable flags, see "build" below); the wasm-bindgen CLI at
# exactly the version of the wasm-bindgen crate in Cargo.lock. Needed beforehand: node and npm, with
# which the script installs broker-wasm/tools/package.json (pinned, lockfile) into
# target/broker-tools: binaryen's wasm-opt, terser and zopfli (the inlined wasm's raw deflate).
#
# Environment: DIST (output folder, default dist), BROKER_SIZE_BUDGET_GZ (bytes, default 40960),
# BROKER_PAGES_SIZE_BUDGET_GZ (bytes, default 40960),
# BROKER_SIZE_REPORT (optional file to write the sizes to, as JSON), BROKER_SIZE_STRICT (default 1:
# exit 2 when over budget, a gate; 0 only reports it), BROKER_MINIFY=0 (keep the loader and glue
# readable, for debugging; such a build is over budget, so it only reports unless STRICT=1).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIST="${DIST:-$ROOT/dist}"
BUDGET="${BROKER_SIZE_BUDGET_GZ:-40960}"
PAGES_BUDGET="${BROKER_PAGES_SIZE_BUDGET_GZ:-40960}"
CRATE="$ROOT/broker-wasm"

# --- tools -------------------------------------------------------------------------------------
# The wasm32 target, rust-src and wasm-bindgen-cli at the Cargo.lock version: installed when
# missing (a fresh machine's first `bash scripts/demo.sh` gets here with only the toolchain).
bash "$ROOT/scripts/setup.sh" --broker
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "build-broker: $tool is missing (apt-get install nodejs npm)" >&2; exit 1; }
done
# A current binaryen (Debian's 108 optimises less and mishandles reference types), terser and
# zopfli, pinned by broker-wasm/tools/package-lock.json; reinstalled when the lockfile changes.
TOOLS="$ROOT/target/broker-tools"
if ! cmp -s "$CRATE/tools/package-lock.json" "$TOOLS/package-lock.json" || [[ ! -d "$TOOLS/node_modules" ]]; then
  rm -rf "$TOOLS" && mkdir -p "$TOOLS"
  cp "$CRATE/tools/package.json" "$CRATE/tools/package-lock.json" "$TOOLS/"
  (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
WASM_OPT="$TOOLS/node_modules/.bin/wasm-opt"

# --- build -------------------------------------------------------------------------------------
# Without reference-types: measured with binaryen 132, wasm-bindgen's externref table makes the
# wasm ~1 KB (gzipped) larger and the glue only ~0.1 KB smaller than its JS-side heap of values.
# (Debian's binaryen 108 also broke the externref table's export.)
# The profile's strip=true also removes the target_features section, so wasm-bindgen warns that it
# cannot detect features and uses no externref table: that is what we want here (with the section
# present, the precompiled std — used before core was rebuilt here, below — listed
# reference-types and wasm-bindgen failed to find `__wbindgen_externref_table_alloc`). The warning
# is expected.
# core and alloc rebuilt for size (min-sized-rust), on stable Rust through RUSTC_BOOTSTRAP=1, for
# this release build of the wasm only (host builds, tests and CI's plain wasm build stay on plain
# stable). Why: the precompiled core keeps its panic machinery — `core::fmt` (formatter pointers
# in the function table) and a file/line/column record per panic site — although our panic
# handler only traps, and stable offers no other way to drop it.
# - `-Zbuild-std=core,alloc` (needs the rust-src component; scripts/setup.sh installs it) so the
#   two flags below reach core and alloc too;
# - `-Cpanic=immediate-abort` (unstable; the successor of build-std's `panic_immediate_abort`
#   feature): every panic is a trap at its call site — what our handler did anyway, minus the
#   formatting (−3.2 KB of the gzipped script);
# - `-Zlocation-detail=none`: no panic-location records (file names, lines) as data (−0.2 KB).
# Measured and not used: `-Zfmt-debug=none` (no effect once nothing formats), the
# `optimize_for_size` feature of core (+27 B), build-std without the two flags (+0.9 KB).
# Behaviour is unchanged: a panic traps either way (a `RuntimeError` in JS).
# Those flags are unstable: their meaning may change in any release, so this build runs on the
# toolchain they were measured and tested with (broker-wasm/tools/rust-version, installed by setup.sh;
# `cargo +<version>` through rustup) whatever the machine's default is. A new pin is a reviewed
# change: rebuild, compare the sizes in broker-wasm/README.md, run e2e/run.sh.
toolchain=$(tr -d ' \n' < "$ROOT/broker-wasm/tools/rust-version")
# The features rustc enables by default for wasm32-unknown-unknown; every current browser has them.
FEATURES=(--enable-bulk-memory --enable-sign-ext --enable-mutable-globals
  --enable-nontrapping-float-to-int --enable-multivalue)
version="$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)"
minify=()
if [[ "${BROKER_MINIFY:-1}" == 0 ]]; then minify=(--no-minify); fi
# Run from the tools folder so that its `import "terser"` resolves to the pinned install.
cp "$CRATE/tools/pack.mjs" "$TOOLS/pack.mjs"
mkdir -p "$DIST"

# One bundle: `bundle <script name> <work folder> [cargo feature]` builds the wasm with that
# feature, then assembles $DIST/<script name> from $ROOT/target/<work folder>'s intermediates.
bundle() {
  local name="$1" work="$ROOT/target/$2" features=() pages=() cargo_target="$ROOT/target"
  # The Power Pages bundle in a target folder of its own: a cdylib's wasm has no per-feature name,
  # so a build that cargo finds fresh for one feature set could leave the other set's wasm there.
  if [[ -n "${3:-}" ]]; then
    features=(--no-default-features --features "$3"); pages=(--pages); cargo_target="$ROOT/target/wasm-$2"
  fi
  RUSTC_BOOTSTRAP=1 \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=-reference-types \
-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none" \
    cargo "+$toolchain" build --locked -p broker-wasm --target wasm32-unknown-unknown --profile wasm-release \
    -Zbuild-std=core,alloc --target-dir "$cargo_target" "${features[@]}"
  rm -rf "$work" && mkdir -p "$work"
  wasm-bindgen --target no-modules --no-typescript --omit-default-module-path --out-dir "$work" \
    "$cargo_target/wasm32-unknown-unknown/wasm-release/broker_wasm.wasm"
  "$WASM_OPT" -Oz --converge --strip-debug --strip-producers "${FEATURES[@]}" \
    "$work/broker_wasm_bg.wasm" -o "$work/opt.wasm"
  # Short import/export names (the glue is rewritten to match by pack.mjs, which checks both sides).
  "$WASM_OPT" "${FEATURES[@]}" --minify-imports-and-exports-and-modules \
    "$work/opt.wasm" -o "$work/min.wasm" > "$work/names.json"

  # --- assemble --------------------------------------------------------------------------------
  node "$TOOLS/pack.mjs" \
    --loader "$CRATE/js/loader.js" --glue "$work/broker_wasm.js" --wasm "$work/min.wasm" \
    --map "$work/names.json" --version "$version" \
    --out "$DIST/$name" "${minify[@]}" "${pages[@]}"
  if ! node --check "$DIST/$name"; then
    echo "build-broker: the assembled $name does not parse" >&2
    exit 1
  fi
  # Precompressed once here (-n: no name or time stamp, so the same script gives the same bytes).
  gzip -9 -n -c "$DIST/$name" > "$DIST/$name.gz"
}
# Power Apps (model-driven apps: ribbon, PCF): the Entra sign-in, no Power Pages mode.
bundle tessera-broker.js broker-dist
# Power Pages sites: `configure({ identity: "powerPages", … })` only (no Entra sign-in).
bundle tessera-broker-pages.js broker-dist-pages power-pages
cp "$CRATE/js/redirect.html" "$DIST/redirect.html"
cp "$CRATE/js/tessera-broker.d.ts" "$DIST/tessera-broker.d.ts"

# --- sizes -------------------------------------------------------------------------------------
size() { wc -c < "$1" | tr -d ' '; }
gz() { gzip -9 -c "$1" | wc -c | tr -d ' '; }
over=()
report=""
# `sizes <script name> <work folder> <budget> <JSON key prefix>`
sizes() {
  local name="$1" work="$ROOT/target/$2" budget="$3" key="$4"
  local wasm_raw wasm_gz js_raw js_gz glue_raw
  wasm_raw=$(size "$work/min.wasm"); wasm_gz=$(gz "$work/min.wasm")
  js_raw=$(size "$DIST/$name"); js_gz=$(gz "$DIST/$name")
  glue_raw=$(size "$work/broker_wasm.js")
  printf '%-28s\n' "$name:"
  printf '  broker wasm (optimised)   %7d bytes raw %7d bytes gzip\n' "$wasm_raw" "$wasm_gz"
  printf '  wasm-bindgen glue         %7d bytes raw\n' "$glue_raw"
  printf '  dist/%-20s %7d bytes raw %7d bytes gzip (budget %d gzip)\n' "$name" "$js_raw" "$js_gz" "$budget"
  report+="${report:+,}\"${key}wasm_raw\":$wasm_raw,\"${key}wasm_gzip\":$wasm_gz,\"${key}js_raw\":$js_raw"
  report+=",\"${key}js_gzip\":$js_gz,\"${key}budget_gzip\":$budget"
  if (( js_gz > budget )); then
    echo "build-broker: OVER BUDGET: $name is $js_gz bytes gzipped (> $budget)" >&2
    over+=("$name")
  fi
}
sizes tessera-broker.js broker-dist "$BUDGET" ""
sizes tessera-broker-pages.js broker-dist-pages "$PAGES_BUDGET" "pages_"
printf 'dist/redirect.html          %7d bytes raw\n' "$(size "$DIST/redirect.html")"
# What a strict Content-Security-Policy must allow for the redirect page's one inline script
# (broker-wasm/README.md, "Content-Security-Policy").
node -e '
const html = require("fs").readFileSync(process.argv[1], "utf8");
const script = /<script>([^]*?)<\/script>/.exec(html)[1];
const hash = require("crypto").createHash("sha256").update(script).digest("base64");
console.log("redirect.html script-src hash   \x27sha256-" + hash + "\x27");' "$DIST/redirect.html"
if [[ -n "${BROKER_SIZE_REPORT:-}" ]]; then
  printf '{%s}\n' "$report" > "$BROKER_SIZE_REPORT"
fi
if (( ${#over[@]} > 0 )); then
  # A gate: the budget is the point of the hand-rolled broker. BROKER_SIZE_STRICT=0 reports only.
  strict=1
  if [[ "${BROKER_MINIFY:-1}" == 0 ]]; then strict=0; fi
  if [[ "${BROKER_SIZE_STRICT:-$strict}" != 0 ]]; then exit 2; fi
fi
