// The emulator's sign-in pages as a person meets them through the broker's popup (the emulator
// with `sign_in_page` on): the account picker, the browser session that makes the next sign-in
// one click (or none with prompt=none), prompt=select_account / consent / none, and Cancel.
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { emulatorAdmin } = require("../lib/stack");
const { record, openPage, inGesture, claimsOf } = require("../lib/browser");
const { useStackAndBrowser } = require("../lib/suite");
const ids = require("../lib/ids");

const env = useStackAndBrowser({ stack: { signInPage: true }, browser: { popupBlocking: true } });

// A generous bound: a page that waits for a click nobody makes fails the test instead of hanging.
const LIMIT = { timeout: 60_000 };

const FILES = { workload: "file-picker", scopes: ["Files.Read"], interactive: "ifRequired" };

/**
 * Runs `body` inside a click on #act; `inPopup(popup)` plays the person in the sign-in popup
 * (omit it when no page is expected: the popup then closes by itself). Returns the outcome.
 */
async function act(page, body, inPopup) {
  await page.evaluate((code) => { window.nextAction = new Function(code); }, body);
  const [popup] = await Promise.all([page.waitForEvent("popup"), page.click("#act")]);
  if (inPopup) await inPopup(popup);
  return page.evaluate(() => window.lastOutcome);
}

const signIn = (options) => `return Tessera.signIn(${JSON.stringify(options || {})});`;
const heading = async (popup) => {
  await popup.waitForSelector("h1");
  return popup.textContent("h1");
};
const accounts = (popup) => popup.$$eval("button.account", (bs) => bs.map((b) => b.innerText.replace(/\s+/g, " ").trim()));

test("the popup shows the account picker; the person picks the account; the next sign-in is one click, and prompt=none is silent", LIMIT, async () => {
  const context = await env.browser.newContext();
  const log = record(context, env.stack);
  try {
    const page = await openPage(context, env.stack, { xrm: true });
    let shown;
    const first = await act(page, `return Tessera.getToken(${JSON.stringify(FILES)});`, async (popup) => {
      shown = { heading: await heading(popup), accounts: await accounts(popup) };
      await popup.click("button.account >> nth=0");
    });
    assert.ok(first.ok, JSON.stringify(first));
    assert.equal(shown.heading, "Sign in");
    // The login_hint's user (from Xrm) first and suggested; every user of the tenant listed.
    assert.deepEqual(shown.accounts, [
      `Adele Vance suggested ${ids.USER_UPN}`,
      `Megan Bowen ${ids.OTHER_USER_UPN}`,
    ]);
    assert.equal(claimsOf(log.exchanges[0].subject_token).oid, ids.USER_OID);

    await page.evaluate(() => Tessera.signOut());
    const again = await act(page, signIn(), async (popup) => {
      shown = { heading: await heading(popup), accounts: await accounts(popup) };
      await popup.click("button.account >> nth=0");
    });
    assert.ok(again.ok, JSON.stringify(again));
    assert.equal(shown.heading, "Continue");
    assert.equal(shown.accounts[0], `Adele Vance signed in ${ids.USER_UPN}`);

    await page.evaluate(() => Tessera.signOut());
    const silent = await act(page, signIn({ prompt: "none" }));
    assert.ok(silent.ok, JSON.stringify(silent));
    assert.equal(silent.value.username, ids.USER_UPN);
    assert.equal(log.popups.length, 3);
    assert.equal(log.authorize.at(-1).prompt, "none", "the last sign-in was silent");
  } finally {
    await context.close();
  }
});

test("signIn() while signed in resolves with the account and opens no second popup; select_account still opens one", LIMIT, async () => {
  const context = await env.browser.newContext();
  // Counts window.open calls from before the bundle loads (whatever the broker captures).
  await context.addInitScript(() => {
    const open = window.open;
    window.opened = 0;
    window.openNames = [];
    window.open = function (...args) {
      window.opened++;
      window.openNames.push(args[1]);
      return open.apply(this, args);
    };
  });
  const log = record(context, env.stack);
  try {
    const page = await openPage(context, env.stack, { xrm: true });
    const first = await act(page, signIn(), (popup) => popup.click("button.account >> nth=0"));
    assert.ok(first.ok, JSON.stringify(first));
    assert.equal(await page.evaluate(() => window.opened), 1);
    const authorizeRequests = log.authorize.length;

    const again = await inGesture(page, signIn());
    assert.ok(again.ok, JSON.stringify(again));
    assert.equal(again.value.username, ids.USER_UPN);
    assert.deepEqual(again.value, first.value, "the same account");
    assert.equal(await page.evaluate(() => window.opened), 1, "no window.open for the second signIn()");
    assert.equal(await page.evaluate(() => Tessera.getStatus()), "signedIn");
    assert.equal(log.popups.length, 1);
    assert.equal(log.authorize.length, authorizeRequests, "no authorize request");

    // Asking for the account picker is a deliberate second sign-in: it opens the popup.
    const switched = await act(page, signIn({ prompt: "select_account" }), (popup) =>
      popup.click(`button.account:has-text("${ids.OTHER_USER_UPN}")`));
    assert.ok(switched.ok, JSON.stringify(switched));
    assert.equal(switched.value.username, ids.OTHER_USER_UPN);
    assert.equal(await page.evaluate(() => window.opened), 2);

    // Each popup is a new unnamed window (no shared name another tab's broker could reuse).
    assert.deepEqual(await page.evaluate(() => window.openNames), ["_blank", "_blank"]);
  } finally {
    await context.close();
  }
});

test("prompt=none without a session is interaction_required (login_required); select_account signs in the account picked", LIMIT, async () => {
  const context = await env.browser.newContext();
  try {
    const page = await openPage(context, env.stack);
    const none = await act(page, signIn({ prompt: "none" }));
    assert.equal(none.ok, false);
    assert.equal(none.error.code, "interaction_required");
    assert.match(none.error.description, /login_required/);

    let shown;
    const picked = await act(page, signIn({ prompt: "select_account" }), async (popup) => {
      shown = { heading: await heading(popup), accounts: await accounts(popup) };
      await popup.click(`button.account:has-text("${ids.OTHER_USER_UPN}")`);
    });
    assert.ok(picked.ok, JSON.stringify(picked));
    assert.equal(shown.heading, "Pick an account");
    assert.equal(shown.accounts.length, 2);
    assert.equal(picked.value.username, ids.OTHER_USER_UPN);
  } finally {
    await context.close();
  }
});

test("prompt=consent shows the permissions: Cancel is user_cancelled, Accept signs in", LIMIT, async () => {
  const context = await env.browser.newContext();
  try {
    const page = await openPage(context, env.stack, { xrm: true });
    let asked;
    const cancelled = await act(page, signIn({ prompt: "consent" }), async (popup) => {
      await popup.click("button.account >> nth=0");
      assert.equal(await heading(popup), "Permissions requested");
      asked = await popup.textContent("main");
      await popup.click("button[value=cancel]");
    });
    assert.equal(cancelled.ok, false, JSON.stringify(cancelled));
    assert.equal(cancelled.error.code, "user_cancelled");
    assert.match(asked, /wants to act as Adele Vance/);

    const accepted = await act(page, signIn({ prompt: "consent" }), async (popup) => {
      assert.equal(await heading(popup), "Continue");
      await popup.click("button.account >> nth=0");
      await popup.waitForSelector("button[value=accept]");
      await popup.click("button[value=accept]");
    });
    assert.ok(accepted.ok, JSON.stringify(accepted));
    assert.equal(accepted.value.username, ids.USER_UPN);
  } finally {
    await context.close();
  }
});

/** Clicks `selector` on a sign-in page; the parameters of the redirect the form's answer sends
 * (read from its Location header: the redirect page itself clears them from its URL). */
async function answer(page, selector) {
  const [req] = await Promise.all([page.waitForRequest((r) => r.url().includes("/redirect.html")), page.click(selector)]);
  const post = req.redirectedFrom();
  assert.ok(post, "the form's answer is a redirect");
  const res = await post.response();
  assert.equal(res.status(), 302);
  return new URLSearchParams(new URL(res.headers().location).hash.slice(1));
}

test("missing consent: the consent prompt lists the permissions; Accept records it, and the next sign-in asks no more", LIMIT, async () => {
  // A new workload app that lists the broker as a known client, with no consent in the tenant.
  const app = "5e2e0000-0000-4000-8000-0000000000c9";
  await emulatorAdmin(env.stack, "POST", `/tenants/${ids.TENANT}/apps`, {
    client_id: app,
    display_name: "Unconsented workload",
    identifier_uris: [`api://${app}`],
    scopes: ["access_as_user"],
    known_client_apps: [ids.BROKER],
    access_token_version: 2,
  });
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    const authorize = (state) => `${env.stack.emulatorBase}/${ids.TENANT}/oauth2/v2.0/authorize?` + new URLSearchParams({
      client_id: ids.BROKER, response_type: "code", redirect_uri: `${env.stack.pageOrigin}/redirect.html`,
      scope: `api://${app}/access_as_user openid offline_access`, state, response_mode: "fragment",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256",
      login_hint: ids.USER_UPN,
    });
    await page.goto(authorize("first"));
    assert.equal(await heading(page), "Sign in");
    await page.click("button.account >> nth=0");
    assert.equal(await heading(page), "Permissions requested");
    assert.match(await page.textContent("main"), new RegExp(`${app}/access_as_user`));
    const first = await answer(page, "button[value=accept]");
    assert.ok(first.get("code"), first.toString());
    assert.equal(first.get("state"), "first");

    await page.goto(authorize("second"));
    assert.equal(await heading(page), "Continue");
    const second = await answer(page, "button.account >> nth=0");
    assert.ok(second.get("code"), "consent was recorded: no prompt the second time");
    assert.equal(second.get("state"), "second");
  } finally {
    await context.close();
    await emulatorAdmin(env.stack, "DELETE", `/tenants/${ids.TENANT}/consents?client_id=${ids.BROKER}&resource=${app}`).catch(() => {});
  }
});

test("signing out while the sign-in page is open: the call rejects with user_signed_out, the popup closes, no session is made", LIMIT, async () => {
  const context = await env.browser.newContext();
  const log = record(context, env.stack);
  try {
    const page = await openPage(context, env.stack, { xrm: true });
    await page.evaluate((r) => { window.nextAction = () => Tessera.getToken(r); }, FILES);
    const [popup] = await Promise.all([page.waitForEvent("popup"), page.click("#act")]);
    await popup.waitForSelector("button.account"); // the person has not picked an account yet
    const closed = popup.waitForEvent("close");
    await page.evaluate(() => Tessera.signOut());
    const outcome = await page.evaluate(() => window.lastOutcome);
    assert.equal(outcome.ok, false);
    assert.equal(outcome.error.code, "user_signed_out");
    await closed;
    assert.equal(await page.evaluate(() => Tessera.getStatus()), "signedOut");
    assert.equal(log.grantsOf("authorization_code").length, 0, "no code was redeemed");
  } finally {
    await context.close();
  }
});
