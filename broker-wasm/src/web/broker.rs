//! The one broker instance of the page: its state, configuration, status listeners and session.
//!
//! Single-threaded (the page's event loop): state lives in a `RefCell` and no borrow is ever held
//! across an `.await` or a call into page code (listeners may call back into the broker).

use super::prelude::*;

use core::cell::{Ref, RefMut};

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::Window;

use super::{http, js};
use crate::cache::TokenCache;
use crate::config::{Backend, BrokerConfig, Options, RawOptions, Workload, XrmContext};
use crate::errors::{BrokerError, ErrorCode};
use crate::secret::AccessToken;
use crate::session::{Account, Session, Status};
use crate::vecmap::VecMap;

/// Configuration once `configure` has succeeded: the page's options plus the STS's config.
#[derive(Debug)]
pub struct Setup {
    /// Checked page options.
    pub options: Options,
    /// The STS's broker config.
    pub config: BrokerConfig,
}

/// A backend token as cached.
#[derive(Debug, Clone)]
pub struct BackendToken {
    /// The token.
    pub token: AccessToken,
    /// `Bearer`.
    pub token_type: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Correlation id of the STS call that produced it.
    pub correlation_id: String,
}

/// The sign-in in progress, which every caller needing one joins.
#[derive(Debug)]
pub struct Interaction {
    /// Tells this interaction from a later one.
    pub id: u32,
    /// The claims it asks for (`None`: plain sign-in).
    pub claims: Option<String>,
    /// Its popup, to focus when someone else asks to sign in.
    pub popup: Window,
    /// Settles when it ends.
    pub promise: Promise,
}

/// Everything that changes.
#[derive(Debug, Default)]
pub struct State {
    pub setup: Option<Rc<Setup>>,
    /// The first `configure` call's options and promise (until it fails).
    pub configuring: Option<(RawOptions, Promise)>,
    pub status: Option<Status>,
    pub session: Option<Session>,
    /// Bumped by sign-out and by every new sign-in: work started under an older epoch does not
    /// write its results back.
    pub epoch: u32,
    /// User tokens (aud = a workload's client app), by workload name.
    pub user_tokens: TokenCache<AccessToken>,
    /// Backend tokens, by `cache::backend_key`.
    pub backend_tokens: TokenCache<BackendToken>,
    /// Promises of `getToken` calls in flight, by `TokenRequest::dedup_key`.
    pub in_flight: VecMap<Promise>,
    /// The attempt in flight per backend cache key, shared by non-identical calls for the same
    /// token (it resolves with the result, or `undefined` when it failed).
    pub exchanges: VecMap<Promise>,
    pub interaction: Option<Interaction>,
    /// Tail of the queue of refresh-token redemptions (one at a time: each rotates the token).
    pub refresh_tail: Option<(u32, Promise)>,
    /// Claims challenges not yet satisfied, by workload: the token that caused one is never sent
    /// to the STS again.
    pub challenges: VecMap<String>,
    pub next_id: u32,
    /// Sign-outs so far: work started before one stores no session, opens no popup and clears
    /// no newer work. (The loader rejects the calls in flight with `user_signed_out`.)
    pub signouts: u32,
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The loader's `statusChanged(status, account)`: calls the `onStatusChange` listeners (each
    /// in its own `try`, so a throwing one stops neither the others nor the broker).
    #[wasm_bindgen(js_name = statusChanged)]
    fn status_changed(status: &str, account: &JsValue);
}

/// The rejection of calls in flight at sign-out, and of a sign-in that completes after it.
pub fn signed_out() -> BrokerError {
    BrokerError::new(ErrorCode::UserSignedOut, "the user signed out while this call was in flight")
}

/// The broker.
#[derive(Debug)]
pub struct Broker {
    /// The window this wasm runs in: fetch, crypto, timers.
    pub win: Window,
    /// Where `Tessera` is registered (`window.top` when same-origin reachable): popups are opened
    /// from it, because that is the window a click anywhere on the page activates.
    pub host: Window,
    pub state: RefCell<State>,
    ready: Promise,
    ready_resolve: Function,
}

impl Broker {
    /// A fresh, unconfigured broker.
    pub fn new(win: Window, host: Window) -> Rc<Self> {
        let (ready, ready_resolve) = js::deferred();
        Rc::new(Self { win, host, state: RefCell::new(State::default()), ready, ready_resolve })
    }

    /// The state, for reading. `try_borrow` plus a trap rather than `borrow`: `borrow` embeds a
    /// panic location (file name, line) at every call site, and a double borrow is a bug that
    /// traps either way.
    #[inline(never)]
    pub fn st(&self) -> Ref<'_, State> {
        self.state.try_borrow().unwrap_or_else(|_| core::arch::wasm32::unreachable())
    }

    /// The state, for writing (see [`Broker::st`]).
    #[inline(never)]
    pub fn st_mut(&self) -> RefMut<'_, State> {
        self.state.try_borrow_mut().unwrap_or_else(|_| core::arch::wasm32::unreachable())
    }

    /// Resolves once `configure` has accepted its options: from then on every call works, and
    /// those that need the STS's `/broker/config` wait for it in [`Broker::setup`]. Not later: that
    /// answer crosses the page's busy main thread in three tasks (headers, body, text), 40–60 ms
    /// after the script started in a cold load, while everything else is ready in about 10
    /// (BENCHMARKS.md, "Broker ready time"); a control needs no network to register its handlers,
    /// as msal-browser's `initialize()` reads no metadata either.
    pub fn ready(&self) -> Promise {
        self.ready.clone()
    }

    /// A fresh id (listeners, interactions, queue entries).
    pub fn next_id(&self) -> u32 {
        let mut st = self.st_mut();
        st.next_id = st.next_id.wrapping_add(1);
        st.next_id
    }

    /// The setup: calls made before `configure` wait for it to accept its options, then for its
    /// `/broker/config`, and fail with that fetch's error when it failed (a later `configure`
    /// tries again).
    pub async fn setup(&self) -> Result<Rc<Setup>, BrokerError> {
        if let Some(s) = self.st().setup.clone() {
            return Ok(s);
        }
        let _ = JsFuture::from(self.ready()).await;
        let configuring = self.st().configuring.as_ref().map(|(_, p)| p.clone());
        if let Some(p) = configuring {
            JsFuture::from(p).await.map_err(|e| js::error_from_js(&e))?;
        }
        self.st().setup.clone().ok_or_else(|| BrokerError::new(ErrorCode::InvalidRequest, "Tessera is not configured"))
    }

    /// The signed-in account as a JS object, or `null`.
    pub fn account_js(&self) -> JsValue {
        match &self.st().session {
            Some(s) => account_to_js(&s.account),
            None => JsValue::NULL,
        }
    }

    /// Recomputes the status and tells the page's listeners (the loader keeps them) if it changed.
    pub fn refresh_status(&self) {
        let (changed, status) = {
            let mut st = self.st_mut();
            // Configured from the moment `configure` accepted its options until it failed.
            let status = if st.configuring.is_none() {
                Status::Unconfigured
            } else if st.interaction.is_some() {
                Status::SigningIn
            } else if st.session.is_some() {
                Status::SignedIn
            } else {
                Status::SignedOut
            };
            let changed = st.status != Some(status);
            st.status = Some(status);
            (changed, status)
        };
        if changed {
            status_changed(status.as_str(), &self.account_js());
        }
    }

    /// Stores a new or rotated session (in memory only, never in storage).
    pub fn store_session(&self, session: Session) {
        self.st_mut().session = Some(session);
    }

    /// Forgets the session, every cached token and every pending challenge, and closes a sign-in
    /// popup (whose sign-in then stores nothing). The loader rejects the calls in flight with
    /// `user_signed_out` and tells the origin's other tabs, which do the same.
    pub fn sign_out(&self) {
        let interaction = {
            let mut st = self.st_mut();
            st.session = None;
            st.epoch = st.epoch.wrapping_add(1);
            st.signouts = st.signouts.wrapping_add(1);
            st.user_tokens.clear();
            st.backend_tokens.clear();
            st.challenges.clear();
            st.in_flight.clear();
            st.exchanges.clear();
            st.interaction.take()
        };
        if let Some(i) = interaction {
            super::popup::close(&i.popup);
        }
        self.refresh_status();
    }

    #[cfg(feature = "power-pages")]
    /// Resolves `ready` (Power Pages mode, which reads no `/broker/config`).
    pub fn resolve_ready(&self) {
        let _ = self.ready_resolve.call0(&JsValue::UNDEFINED);
    }

    /// `configure`: checks the options (then `ready` resolves), fetches `/broker/config`. Boxed:
    /// see [`super::Fut`].
    pub fn configure(self: Rc<Self>, raw: RawOptions) -> super::Fut<'static, Result<(), BrokerError>> {
        Box::pin(async move {
            if js::prop(&self.win, "isSecureContext").as_bool() != Some(true) {
                return Err(BrokerError::new(ErrorCode::InvalidRequest, "Tessera needs a secure context (https)"));
            }
            let origin = js::origin(&self.host);
            let options = raw.validate(&origin, &self.xrm_context())?;
            let _ = self.ready_resolve.call0(&JsValue::UNDEFINED);
            self.refresh_status();
            let url = crate::text::cat(&[&options.sts_url, "/broker/config"]);
            let reply = http::send(&url, None, None).await?;
            if reply.status != 200 {
                let d = crate::text::cat(&["GET /broker/config answered HTTP ", &js::number(reply.status)]);
                return Err(BrokerError::new(ErrorCode::StsError, d).retryable(reply.status >= 500));
            }
            let config = config_from_js(&reply.json()).validated(options.authority.as_deref())?;
            let setup = Setup { options, config };
            super::relay::open(&setup);
            self.st_mut().setup = Some(Rc::new(setup));
            Ok(())
        })
    }

    /// Tenant and user from `Xrm.Utility.getGlobalContext()`, looked up in this window and then in
    /// the host window (model-driven apps define `Xrm` in both; a plain page in neither).
    fn xrm_context(&self) -> XrmContext {
        for w in [&self.win, &self.host] {
            let utility = js::prop(&js::prop(w.as_ref(), "Xrm"), "Utility");
            let Ok(get_ctx) = wasm_bindgen::JsCast::dyn_into::<Function>(js::prop(&utility, "getGlobalContext")) else {
                continue;
            };
            let Ok(ctx) = get_ctx.call0(&utility) else {
                continue;
            };
            return XrmContext {
                tenant_id: js::prop(&js::prop(&ctx, "organizationSettings"), "tenantId").as_string(),
                user_name: js::prop(&js::prop(&ctx, "userSettings"), "userName").as_string(),
            };
        }
        XrmContext::default()
    }
}

/// `{ username, name, tenantId, objectId }`, frozen.
pub fn account_to_js(a: &Account) -> JsValue {
    let o = js::object();
    js::set_str(&o, "username", Some(&a.username));
    js::set_str(&o, "name", a.name.as_deref());
    js::set_str(&o, "tenantId", a.tenant_id.as_deref());
    js::set_str(&o, "objectId", a.object_id.as_deref());
    js_sys::Object::freeze(&o).into()
}

/// Reads the STS's `/broker/config` JSON (checked afterwards by `BrokerConfig::validated`).
fn config_from_js(v: &JsValue) -> BrokerConfig {
    BrokerConfig {
        broker_app_id: js::get_str(v, "broker_app_id").unwrap_or_default(),
        authority: js::get_str(v, "authority").unwrap_or_default(),
        workloads: js::get_items(v, "workloads")
            .iter()
            .map(|w| Workload {
                name: js::get_str(w, "name").unwrap_or_default(),
                client_app_id: js::get_str(w, "client_app_id").unwrap_or_default(),
                user_scope: js::get_str(w, "user_scope").unwrap_or_default(),
                backends: js::get_items(w, "backends")
                    .iter()
                    .map(|b| Backend {
                        resource: js::get_str(b, "resource").unwrap_or_default(),
                        scopes: js::get_strs(b, "scopes"),
                    })
                    .collect(),
            })
            .collect(),
    }
}
