//! The wasm's side of the relay between the origin's tabs (rules: `crate::relay`; the channel and
//! its timers: `js/loader.js`, "relay"): opening it, answering with a user token, keeping one.

use super::prelude::*;

use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;

use super::broker::{Broker, Setup};
use super::{js, signin, tokens};
use crate::cache::Entry;
use crate::config::Workload;
use crate::errors::BrokerError;
use crate::relay;
use crate::secret::AccessToken;
use crate::session::Session;

#[wasm_bindgen]
extern "C" {
    /// The loader's `relayOpen(name, user)`: joins the channel as the Dynamics user `user`.
    #[wasm_bindgen(js_name = relayOpen)]
    fn relay_open(name: &str, user: &str);
    /// The loader's `relayAsk(workload)`: resolves with the first answer (`{ t }`, or one without
    /// `t`), or with `undefined` when no tab holding the session answered in time.
    #[wasm_bindgen(js_name = relayAsk)]
    fn relay_ask(workload: &str) -> Promise;
}

/// Joins the origin's channel for this configuration.
pub fn open(setup: &Setup) {
    relay_open(&relay::channel_name(&setup.options.tenant, &setup.config.broker_app_id), &setup.options.user);
}

/// For another tab's ask: a user token for `workload`, when this tab holds the session (a
/// refresh token), else `None` and this tab stays silent. Only the token: its claims name the
/// account and its expiry.
pub fn give(b: &Rc<Broker>, workload: Option<String>) -> Option<super::Fut<'static, Result<JsValue, BrokerError>>> {
    let setup = b.st().setup.clone()?;
    let holds = b.st().session.as_ref().is_some_and(|s| s.can_refresh(tokens::now()));
    let name = workload.filter(|w| holds && setup.config.workload(w).is_some())?;
    let b = b.clone();
    Some(Box::pin(async move {
        let Some(workload) = setup.config.workload(&name) else { return Ok(JsValue::UNDEFINED) };
        let token = tokens::user_token_silent(&b, &setup, workload, false).await?;
        Ok(JsValue::from_str(token.expose()))
    }))
}

/// Asks the other tabs for a user token for `workload`; `Some` when a tab holding the session
/// gave one, which is then cached here until its `exp`, and the account its claims name becomes
/// this tab's (without a refresh token). Runs inside the refresh queue
/// (`tokens::user_token_silent`): one ask at a time. The token is not verified here: the STS
/// verifies every subject token it is sent.
pub fn ask<'a>(b: &'a Rc<Broker>, workload: &'a Workload) -> super::Fut<'a, Option<AccessToken>> {
    Box::pin(async move {
        let signouts = b.st().signouts;
        let data = JsFuture::from(relay_ask(&workload.name)).await.ok()?;
        let now = tokens::now();
        let token = js::get_str(&data, "t")?;
        let claims = signin::payload(&token);
        let expires_at = relay::plausible_expiry(js::get_num(&claims, "exp").map(|s| s * 1000.0), now)?;
        let token = AccessToken::new(token);
        {
            let mut st = b.st_mut();
            // Signed out while asking: nothing of the old session is taken.
            if st.signouts != signouts {
                return None;
            }
            if st.session.is_none() {
                st.session =
                    Some(Session { refresh_token: None, refresh_expires_at: 0, account: signin::account_of(&claims) });
            }
            st.user_tokens.insert(
                workload.name.clone(),
                Entry { value: token.clone(), issued_at: now, expires_at },
                now,
            );
        }
        b.refresh_status();
        Some(token)
    })
}
