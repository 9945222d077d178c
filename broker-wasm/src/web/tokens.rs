//! `getToken`: backend cache → user token for the workload's client app (cache, then refresh
//! token, then — if allowed — interactive sign-in) → STS token exchange, with one retry after a
//! claims challenge and one after the STS refused a user token.

use super::prelude::*;

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::broker::{BackendToken, Broker, Setup};
use super::http::Reply;
use super::{crypto, http, js, signin};
use crate::cache::{self, Entry};
use crate::config::Workload;
use crate::errors::{self, BrokerError, ErrorCode, StsErrorBody, StsFailure};
use crate::oauth::{self, TokenResponse};
use crate::request::TokenRequest;
use crate::scopes;
use crate::secret::{AccessToken, RefreshToken};
use crate::session::{self, Session};

/// Milliseconds since the epoch (`Date.now()`, which tests may fake).
pub fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// Reads an Entra token-endpoint reply: the fields on 200, a mapped error otherwise.
pub fn entra_response(reply: &Reply, setup: &Setup, workload: &Workload) -> Result<TokenResponse, BrokerError> {
    let v = reply.json();
    if reply.status != 200 {
        let mut e = errors::from_entra_token_error(
            reply.status,
            &js::get_str(&v, "error").unwrap_or_default(),
            js::get_str(&v, "suberror").as_deref(),
            js::get_str(&v, "error_description").as_deref(),
            js::get_str(&v, "claims").as_deref(),
            js::get_str(&v, "correlation_id"),
        );
        if e.code == ErrorCode::ConsentRequired {
            e.consent_url = Some(signin::consent_url(setup, workload));
        }
        return Err(e);
    }
    Ok(TokenResponse {
        access_token: js::get_str(&v, "access_token").map(AccessToken::new),
        refresh_token: js::get_str(&v, "refresh_token").map(RefreshToken::new),
        id_token: js::get_str(&v, "id_token"),
        expires_in: js::get_num(&v, "expires_in"),
        refresh_token_expires_in: js::get_num(&v, "refresh_token_expires_in"),
        scope: js::get_str(&v, "scope"),
        token_type: js::get_str(&v, "token_type"),
    })
}

/// Runs `work` after every earlier refresh-token redemption has finished. Each redemption rotates
/// the refresh token, so two at once would race on which one is kept.
async fn one_refresh_at_a_time<T>(b: &Broker, work: impl Future<Output = T>) -> T {
    let id = b.next_id();
    let (mine, done) = js::deferred();
    let previous = b.st_mut().refresh_tail.replace((id, mine));
    if let Some((_, p)) = previous {
        let _ = JsFuture::from(p).await;
    }
    let out = work.await;
    let _ = done.call0(&JsValue::UNDEFINED);
    let mut st = b.st_mut();
    if st.refresh_tail.as_ref().is_some_and(|(t, _)| *t == id) {
        st.refresh_tail = None;
    }
    out
}

fn cached_user_token(b: &Broker, workload: &str) -> Option<AccessToken> {
    let st = b.st();
    st.user_tokens.get(workload, now()).map(|e| e.value.clone())
}

/// A user token for `workload` without any UI: the cache (unless `fresh`), else the refresh token.
/// `interaction_required` when there is no usable session.
pub(super) fn user_token_silent<'a>(
    b: &'a Rc<Broker>,
    setup: &'a Setup,
    workload: &'a Workload,
    fresh: bool,
) -> super::Fut<'a, Result<AccessToken, BrokerError>> {
    Box::pin(async move {
        if !fresh && let Some(t) = cached_user_token(b, &workload.name) {
            return Ok(t);
        }
        one_refresh_at_a_time(b, async {
            // Someone queued before us may have just fetched it.
            if !fresh && let Some(t) = cached_user_token(b, &workload.name) {
                return Ok(t);
            }
            let start = now();
            let (session, epoch) = {
                let st = b.st();
                (st.session.clone().filter(|s| s.can_refresh(start)), st.epoch)
            };
            let Some((session, refresh_token)) = session.and_then(|s| s.refresh_token.clone().map(|r| (s, r))) else {
                // No refresh token here: another tab of the origin may hold the session.
                if let Some(t) = super::relay::ask(b, workload).await {
                    return Ok(t);
                }
                return Err(BrokerError::new(
                    ErrorCode::InteractionRequired,
                    "the user is not signed in to the broker",
                ));
            };
            let url = oauth::endpoint(&setup.config.authority, &setup.options.tenant, "token");
            let body = oauth::refresh_body(
                &setup.config.broker_app_id,
                &refresh_token,
                &oauth::refresh_scope(&workload.user_scope),
            );
            let reply = http::send(&url, Some(&body), None).await?;
            let tr = entra_response(&reply, setup, workload)?;
            let access = tr
                .access_token
                .ok_or_else(|| BrokerError::new(ErrorCode::StsError, "Entra's refresh answer had no access token"))?;
            if b.st().epoch == epoch {
                if let Some(rotated) = tr.refresh_token {
                    let next = Session {
                        refresh_token: Some(rotated),
                        refresh_expires_at: session::refresh_expiry(
                            start,
                            Some(session.refresh_expires_at),
                            tr.refresh_token_expires_in,
                        ),
                        account: session.account.clone(),
                    };
                    b.store_session(next);
                }
                let entry = Entry {
                    value: access.clone(),
                    issued_at: start,
                    expires_at: cache::expires_at(start, tr.expires_in.unwrap_or(0.0)),
                };
                b.st_mut().user_tokens.insert(workload.name.clone(), entry, start);
            }
            Ok(access)
        })
        .await
    })
}

/// One `POST {sts}/token`: the backend token and its lifetime in seconds. Boxed: see
/// [`super::Fut`].
fn exchange<'a>(
    b: &'a Broker,
    setup: &'a Setup,
    subject: &'a AccessToken,
    workload: &'a Workload,
    scope: &'a str,
    claims: Option<&'a str>,
) -> super::Fut<'a, Result<(BackendToken, f64), StsFailure>> {
    Box::pin(async move {
        let correlation_id = crypto::uuid(&b.win).map_err(StsFailure::Failed)?;
        let url = crate::text::cat(&[&setup.options.sts_url, "/token"]);
        let body = oauth::exchange_body(subject, scope, &workload.name, claims);
        let reply = http::send(&url, Some(&body), Some(&correlation_id))
            .await
            .map_err(|e| StsFailure::Failed(e.correlated(Some(correlation_id.clone()))))?;
        let v = reply.json();
        if reply.status != 200 {
            let fields = StsErrorBody {
                error: js::get_str(&v, "error"),
                error_description: js::get_str(&v, "error_description"),
                correlation_id: js::get_str(&v, "correlation_id"),
                consent_url: js::get_str(&v, "consent_url"),
                claims: js::get_str(&v, "claims"),
            };
            return Err(errors::from_sts(
                reply.status,
                &fields,
                reply.header("www-authenticate").as_deref(),
                reply.header("retry-after").as_deref(),
                &correlation_id,
                &setup.config.authority,
            ));
        }
        let token = js::get_str(&v, "access_token").ok_or_else(|| {
            StsFailure::Failed(
                BrokerError::new(ErrorCode::StsError, "the STS answer had no access_token")
                    .correlated(Some(correlation_id.clone())),
            )
        })?;
        let scopes = js::get_str(&v, "scope").unwrap_or_else(|| scope.to_owned());
        let token = BackendToken {
            token: AccessToken::new(token),
            token_type: js::get_str(&v, "token_type").unwrap_or_else(|| String::from("Bearer")),
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            correlation_id,
        };
        Ok((token, js::get_num(&v, "expires_in").unwrap_or(0.0)))
    })
}

/// `{ accessToken, tokenType, expiresOn, scopes, fromCache, correlationId }`, frozen.
pub(super) fn result_js(entry: &Entry<BackendToken>, from_cache: bool) -> JsValue {
    let t = &entry.value;
    let o = js::object();
    js::set_str(&o, "accessToken", Some(t.token.expose()));
    js::set_str(&o, "tokenType", Some(&t.token_type));
    let expires = js_sys::Date::new(&JsValue::from_f64(entry.expires_at as f64));
    js::set(&o, "expiresOn", &expires);
    let scopes: js_sys::Array = t.scopes.iter().map(|s| JsValue::from_str(s)).collect();
    js::set(&o, "scopes", &js_sys::Object::freeze(&scopes));
    js::set(&o, "fromCache", &JsValue::from_bool(from_cache));
    js::set_str(&o, "correlationId", Some(&t.correlation_id));
    js_sys::Object::freeze(&o).into()
}

fn step_up_needed(claims: String, correlation_id: Option<String>) -> BrokerError {
    let mut e = BrokerError::new(
        ErrorCode::InteractionRequired,
        "the backend requires the user to sign in again (e.g. MFA): call getToken with \
         interactive: \"ifRequired\" from a click",
    )
    .correlated(correlation_id);
    e.claims = Some(claims);
    e
}

/// The whole `getToken`: cache, then one shared attempt per backend key.
///
/// Calls for the same workload and scopes that are not identical (one interactive, one silent,
/// say) still share one STS round trip: the first registers its attempt under the cache key and
/// the others wait for it. A waiter whose leader failed tries for itself (it may be allowed to do
/// what the leader was not, e.g. open a popup).
pub fn get_token(b: Rc<Broker>, req: TokenRequest) -> super::Fut<'static, Result<JsValue, BrokerError>> {
    Box::pin(async move {
        let setup = b.setup().await?;
        let workload = setup.config.workload(&req.workload).ok_or_else(|| {
            BrokerError::new(
                ErrorCode::InvalidRequest,
                crate::text::cat(&["getToken: unknown workload ", &req.workload]),
            )
        })?;
        let scope = scopes::normalise(workload, &req.scopes)?.joined();
        let key = cache::backend_key(&workload.name, &scope);
        let shareable = !req.force_refresh && req.claims.is_none();
        if shareable {
            if let Some(hit) = b.st().backend_tokens.get(&key, now()) {
                return Ok(result_js(hit, true));
            }
            let leader = b.st().exchanges.get(&key).cloned();
            if let Some(p) = leader {
                // Resolves with the result, or `undefined` when the leader failed.
                if let Ok(v) = JsFuture::from(p).await
                    && !v.is_undefined()
                {
                    return Ok(v);
                }
            }
        }
        let (mine, done) = js::deferred();
        if shareable {
            b.st_mut().exchanges.insert(key.clone(), mine.clone());
        }
        let result = obtain(&b, &setup, workload, &scope, &key, &req).await;
        if shareable {
            let mut st = b.st_mut();
            if st.exchanges.get(&key).is_some_and(|p| JsValue::from(p) == JsValue::from(&mine)) {
                st.exchanges.remove(&key);
            }
        }
        let shared = result.as_ref().map_or(JsValue::UNDEFINED, Clone::clone);
        let _ = done.call1(&JsValue::UNDEFINED, &shared);
        result
    })
}

/// User token, exchange, and the two retries (after a claims challenge, after a refused user
/// token). Boxed: see [`super::Fut`].
fn obtain<'a>(
    b: &'a Rc<Broker>,
    setup: &'a Setup,
    workload: &'a Workload,
    scope: &'a str,
    key: &'a str,
    req: &'a TokenRequest,
) -> super::Fut<'a, Result<JsValue, BrokerError>> {
    Box::pin(async move {
        // The epoch the result may be cached under: re-read after every sign-in this call does
        // (a sign-in bumps it), or the token of the call that signed the user in would be dropped
        // as stale and the next identical call would go to the STS again.
        let mut epoch = b.st().epoch;
        // A challenge already answered for this workload is not sent to the STS again.
        let mut step_up = b.st().challenges.get(&workload.name).cloned();
        let mut fresh_user_token = req.force_refresh;
        let (mut retried_challenge, mut retried_subject) = (false, false);
        // One `interact` and one `user_token_silent` await in the loop (each await point costs its
        // own state and drop code): `sign_in` is the sign-in still to do, with its claims.
        let mut sign_in: Option<Option<String>> = None;
        // Whether this round already signed in because the silent path failed (then it must work).
        let mut signed_in = false;
        let signouts = b.st().signouts;
        loop {
            // Signed out meanwhile: no popup, no token for this call (the loader has rejected it).
            if b.st().signouts != signouts {
                return Err(super::broker::signed_out());
            }
            if let Some(claims) = step_up.take() {
                if !req.interactive {
                    return Err(step_up_needed(claims, None));
                }
                sign_in = Some(Some(claims));
            }
            if let Some(claims) = sign_in.take() {
                signin::interact(b, &workload.name, claims).await?;
                epoch = b.st().epoch;
            }
            let subject = match user_token_silent(b, setup, workload, fresh_user_token).await {
                Ok(t) => t,
                Err(e) if e.code == ErrorCode::InteractionRequired && req.interactive && !signed_in => {
                    // Someone else's sign-in ended while this call asked the other tabs: its
                    // session serves this call too, without a second popup.
                    if b.st().epoch != epoch {
                        epoch = b.st().epoch;
                        continue;
                    }
                    sign_in = Some(e.claims);
                    signed_in = true;
                    fresh_user_token = false;
                    continue;
                }
                Err(e) => return Err(e),
            };
            signed_in = false;
            fresh_user_token = false;
            let issued_at = now();
            match exchange(b, setup, &subject, workload, scope, req.claims.as_deref()).await {
                Ok((token, expires_in)) => {
                    let entry = Entry { value: token, issued_at, expires_at: cache::expires_at(issued_at, expires_in) };
                    let result = result_js(&entry, false);
                    let mut st = b.st_mut();
                    if st.epoch == epoch {
                        st.backend_tokens.insert(key.to_owned(), entry, issued_at);
                    }
                    return Ok(result);
                }
                Err(StsFailure::Challenge { claims, correlation_id }) => {
                    {
                        let mut st = b.st_mut();
                        st.challenges.insert(workload.name.clone(), claims.clone());
                        st.user_tokens.remove(&workload.name);
                    }
                    if !req.interactive || retried_challenge {
                        return Err(step_up_needed(claims, correlation_id));
                    }
                    retried_challenge = true;
                    step_up = Some(claims);
                }
                Err(StsFailure::SubjectRejected(_)) if !retried_subject => {
                    retried_subject = true;
                    fresh_user_token = true;
                    b.st_mut().user_tokens.remove(&workload.name);
                }
                Err(StsFailure::SubjectRejected(e) | StsFailure::Failed(e)) => return Err(e),
            }
        }
    })
}
