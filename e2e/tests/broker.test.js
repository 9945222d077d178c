// window.Tessera in headless Chromium against the real entra-emulator and STS (see lib/stack.js).
// Every test opens its own browser context (fresh storage, its own sign-in), so none depends on
// another; emulator faults are scoped to one client app and cleared by the test that sets them.
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { emulatorAdmin, DIST } = require("../lib/stack");
const { launch, record, pageUrl, openPage, inGesture, signIn, getToken, claimsOf } = require("../lib/browser");
const { useStackAndBrowser } = require("../lib/suite");
const ids = require("../lib/ids");

const env = useStackAndBrowser();

async function fresh(options = {}) {
  const context = await env.browser.newContext();
  if (options.clock) await context.clock.install();
  const log = record(context, env.stack);
  const page = await openPage(context, env.stack, options);
  return { context, log, page };
}

const FILES = { workload: "file-picker", scopes: ["Files.Read"] };
const EXPENSES = { workload: "expense-report", scopes: ["expenses.read"] };

test("three controls asking at once: one popup, one sign-in, three correct tokens, one STS call per distinct request", async () => {
  const { context, log, page } = await fresh({ xrm: true });
  try {
    await page.click("#load-all");
    const results = await page.evaluate(() => window.loadAll);
    for (const r of results) assert.ok(r.ok, JSON.stringify(r));
    const [a, b, c] = results.map((r) => r.value);

    assert.equal(log.popups.length, 1, "one popup");
    assert.equal(log.authorize.length, 1, "one sign-in");
    const authorize = log.authorize[0];
    assert.equal(authorize.client_id, ids.BROKER);
    assert.equal(authorize.code_challenge_method, "S256");
    assert.equal(authorize.login_hint, ids.USER_UPN, "login_hint from Xrm");
    assert.equal(log.grantsOf("authorization_code").length, 1);
    assert.equal(log.grantsOf("authorization_code")[0].code_verifier.length, 43);

    // A and B asked for the same token (short and qualified scope): one exchange, one token.
    assert.equal(a.accessToken, b.accessToken);
    const graph = claimsOf(a.accessToken);
    assert.ok(["https://graph.microsoft.com", ids.GRAPH].includes(graph.aud), graph.aud);
    assert.match(graph.scp, /\bFiles\.Read\b/);
    const expenses = claimsOf(c.accessToken);
    assert.ok([ids.EXPENSES_API, `api://${ids.EXPENSES_API}`].includes(expenses.aud), expenses.aud);
    assert.equal(expenses.scp, "expenses.read");
    assert.equal(graph.oid, ids.USER_OID);

    assert.equal(log.exchanges.length, 2, "one STS call per distinct request");
    const byAudience = Object.fromEntries(log.exchanges.map((x) => [x.audience, x]));
    assert.equal(byAudience["file-picker"].scope, "https://graph.microsoft.com/Files.Read");
    assert.equal(byAudience["expense-report"].scope, `api://${ids.EXPENSES_API}/expenses.read`);
    // Each subject token is a user token for that workload's client app, obtained by the broker app.
    const fp = claimsOf(byAudience["file-picker"].subject_token);
    const ex = claimsOf(byAudience["expense-report"].subject_token);
    assert.equal(fp.aud, ids.FILE_PICKER);
    assert.equal(ex.aud, ids.EXPENSES);
    assert.equal(fp.azp, ids.BROKER);
    assert.equal(ex.azp, ids.BROKER);
    for (const x of log.exchanges) assert.match(x.correlationId, /^[0-9a-f-]{36}$/);
    assert.ok([a, b, c].every((t) => t.tokenType === "Bearer" && t.expiresOn > Date.now()));
  } finally {
    await context.close();
  }
});

test("a shared Sign in button: every control resumes on onStatusChange", async () => {
  const { context, log, page } = await fresh();
  try {
    const silent = await page.evaluate(() => {
      window.resumeOnSignIn = true;
      return Promise.all(Object.values(window.controls).map((c) => c.request(false)));
    });
    for (const r of silent) assert.equal(r.ok ? "ok" : r.error.code, "interaction_required");
    assert.equal(log.popups.length, 0);
    assert.equal(log.exchanges.length, 0);

    const outcome = await signIn(page);
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.equal(outcome.value.username, ids.USER_UPN);
    const resumed = await page.evaluate(() => window.resumed);
    for (const r of resumed) assert.ok(r.ok, JSON.stringify(r));
    assert.equal(log.popups.length, 1);
    assert.equal(log.exchanges.length, 2);
    const statuses = await page.evaluate(() => window.statusLog);
    assert.deepEqual(statuses.slice(-2), ["signingIn", "signedIn"]);
    assert.equal(await page.evaluate(() => Tessera.getAccount().tenantId), ids.TENANT);
  } finally {
    await context.close();
  }
});

test("the call that signs the user in caches its token: the next identical call is served from the cache", async () => {
  const { context, log, page } = await fresh();
  try {
    const request = { ...FILES, interactive: "ifRequired" };
    const first = await inGesture(page, `return Tessera.getToken(${JSON.stringify(request)});`);
    assert.ok(first.ok, JSON.stringify(first));
    assert.equal(log.popups.length, 1, "the first call signed the user in");
    assert.equal(first.value.fromCache, false);
    const second = await getToken(page, FILES);
    const third = await getToken(page, EXPENSES);
    const fourth = await getToken(page, EXPENSES);
    assert.ok(second.ok && third.ok && fourth.ok, JSON.stringify([second, third, fourth]));
    assert.equal(second.value.fromCache, true, "the token of the signing-in call was cached");
    assert.equal(second.value.accessToken, first.value.accessToken);
    assert.equal(second.value.correlationId, first.value.correlationId);
    assert.equal(third.value.fromCache, false);
    assert.equal(fourth.value.fromCache, true);
    assert.equal(log.exchanges.length, 2, "one STS call per distinct token");
    assert.equal(log.popups.length, 1);
  } finally {
    await context.close();
  }
});

test("a repeated call is served from the cache", async () => {
  const { context, log, page } = await fresh();
  try {
    assert.ok((await signIn(page)).ok);
    const first = await getToken(page, FILES);
    const second = await getToken(page, { ...FILES, scopes: ["https://graph.microsoft.com/Files.Read"] });
    assert.ok(first.ok && second.ok, JSON.stringify([first, second]));
    assert.equal(first.value.fromCache, false);
    assert.equal(second.value.fromCache, true);
    assert.equal(second.value.accessToken, first.value.accessToken);
    assert.equal(second.value.correlationId, first.value.correlationId);
    assert.equal(log.exchanges.length, 1);
  } finally {
    await context.close();
  }
});

test("after the backend token expires it is renewed silently", async () => {
  const { context, log, page } = await fresh({ clock: true });
  try {
    assert.ok((await signIn(page)).ok);
    const first = await getToken(page, FILES);
    assert.ok(first.ok, JSON.stringify(first));
    const refreshesBefore = log.grantsOf("refresh_token").length;

    // The page's clock jumps past both the backend token's and the user token's expiry (1 h).
    await page.clock.fastForward("01:01:00");
    const second = await getToken(page, FILES);
    assert.ok(second.ok, JSON.stringify(second));
    assert.equal(second.value.fromCache, false);
    assert.notEqual(second.value.correlationId, first.value.correlationId);
    assert.ok(second.value.expiresOn > first.value.expiresOn);
    assert.equal(log.exchanges.length, 2, "a new STS exchange");
    assert.equal(log.grantsOf("refresh_token").length, refreshesBefore + 1, "a new user token from the refresh token");
    assert.equal(log.popups.length, 1, "no new popup");
  } finally {
    await context.close();
  }
});

test("consent_required is surfaced with the admin-consent URL", async () => {
  const { context, log, page } = await fresh();
  try {
    assert.ok((await signIn(page)).ok);
    const r = await getToken(page, { workload: "unconsented", scopes: ["User.Read"] });
    assert.equal(r.ok, false);
    assert.equal(r.error.code, "consent_required");
    assert.equal(r.error.isTokenBrokerError, true);
    assert.equal(r.error.retryable, false);
    const url = new URL(r.error.consentUrl);
    assert.match(url.pathname, /adminconsent$/);
    assert.equal(url.searchParams.get("client_id"), ids.UNCONSENTED);
    assert.equal(r.error.correlationId, log.exchanges[0].correlationId);
  } finally {
    await context.close();
  }
});

test("an MFA claims challenge: interactive step-up with the claims, then one retry", async () => {
  const fault = await emulatorAdmin(env.stack, "POST", "/faults", { kind: "mfa_step_up", client_id: ids.EXPENSES, grant: "on_behalf_of" });
  const { context, log, page } = await fresh();
  try {
    assert.ok((await signIn(page)).ok);
    const outcome = await inGesture(page, `return Tessera.getToken(${JSON.stringify({ ...EXPENSES, interactive: "ifRequired" })});`);
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.equal(log.exchanges.length, 2, "the challenged exchange and one retry");
    assert.equal(log.popups.length, 2, "sign-in, then step-up");
    const stepUp = log.authorize[1];
    assert.ok(stepUp.claims, "the step-up sign-in carries the claims");
    assert.ok(JSON.parse(stepUp.claims).access_token, stepUp.claims);
    // The retry used a new user token, which carries the satisfied policy.
    const retried = claimsOf(log.exchanges[1].subject_token);
    assert.notEqual(log.exchanges[1].subject_token, log.exchanges[0].subject_token);
    assert.ok(Array.isArray(retried.acrs) && retried.acrs.length > 0, JSON.stringify(retried));
  } finally {
    await context.close();
    await emulatorAdmin(env.stack, "DELETE", `/faults/${fault.id}`);
  }
});

test("a silent call that meets a claims challenge reports it; the next click satisfies it without re-sending the old token", async () => {
  const fault = await emulatorAdmin(env.stack, "POST", "/faults", { kind: "mfa_step_up", client_id: ids.EXPENSES, grant: "on_behalf_of" });
  const { context, log, page } = await fresh();
  try {
    assert.ok((await signIn(page)).ok);
    const silent = await getToken(page, EXPENSES);
    assert.equal(silent.ok, false);
    assert.equal(silent.error.code, "interaction_required");
    assert.ok(JSON.parse(silent.error.claims).access_token, silent.error.claims);
    assert.equal(log.exchanges.length, 1);
    const again = await getToken(page, EXPENSES);
    assert.equal(again.error.code, "interaction_required");
    assert.equal(log.exchanges.length, 1, "the challenged token is not sent again");

    const outcome = await inGesture(page, `return Tessera.getToken(${JSON.stringify({ ...EXPENSES, interactive: "ifRequired" })});`);
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.equal(log.exchanges.length, 2);
    assert.equal(log.authorize[1].claims, silent.error.claims);
  } finally {
    await context.close();
    await emulatorAdmin(env.stack, "DELETE", `/faults/${fault.id}`);
  }
});

test("a popup outside a user gesture is blocked: popup_blocked", async () => {
  const blocking = await launch({ popupBlocking: true });
  try {
    const context = await blocking.newContext();
    const log = record(context, env.stack);
    const page = await context.newPage();
    // Nothing is evaluated in the page before its own signIn() ran: no gesture of ours leaks in.
    const logged = page.waitForEvent("console", (m) => m.text().startsWith("autoSignIn:"));
    await page.goto(pageUrl(env.stack, { autoSignIn: true }));
    const outcome = JSON.parse((await logged).text().slice("autoSignIn:".length));
    assert.equal(outcome.ok, false);
    assert.equal(outcome.error.code, "popup_blocked");
    assert.equal(log.authorize.length, 0);
    assert.equal(await page.evaluate(() => Tessera.getStatus()), "signedOut");
  } finally {
    await blocking.close();
  }
});

test("closing the popup rejects with user_cancelled, and a later sign-in still works", async () => {
  const { context, log, page } = await fresh();
  try {
    // Hold the authorize request so the user can close the popup before it answers.
    const held = (url) => url.pathname.endsWith("/oauth2/v2.0/authorize");
    await context.route(held, () => {});
    const popup = context.waitForEvent("page");
    await page.click("#sign-in");
    await (await popup).close();
    const outcome = await page.evaluate(() => window.signInResult);
    assert.equal(outcome.ok, false);
    assert.equal(outcome.error.code, "user_cancelled");
    assert.equal(await page.evaluate(() => Tessera.getStatus()), "signedOut");

    await context.unroute(held);
    const second = await signIn(page);
    assert.ok(second.ok, JSON.stringify(second));
    assert.equal(log.popups.length, 2);
  } finally {
    await context.close();
  }
});

test("configure is idempotent for the same options and rejects other options with invalid_request", async () => {
  const { context, page } = await fresh();
  try {
    const outcome = await page.evaluate(async (sts) => {
      const options = { stsUrl: sts, redirectUri: location.origin + "/redirect.html", tenantId: new URLSearchParams(location.search).get("tenant"), authority: new URLSearchParams(location.search).get("authority") };
      const settle = (p) => p.then(() => "ok", (e) => `${e.code}: ${e.description}`);
      return {
        same: await settle(Tessera.configure({ ...options })),
        other: await settle(Tessera.configure({ ...options, stsUrl: "https://sts.other.example" })),
        hint: await settle(Tessera.configure({ ...options, loginHint: "someone@else.example" })),
        status: Tessera.getStatus(),
      };
    }, env.stack.stsBase);
    assert.deepEqual(outcome, {
      same: "ok",
      other: "invalid_request: Tessera.configure: already configured with other options",
      hint: "invalid_request: Tessera.configure: already configured with other options",
      status: "signedOut",
    });
  } finally {
    await context.close();
  }
});

test("a second copy of another version keeps the first instance and warns with both versions", async () => {
  const { context, page } = await fresh();
  try {
    const script = fs.readFileSync(path.join(DIST, "tessera-broker.js"), "utf8");
    const version = await page.evaluate(() => Tessera.version);
    assert.ok(script.includes(`"${version}"`));
    await context.route(`${env.stack.pageOrigin}/other-version.js`, (route) =>
      route.fulfill({ contentType: "text/javascript", body: script.split(version).join("99.0.0") }));
    const warnings = [];
    page.on("console", (m) => { if (m.type() === "warning") warnings.push(m.text()); });
    const facts = await page.evaluate(async () => {
      const first = window.Tessera;
      await new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = "/other-version.js";
        s.onload = resolve;
        s.onerror = reject;
        document.head.appendChild(s);
      });
      return { same: window.Tessera === first, version: window.Tessera.version };
    });
    assert.deepEqual(facts, { same: true, version });
    assert.deepEqual(warnings, [`Tessera 99.0.0 not started: Tessera ${version} already runs`]);
  } finally {
    await context.close();
  }
});

test("the API object is frozen and versioned, and a second load keeps the first instance", async () => {
  const { context, page } = await fresh();
  try {
    const facts = await page.evaluate(async () => {
      const first = window.Tessera;
      await new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = "/tessera-broker.js";
        s.onload = resolve;
        s.onerror = reject;
        document.head.appendChild(s);
      });
      let replaced = true;
      try {
        window.Tessera.getToken = () => null;
      } catch {
        replaced = false;
      }
      return {
        same: window.Tessera === first,
        frozen: Object.isFrozen(window.Tessera),
        replaced: replaced && window.Tessera.getToken.toString().includes("null"),
        apiVersion: window.Tessera.apiVersion,
        version: window.Tessera.version,
        status: window.Tessera.getStatus(),
        ready: (await window.Tessera.ready) === window.Tessera,
      };
    });
    assert.deepEqual(
      { ...facts, version: typeof facts.version },
      { same: true, frozen: true, replaced: false, apiVersion: 1, version: "string", status: "signedOut", ready: true },
    );
    assert.match(facts.version, /^\d+\.\d+\.\d+/);
  } finally {
    await context.close();
  }
});

test("ready does not wait for the STS: calls made meanwhile wait for /broker/config and carry its failure, and configure can try again", async () => {
  const context = await env.browser.newContext();
  try {
    // Hold the STS's answer (the seam: the browser's own request routing), then refuse it.
    let held;
    const arrived = new Promise((resolve) => {
      context.route("**/broker/config", (route) => {
        if (held) return route.continue(); // the retry below goes through
        held = route;
        resolve();
      });
    });
    const page = await context.newPage();
    await page.goto(pageUrl(env.stack));
    await arrived;
    const early = await page.evaluate(async () => {
      // Resolves with /broker/config still unanswered (bounded, so that a regression fails here
      // instead of hanging the suite).
      const ready = await Promise.race([Tessera.ready.then(() => true), new Promise((r) => setTimeout(r, 10000, false))]);
      if (!ready) return "ready waited for /broker/config";
      window.earlyCall = Tessera.getToken({ workload: "file-picker", scopes: ["Files.Read"] }).then(
        () => "ok",
        (e) => e.code + ": " + e.description,
      );
      return Tessera.getStatus();
    });
    assert.equal(early, "signedOut", "configured once the options are accepted");
    await held.abort("connectionrefused");
    const call = await page.evaluate(() => window.earlyCall);
    assert.match(call, /^network_error: could not reach .*\/broker\/config/, "the waiting call fails with the fetch's error");
    assert.match(await page.evaluate(() => window.configured), /^network_error: /);
    assert.equal(await page.evaluate(() => Tessera.getStatus()), "unconfigured");

    // The ribbon rule runs again: configure fetches anew, and calls work.
    const again = await page.evaluate(async () => {
      await Tessera.configure({ stsUrl: new URLSearchParams(location.search).get("sts"), redirectUri: location.origin + "/redirect.html",
        tenantId: new URLSearchParams(location.search).get("tenant"), authority: new URLSearchParams(location.search).get("authority") });
      return Tessera.getToken({ workload: "file-picker", scopes: ["Files.Read"] }).then(() => "ok", (e) => e.code);
    });
    assert.equal(again, "interaction_required", "configured: a silent call without a session asks for a sign-in");
  } finally {
    await context.close();
  }
});

test("the authority is pinned: the STS's /broker/config cannot move the sign-in off Microsoft's hosts or the one the page named", async () => {
  // This STS's /broker/config names the emulator (a loopback host, not Microsoft's) as authority.
  const context = await env.browser.newContext();
  const popups = [];
  try {
    const page = await context.newPage();
    page.on("popup", (p) => popups.push(p.url()));
    await page.goto(pageUrl(env.stack, { authority: false }));
    const unnamed = await page.evaluate(() => window.configured);
    assert.match(unnamed, /^sts_error: the STS broker config is invalid: authority is not Microsoft's \(others: configure's authority\)$/);
    // Nothing can sign in through such a broker: signIn() rejects and opens nothing.
    const tried = await inGesture(page, "return Tessera.signIn();");
    assert.equal(tried.ok, false);
    assert.equal(tried.error.code, "invalid_request", JSON.stringify(tried));

    // The page named another authority: the STS may not substitute its own.
    await page.goto(pageUrl(env.stack, { authority: "http://127.0.0.1:9" }));
    assert.match(await page.evaluate(() => window.configured), /^sts_error: the STS broker config is invalid: authority is not configure's$/);
    assert.deepEqual(popups, [], "no popup opened");

    // A named authority that is not an origin is the page's own mistake.
    await page.goto(pageUrl(env.stack, { authority: `${env.stack.emulatorBase}/evil` }));
    assert.match(await page.evaluate(() => window.configured), /^invalid_request: Tessera\.configure: authority must be an https origin$/);

    // The page names the STS's authority: configured, and the popup goes exactly there.
    await page.goto(pageUrl(env.stack));
    assert.equal(await page.evaluate(() => window.configured), "ok");
  } finally {
    await context.close();
  }
});

test("built-ins are the broker's own: a fetch/Response.text/JSON.parse/crypto wrapper installed after load sees no request, answer or refresh token", async () => {
  const { context, log, page } = await fresh();
  try {
    assert.ok((await signIn(page)).ok);
    await page.evaluate(() => {
      window.seen = [];
      const wrap = (obj, name, label) => {
        const original = obj[name];
        obj[name] = function (...args) {
          window.seen.push(`${label}: ${args.map((a) => (typeof a === "object" ? JSON.stringify(a) : String(a))).join(" ")}`);
          return original.apply(this, args);
        };
      };
      wrap(window, "fetch", "fetch");
      wrap(Response.prototype, "text", "text");
      wrap(JSON, "parse", "JSON.parse");
      wrap(Reflect, "get", "Reflect.get");
      wrap(Crypto.prototype, "getRandomValues", "getRandomValues");
      wrap(Crypto.prototype, "randomUUID", "randomUUID");
      wrap(SubtleCrypto.prototype, "digest", "digest");
      wrap(window, "BroadcastChannel", "BroadcastChannel");
    });
    const refreshesBefore = log.grantsOf("refresh_token").length;
    const r = await getToken(page, { ...FILES, forceRefresh: true });
    assert.ok(r.ok, JSON.stringify(r));
    assert.ok(log.grantsOf("refresh_token").length > refreshesBefore, "a refresh-token grant was sent");
    // getToken's own helper (e2e/lib/browser.js) does not use the wrapped functions either.
    assert.deepEqual(await page.evaluate(() => window.seen), []);
  } finally {
    await context.close();
  }
});

test("a polluted Object.prototype (before the bundle loads) changes no option, request or answer", async () => {
  const context = await env.browser.newContext();
  await context.addInitScript(() => {
    const plant = (k, v) => Object.defineProperty(Object.prototype, k, { value: v, configurable: true, writable: true });
    plant("interactive", "ifRequired"); // getToken would open a popup
    plant("forceRefresh", true); // would skip the cache
    plant("persistence", "sessionStorage"); // configure would reject it
    plant("authority", "https://login.evil.example"); // configure would pin it
    plant("redirect", "error"); // fetch init: would fail every redirect
    plant("body", "planted"); // fetch init: a GET with a body throws
    plant("access_token", "planted-token"); // an answer without one would look like a token
    plant("error", "planted_error");
  });
  const log = record(context, env.stack);
  try {
    const page = await openPage(context, env.stack);
    const silent = await getToken(page, FILES);
    assert.equal(silent.ok, false);
    assert.equal(silent.error.code, "interaction_required", "no popup from a non-gesture call: interactive was not read");
    assert.equal(log.popups.length, 0);
    assert.ok((await signIn(page)).ok);
    const first = await getToken(page, FILES);
    assert.ok(first.ok, JSON.stringify(first));
    assert.notEqual(first.value.accessToken, "planted-token");
    const second = await getToken(page, FILES);
    assert.equal(second.value.fromCache, true, "forceRefresh was not read from the prototype");
    assert.equal(log.exchanges.length, 1);
  } finally {
    await context.close();
  }
});

test("the Power Apps bundle has no Power Pages mode: configure({identity: 'powerPages'}) rejects with invalid_request naming tessera-broker-pages.js", async () => {
  const { context, log, page } = await fresh();
  try {
    const before = log.exchanges.length;
    const outcome = await page.evaluate(async (sts) => {
      try {
        await Tessera.configure({ identity: "powerPages", clientId: "c0ffee00-0000-4000-8000-000000000001", stsUrl: sts });
        return "resolved";
      } catch (e) {
        return { brokerError: Tessera.isTokenBrokerError(e), code: e.code, description: e.description, retryable: e.retryable };
      }
    }, env.stack.stsBase);
    assert.deepEqual(outcome, {
      brokerError: true,
      code: "invalid_request",
      description: "configure: powerPages needs tessera-broker-pages.js",
      retryable: false,
    });
    assert.equal(log.exchanges.length, before, "no exchange at the STS");
    assert.equal(await page.evaluate(() => Tessera.getStatus()), "signedOut", "the page's own configuration stands");
  } finally {
    await context.close();
  }
});

test("the sessionStorage mode is gone: configure rejects it with invalid_request, naming it", async () => {
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(pageUrl(env.stack, { persist: true }));
    const configured = await page.evaluate(() => window.configured);
    assert.equal(configured, "invalid_request: Tessera.configure: persistence: memory only (sessionStorage was removed)");
  } finally {
    await context.close();
  }
});

test("without persistence a reload signs the broker out", async () => {
  const { context, page } = await fresh();
  try {
    assert.ok((await signIn(page)).ok);
    assert.deepEqual(await page.evaluate(() => Object.keys(sessionStorage)), []);
    await page.reload();
    assert.equal(await page.evaluate(() => window.configured), "ok");
    assert.equal(await page.evaluate(() => Tessera.getStatus()), "signedOut");
  } finally {
    await context.close();
  }
});
