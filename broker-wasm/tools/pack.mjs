// Assembles dist/tessera-broker.js from the loader template, the wasm-bindgen glue and the
// compressed wasm, called by scripts/build-broker.sh. Build tooling only: nothing here runs in the
// browser except what it copies.
//
//   node pack.mjs --loader js/loader.js --glue broker_wasm.js --wasm min.wasm --map names.json
//                 --version 0.1.0 --out dist/tessera-broker.js [--no-minify]
//
// Four size steps happen here:
// 1. `wasm-opt --minify-imports-and-exports-and-modules` renamed the wasm's imports and exports
//    (`__wbg_fetch_5f28518387ad0e34` → `Aa`) and printed the mapping (`--map`); the glue is
//    rewritten to the same names. The hashed names otherwise appear twice (wasm and glue) and
//    compress badly. Every import the wasm declares must then exist in the glue's import object
//    and every `wasm.<export>` the glue uses must exist in the wasm, or the build fails.
// 2. The wasm is raw-deflated with zopfli (the smallest deflate there is), then base64-encoded
//    into the script; the loader inflates it with the browser's native
//    `DecompressionStream("deflate-raw")` (native, a few ms), streaming into the compiler. The
//    build inflates its own output (node's zlib) and fails unless it gives the wasm byte for byte.
//    LZMA was ~3 KB smaller on the served script, but its decoder is JavaScript: ~37 ms of main
//    thread and a 60+ ms long task at every page load (BENCHMARKS.md, "Broker ready time").
//    (base64 costs almost nothing once the script is served gzipped: 64 equally likely
//    characters are 6 bits each to Huffman.)
// 3. The glue's init is cut down to the one path the loader uses (a `Response` of the wasm in,
//    compiled while it streams: `WebAssembly.instantiateStreaming`).
// 4. terser minifies the assembled script (loader + glue; the base64 string is left as is).
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { inflateRawSync } from "node:zlib";
import { deflateAsync } from "@gfx/zopfli";
import { minify } from "terser";

const { values: a } = parseArgs({
  options: {
    loader: { type: "string" },
    glue: { type: "string" },
    wasm: { type: "string" },
    map: { type: "string" },
    version: { type: "string" },
    out: { type: "string" },
    "no-minify": { type: "boolean", default: false },
    // The Power Pages bundle (the wasm built with the `power-pages` feature): the loader's
    // marker (PAGES, in @@) is `true`, which drops its "load tessera-broker-pages.js" refusal.
    pages: { type: "boolean", default: false },
  },
});
for (const k of ["loader", "glue", "wasm", "version", "out"]) {
  if (!a[k]) fail(`missing --${k}`);
}

function fail(message) {
  console.error(`pack: ${message}`);
  process.exit(1);
}

/** `text` with every whole-word `from` replaced by `to`; fails when `from` does not occur. */
function replaceWord(text, from, to, where) {
  const re = new RegExp(`(?<![\\w$])${from.replace(/[$]/g, "\\$")}(?![\\w$])`, "g");
  if (!re.test(text)) fail(`${where}: ${from} not found in the glue`);
  return text.replace(re, to);
}

/** `text` with the one match of `re` replaced; fails unless there is exactly one. */
function replaceOnce(text, re, to, what) {
  const all = text.match(new RegExp(re.source, "g"));
  if (!all || all.length !== 1) fail(`${what}: expected one match, found ${all ? all.length : 0}`);
  return text.replace(re, () => to);
}

const wasm = readFileSync(a.wasm);
// wasm-bindgen's own internal-bug messages (a borrow of an exported object while it is in use,
// a closure called after it was dropped, …), ~400 bytes of prose that never reaches a user of a
// correct build: blanked in place (same length, so no offset moves) to "wasm-bindgen" and spaces,
// which deflate to almost nothing — as our own panics trap without text (−136 B of the gzipped
// script). Each must be found (every copy is blanked): a wasm-bindgen that words one differently
// fails the build here, naming the message.
for (const message of [
  "attempted to take ownership of Rust value while it was borrowed",
  "recursive use of an object detected which would lead to unsafe aliasing in rust",
  "null pointer passed to rust",
  "closure invoked recursively or after being dropped",
  "FnOnce called more than once",
  "called `Option::unwrap_throw()` on a `None` value",
  "called `Result::unwrap_throw()` on an `Err` value",
]) {
  const from = Buffer.from(message);
  const blank = Buffer.from("wasm-bindgen".padEnd(from.length, " "));
  let at = wasm.indexOf(from);
  if (at < 0) fail(`wasm-bindgen's message not found in the wasm: ${message}`);
  for (; at >= 0; at = wasm.indexOf(from, at)) blank.copy(wasm, at);
}
const module = new WebAssembly.Module(wasm);
const imports = WebAssembly.Module.imports(module);
const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
let glue = readFileSync(a.glue, "utf8");

if (a.map) {
  const map = JSON.parse(readFileSync(a.map, "utf8"));
  const modules = new Set(imports.map((i) => i.module));
  if (modules.size !== 1) fail(`expected one import module, found ${[...modules].join(", ")}`);
  const [newModule] = modules;
  const oldModules = new Set(map.imports.map(([m]) => m));
  for (const m of oldModules) {
    const key = JSON.stringify(m) + ":";
    if (!glue.includes(key)) fail(`import module ${m} not found in the glue`);
    glue = glue.split(key).join(JSON.stringify(newModule) + ":");
  }
  // Import keys are object keys (`name: function(...)`); export uses are `wasm.name`.
  for (const [, from, to] of map.imports) {
    glue = replaceWord(glue, from + ":", JSON.stringify(to) + ":", "import");
  }
  for (const [from, to] of map.exports) {
    const use = `wasm.${from}`;
    if (glue.includes(use)) glue = replaceWord(glue, use, `wasm[${JSON.stringify(to)}]`, "export");
  }
}

// wasm-bindgen's init accepts a URL, a Request, a Response or bytes, and there is a synchronous
// `initSync`; the loader only ever passes a `Response` (the inflating stream, typed
// `application/wasm`). Its one path replaces them all, so terser
// drops the rest (`__wbg_load`, `__wbg_init_once`, `initSync`, their warnings, and `script_src`,
// the script's URL for a default wasm path that `--omit-default-module-path` already dropped).
glue = replaceOnce(
  glue,
  /return Object\.assign\(__wbg_init, \{ initSync \}, exports\);/,
  "return Object.assign(async (response) => { const { instance, module } = " +
    "await WebAssembly.instantiateStreaming(response, __wbg_get_imports()); return __wbg_finalize_init(instance, module); }, exports);",
  "the glue's init",
);
glue = replaceOnce(
  glue,
  /let script_src;\s*if \(typeof document !== 'undefined' && document\.currentScript !== null\) \{\s*script_src = new URL\(document\.currentScript\.src, location\.href\)\.toString\(\);\s*\}/,
  "",
  "the glue's script_src",
);
if (/\bscript_src\b/.test(glue)) fail("the glue still uses script_src");
// The loader makes one broker per page and never frees it: no `free()`, no finalization registry
// for it (closures keep theirs).
glue = replaceOnce(
  glue,
  /\n        __destroy_into_raw\(\) \{[^]*?\n        \}\n        free\(\) \{[^]*?\n        \}/,
  "",
  "the glue's TesseraBroker.free",
);
glue = replaceOnce(
  glue,
  /\n\s*TesseraBrokerFinalization\.register\(this, this\.__wbg_ptr, this\);/,
  "",
  "the glue's TesseraBroker registration",
);
glue = replaceOnce(
  glue,
  /\n    const TesseraBrokerFinalization = [^;]*;/,
  "",
  "the glue's TesseraBroker finalization registry",
);
if (/\bTesseraBrokerFinalization\b/.test(glue)) fail("the glue still uses TesseraBrokerFinalization");
// Fallbacks for browsers the bundle cannot run in anyway (it needs `DecompressionStream`'s
// "deflate-raw", `Uint8Array.fromBase64` and `AbortSignal.timeout`, which came after both):
// `TextEncoder.encodeInto`; and `Symbol.dispose`, which would call the `free` removed above.
glue = replaceOnce(
  glue,
  /if \(!\('encodeInto' in cachedTextEncoder\)\) \{[^]*?\n    \}\n/,
  "",
  "the glue's encodeInto fallback",
);
glue = replaceOnce(
  glue,
  /if \(Symbol\.dispose\) TesseraBroker\.prototype\[Symbol\.dispose\] = TesseraBroker\.prototype\.free;/,
  "",
  "the glue's Symbol.dispose",
);

// The checks: the glue's import object has exactly the wasm's imports, and the glue uses only
// exports that exist.
const start = glue.indexOf("function __wbg_get_imports()");
const end = glue.indexOf("return {", start);
if (start < 0 || end < 0) fail("cannot find __wbg_get_imports in the glue");
const provided = new Set(
  [...glue.slice(start, end).matchAll(/^\s+(?:"([^"]+)"|([\w$]+)): function/gm)].map((m) => m[1] ?? m[2]),
);
for (const i of imports) {
  if (!provided.has(i.name)) fail(`the glue does not provide import ${i.module}.${i.name}`);
}
if (provided.size !== imports.length) fail(`the glue provides ${provided.size} imports, the wasm has ${imports.length}`);
for (const m of glue.matchAll(/(?<![\w$])wasm(?:\.([\w$]+)|\["([^"]+)"\])/g)) {
  const name = m[1] ?? m[2];
  if (!exports.has(name)) fail(`the glue uses wasm.${name}, which the wasm does not export`);
}

// Raw deflate (no zlib or gzip framing: 18 bytes fewer), zopfli at 100 iterations (more gain
// nothing measurable on this wasm).
const packed = Buffer.from(await deflateAsync(wasm, { numiterations: 100 }));
if (!inflateRawSync(packed).equals(wasm)) fail("the raw deflate of the wasm does not inflate to the wasm");
const encoded = packed.toString("base64");
const loader = readFileSync(a.loader, "utf8");
let script = loader
  .replace("/*@@WASM_BINDGEN_GLUE@@*/", () => glue)
  .replace("@@WASM_BASE64@@", () => encoded)
  .replaceAll("@@VERSION@@", a.version)
  .replaceAll("@@PAGES@@", a.pages ? "true" : "false");
for (const marker of ["@@WASM_BINDGEN_GLUE@@", "@@WASM_BASE64@@", "@@PAGES@@"]) {
  if (script.includes(marker) || !loader.includes(marker)) fail(`marker ${marker} not replaced`);
}

if (!a["no-minify"]) {
  const out = await minify(script, {
    ecma: 2020,
    compress: {
      passes: 2,
      // `{ m: function () {} }` as `{ m() {} }` (−47 B gzip: the glue's import object), except for
      // window.Tessera's own functions, which stay plain functions as the API has always had
      // them. A concise method cannot be called with `new`, which the glue never does.
      unsafe_methods: /^(?!(configure|getToken|signIn|signOut|getAccount|getStatus|onStatusChange|isTokenBrokerError)$)/,
    },
    mangle: true,
    // Keeps the `/*! ... */` banner (name, version, API pointer).
    format: { comments: /^!/ },
  });
  if (!out.code) fail("terser produced nothing");
  script = out.code + "\n";
}
writeFileSync(a.out, script);
