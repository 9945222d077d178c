// The broker's packing step (broker-wasm/tools/pack.mjs) against the intermediates of the build
// that produced dist/ (target/broker-dist for tessera-broker.js and target/broker-dist-pages for
// tessera-broker-pages.js, written by scripts/build-broker.sh, which e2e/run.sh runs first): it
// reproduces both shipped scripts byte for byte, and it fails loudly when wasm-bindgen's glue
// changes shape in any of the ways its rewrite depends on.
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "..");
const WORK = path.join(ROOT, "target", "broker-dist");
const WORK_PAGES = path.join(ROOT, "target", "broker-dist-pages");
const PACK = path.join(ROOT, "target", "broker-tools", "pack.mjs");
const CRATE = path.join(ROOT, "broker-wasm");
const DIST = process.env.E2E_DIST || path.join(ROOT, "dist");

function version() {
  return /^version = "([^"]+)"/m.exec(fs.readFileSync(path.join(ROOT, "Cargo.toml"), "utf8"))[1];
}

/** Runs pack.mjs with `glue` (the glue's text); returns { status, stderr, out }. `work` is the
 * build's intermediates (its names.json); `pages` packs the Power Pages bundle. */
function pack(glue, wasm = fs.readFileSync(path.join(WORK, "min.wasm")), work = WORK, pages = false) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-pack-"));
  try {
    const gluePath = path.join(dir, "glue.js");
    const out = path.join(dir, "tessera-broker.js");
    fs.writeFileSync(gluePath, glue);
    const wasmPath = path.join(dir, "min.wasm");
    fs.writeFileSync(wasmPath, wasm);
    const r = spawnSync(process.execPath, [PACK,
      "--loader", path.join(CRATE, "js", "loader.js"),
      "--glue", gluePath, "--wasm", wasmPath, "--map", path.join(work, "names.json"),
      "--version", version(), "--out", out, ...(pages ? ["--pages"] : [])], { encoding: "utf8" });
    return { status: r.status, stderr: r.stderr, out: r.status === 0 ? fs.readFileSync(out) : null };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const glue = () => fs.readFileSync(path.join(WORK, "broker_wasm.js"), "utf8");

test("packing the build's own intermediates reproduces dist/tessera-broker.js byte for byte", () => {
  for (const f of [PACK, path.join(WORK, "min.wasm"), path.join(DIST, "tessera-broker.js")]) {
    assert.ok(fs.existsSync(f), `missing ${f}: run scripts/build-broker.sh`);
  }
  const r = pack(glue());
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.out.equals(fs.readFileSync(path.join(DIST, "tessera-broker.js"))), "the shipped script is what the build makes");
});

test("packing the Power Pages build's intermediates reproduces dist/tessera-broker-pages.js byte for byte", () => {
  for (const f of [path.join(WORK_PAGES, "min.wasm"), path.join(DIST, "tessera-broker-pages.js")]) {
    assert.ok(fs.existsSync(f), `missing ${f}: run scripts/build-broker.sh`);
  }
  const r = pack(fs.readFileSync(path.join(WORK_PAGES, "broker_wasm.js"), "utf8"), fs.readFileSync(path.join(WORK_PAGES, "min.wasm")), WORK_PAGES, true);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.out.equals(fs.readFileSync(path.join(DIST, "tessera-broker-pages.js"))), "the shipped script is what the build makes");
});

/** The wasm inlined in a shipped script, inflated. */
function shippedWasm(name) {
  const shipped = fs.readFileSync(path.join(DIST, name), "utf8");
  return require("node:zlib").inflateRawSync(Buffer.from(/"([A-Za-z0-9+/=]{1000,})"/.exec(shipped)[1], "base64"));
}

test("the Power Apps bundle carries no Power Pages code; the Power Pages bundle no Entra sign-in, nor the Power Apps refusal", () => {
  const site = Buffer.from("/_services/auth/token");
  const [apps, pages] = [shippedWasm("tessera-broker.js"), shippedWasm("tessera-broker-pages.js")];
  assert.equal(apps.indexOf(site), -1, "no site token endpoint in tessera-broker.js");
  assert.ok(pages.indexOf(site) >= 0, "the site token endpoint in tessera-broker-pages.js");
  for (const entra of ["code_challenge", "refresh_token", "oauth2/v2.0"]) {
    assert.ok(apps.indexOf(Buffer.from(entra)) >= 0, `${entra} in tessera-broker.js`);
    assert.equal(pages.indexOf(Buffer.from(entra)), -1, `no ${entra} in tessera-broker-pages.js`);
  }
  const refusal = "powerPages needs tessera-broker-pages.js";
  assert.ok(fs.readFileSync(path.join(DIST, "tessera-broker.js"), "utf8").includes(refusal));
  assert.ok(!fs.readFileSync(path.join(DIST, "tessera-broker-pages.js"), "utf8").includes(refusal));
});

test("a changed glue init (wasm-bindgen's shape) fails the build, naming what changed", () => {
  const changed = glue().replace("return Object.assign(__wbg_init, { initSync }, exports);", "return Object.assign(__wbg_init, exports);");
  assert.notEqual(changed, glue(), "the glue has the init line this test changes");
  const r = pack(changed);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /pack: the glue's init: expected one match, found 0/);
});

test("a changed script_src prologue fails the build", () => {
  const changed = glue().replace("document.currentScript !== null", "document.currentScript != null");
  assert.notEqual(changed, glue());
  const r = pack(changed);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /pack: the glue's script_src: expected one match/);
});

test("a glue that lacks one of the wasm's imports fails the build", () => {
  const text = glue();
  const name = /^\s+(__wbg_[\w$]+): function/m.exec(text)[1];
  const r = pack(text.replace(`${name}: function`, `${name}_renamed: function`));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`pack: .*${name.replace(/\$/g, "\\$")}`));
});

test("a glue that uses an export the wasm lacks fails the build", () => {
  const r = pack(glue().replace("wasm.tesserabroker_configure(", "wasm.not_an_export("));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /pack: the glue uses wasm\.not_an_export, which the wasm does not export/);
});

test("a changed TesseraBroker free/finalization or encodeInto fallback in the glue fails the build, naming it", () => {
  const cases = [
    ["        free() {", "        release() {", /pack: the glue's TesseraBroker\.free: expected one match, found 0/],
    ["TesseraBrokerFinalization.register(this, this.__wbg_ptr, this);", "TesseraBrokerFinalization.register(this, this.__wbg_ptr);", /pack: the glue's TesseraBroker registration: expected one match, found 0/],
    ["if (!('encodeInto' in cachedTextEncoder)) {", "if (!(\"encodeInto\" in cachedTextEncoder)) {", /pack: the glue's encodeInto fallback: expected one match, found 0/],
    ["if (Symbol.dispose) TesseraBroker", "if (Symbol.asyncDispose) TesseraBroker", /pack: the glue's Symbol\.dispose: expected one match, found 0/],
  ];
  for (const [from, to, message] of cases) {
    const changed = glue().replace(from, to);
    assert.notEqual(changed, glue(), `the glue has ${from}`);
    const r = pack(changed);
    assert.notEqual(r.status, 0, from);
    assert.match(r.stderr, message);
  }
});

test("a wasm-bindgen internal message worded differently fails the build, naming it (it is blanked to save bytes)", () => {
  const wasm = fs.readFileSync(path.join(WORK, "min.wasm"));
  const from = Buffer.from("null pointer passed to rust");
  assert.ok(wasm.indexOf(from) >= 0, "the message is in the wasm");
  for (let at = wasm.indexOf(from); at >= 0; at = wasm.indexOf(from, at)) Buffer.from("null pointer passed to Rust").copy(wasm, at);
  const r = pack(glue(), wasm);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /pack: wasm-bindgen's message not found in the wasm: null pointer passed to rust/);
  // The shipped script has none of them.
  for (const name of ["tessera-broker.js", "tessera-broker-pages.js"]) {
    const inflated = shippedWasm(name);
    assert.equal(inflated.indexOf(from), -1, name);
    assert.ok(inflated.indexOf(Buffer.from("wasm-bindgen      ")) >= 0, name);
  }
});
