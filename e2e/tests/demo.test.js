// The README's demo (`sts demo`) as a user sees it: the demo page's three mock PCF controls, one
// sign-in popup, three backend tokens acting as the demo user.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const http = require("node:http");
const zlib = require("node:zlib");
const { launch } = require("../lib/browser");
const { startDemo, stopDemo } = require("../lib/demo");

const ROOT = path.resolve(__dirname, "..", "..");

/** GET with explicit request headers (Node's http: no automatic decompression). */
function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on("error", reject);
  });
}

const cards = (page) => page.$$eval(".pcf", (els) => els.map((e) => ({
  title: e.querySelector("h2").textContent,
  tag: (e.querySelector(".tag") || {}).textContent || "",
  scp: (e.querySelector(".scp") || {}).textContent || "",
  who: (e.querySelector(".who") || {}).textContent || "",
  exp: (e.querySelector(".exp") || {}).textContent || "",
  out: e.querySelector(".out").textContent,
  claimsOpen: !!(e.querySelector("details") || {}).open,
})));
const counter = async (page, name) => Number(await page.textContent(`#count-${name}`));

test("demo page tells the story: what to click, one sign-in popup for three controls, fresh then cached tokens, counters", async () => {
  const demo = await startDemo();
  const browser = await launch({ popupBlocking: true });
  try {
    const page = await browser.newPage({ viewport: { width: 700, height: 900 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const failed = [];
    page.on("response", (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
    const popups = [];
    page.on("popup", (p) => popups.push(p));
    await page.goto(`${demo.info.page}/`);
    // Claims and error texts come from servers: the page never parses anything as HTML.
    const source = await (await fetch(`${demo.info.page}/`)).text();
    assert.doesNotMatch(source, /\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write/);
    await page.waitForFunction(() => document.getElementById("status").textContent !== "loading…");
    assert.match(await page.textContent("#hint"), /click Get tokens for all three controls/);
    assert.equal(await page.textContent("#status"), "signed out");
    assert.equal(await page.textContent("#signin"), "Sign in");

    // The sign-in popup shows the emulator's account picker; the person picks the demo user.
    const [signInPage] = await Promise.all([page.waitForEvent("popup"), page.click("#all")]);
    await signInPage.waitForSelector("button.account");
    assert.equal(await signInPage.textContent("h1"), "Sign in");
    assert.match(await signInPage.textContent("main"), /Adele Vance.*suggested.*adele@contoso\.test/s);
    await signInPage.click("button.account >> nth=0");
    await page.waitForFunction(
      () => [...document.querySelectorAll(".out")].every((o) => o.querySelector(".tag, .err")),
      null, { timeout: 30000 });
    let now = await cards(page);
    assert.equal(now.length, 3);
    for (const c of now) {
      assert.equal(c.tag, "fresh from the STS", JSON.stringify(c));
      assert.match(c.who, /^as Adele Vance for https:\/\/graph\.microsoft\.com/);
      assert.match(c.exp, /^expires \d/);
      assert.equal(c.claimsOpen, false, "raw claims start collapsed");
    }
    // Each headline shows the scopes that card got (the claim that differs between them).
    assert.deepEqual(now.map((c) => c.scp.split(" ").sort().join(" ")), ["Files.Read", "User.Read", "Files.Read User.Read"]);
    assert.equal(popups.length, 1, "one popup for three controls");
    assert.equal(await counter(page, "popups"), 1);
    assert.equal(await counter(page, "sts"), 3);
    assert.equal(await counter(page, "cache"), 0);
    assert.match(await page.textContent("#status"), /^signed in as Adele Vance \(adele@contoso\.test\)/);
    assert.equal(await page.textContent("#signin"), "Sign out");

    // The next call for the token that signed the user in comes from the broker's cache.
    await page.click('button[data-id="files"]');
    await page.waitForFunction(() => document.querySelector("#out-files .tag")?.textContent === "cached");
    assert.equal(await counter(page, "cache"), 1);
    assert.equal(await counter(page, "sts"), 3, "no STS call for a cached token");
    assert.equal(await counter(page, "popups"), 1);

    // Nothing on the page is wider than a 700 px window.
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 700), "readable at 700 px");

    await page.click("#signin");
    await page.waitForFunction(() => document.getElementById("status").textContent === "signed out");
    assert.equal(await page.textContent("#signin"), "Sign in");

    // Signing in again in the same browser: the emulator's session makes it one click.
    const [again] = await Promise.all([page.waitForEvent("popup"), page.click("#signin")]);
    await again.waitForSelector("button.account");
    assert.equal(await again.textContent("h1"), "Continue");
    assert.match(await again.textContent("button.account >> nth=0"), /Adele Vance.*signed in/s);
    await again.click("button.account >> nth=0");
    await page.waitForFunction(() => document.getElementById("status").dataset.status === "signedIn");
    assert.equal(await counter(page, "popups"), 2);
    assert.deepEqual(errors, []);
    assert.deepEqual(failed, [], "no failed request (favicon included)");
  } finally {
    await browser.close();
    await stopDemo(demo);
  }
});

test("the demo serves both broker bundles gzipped to clients that accept it; the STS root lists its endpoints", async () => {
  const demo = await startDemo();
  try {
    // Both bundles: Power Apps (the demo page's) and Power Pages (the emulator site page's).
    for (const name of ["tessera-broker.js", "tessera-broker-pages.js"]) {
      const js = fs.readFileSync(path.join(ROOT, "dist", name));
      const gz = await get(`${demo.info.page}/${name}`, { "accept-encoding": "gzip, deflate, br" });
      assert.equal(gz.status, 200, name);
      assert.equal(gz.headers["content-encoding"], "gzip");
      assert.match(gz.headers.vary, /accept-encoding/i);
      assert.ok(gz.body.length < js.length / 1.3, `${name}: ${gz.body.length} bytes gzipped`);
      assert.deepEqual(zlib.gunzipSync(gz.body), js, `the gzipped ${name} is the bundle`);
      const plain = await get(`${demo.info.page}/${name}`, { "accept-encoding": "gzip;q=0, br" });
      assert.equal(plain.headers["content-encoding"], undefined);
      assert.deepEqual(plain.body, js);
    }

    const index = await get(`${demo.info.sts}/`, { accept: "application/json" });
    assert.equal(index.status, 200);
    const paths = JSON.parse(index.body).endpoints.map((e) => `${e.method} ${e.path}`);
    for (const p of ["POST /token", "GET /broker/config", "GET /readyz", "GET /openapi.json"]) assert.ok(paths.includes(p), p);
    const html = await get(`${demo.info.sts}/`, { accept: "text/html,*/*;q=0.8" });
    assert.match(html.headers["content-type"], /^text\/html/);
    assert.match(html.body.toString(), /<a href="\/readyz">/);
    // The metrics are on the operators' listener only.
    assert.ok(!paths.includes("GET /metrics"));
    assert.equal((await get(`${demo.info.sts}/metrics`, {})).status, 404);
    const metrics = await get(demo.info.metrics, {});
    assert.equal(metrics.status, 200);
    // A counter without labels (tessera_exchanges_total, labelled by outcome, has no sample before
    // the first exchange, and this test makes none).
    assert.match(metrics.body.toString(), /^tessera_cache_hits_total 0$/m);
  } finally {
    await stopDemo(demo);
  }
});
