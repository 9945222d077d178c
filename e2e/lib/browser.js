// Debian's Chromium through playwright-core (no browser download), and a recorder of what a
// browser context sends: popups, authorize requests, token-endpoint grants, STS exchanges.
"use strict";

const fs = require("node:fs");
const { chromium } = require("playwright-core");
const ids = require("./ids");

const EXECUTABLE = process.env.E2E_CHROMIUM || "/usr/bin/chromium";
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];

/**
 * Launches headless Chromium. Playwright gives every launch a fresh temporary profile
 * (user-data-dir) and passes --disable-popup-blocking; `popupBlocking: true` keeps Chromium's
 * own popup blocker on, as in a user's browser.
 */
async function launch({ popupBlocking = false } = {}) {
  if (!fs.existsSync(EXECUTABLE)) {
    throw new Error(`${EXECUTABLE} not found: apt-get install -y chromium (never a downloaded browser)`);
  }
  return chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: ARGS,
    ignoreDefaultArgs: popupBlocking ? ["--disable-popup-blocking"] : [],
  });
}

function form(body) {
  return Object.fromEntries(new URLSearchParams(body || ""));
}

/** Records the traffic of one browser context (all its pages and popups). */
function record(context, stack) {
  const log = { popups: [], authorize: [], grants: [], exchanges: [] };
  // Pages opened by another page (the sign-in popups), not the test's own page.
  context.on("page", async (page) => {
    if (await page.opener()) log.popups.push(page);
  });
  context.on("request", (req) => {
    const url = new URL(req.url());
    if (url.origin === stack.emulatorBase && url.pathname.endsWith("/oauth2/v2.0/authorize")) {
      log.authorize.push(Object.fromEntries(url.searchParams));
    } else if (url.origin === stack.emulatorBase && url.pathname.endsWith("/oauth2/v2.0/token") && req.method() === "POST") {
      log.grants.push(form(req.postData()));
    } else if (url.origin === stack.stsBase && url.pathname === "/token" && req.method() === "POST") {
      log.exchanges.push({ ...form(req.postData()), correlationId: req.headers()["x-correlation-id"] });
    }
  });
  log.grantsOf = (type) => log.grants.filter((g) => g.grant_type === type);
  return log;
}

function pageUrl(stack, { xrm = false, autoSignIn = false, persist = false, authority = stack.emulatorBase } = {}) {
  const q = new URLSearchParams({ sts: stack.stsBase, tenant: ids.TENANT });
  if (authority) q.set("authority", authority);
  if (xrm) {
    q.set("xrm", "1");
    q.set("user", ids.USER_UPN);
  }
  if (autoSignIn) q.set("autoSignIn", "1");
  if (persist) q.set("persist", "1");
  return `${stack.pageOrigin}/?${q}`;
}

/** The test page, configured for the stack; `xrm` makes the page provide Xrm instead of tenantId. */
async function openPage(context, stack, options = {}) {
  const page = await context.newPage();
  await page.goto(pageUrl(stack, options));
  const configured = await page.evaluate(() => window.configured);
  if (configured !== "ok") throw new Error(`Tessera.configure failed: ${configured}`);
  return page;
}

/** Runs `fn` (a string of JS returning a promise) inside a real click on #act; returns its outcome. */
async function inGesture(page, body) {
  await page.evaluate((code) => {
    window.nextAction = new Function(code);
  }, body);
  await page.click("#act");
  return page.evaluate(() => window.lastOutcome);
}

/** Signs in through the shared button (one popup) and returns the outcome. */
async function signIn(page) {
  await page.click("#sign-in");
  return page.evaluate(() => window.signInResult);
}

/** getToken without a gesture; the outcome as plain data. */
function getToken(page, request) {
  return page.evaluate(async (r) => {
    try {
      const t = await Tessera.getToken(r);
      return { ok: true, value: { ...t, expiresOn: t.expiresOn.getTime(), scopes: [...t.scopes] } };
    } catch (e) {
      return { ok: false, error: { code: e.code, description: e.description, claims: e.claims, consentUrl: e.consentUrl, correlationId: e.correlationId, retryable: e.retryable, isTokenBrokerError: Tessera.isTokenBrokerError(e) } };
    }
  }, request);
}

/** The claims of a JWT (no verification: the tests only read what was issued). */
function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
}

module.exports = { launch, record, pageUrl, openPage, inGesture, signIn, getToken, claimsOf };
