// The fixture every browser test file shares: the stack (emulator, STS, page server) and one
// headless Chromium, started before the file's tests and stopped after them.
"use strict";

const { before, after } = require("node:test");
const { startStack } = require("./stack");
const { launch } = require("./browser");

/**
 * Registers the file's `before`/`after` hooks and returns `{ stack, browser }`, filled in once
 * `before` has run (read them inside tests and helpers, not at module load). `stack` options go
 * to `startStack`, `browser` options to `launch`.
 */
function useStackAndBrowser({ stack: stackOptions, browser: browserOptions } = {}) {
  const env = { stack: null, browser: null };
  before(async () => {
    env.stack = await startStack(stackOptions);
    env.browser = await launch(browserOptions);
  });
  after(async () => {
    if (env.browser) await env.browser.close();
    if (env.stack) await env.stack.stop();
  });
  return env;
}

module.exports = { useStackAndBrowser };
