/*! Tessera broker @@VERSION@@, window.Tessera API v1 (tessera-broker.d.ts) */
// Template for dist/tessera-broker.js: scripts/build-broker.sh (tools/pack.mjs) replaces the
// markers with the wasm-bindgen glue (`--target no-modules`) and the optimised wasm (raw deflate,
// base64), then minifies the whole script (this banner stays). One classic script,
// because Dataverse has no `.wasm` web resource type and loads ribbon libraries as plain scripts.
(function () {
  "use strict";

  // User Timing marks of the start-up steps (script, decoded, instantiated, ready): what the
  // ready-time benchmark (bench/broker-ready) reads, and what a page's own profiler shows.
  var perf = self.performance;
  function mark(step) {
    if (perf && perf.mark) perf.mark("tessera:" + step);
  }
  mark("script");

  // Register on the top window when this frame may touch it (form scripts run in a same-origin
  // iframe, PCF controls in the main document: both reach window.top), else on our own window.
  var host = window;
  try {
    void window.top.document; // throws when cross-origin (or detached)
    host = window.top; // our own window when we are the top
  } catch (e) {
    /* stay on our own window */
  }

  function alias(api) {
    if (host === window) return;
    try {
      if (!window.Tessera) {
        Object.defineProperty(window, "Tessera", { value: api, enumerable: true });
      }
    } catch (e) {
      /* a frame that already has its own Tessera keeps it */
    }
  }

  // Loading the script twice (ribbon + a form library, or two frames) keeps the first instance
  // (its `Tessera` is registered synchronously below, non-configurable); a copy of another
  // version says so, with both versions (two solutions shipping the bundle).
  var running = host.Tessera;
  if (running) {
    if (running.version !== "@@VERSION@@") {
      console.warn("Tessera @@VERSION@@ not started: Tessera " + running.version + " already runs");
    }
    alias(running);
    return;
  }

  // The built-ins the broker uses, taken now (issue 17): the glue below calls these names, which
  // resolve here in the loader's scope, never on the window. A page script that later wraps
  // `fetch` or `Response.prototype.text`, replaces `JSON.parse`, `Reflect` or Web Crypto, or
  // pollutes `Object.prototype` sees no request or answer of the broker and steers no option:
  // `own` reads data (options, JSON) from own properties only, and `fetch` gets prototype-less
  // init and headers objects (`bare`). (Code that ran before this script is trusted like the page.)
  var fnCall = Function.prototype.call;
  var hasOwn = fnCall.bind(Object.prototype.hasOwnProperty);
  var own = function (o, k) {
    return hasOwn(o, k) ? o[k] : undefined;
  };
  var bare = Object.create.bind(Object, null);
  var assign = Object.assign;
  var fetch = self.fetch.bind(self);
  var text = fnCall.bind(Response.prototype.text);
  var JSON = { parse: self.JSON.parse };
  var Reflect = { get: self.Reflect.get, set: self.Reflect.set };
  var BroadcastChannel = self.BroadcastChannel;
  var cryptoApi = self.crypto;
  var subtle = cryptoApi.subtle || {}; // absent outside secure contexts, where configure refuses
  var getRandomValues = fnCall.bind(cryptoApi.getRandomValues, cryptoApi);
  var randomUUID = fnCall.bind(cryptoApi.randomUUID, cryptoApi);
  var digest = fnCall.bind(subtle.digest, subtle);

  /*@@WASM_BINDGEN_GLUE@@*/

  // The wasm, raw-deflated (zopfli) then base64-encoded: base64 of raw wasm compresses badly.
  var encoded = "@@WASM_BASE64@@";

  // The wasm as a streaming `Response`: base64 to bytes here (natively, about a millisecond:
  // `Uint8Array.fromBase64` is in every browser since 2025), then the
  // browser's own inflater feeds its compiler chunk by chunk (`instantiateStreaming`), both off the
  // main thread. No decoder of ours runs on the page's thread (an LZMA decoder in JavaScript took
  // ~37 ms and was a 60+ ms long task at every load: BENCHMARKS.md, "Broker ready time").
  function wasmResponse() {
    var wasm = new Blob([Uint8Array.fromBase64(encoded)]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return new Response(wasm, { headers: { "content-type": "application/wasm" } });
  }

  // `GET {stsUrl}/broker/config`, started by a `configure` call made before the broker runs (the
  // ribbon rule calls it right after this script), so that the round trip overlaps the wasm's
  // compilation. The broker takes it as its own only when its checked `stsUrl` gives the same URL,
  // and otherwise fetches it itself; nothing from this fetch is trusted more than its own would be.
  var prefetched;
  function prefetch(options) {
    var sts = options && own(options, "stsUrl");
    if (prefetched || typeof sts !== "string") return;
    // Not checked here: the broker uses this fetch only if its checked stsUrl gives this URL.
    var url = sts.trim().replace(/\/+$/, "") + "/broker/config";
    // A prototype-less init, as the broker's own: nothing inherited (a polluted `body`, say) counts.
    var init = assign(bare(), { mode: "cors", credentials: "omit", cache: "no-store", signal: AbortSignal.timeout(30000) });
    var reply = fetch(url, init);
    reply.catch(function () {
      /* the broker sees the failure when it uses this fetch; unused, it is of no interest */
    });
    prefetched = [url, reply];
  }

  function announce(api) {
    var targets = host === window ? [host] : [host, window];
    for (var j = 0; j < targets.length; j++) {
      try {
        targets[j].dispatchEvent(new CustomEvent("tessera:ready", { detail: api }));
      } catch (e) {
        /* nothing to do: the ready promise still resolves */
      }
    }
  }

  // The object is registered now, synchronously, so a ribbon rule can call Tessera.configure
  // right after loading this script; calls made before the wasm has started wait for it.
  var broker = null;
  // Started in a microtask, so that loading this script returns at once.
  var started = Promise.resolve()
    .then(wasmResponse)
    .then(function (response) {
      mark("decoded");
      return wasm_bindgen(response);
    })
    .then(function () {
      mark("instantiated");
      broker = new wasm_bindgen.TesseraBroker(window, host, prefetched);
      return broker;
    })
    .catch(function (e) {
      throw invalidRequest("the Tessera broker could not start: " + (e && e.message));
    });

  // A `TokenBrokerError` with code `invalid_request`, made here (the wasm makes its own).
  function invalidRequest(message) {
    return Object.assign(new Error(message), {
      name: "TokenBrokerError",
      code: "invalid_request",
      description: message,
      correlationId: null,
      retryable: false,
      claims: null,
      consentUrl: null
    });
  }

  function call(method) {
    return function (argument) {
      if (broker) return broker[method](argument || {});
      return started.then(function (b) {
        return b[method](argument || {});
      });
    };
  }

  var api;
  var ready = started
    .then(function (b) {
      return b.ready();
    })
    .then(function () {
      mark("ready");
      return api;
    });
  api = Object.freeze({
    version: "@@VERSION@@",
    apiVersion: 1,
    ready: ready,
    configure: function (options) {
      // The Power Apps bundle (the marker is false: pack.mjs without --pages) has no Power Pages
      // mode, compiled out for its size budget: it says which script has (terser drops this
      // check from tessera-broker-pages.js).
      // (`identity` has no other value than "powerPages".)
      if (!@@PAGES@@ && options && own(options, "identity")) {
        return Promise.reject(invalidRequest("configure: powerPages needs tessera-broker-pages.js"));
      }
      if (!broker) prefetch(options);
      return call("configure")(options);
    },
    getToken: call("getToken"),
    // signIn opens its popup synchronously once the wasm runs (always, unless clicked within
    // milliseconds of the page loading).
    signIn: call("signIn"),
    signOut: call("signOut"),
    getAccount: function () {
      return broker ? broker.getAccount() : null;
    },
    getStatus: function () {
      return broker ? broker.getStatus() : "unconfigured";
    },
    onStatusChange: function (callback) {
      if (typeof callback !== "function") throw new TypeError("onStatusChange needs a function");
      if (broker) return broker.onStatusChange(callback);
      var unsubscribe = null;
      var cancelled = false;
      started.then(function (b) {
        if (!cancelled) unsubscribe = b.onStatusChange(callback);
      });
      return function () {
        cancelled = true;
        if (unsubscribe) unsubscribe();
      };
    },
    isTokenBrokerError: function (e) {
      return !!e && e.name === "TokenBrokerError" && typeof e.code === "string";
    }
  });
  // Non-writable, non-configurable: other code on the page cannot swap the functions.
  Object.defineProperty(host, "Tessera", { value: api, enumerable: true });
  alias(api);
  ready.then(announce, function () {
    /* configure failed or the wasm did not start: callers see it on their own promises */
  });
})();
