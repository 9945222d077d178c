// What the broker-ready tools (run.js, ab.js, trace.js) share.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

/**
 * Points the E2E stack at the release STS and emulator when target/release has both (what
 * production runs: a debug STS answered `/broker/config` 15–50 ms later under load), else leaves
 * the debug ones, said on stderr; E2E_BIN_DIR overrides either. Call before requiring
 * e2e/lib/stack.
 */
function useReleaseBinaries() {
  if (process.env.E2E_BIN_DIR) return;
  const release = path.join(__dirname, "..", "..", "target", "release");
  if (fs.existsSync(path.join(release, "sts")) && fs.existsSync(path.join(release, "entra-emulator"))) {
    process.env.E2E_BIN_DIR = release;
  } else {
    console.error("broker-ready: no release sts/entra-emulator in target/release: measuring the debug builds");
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * A browser context's init script (`context.addInitScript(observeLongTasks)`): main-thread long
 * tasks collect in `window.__longTasks` (durations, ms). Long tasks are only reported to an
 * observer registered before they happen, so it runs before any of the page's scripts.
 */
function observeLongTasks() {
  window.__longTasks = [];
  try {
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) window.__longTasks.push(e.duration);
    }).observe({ type: "longtask", buffered: true });
  } catch (e) {
    /* no longtask support */
  }
}

module.exports = { useReleaseBinaries, median, observeLongTasks };
