// One sign-in for every tab of the origin, in memory only (issue 17; src/relay.rs), sign-out in
// every tab, and a broker whose frame goes away. Each test opens its own browser context (tabs of
// one context share an origin's BroadcastChannel, as tabs of one browser do).
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { record, pageUrl, openPage, getToken, claimsOf } = require("../lib/browser");
const { useStackAndBrowser } = require("../lib/suite");
const ids = require("../lib/ids");

const env = useStackAndBrowser();

const FILES = { workload: "file-picker", scopes: ["Files.Read"] };
const EXPENSES = { workload: "expense-report", scopes: ["expenses.read"] };
const CHANNEL = `tessera-relay-v1:${ids.TENANT}:${ids.BROKER}`;

const storage = (page) => page.evaluate(() => ({ session: sessionStorage.length, local: localStorage.length }));

/** A tab of the test page (with Xrm) whose shared Sign in button has signed the user in. */
async function signedInTab(context) {
  const page = await openPage(context, env.stack, { xrm: true });
  await page.click("#sign-in");
  assert.equal((await page.evaluate(() => window.signInResult)).ok, true);
  return page;
}

/** Every message on the relay channel, as the page (any script of the origin) sees it. */
async function listen(page) {
  await page.evaluate((name) => {
    window.relayed = [];
    new BroadcastChannel(name).onmessage = (e) => window.relayed.push(e.data);
  }, CHANNEL);
  return () => page.evaluate(() => window.relayed);
}

test("a second tab gets tokens without a popup, relayed as a user token (never the refresh token); nothing is stored", async () => {
  const context = await env.browser.newContext();
  const log = record(context, env.stack);
  try {
    const a = await signedInTab(context);
    assert.equal(log.popups.length, 1);

    const b = await openPage(context, env.stack, { xrm: true });
    const relayed = await listen(b);
    const refreshesBefore = log.grantsOf("refresh_token").length;
    const files = await getToken(b, FILES);
    assert.ok(files.ok, JSON.stringify(files));
    assert.equal(log.popups.length, 1, "no second popup");
    assert.equal(claimsOf(files.value.accessToken).oid, ids.USER_OID);
    // Tab A redeemed its refresh token for B's workload; B has none to redeem.
    assert.equal(log.grantsOf("refresh_token").length, refreshesBefore + 1);
    assert.deepEqual(await b.evaluate(() => [Tessera.getStatus(), Tessera.getAccount().objectId]), ["signedIn", ids.USER_OID]);

    const messages = await relayed();
    assert.deepEqual(messages.map((m) => m.k), ["ask", "have", "give"]);
    for (const m of messages) {
      assert.equal(m.u, ids.USER_UPN.toLowerCase(), "bound to the Dynamics user");
      for (const key of Object.keys(m)) assert.ok(["k", "i", "u", "w", "t"].includes(key), key);
    }
    const given = messages[2];
    assert.equal(claimsOf(given.t).aud, ids.FILE_PICKER, "a user token for the asked workload's client app");
    assert.equal(claimsOf(given.t).azp, ids.BROKER);
    const sent = log.exchanges.at(-1);
    assert.equal(sent.subject_token, given.t, "B exchanged the relayed user token");

    // B keeps it: a second workload asks again, the same one is B's own cache.
    assert.ok((await getToken(b, EXPENSES)).ok);
    assert.equal((await getToken(b, FILES)).value.fromCache, true);
    assert.equal(log.popups.length, 1);
    for (const page of [a, b]) assert.deepEqual(await storage(page), { session: 0, local: 0 });
  } finally {
    await context.close();
  }
});

test("a tab of another Dynamics user gets no answer", async () => {
  const context = await env.browser.newContext();
  const log = record(context, env.stack);
  try {
    const a = await signedInTab(context);
    const other = await context.newPage();
    await other.goto(pageUrl(env.stack, { xrm: true }).replace(encodeURIComponent(ids.USER_UPN), "meganb%40contoso.com"));
    assert.equal(await other.evaluate(() => window.configured), "ok");
    const result = await getToken(other, FILES);
    assert.equal(result.ok, false);
    assert.equal(result.error.code, "interaction_required");
    assert.equal(log.exchanges.length, 0);
  } finally {
    await context.close();
  }
});

test("signing out in one tab signs out every tab; a lone tab then needs a sign-in again", async () => {
  const context = await env.browser.newContext();
  try {
    const a = await signedInTab(context);
    assert.ok((await getToken(a, FILES)).ok);
    const b = await openPage(context, env.stack, { xrm: true });
    assert.ok((await getToken(b, FILES)).ok);

    await b.evaluate(() => Tessera.signOut());
    await a.waitForFunction(() => Tessera.getStatus() === "signedOut");
    assert.equal(await a.evaluate(() => Tessera.getAccount()), null);
    for (const page of [a, b]) {
      const r = await getToken(page, FILES);
      assert.equal(r.ok, false, "nothing cached survives the sign-out");
      assert.equal(r.error.code, "interaction_required");
    }
  } finally {
    await context.close();
  }
});

test("a call in flight at sign-out rejects with user_signed_out and keeps nothing", async () => {
  const context = await env.browser.newContext();
  try {
    const a = await openPage(context, env.stack, { xrm: true });
    // No session anywhere: the call is asking the other tabs (up to 300 ms) when the user signs out.
    const outcome = await a.evaluate(async () => {
      const call = Tessera.getToken({ workload: "file-picker", scopes: ["Files.Read"] });
      await Tessera.signOut();
      return call.then(() => "resolved", (e) => e.code);
    });
    assert.equal(outcome, "user_signed_out");
  } finally {
    await context.close();
  }
});

test("when the frame that loaded the broker goes away, calls reject with broker_unloaded instead of hanging", { timeout: 30_000 }, async () => {
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(pageUrl(env.stack).replace(`${env.stack.pageOrigin}/?`, `${env.stack.pageOrigin}/host.html?`));
    await page.waitForFunction(() => window.Tessera && document.getElementById("form").contentWindow.configured);
    assert.equal(await page.evaluate(() => document.getElementById("form").contentWindow.configured), "ok");
    assert.equal(await page.evaluate(() => Object.hasOwn(window, "Tessera")), true, "registered on the top window");

    const outcome = await page.evaluate(async () => {
      const inFlight = Tessera.getToken({ workload: "file-picker", scopes: ["Files.Read"] });
      document.getElementById("form").remove();
      const first = await inFlight.then(() => "resolved", (e) => e.code);
      const later = await Tessera.getToken({ workload: "file-picker", scopes: ["Files.Read"] }).then(
        () => "resolved",
        (e) => e.code
      );
      return [first, later];
    });
    assert.deepEqual(outcome, ["broker_unloaded", "broker_unloaded"]);
  } finally {
    await context.close();
  }
});
