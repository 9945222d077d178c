// A/B of broker bundles' ready time, interleaved (issue 13): the E2E page in headless Chromium,
// each load in a fresh browser context, alternating the bundles load by load (A B A B …, the first
// of each round rotating), so that a machine whose load drifts (2 shared cores) weighs on every
// variant alike. Per variant, the medians of the loader's marks (as run.js) and, from resource
// timing, when `GET {sts}/broker/config` started and ended (ms after `tessera:script`).
//
//   node bench/broker-ready/ab.js <rounds> <bundle A> <bundle B> [bundle C …]
//
// Each bundle is a built tessera-broker.js (copy dist/tessera-broker.js aside before rebuilding).
// The page server reads the script from a temp folder on every request (no-store): the variant is
// copied there before its load. Binaries as run.js (release when built; E2E_BIN_DIR overrides).
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { useReleaseBinaries, median, observeLongTasks } = require("./common");
useReleaseBinaries();
const [rounds, ...bundles] = process.argv.slice(2);
if (!rounds || bundles.length < 2) {
  console.error("usage: node bench/broker-ready/ab.js <rounds> <bundle A> <bundle B> [more bundles]");
  process.exit(64);
}
const dist = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-ab-"));
fs.copyFileSync(path.join(__dirname, "..", "..", "dist", "redirect.html"), path.join(dist, "redirect.html"));
// A bundle named `old:<file>` is measured the old way (see `load`).
const quiet = (b) => !b.startsWith("old:");
const file = (b) => b.replace(/^old:/, "");
fs.copyFileSync(file(bundles[0]), path.join(dist, "tessera-broker.js"));
process.env.E2E_DIST = dist;

const { startStack } = require("../../e2e/lib/stack");
const { launch, openPage, pageUrl } = require("../../e2e/lib/browser");

// `quiet`: the harness sends the page nothing until the broker is ready (the page logs a line on
// `tessera:ready`); otherwise as run.js did before 2026-12-03 afternoon, e2e's openPage: after the
// load event, a `page.evaluate` (a main-thread task of Playwright's) that can land before ready.
async function load(browser, stack, quiet) {
  const context = await browser.newContext();
  await context.addInitScript(observeLongTasks);
  await context.addInitScript(() => addEventListener("tessera:ready", () => console.log("tessera-bench:ready")));
  let page;
  if (quiet) {
    page = await context.newPage();
    const ready = page.waitForEvent("console", { predicate: (m) => m.text() === "tessera-bench:ready", timeout: 30000 });
    await page.goto(pageUrl(stack), { waitUntil: "commit" });
    await ready;
  } else {
    page = await openPage(context, stack);
  }
  const row = await page.evaluate(async () => {
    await Tessera.ready;
    await new Promise((r) => setTimeout(r, 0));
    const at = (n) => performance.getEntriesByName("tessera:" + n)[0].startTime;
    const s = at("script");
    // `ready` no longer waits for `/broker/config`: its resource entry exists once the answer is
    // in, which configure's promise (the page's `window.configured`) waits for.
    await window.configured;
    const config = performance.getEntriesByType("resource").find((e) => e.name.endsWith("/broker/config"));
    return {
      total: at("ready") - s,
      decode: at("decoded") - s,
      instantiate: at("instantiated") - at("decoded"),
      configure: at("ready") - at("instantiated"),
      instantiated: at("instantiated") - s,
      // From the navigation's start: what moving work before the script's start would hide.
      script: s,
      navReady: at("ready"),
      configStart: config ? config.startTime - s : NaN,
      configEnd: config ? config.responseEnd - s : NaN,
      configured: performance.getEntriesByName("page:configured")[0].startTime - s,
      longest: Math.max(0, ...window.__longTasks),
      // Diagnostic marks of a variant's loader (tessera:x-*), ms after tessera:script.
      extra: Object.fromEntries(performance.getEntriesByType("mark").filter((m) => m.name.startsWith("tessera:x-")).map((m) => [m.name.slice(10), m.startTime - s])),
    };
  });
  await context.close();
  return row;
}

async function main() {
  const stack = await startStack();
  const browser = await launch();
  const rows = bundles.map(() => []);
  const loadBefore = os.loadavg()[0];
  try {
    // One load of each first, not counted (the first load of a browser warms its processes).
    for (const b of bundles) {
      fs.copyFileSync(file(b), path.join(dist, "tessera-broker.js"));
      await load(browser, stack, quiet(b));
    }
    for (let r = 0; r < Number(rounds); r++) {
      for (let k = 0; k < bundles.length; k++) {
        const v = (r + k) % bundles.length;
        fs.copyFileSync(file(bundles[v]), path.join(dist, "tessera-broker.js"));
        rows[v].push(await load(browser, stack, quiet(bundles[v])));
      }
    }
  } finally {
    await browser.close();
    await stack.stop();
    fs.rmSync(dist, { recursive: true, force: true });
  }
  const keys = ["total", "decode", "instantiate", "configure", "instantiated", "configStart", "configEnd", "configured", "longest", "script", "navReady"];
  const f = (x) => x.toFixed(1).padStart(8);
  console.log(`load average ${loadBefore.toFixed(2)} → ${os.loadavg()[0].toFixed(2)}, ${rounds} loads per variant, medians (ms after tessera:script)`);
  console.log("variant      ready   decode  instant  configure instd@ cfgStart   cfgEnd  cfgInHand  longest  script@ nav→rdy  max ready");
  bundles.forEach((b, v) => {
    const m = keys.map((k) => median(rows[v].map((r) => r[k])));
    console.log(`${String.fromCharCode(65 + v)} ${m.map(f).join(" ")} ${f(Math.max(...rows[v].map((r) => r.total)))}  ${path.basename(b)}`);
    const extras = [...new Set(rows[v].flatMap((r) => Object.keys(r.extra)))];
    if (extras.length) console.log("    " + extras.map((k) => `${k} ${median(rows[v].map((r) => r.extra[k] ?? NaN).filter((x) => !Number.isNaN(x))).toFixed(1)}`).join(", "));
  });
  console.log(JSON.stringify({ loadavg: [loadBefore, os.loadavg()[0]], variants: bundles.map((b, v) => ({ bundle: b, ready: rows[v].map((r) => +r.total.toFixed(1)), max_long_task: Math.max(...rows[v].map((r) => r.longest)) })) }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
