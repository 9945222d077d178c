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

  // The relay: one sign-in for the origin's tabs, in memory only (issue 17; the rules are in
  // src/relay.rs). The wasm opens the channel at configure (`relayOpen`, with the Dynamics user
  // every message carries and every tab checks) and, holding no refresh token, asks through it
  // before it would need a popup (`relayAsk`): a tab holding the session says `have` at once, then
  // `give`s a user token for the workload (`broker.relayGive`) — never the refresh token. A
  // `signOut` here is an `out` there. Here rather than in the wasm: a third of the bytes.
  var relay = null; // [channel, user]
  var asks = {}; // ask id -> what an answer to it does
  function post(kind, id, more) {
    relay[0].postMessage(assign({ k: kind, i: id, u: relay[1] }, more));
  }
  function relayOpen(name, user) {
    var channel = new BroadcastChannel(name);
    relay = [channel, user];
    channel.onmessage = function (e) {
      var m = e.data;
      if (!m || typeof m !== "object" || own(m, "u") !== user) return;
      var kind = own(m, "k");
      var id = own(m, "i");
      var giving;
      if (kind === "ask") {
        giving = broker && broker.relayGive(own(m, "w"));
        if (giving) {
          post("have", id);
          giving.then(
            function (token) {
              post("give", id, { t: token });
            },
            function () {
              post("give", id);
            }
          );
        }
      } else if (kind === "out") {
        signedOut();
      } else if (hasOwn(asks, id)) {
        asks[id](m);
      }
    };
  }
  // Resolves with the first `give` (`{ t }`, or without `t`), or `undefined` when no tab said
  // `have` within 300 ms (a lone tab goes on to its popup at once) or gave nothing within 35 s of
  // its `have` (one refresh-token redemption, which fetch bounds at 30 s).
  function relayAsk(workload) {
    return new Promise(function (resolve) {
      if (!relay) return resolve();
      var id = randomUUID();
      var timer;
      function done(m) {
        clearTimeout(timer);
        delete asks[id];
        resolve(m);
      }
      function wait(ms) {
        clearTimeout(timer);
        timer = setTimeout(done, ms);
      }
      asks[id] = function (m) {
        if (own(m, "k") === "have") wait(35000);
        else done(m);
      };
      wait(300);
      post("ask", id, { w: workload });
    });
  }

  // The status and account as the wasm last reported them (every change of account passes
  // through a change of status: a sign-in is `signingIn` until it ends), and the `onStatusChange`
  // listeners it reports them to.
  var current = ["unconfigured", null];
  var listeners = new Set();
  function statusChanged(status, account) {
    current = [status, account];
    listeners.forEach(function (listener) {
      try {
        listener(status, account);
      } catch (e) {
        /* a throwing listener stops neither the others nor the broker */
      }
    });
  }

  // One request for the wasm (src/web/http.rs): CORS without cookies — or, for a path (Power
  // Pages' token endpoint, in that bundle only), the page's own site with its session cookie — no
  // HTTP cache, the browser's own 30 s timeout, a prototype-less init and headers. Resolves with
  // [status, body text, headers], rejects with "timeout" (`AbortSignal.timeout`'s) or "network"
  // (anything else: an unreachable host, a CORS refusal, an invalid URL).
  function send(url, form, correlationId) {
    var site = @@PAGES@@ && url[0] === "/";
    var headers = bare();
    var init = assign(bare(), {
      mode: site ? "same-origin" : "cors",
      credentials: site ? "same-origin" : "omit",
      cache: "no-store",
      headers: headers,
      signal: AbortSignal.timeout(30000)
    });
    if (form != null) {
      init.method = "POST";
      init.body = form;
      headers["content-type"] = "application/x-www-form-urlencoded";
    }
    if (correlationId != null) headers["x-correlation-id"] = correlationId;
    return fetch(url, init)
      .then(function (response) {
        return text(response).then(function (body) {
          return [response.status, body, response.headers];
        });
      })
      .catch(function (e) {
        throw e && e.name === "TimeoutError" ? "timeout" : "network";
      });
  }

  // The sign-in popup's answer (src/web/signin.rs opens the popup and checks the answer): resolves
  // with the redirect page's parameters (`#…` or `?…`) that carry `state` — from its
  // BroadcastChannel message, or its `postMessage` to the opener from our own origin — and rejects
  // with "user_cancelled" once the popup has stayed closed for three polls (the page closes itself
  // right after posting, so its message may arrive just after `closed` flips) or "timeout" after
  // 10 minutes. Closes the popup either way. Here rather than in the wasm: a third of the bytes.
  function popupWait(popup, state) {
    return new Promise(function (resolve, reject) {
      var channel = new BroadcastChannel("tessera-broker-v1");
      var closedPolls = 0;
      var poll = setInterval(function () {
        if (popup.closed && ++closedPolls > 2) end(reject, "user_cancelled");
      }, 250);
      var timer = setTimeout(end, 600000, reject, "timeout");
      function end(settle, value) {
        channel.close();
        host.removeEventListener("message", onMessage);
        clearInterval(poll);
        clearTimeout(timer);
        popup.close();
        settle(value);
      }
      function take(data) {
        if (data && own(data, "type") === "tessera:auth-response") {
          ["hash", "search"].forEach(function (key) {
            var params = own(data, key);
            if (typeof params === "string" && new URLSearchParams(params.slice(1)).get("state") === state) end(resolve, params);
          });
        }
      }
      function onMessage(e) {
        if (e.origin === host.location.origin) take(e.data);
      }
      channel.onmessage = function (e) {
        take(e.data);
      };
      host.addEventListener("message", onMessage);
    });
  }

  /*@@WASM_BINDGEN_GLUE@@*/

  // The wasm, raw-deflated (zopfli) then base64-encoded: base64 of raw wasm compresses badly.
  var encoded = "@@WASM_BASE64@@";

  // The wasm as a streaming `Response`: base64 to bytes here (natively, about a millisecond:
  // `Uint8Array.fromBase64` is in every browser since 2025), then the browser's own inflater feeds
  // its compiler chunk by chunk (`instantiateStreaming`; V8 compiles functions lazily, at their
  // first call, so compiling is validating, on its worker threads). No decoder of ours runs on the
  // page's thread (an LZMA decoder in JavaScript took ~37 ms and was a 60+ ms long task at every
  // load). The bytes go in as a `Response` body, not a `Blob`'s stream: a Blob is registered with
  // the browser process (a synchronous IPC of the bytes) and read back through a data pipe whose
  // end arrives as a task queued behind the page's parsing and painting — in a trace, every byte
  // was compiled 11 ms after the script started but instantiation waited for that end until 99 ms.
  // A body in memory inflates, compiles and instantiates within the microtasks that follow this
  // script (instantiate 4–6 ms instead of 21–26 ms, median; BENCHMARKS.md, "Broker ready time").
  function wasmResponse() {
    var wasm = new Response(Uint8Array.fromBase64(encoded)).body.pipeThrough(new DecompressionStream("deflate-raw"));
    return new Response(wasm, { headers: { "content-type": "application/wasm" } });
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
      broker = new wasm_bindgen.TesseraBroker(window, host);
      return broker;
    })
    .catch(function (e) {
      throw invalidRequest("the Tessera broker could not start: " + (e && e.message));
    });

  // A `TokenBrokerError` made here (the wasm makes its own): `invalid_request` unless named.
  function invalidRequest(message, code) {
    return Object.assign(new Error(message), {
      name: "TokenBrokerError",
      code: code || "invalid_request",
      description: message,
      correlationId: null,
      retryable: false,
      claims: null,
      consentUrl: null
    });
  }

  // Every promise the API hands out is settled here as well as by the wasm, so that two events
  // the wasm cannot answer still settle it:
  // - sign-out (here, or an `out` from another tab): calls in flight reject with
  //   `user_signed_out` (the wasm lets them run on but keeps nothing they get);
  // - loaded in a frame (a form script's iframe) but registered on the top window, the frame goes
  //   away: its wasm and event loop go with it and its promises would never settle. So callers get
  //   promises of the host window's own realm, which the frame's `pagehide` rejects with
  //   `broker_unloaded` (and every later call at once).
  var gone = null;
  var pending = new Map(); // reject -> whether sign-out rejects it too (getToken, signIn)
  function guard(promise, cancellable) {
    return new host.Promise(function (resolve, reject) {
      if (gone) return reject(gone);
      pending.set(reject, cancellable);
      promise.then(resolve, reject).finally(function () {
        pending.delete(reject);
      });
    });
  }
  function rejectAll(code, message) {
    var error = invalidRequest(message, code);
    pending.forEach(function (cancellable, reject) {
      if (cancellable || code !== "user_signed_out") reject(error);
    });
    return error;
  }
  function signedOut() {
    if (broker) broker.signOut();
    rejectAll("user_signed_out", "the user signed out while this call was in flight");
  }
  if (host !== window) {
    window.addEventListener("pagehide", function () {
      gone = rejectAll("broker_unloaded", "the frame that loaded tessera-broker.js was removed");
    });
  }

  function call(method, cancellable) {
    return function (argument) {
      if (gone) return guard();
      if (broker) return guard(broker[method](argument || {}), cancellable);
      return guard(
        started.then(function (b) {
          return b[method](argument || {});
        }),
        cancellable
      );
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
    ready: guard(ready),
    configure: function (options) {
      // The Power Apps bundle (the marker is false: pack.mjs without --pages) has no Power Pages
      // mode, compiled out for its size budget: it says which script has (terser drops this
      // check from tessera-broker-pages.js).
      // (`identity` has no other value than "powerPages".)
      if (!@@PAGES@@ && options && own(options, "identity")) {
        return Promise.reject(invalidRequest("configure: powerPages needs tessera-broker-pages.js"));
      }
      return call("configure")(options);
    },
    getToken: call("getToken", true),
    // signIn opens its popup synchronously once the wasm runs (always, unless clicked within
    // milliseconds of the page loading).
    signIn: call("signIn", true),
    signOut: function () {
      signedOut();
      if (relay) post("out", "");
      return host.Promise.resolve();
    },
    getAccount: function () {
      return current[1];
    },
    getStatus: function () {
      return current[0];
    },
    onStatusChange: function (callback) {
      if (typeof callback !== "function") throw new TypeError("onStatusChange needs a function");
      var listener = function (status, account) {
        callback(status, account);
      };
      listeners.add(listener);
      return function () {
        listeners.delete(listener);
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
