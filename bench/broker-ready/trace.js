// A Chromium trace of cold loads of the E2E page (issue 13: where the broker's ready time goes).
// Loads the page `loads` times (each in a fresh context; the first load warms the browser and is
// not traced), traces the last one, writes the trace to <out> and prints the renderer main
// thread's tasks from the broker script's execution start to `tessera:ready`, with what ran in
// each, plus the network and wasm events on other threads of the renderer.
//
//   node bench/broker-ready/trace.js [out=target/broker-ready-trace.json] [bundle]
//   node bench/broker-ready/trace.js --analyse <trace.json>     (print an earlier trace again)
//
// Binaries as run.js; `bundle` replaces dist/tessera-broker.js for this run. Tracing slows the
// load (the marks come out about twice as late as untraced): read it for order and causes, and
// take the times from run.js / ab.js.
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

require("./common").useReleaseBinaries();
const out = process.argv[2] || path.join(__dirname, "..", "..", "target", "broker-ready-trace.json");
if (process.argv[3]) {
  const dist = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-trace-"));
  fs.copyFileSync(path.join(__dirname, "..", "..", "dist", "redirect.html"), path.join(dist, "redirect.html"));
  fs.copyFileSync(process.argv[3], path.join(dist, "tessera-broker.js"));
  process.env.E2E_DIST = dist;
}
const { startStack } = require("../../e2e/lib/stack");
const { launch, openPage, pageUrl } = require("../../e2e/lib/browser");

const CATEGORIES = [
  "devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "v8.wasm", "v8.execute",
  "blink", "blink.user_timing", "loading", "toplevel", "netlog", "disabled-by-default-netlog",
  "navigation", "mojom", "ipc", "benchmark", "disabled-by-default-v8.compile",
].join(",");

async function main() {
  const stack = await startStack();
  const browser = await launch();
  try {
    const warm = await browser.newContext();
    await openPage(warm, stack);
    await warm.close();
    const context = await browser.newContext();
    const page = await context.newPage();
    await browser.startTracing(page, { path: out, categories: CATEGORIES.split(",") });
    await page.goto(pageUrl(stack));
    await page.evaluate(() => Tessera.ready);
    await page.evaluate(() => new Promise((r) => setTimeout(r, 50)));
    await browser.stopTracing();
    await context.close();
  } finally {
    await browser.close();
    await stack.stop();
  }
  analyse(JSON.parse(fs.readFileSync(out, "utf8")));
}

function analyse(trace) {
  const events = trace.traceEvents || trace;
  const names = new Map(); // "pid:tid" -> thread name
  for (const e of events) if (e.ph === "M" && e.name === "thread_name") names.set(`${e.pid}:${e.tid}`, e.args.name);
  const mark = (n) => events.find((e) => e.name === "tessera:" + n && e.cat.includes("user_timing"));
  const script = mark("script");
  const ready = mark("ready");
  if (!script || !ready) throw new Error("no tessera marks in the trace");
  const pid = script.pid;
  const t0 = script.ts;
  const ms = (ts) => ((ts - t0) / 1000).toFixed(1).padStart(7);
  for (const n of ["script", "decoded", "instantiated", "ready"]) {
    const m = mark(n);
    if (m) console.log(`mark ${n.padEnd(13)} ${ms(m.ts)}`);
  }
  const end = ready.ts + 2000;
  const from = t0 - 5000;
  const inWindow = events.filter((e) => e.pid === pid && e.ts >= from && e.ts <= end && e.ph !== "M");
  // Threads of the renderer with events in the window.
  const byThread = new Map();
  for (const e of inWindow) {
    const k = `${e.pid}:${e.tid}`;
    if (!byThread.has(k)) byThread.set(k, []);
    byThread.get(k).push(e);
  }
  for (const [k, list] of byThread) {
    const name = names.get(k) || k;
    console.log(`\n== ${name} (${list.length} events)`);
    const main = name === "CrRendererMain";
    for (const e of list) {
      const dur = e.dur != null ? (e.dur / 1000).toFixed(2) : "";
      if (main && e.ph === "X" && e.dur < 100 && e.name !== "RunTask") continue;
      if (!main && e.ph === "X" && e.dur < 200) continue;
      let detail = "";
      const d = e.args && (e.args.data || e.args);
      if (d) {
        if (d.url) detail += " " + String(d.url).replace(/\?.*/, "").slice(-60);
        if (d.functionName) detail += " fn=" + d.functionName;
        if (d.type) detail += " type=" + d.type;
        if (d.src_file) detail += " " + d.src_file + ":" + d.src_func;
      }
      console.log(`${ms(e.ts)} ${e.ph} ${dur.padStart(7)} ${e.cat.slice(0, 28).padEnd(28)} ${e.name}${detail}`);
    }
  }
  // The /broker/config request as the browser saw it.
  console.log("\n== /broker/config and wasm across processes");
  for (const e of events) {
    const s = JSON.stringify(e.args || {});
    if ((s.includes("broker/config") || e.name.toLowerCase().includes("wasm")) && e.ts >= from && e.ts <= end) {
      const th = names.get(`${e.pid}:${e.tid}`) || `${e.pid}:${e.tid}`;
      console.log(`${ms(e.ts)} ${e.ph} ${e.dur != null ? (e.dur / 1000).toFixed(2).padStart(7) : "       "} ${th.slice(0, 22).padEnd(22)} ${e.name} ${s.slice(0, 160)}`);
    }
  }
}

if (process.argv[2] === "--analyse") {
  analyse(JSON.parse(fs.readFileSync(process.argv[3], "utf8")));
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
