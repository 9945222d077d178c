// Ready-time benchmark of the browser broker (issue 13): headless Debian Chromium loads the E2E
// test page (the broker script, then Tessera.configure) N times, each in a fresh browser context
// (no HTTP or code cache), against the real emulator and STS on loopback, and prints per load and
// as medians:
//   script → ready   the broker script's execution start to `Tessera.ready` resolved (API usable)
//   decode           base64 → bytes of the inlined wasm and the inflating stream set up (main thread)
//   instantiate      native raw-deflate inflation (DecompressionStream) streamed into
//                    WebAssembly.instantiateStreaming (V8 validates on its worker threads and
//                    compiles each function at its first call)
//   configure        broker construction + configure until ready: its options checked
//   config           the script's start to configure's promise resolved: the STS's
//                    GET /broker/config in hand (not part of ready: calls wait for it
//                    themselves; started at configure, or by the loader when configure comes first)
//   longest task     the longest main-thread long task (> 50 ms) during the load, 0 if none
// from the loader's User Timing marks (tessera:script/decoded/instantiated/ready).
//
//   node bench/broker-ready/run.js [loads=10]      (after scripts/build-broker.sh and
//                                                   cargo build --release -p sts -p entra-emulator;
//                                                   e2e/run.sh installs playwright-core)
// The STS and emulator are the release builds when target/release has them (what production
// runs: a debug STS answered `/broker/config` 15–50 ms later under load), else the debug ones,
// said on stderr; E2E_BIN_DIR overrides either.
"use strict";

const { useReleaseBinaries, median, observeLongTasks } = require("./common");
useReleaseBinaries();

const { startStack } = require("../../e2e/lib/stack");
const { launch, openPage } = require("../../e2e/lib/browser");

const LOADS = Number(process.argv[2] || 10);

async function main() {
  const stack = await startStack();
  const browser = await launch();
  const rows = [];
  try {
    for (let i = 0; i < LOADS; i++) {
      const context = await browser.newContext();
      await context.addInitScript(observeLongTasks);
      const page = await openPage(context, stack);
      const row = await page.evaluate(async () => {
        await Tessera.ready;
        await new Promise((r) => setTimeout(r, 0));
        const at = (n) => performance.getEntriesByName("tessera:" + n)[0].startTime;
        return {
          total: at("ready") - at("script"),
          decode: at("decoded") - at("script"),
          instantiate: at("instantiated") - at("decoded"),
          configure: at("ready") - at("instantiated"),
          config: (await window.configured, performance.getEntriesByName("page:configured")[0].startTime) - at("script"),
          longest: Math.max(0, ...window.__longTasks),
        };
      });
      rows.push(row);
      await context.close();
    }
  } finally {
    await browser.close();
    await stack.stop();
  }
  const f = (x) => x.toFixed(1).padStart(7);
  console.log("load   script→ready   decode  instantiate  configure   config  longest task (ms)");
  rows.forEach((r, i) => console.log(`${String(i + 1).padStart(4)} ${f(r.total)}      ${f(r.decode)}  ${f(r.instantiate)}    ${f(r.configure)}  ${f(r.config)}  ${f(r.longest)}`));
  const m = (k) => median(rows.map((r) => r[k]));
  console.log(`median ${f(m("total"))}      ${f(m("decode"))}  ${f(m("instantiate"))}    ${f(m("configure"))}  ${f(m("config"))}  ${f(m("longest"))}`);
  console.log(`max    ${f(Math.max(...rows.map((r) => r.total)))}      longest task over all loads: ${Math.max(...rows.map((r) => r.longest)).toFixed(1)} ms`);
  console.log(JSON.stringify({ loads: LOADS, median_ready_ms: m("total"), median_decode_ms: m("decode"),
    median_instantiate_ms: m("instantiate"), median_configure_ms: m("configure"), median_config_ms: m("config"),
    max_long_task_ms: Math.max(...rows.map((r) => r.longest)) }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
