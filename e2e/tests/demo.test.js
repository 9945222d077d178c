// The README's demo (`sts demo`) as a user sees it: the demo page's three mock PCF controls, one
// sign-in popup, three backend tokens acting as the demo user.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { launch } = require("../lib/browser");

const ROOT = path.resolve(__dirname, "..", "..");
const BIN = process.env.E2E_BIN_DIR || path.join(ROOT, "target", "debug");

async function startDemo() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-demo-"));
  const info = path.join(dir, "info.json");
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TESSERA_")));
  const child = spawn(
    path.join(BIN, "sts"),
    ["demo", "--state-dir", dir, "--sts-port", "0", "--emulator-port", "0", "--page-port", "0",
     "--dist", path.join(ROOT, "dist"), "--write-info", info, "--log-level", "warn"],
    { env, stdio: ["ignore", "ignore", "inherit"] },
  );
  for (let i = 0; i < 600; i++) {
    if (fs.existsSync(info)) {
      try {
        return { child, dir, info: JSON.parse(fs.readFileSync(info, "utf8")) };
      } catch { /* being written */ }
    }
    if (child.exitCode !== null) throw new Error(`sts demo exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error("sts demo did not start");
}

test("demo page: three controls, one sign-in popup, three tokens for the demo user", async () => {
  const demo = await startDemo();
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    let popups = 0;
    page.on("popup", () => { popups += 1; });
    await page.goto(`${demo.info.page}/`);
    await page.waitForFunction(() => document.getElementById("status").textContent !== "loading…");
    assert.equal(await page.textContent("#status"), "signedOut");
    await page.click("#all");
    await page.waitForFunction(
      () => [...document.querySelectorAll(".out")].every((o) => /Acting as|:/.test(o.textContent) && o.textContent !== "asking…"),
      null, { timeout: 30000 });
    const outs = await page.$$eval(".out", (els) => els.map((e) => e.textContent));
    assert.equal(outs.length, 3);
    for (const out of outs) assert.match(out, /Acting as Adele Vance for https:\/\/graph\.microsoft\.com/);
    assert.equal(popups, 1, "one popup for three controls");
    assert.match(await page.textContent("#status"), /^signedIn as adele@contoso\.test/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    demo.child.kill("SIGTERM");
    await new Promise((r) => demo.child.once("exit", r));
    fs.rmSync(demo.dir, { recursive: true, force: true });
  }
});
