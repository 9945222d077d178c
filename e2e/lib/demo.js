// `sts demo` as a child process for the E2E tests: started on free ports with its info file
// (endpoints and ids) read back, and stopped with SIGTERM as Ctrl-C would.
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");

const ROOT = path.resolve(__dirname, "..", "..");
const BIN = process.env.E2E_BIN_DIR || path.join(ROOT, "target", "debug");

/** Starts `sts demo`; with `page`, its demo page too (serving dist/). Resolves with its info. */
async function startDemo({ page = true } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-demo-"));
  const info = path.join(dir, "info.json");
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TESSERA_")));
  const child = spawn(
    path.join(BIN, "sts"),
    ["demo", "--state-dir", dir, "--sts-port", "0", "--emulator-port", "0",
     ...(page ? ["--page-port", "0", "--dist", path.join(ROOT, "dist")] : ["--no-page"]),
     "--write-info", info, "--log-level", "warn"],
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

async function stopDemo(demo) {
  demo.child.kill("SIGTERM");
  await new Promise((r) => demo.child.once("exit", r));
  fs.rmSync(demo.dir, { recursive: true, force: true });
}

module.exports = { startDemo, stopDemo };
