/*! Tessera browser token broker @@VERSION@@ - window.Tessera, API v1 (see tessera-broker.d.ts) */
// Template for dist/tessera-broker.js: scripts/build-broker.sh replaces the two markers with the
// wasm-bindgen glue (`--target no-modules`) and the optimised wasm as base64. One classic script,
// because Dataverse has no `.wasm` web resource type and loads ribbon libraries as plain scripts.
(function () {
  "use strict";

  // Register on the top window when this frame may touch it (form scripts run in a same-origin
  // iframe, PCF controls in the main document: both reach window.top), else on our own window.
  var host = window;
  try {
    if (window.top && window.top !== window) {
      void window.top.document; // throws when cross-origin
      host = window.top;
    }
  } catch (e) {
    host = window;
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

  // Loading the script twice (ribbon + a form library, or two frames) keeps the first instance.
  var loaded = typeof Symbol === "function" ? Symbol.for("tessera.broker.v1") : "__tessera_broker_v1";
  if (host[loaded]) {
    if (host.Tessera) alias(host.Tessera);
    return;
  }
  Object.defineProperty(host, loaded, { value: true });

  /*@@WASM_BINDGEN_GLUE@@*/

  // The wasm, gzip-compressed then base64-encoded: base64 of raw wasm compresses badly, so the
  // script is ~30% smaller when served gzipped. DecompressionStream is in every current browser.
  var encoded = "@@WASM_BASE64@@";

  function wasmBytes() {
    var text = atob(encoded);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer();
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

  function register(w) {
    var broker = new w.TesseraBroker(host);
    var api;
    var ready = broker.ready().then(function () {
      return api;
    });
    api = Object.freeze({
      version: w.TesseraBroker.version(),
      apiVersion: 1,
      ready: ready,
      configure: function (options) {
        return broker.configure(options || {});
      },
      getToken: function (request) {
        return broker.getToken(request || {});
      },
      signIn: function (options) {
        return broker.signIn(options || {});
      },
      signOut: function () {
        return broker.signOut();
      },
      getAccount: function () {
        return broker.getAccount();
      },
      getStatus: function () {
        return broker.getStatus();
      },
      onStatusChange: function (callback) {
        if (typeof callback !== "function") throw new TypeError("onStatusChange needs a function");
        return broker.onStatusChange(callback);
      },
      isTokenBrokerError: function (e) {
        return !!e && e.name === "TokenBrokerError" && typeof e.code === "string";
      }
    });
    // Non-writable, non-configurable: other code on the page cannot swap the functions.
    Object.defineProperty(host, "Tessera", { value: api, enumerable: true });
    alias(api);
    ready.then(announce);
  }

  wasmBytes()
    .then(function (bytes) {
      return wasm_bindgen({ module_or_path: bytes });
    })
    .then(function () {
      register(wasm_bindgen);
    });
})();
