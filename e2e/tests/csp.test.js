// The broker under a strict Content-Security-Policy, as an operator documents it
// (broker-wasm/README.md, "Content-Security-Policy"): no inline script on the page, scripts
// from 'self' only plus 'wasm-unsafe-eval' (any WebAssembly compilation needs it), connect-src
// for the STS and the authority, the redirect page's one inline script allowed by its hash. Under
// that policy the broker starts, signs in through its popup and gets a token; without
// 'wasm-unsafe-eval' it does not start, and says so.
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { DIST } = require("../lib/stack");
const { record } = require("../lib/browser");
const { useStackAndBrowser } = require("../lib/suite");
const ids = require("../lib/ids");

const env = useStackAndBrowser({ browser: { popupBlocking: true } });

/** `'sha256-…'` of the redirect page's inline script, as the operator's policy lists it. */
function redirectScriptHash() {
  const html = fs.readFileSync(path.join(DIST, "redirect.html"), "utf8");
  const script = /<script>([^]*?)<\/script>/.exec(html)[1];
  return `'sha256-${crypto.createHash("sha256").update(script, "utf8").digest("base64")}'`;
}

function policy({ wasm }) {
  return [
    "default-src 'none'",
    `script-src 'self'${wasm ? " 'wasm-unsafe-eval'" : ""} ${redirectScriptHash()}`,
    `connect-src 'self' ${env.stack.stsBase} ${env.stack.emulatorBase}`,
    "style-src 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** A context whose page origin (the page and the popup's redirect page) answers with `csp`. */
async function cspContext(csp) {
  const context = await env.browser.newContext();
  await context.addCookies([{ name: "csp", value: encodeURIComponent(csp), url: env.stack.pageOrigin }]);
  // The browser's own report of each violation (init scripts are not subject to the policy).
  await context.addInitScript(() => {
    window.violations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.violations.push(`${e.effectiveDirective} ${e.blockedURI}`));
  });
  return context;
}

const pageUrl = () => `${env.stack.pageOrigin}/csp.html?` +
  new URLSearchParams({ sts: env.stack.stsBase, tenant: ids.TENANT, authority: env.stack.emulatorBase });

test("under the documented strict CSP the broker starts, signs in and gets a token, with no violation", async () => {
  const context = await cspContext(policy({ wasm: true }));
  const log = record(context, env.stack);
  try {
    const page = await context.newPage();
    await page.goto(pageUrl());
    assert.equal(await page.evaluate(() => window.configured), "ok");
    await page.click("#go");
    const outcome = await page.evaluate(() => window.outcome);
    assert.deepEqual({ ...outcome, length: outcome.length > 0 }, { ok: true, type: "Bearer", length: true });
    assert.equal(log.popups.length, 1);
    assert.equal(log.exchanges.length, 1);
    assert.deepEqual(await page.evaluate(() => window.violations), []);
  } finally {
    await context.close();
  }
});

test("without 'wasm-unsafe-eval' the broker does not start and configure says why", async () => {
  const context = await cspContext(policy({ wasm: false }));
  try {
    const page = await context.newPage();
    await page.goto(pageUrl());
    const configured = await page.evaluate(() => window.configured);
    assert.match(configured, /^invalid_request: the Tessera broker could not start: .*(WebAssembly|wasm|Content Security Policy)/i);
    const violations = await page.evaluate(() => window.violations);
    assert.ok(violations.some((v) => v.startsWith("script-src") && v.endsWith("wasm-eval")), JSON.stringify(violations));
  } finally {
    await context.close();
  }
});
