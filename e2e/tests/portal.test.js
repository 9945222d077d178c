// The demo's Power Pages site as a contact meets it: a portal page (served by the emulator's site,
// as a Power Pages web page would be) gets the signed-in contact's token from its own site and
// exchanges it at the STS for an app-only backend token — with zero popups.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { launch } = require("../lib/browser");
const { startDemo, stopDemo } = require("../lib/demo");

test("a Power Pages page gets an app-only backend token for its signed-in contact, with no popup", async () => {
  const demo = await startDemo({ page: false });
  const browser = await launch({ popupBlocking: true });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const popups = [];
    page.on("popup", (p) => popups.push(p));
    const exchanges = [];
    page.on("request", (r) => { if (r.url() === `${demo.info.sts}/token`) exchanges.push(r.url()); });

    await page.goto(demo.info.portal_site);
    // Not signed in to the site yet: the page says so and links to the site's sign-in.
    await page.click("#get");
    await page.waitForFunction(() => document.getElementById("out").textContent !== "…");
    assert.equal(await page.textContent("#out"), "not signed in to the site");
    await page.click("#signin");
    await page.click(`button[value="${demo.info.portal_contact}"]`);
    await page.waitForURL(demo.info.portal_site);

    await page.click("#get");
    await page.waitForFunction(() => document.getElementById("out").textContent.startsWith("{"));
    const out = JSON.parse(await page.textContent("#out"));
    assert.equal(out.via, "page");
    assert.equal(out.contact, demo.info.portal_contact);
    assert.equal(out.portalTokenExpiresIn, "900");
    assert.equal(out.backend.idtyp, "app", JSON.stringify(out));
    assert.deepEqual(out.backend.roles, ["Reports.Read.All"]);
    assert.equal(exchanges.length, 1, "one STS exchange");
    assert.equal(popups.length, 0, "zero popups");
    assert.deepEqual(errors, []);
    assert.ok(!(await page.content()).includes(".ey"), "no token is shown on the page");
  } finally {
    await browser.close();
    await stopDemo(demo);
  }
});

test("the broker in Power Pages mode: configure({identity: 'powerPages'}), getToken with no popup, then from its cache", async () => {
  const demo = await startDemo({ page: true });
  const browser = await launch({ popupBlocking: true });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const popups = [];
    page.on("popup", (p) => popups.push(p));
    const exchanges = [];
    const siteTokens = [];
    const bundles = new Set();
    page.on("request", (r) => {
      if (/\/tessera-broker[\w-]*\.js$/.test(r.url())) bundles.add(new URL(r.url()).pathname);
      if (r.url() === `${demo.info.sts}/token`) exchanges.push(r.url());
      if (r.url().endsWith("/_services/auth/token")) siteTokens.push(r.url());
    });

    await page.goto(demo.info.portal_site);
    await page.waitForFunction(() => !!window.Tessera);
    await page.click("#get");
    await page.waitForFunction(() => document.getElementById("out").textContent !== "…");
    assert.equal(await page.textContent("#out"), "not signed in to the site", "the broker says interaction_required");
    await page.click("#signin");
    await page.click(`button[value="${demo.info.portal_contact}"]`);
    await page.waitForURL(demo.info.portal_site);
    await page.waitForFunction(() => !!window.Tessera);
    assert.equal(exchanges.length, 0, "not signed in: nothing reached the STS");
    siteTokens.length = 0;

    await page.click("#get");
    await page.waitForFunction(() => document.getElementById("out").textContent.startsWith("{"));
    const first = JSON.parse(await page.textContent("#out"));
    assert.equal(first.via, "broker", JSON.stringify(first));
    assert.equal(first.backend.idtyp, "app");
    assert.ok(first.backend.expires_in > 3000, JSON.stringify(first));

    await page.click("#get");
    await page.waitForFunction(() => document.getElementById("out").textContent.includes("cached"));
    assert.equal(JSON.parse(await page.textContent("#out")).via, "broker (cached)");
    assert.equal(exchanges.length, 1, "one STS exchange; the second call came from the broker's cache");
    assert.equal(siteTokens.length, 1, "one site token request after sign-in");
    assert.equal(popups.length, 0, "zero popups");
    assert.deepEqual([...bundles], ["/tessera-broker-pages.js"], "the site page loads the Power Pages bundle (Tessera/BrokerScriptUrl)");
    // That bundle has no Entra sign-in: it says which one has.
    const entra = await page.evaluate(() => {
      const settle = (p) => p.then(() => "ok", (e) => `${e.code}: ${e.description}`);
      return Promise.all([settle(Tessera.signIn()), settle(Tessera.configure({ stsUrl: "https://sts.example", redirectUri: location.origin + "/r.html" }))]);
    });
    assert.deepEqual(entra, [
      "invalid_request: signIn: Entra sign-in is in tessera-broker.js",
      "invalid_request: configure: only identity powerPages here; Entra sign-in: tessera-broker.js",
    ]);
    assert.equal(popups.length, 0, "still zero popups");
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await stopDemo(demo);
  }
});
