//! Browser glue: the `TesseraBroker` class the loader (`js/loader.js`) instantiates once and wraps
//! into the frozen `window.Tessera` object. Every method is synchronous up to its first `await`,
//! which `signIn` relies on to open its popup inside the user's click.

// The Power Pages-only bundle (no `entra` feature) links none of the Entra sign-in: its entry
// points return before reaching it, and the unreachable rest is left to the linker (the Power Apps
// build's code is then exactly what it was).
#![cfg_attr(not(feature = "entra"), allow(dead_code, unused_imports, unused_variables, unreachable_code))]

mod broker;
mod crypto;
mod http;
mod js;
mod popup;
#[cfg(feature = "power-pages")]
mod portal;
mod relay;
mod signin;
mod tokens;

/// What `std`'s prelude would give; the browser build is `no_std`.
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::rc::Rc;
    pub use alloc::string::String;
    pub use alloc::vec::Vec;
    pub use core::cell::RefCell;
}

use prelude::*;

use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::future_to_promise;
use web_sys::Window;

use crate::config::RawOptions;
use crate::errors::{BrokerError, ErrorCode};
use crate::request::RawTokenRequest;
use broker::Broker;

/// `no_std` must name an allocator. lol_alloc's free list is ~1 KB of wasm against dlmalloc's ~6 KB
/// (what `std` uses); the broker makes few, small, short-lived allocations, so a first-fit free
/// list is plenty. The lock is a no-op spin on the page's single thread (the lock-free variant
/// needs `unsafe`, which the workspace forbids).
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// A panic is a bug; trapping ends the wasm call with a JS `RuntimeError`, without the ~15 KB of
/// message formatting `std` would link.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// A boxed future. The broker's larger async steps return these instead of `impl Future`, so each
/// state machine exists once rather than inlined into every caller.
pub(crate) type Fut<'a, T> = core::pin::Pin<Box<dyn Future<Output = T> + 'a>>;

fn reject(e: &BrokerError) -> Promise {
    Promise::reject(&js::error_to_js(e))
}

/// Runs a broker future as a JS promise rejecting with `TokenBrokerError`s.
fn spawn(f: Fut<'static, Result<JsValue, BrokerError>>) -> Promise {
    future_to_promise(async move { f.await.map_err(|e| js::error_to_js(&e)) })
}

fn opt_str(v: &JsValue, key: &str) -> Option<String> {
    js::get_str(v, key).filter(|s| !s.trim().is_empty())
}

/// The broker instance behind `window.Tessera`; the loader creates exactly one per page.
#[wasm_bindgen(js_name = TesseraBroker)]
#[derive(Debug)]
pub struct TesseraBroker {
    inner: Rc<Broker>,
    #[cfg(feature = "power-pages")]
    /// Set by `configure({ identity: "powerPages", … })`: then `getToken` is the portal's.
    portal: RefCell<Option<Rc<portal::PortalBroker>>>,
}

#[wasm_bindgen(js_class = TesseraBroker)]
impl TesseraBroker {
    /// A broker registered on `host` (the window `Tessera` lives on): popups open from it.
    /// `win` is the loader's own `window` (passed in: `js_sys::global()` is four imports that
    /// probe `globalThis`, `self`, `window` and `global`).
    #[wasm_bindgen(constructor)]
    pub fn new(win: Window, host: Window) -> TesseraBroker {
        let inner = Broker::new(win, host);
        TesseraBroker {
            inner,
            #[cfg(feature = "power-pages")]
            portal: RefCell::new(None),
        }
    }

    /// The `ready` promise: resolves once `configure` has accepted its options.
    pub fn ready(&self) -> Promise {
        self.inner.ready()
    }

    /// `configure({ stsUrl, redirectUri, tenantId?, loginHint?, authority? })` (`persistence` only as `"memory"`). Idempotent:
    /// later calls with the same options get the first call's promise (ribbon enable rules run
    /// many times); other options reject with `invalid_request`.
    pub fn configure(&self, options: JsValue) -> Promise {
        let b = &self.inner;
        #[cfg(feature = "power-pages")]
        if opt_str(&options, "identity").as_deref() == Some("powerPages") {
            if let Some((_, p)) = &b.st().configuring {
                return p.clone();
            }
            return self.configure_power_pages(&options);
        }
        #[cfg(not(feature = "entra"))]
        return reject(&BrokerError::new(
            ErrorCode::InvalidRequest,
            "configure: only identity powerPages here; Entra sign-in: tessera-broker.js",
        ));
        let raw = RawOptions {
            sts_url: opt_str(&options, "stsUrl"),
            redirect_uri: opt_str(&options, "redirectUri"),
            tenant_id: opt_str(&options, "tenantId"),
            login_hint: opt_str(&options, "loginHint"),
            persistence: opt_str(&options, "persistence"),
            authority: opt_str(&options, "authority"),
        };
        // Idempotent for the same options; other options are a mistake (two scripts configuring
        // differently), not silently ignored.
        if let Some((first, p)) = &b.st().configuring {
            if *first == raw {
                return p.clone();
            }
            return reject(&BrokerError::new(
                ErrorCode::InvalidRequest,
                "Tessera.configure: already configured with other options",
            ));
        }
        let first = raw.clone();
        let promise = spawn(Box::pin({
            let b = b.clone();
            async move {
                let result = b.clone().configure(raw).await;
                if result.is_err() {
                    // Let a later call try again (e.g. the STS was briefly unreachable).
                    b.st_mut().configuring = None;
                    b.refresh_status();
                }
                result.map(|()| JsValue::UNDEFINED)
            }
        }));
        b.st_mut().configuring = Some((first, promise.clone()));
        promise
    }

    /// `getToken({ workload, scopes, claims?, forceRefresh?, interactive? })`.
    #[wasm_bindgen(js_name = getToken)]
    pub fn get_token(&self, request: JsValue) -> Promise {
        let b = &self.inner;
        let raw = RawTokenRequest {
            workload: js::get_str(&request, "workload"),
            scopes: js::get_strs(&request, "scopes"),
            claims: js::get_str(&request, "claims"),
            force_refresh: js::get_bool(&request, "forceRefresh"),
            interactive: js::get_str(&request, "interactive"),
        };
        let req = match raw.validate() {
            Ok(r) => r,
            Err(e) => return reject(&e),
        };
        #[cfg(feature = "power-pages")]
        if let Some(p) = self.portal.borrow().clone() {
            return spawn(Box::pin(async move { p.get_token(req).await }));
        }
        #[cfg(not(feature = "entra"))]
        return reject(&BrokerError::new(
            ErrorCode::InvalidRequest,
            "getToken: configure({ identity: \"powerPages\" }) first",
        ));
        let key = req.dedup_key();
        if let Some(p) = b.st().in_flight.get(&key) {
            return p.clone();
        }
        let signouts = b.st().signouts;
        let work = spawn(Box::pin({
            let b = b.clone();
            let key = key.clone();
            async move {
                let result = tokens::get_token(b.clone(), req).await;
                // After a sign-out the entry (if any) is a newer call's.
                let mut st = b.st_mut();
                if st.signouts == signouts {
                    st.in_flight.remove(&key);
                }
                result
            }
        }));
        b.st_mut().in_flight.insert(key, work.clone());
        work
    }

    #[cfg(feature = "power-pages")]
    /// Power Pages mode (`web/portal.rs`): no Entra sign-in, the site's own token for its contact.
    fn configure_power_pages(&self, options: &JsValue) -> Promise {
        let made = portal::PortalBroker::new(
            self.inner.win.clone(),
            opt_str(options, "stsUrl"),
            opt_str(options, "clientId"),
            opt_str(options, "sitePath"),
        );
        match made {
            Ok(p) => {
                *self.portal.borrow_mut() = Some(Rc::new(p));
                self.inner.resolve_ready();
                let done = Promise::resolve(&JsValue::UNDEFINED);
                self.inner.st_mut().configuring = Some((RawOptions::default(), done.clone()));
                done
            }
            Err(e) => reject(&e),
        }
    }

    /// `signIn({ prompt?, loginHint? })` → the account. Opens the popup synchronously, except
    /// when a user is signed in already and no `prompt` asks for a page (`select_account` to
    /// switch, `login`, `consent`): then it resolves with that account, without a popup.
    #[wasm_bindgen(js_name = signIn)]
    pub fn sign_in(&self, options: JsValue) -> Promise {
        #[cfg(not(feature = "entra"))]
        return reject(&BrokerError::new(ErrorCode::InvalidRequest, "signIn: Entra sign-in is in tessera-broker.js"));
        let params = signin::SignInParams {
            prompt: opt_str(&options, "prompt"),
            login_hint: opt_str(&options, "loginHint"),
            ..Default::default()
        };
        if params.prompt.is_none() && self.inner.st().session.is_some() {
            return Promise::resolve(&self.inner.account_js());
        }
        match signin::sign_in_now(&self.inner, params) {
            Ok(p) => {
                let b = self.inner.clone();
                spawn(Box::pin(async move {
                    wasm_bindgen_futures::JsFuture::from(p).await.map_err(|e| js::error_from_js(&e))?;
                    Ok(b.account_js())
                }))
            }
            Err(e) => reject(&e),
        }
    }

    /// `signOut()`: forgets the session and every cached token in this page (the loader rejects
    /// the calls in flight with `user_signed_out` and tells the origin's other tabs).
    #[wasm_bindgen(js_name = signOut)]
    pub fn sign_out(&self) -> Promise {
        self.inner.sign_out();
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// For the loader's relay: another tab asks for a user token for `workload`. A promise of the
    /// token when this tab holds the session, else `undefined` (this tab stays silent).
    #[wasm_bindgen(js_name = relayGive)]
    pub fn relay_give(&self, workload: JsValue) -> JsValue {
        #[cfg(not(feature = "entra"))]
        return JsValue::UNDEFINED;
        match relay::give(&self.inner, workload.as_string()) {
            Some(f) => spawn(f).into(),
            None => JsValue::UNDEFINED,
        }
    }
}
