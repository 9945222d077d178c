//! Interactive sign-in: one popup at a time, joined by everyone who needs it.
//!
//! `signIn()` opens its popup synchronously (it runs inside the click handler); `getToken` with
//! `interactive: "ifRequired"` opens one only once it knows it must, which browsers still allow
//! within a few seconds of the click. Either way, a caller that finds a sign-in already running
//! waits for it instead of failing with "interaction in progress" (msal-browser's behaviour).

use super::prelude::*;

use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::Window;

use super::broker::{Broker, Interaction, Setup};
use super::{crypto, http, js, popup, tokens};
use crate::authorize::{self, AuthResponse, AuthorizeRequest};
use crate::cache::{self, Entry};
use crate::config::Workload;
use crate::errors::{BrokerError, ErrorCode};
use crate::id_token::{self, IdClaims};
use crate::session::{self, Account, Session};
use crate::{oauth, pkce};

/// What one sign-in asks for.
#[derive(Debug, Clone, Default)]
pub struct SignInParams {
    /// The workload whose user scope is requested (the first configured one when `None`).
    pub workload: Option<String>,
    /// A claims request (step-up), raw JSON.
    pub claims: Option<String>,
    /// `prompt`.
    pub prompt: Option<String>,
    /// `login_hint` (falls back to the configured one, then the current account).
    pub login_hint: Option<String>,
}

fn popup_blocked() -> BrokerError {
    BrokerError::new(
        ErrorCode::PopupBlocked,
        "the browser blocked the sign-in popup: call signIn() or getToken({interactive}) \
         directly from a click handler",
    )
}

/// Starts a sign-in in an already opened `popup`. The returned promise resolves (with
/// `undefined`) when the session is established.
pub fn start(b: &Rc<Broker>, popup: Window, params: SignInParams) -> Promise {
    let id = b.next_id();
    let claims = params.claims.clone();
    let promise = super::spawn(Box::pin({
        let b = b.clone();
        let popup = popup.clone();
        async move {
            let result = run(&b, &popup, params).await;
            popup::close(&popup);
            {
                let mut st = b.st_mut();
                if st.interaction.as_ref().is_some_and(|i| i.id == id) {
                    st.interaction = None;
                }
            }
            b.refresh_status();
            result.map(|()| JsValue::UNDEFINED)
        }
    }));
    // `spawn` only queues the future: this record is in place before it runs.
    b.st_mut().interaction = Some(Interaction { id, claims, popup, promise: promise.clone() });
    b.refresh_status();
    promise
}

/// `signIn()`: must run synchronously inside the gesture. Joins a running sign-in (focusing its
/// popup), otherwise opens the popup now.
pub fn sign_in_now(b: &Rc<Broker>, params: SignInParams) -> Result<Promise, BrokerError> {
    authorize::check_prompt(params.prompt.as_deref())?;
    {
        let st = b.st();
        if let Some(i) = &st.interaction {
            let _ = i.popup.focus();
            return Ok(i.promise.clone());
        }
        if st.setup.is_none() && st.configuring.is_none() {
            return Err(BrokerError::new(ErrorCode::InvalidRequest, "call Tessera.configure() before signIn()"));
        }
    }
    let popup = popup::open(&b.host).ok_or_else(popup_blocked)?;
    Ok(start(b, popup, params))
}

/// For `getToken`: joins the running sign-in if it asks for the same claims (or we ask for none),
/// otherwise waits for it to end and starts our own. Boxed: see [`super::Fut`].
pub fn interact<'a>(
    b: &'a Rc<Broker>,
    workload: &'a str,
    claims: Option<String>,
) -> super::Fut<'a, Result<(), BrokerError>> {
    Box::pin(async move {
        loop {
            let running = b.st().interaction.as_ref().map(|i| (i.claims.clone(), i.promise.clone()));
            match running {
                Some((running_claims, promise)) => {
                    let joinable = claims.is_none() || running_claims == claims;
                    let outcome = JsFuture::from(promise).await;
                    if joinable {
                        return outcome.map(|_| ()).map_err(|e| js::error_from_js(&e));
                    }
                }
                None => {
                    let popup = popup::open(&b.host).ok_or_else(popup_blocked)?;
                    let params = SignInParams { workload: Some(workload.to_owned()), claims, ..Default::default() };
                    let promise = start(b, popup, params);
                    return JsFuture::from(promise).await.map(|_| ()).map_err(|e| js::error_from_js(&e));
                }
            }
        }
    })
}

/// One sign-in, start to finish: PKCE, the popup round trip, code redemption, the session.
fn run<'a>(b: &'a Rc<Broker>, popup: &'a Window, params: SignInParams) -> super::Fut<'a, Result<(), BrokerError>> {
    Box::pin(async move {
        let signouts = b.st().signouts;
        let setup = b.setup().await?;
        let config = &setup.config;
        let workload = match &params.workload {
            Some(name) => config.workload(name),
            None => config.workloads.first(),
        }
        .ok_or_else(|| BrokerError::new(ErrorCode::InvalidRequest, "unknown workload"))?;

        let verifier = pkce::verifier(&crypto::random(&b.win)?);
        let challenge = pkce::challenge_s256(&crypto::sha256(&b.win, verifier.expose().as_bytes()).await?);
        let state = pkce::random_token(&crypto::random(&b.win)?);
        let nonce = pkce::random_token(&crypto::random(&b.win)?);
        let account_hint = b.st().session.as_ref().map(|s| s.account.username.clone());
        let login_hint = params.login_hint.clone().or_else(|| setup.options.login_hint.clone()).or(account_hint);
        let scope = oauth::user_token_scope(&workload.user_scope);
        let url = AuthorizeRequest {
            authority: &config.authority,
            tenant: &setup.options.tenant,
            client_id: &config.broker_app_id,
            redirect_uri: &setup.options.redirect_uri,
            scope: &scope,
            state: &state,
            nonce: &nonce,
            code_challenge: &challenge,
            prompt: params.prompt.as_deref(),
            login_hint: login_hint.as_deref(),
            claims: params.claims.as_deref(),
        }
        .url();
        if popup::is_closed(popup) || popup.location().set_href(&url).is_err() {
            return Err(BrokerError::new(ErrorCode::UserCancelled, "the sign-in window was closed"));
        }

        let response = popup::wait_for_response(popup, &state).await?;
        let code = match authorize::parse_response(&response, &state)? {
            AuthResponse::Code(code) => code,
            AuthResponse::Error(mut e) => {
                if e.code == ErrorCode::ConsentRequired {
                    e.consent_url = Some(consent_url(&setup, workload));
                }
                return Err(e);
            }
        };

        let token_url = oauth::endpoint(&config.authority, &setup.options.tenant, "token");
        let body = oauth::code_redemption_body(
            &config.broker_app_id,
            &code,
            &setup.options.redirect_uri,
            &verifier,
            &scope,
            params.claims.as_deref(),
        );
        let now = tokens::now();
        let reply = http::send(&token_url, Some(&body), None).await?;
        let tr = tokens::entra_response(&reply, &setup, workload)?;
        let (Some(access), Some(refresh), Some(id_token)) = (tr.access_token, tr.refresh_token, tr.id_token) else {
            return Err(BrokerError::new(
                ErrorCode::StsError,
                "Entra's code redemption lacked an access, refresh or ID token \
             (is offline_access allowed for the broker app?)",
            ));
        };
        let payload = payload(&id_token);
        let claims = IdClaims {
            aud: js::get_str(&payload, "aud"),
            nonce: js::get_str(&payload, "nonce"),
            tid: js::get_str(&payload, "tid"),
        };
        id_token::check(&claims, &config.broker_app_id, &nonce, &setup.options.tenant)?;

        let session = Session {
            refresh_token: Some(refresh),
            refresh_expires_at: session::refresh_expiry(now, None, tr.refresh_token_expires_in),
            account: account_of(&payload),
        };
        // Signed out (here or in another tab) while this popup was open: the sign-in is void.
        if b.st().signouts != signouts {
            return Err(super::broker::signed_out());
        }
        let previous_user = b.st().session.as_ref().map(|s| s.account.object_id.clone());
        let same_user = previous_user.as_ref() == Some(&session.account.object_id);
        b.store_session(session);
        let mut st = b.st_mut();
        st.epoch = st.epoch.wrapping_add(1);
        if !same_user {
            // Another account (select_account): nothing cached for the previous one may be served.
            st.user_tokens.clear();
            st.backend_tokens.clear();
            st.challenges.clear();
        }
        let expires_at = cache::expires_at(now, tr.expires_in.unwrap_or(0.0));
        let entry = Entry { value: access, issued_at: now, expires_at };
        st.user_tokens.insert(workload.name.clone(), entry, now);
        // The new token answers this workload's pending challenge, if it was what we asked for.
        if params.claims.is_some() && st.challenges.get(&workload.name) == params.claims.as_ref() {
            st.challenges.remove(&workload.name);
        }
        Ok(())
    })
}

/// The admin-consent URL for a workload's client app.
pub fn consent_url(setup: &Setup, workload: &Workload) -> String {
    oauth::admin_consent_url(&setup.config.authority, &setup.options.tenant, &workload.client_app_id)
}

/// A JWT's payload as a JS object (`undefined` when unreadable): the ID token here, a user token
/// another tab relayed in `relay.rs`. Not verified: see `crate::id_token` and `crate::relay`.
pub fn payload(jwt: &str) -> JsValue {
    id_token::payload_json(jwt).and_then(|text| js::parse_json(&text)).unwrap_or(JsValue::UNDEFINED)
}

/// The account a token's claims name (an ID token's, or a v2 user token's: the same claims).
pub fn account_of(payload: &JsValue) -> Account {
    Account {
        username: js::get_str(payload, "preferred_username").unwrap_or_default(),
        name: js::get_str(payload, "name"),
        tenant_id: js::get_str(payload, "tid"),
        object_id: js::get_str(payload, "oid"),
    }
}
