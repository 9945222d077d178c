//! Power Pages mode: `configure({ identity: "powerPages", clientId, stsUrl, sitePath? })`.
//!
//! No Entra sign-in, no popup: the site's own token endpoint (same origin, the contact's portal
//! session cookie) gives the contact's token, which the STS exchanges for the workload's app-only
//! token. Both are cached until shortly before they expire ([`crate::cache::renew_at`]); what is
//! sent and how answers are read is [`crate::portal`], tested on the host.

use super::prelude::*;

use wasm_bindgen::JsValue;
use web_sys::Window;

use super::broker::BackendToken;
use super::tokens::result_js;
use super::{http, js};
use crate::cache::{self, Entry, TokenCache};
use crate::errors::{BrokerError, ErrorCode, StsErrorBody, StsFailure, from_sts};
use crate::portal as logic;
use crate::request::TokenRequest;
use crate::secret::AccessToken;
use crate::text::cat;

/// The Power Pages broker of one page.
pub struct PortalBroker {
    win: Window,
    sts_url: String,
    client_id: String,
    /// The site's base path (`""` on a real site, where `/_services/auth/token` is at the root).
    site_path: String,
    portal_token: RefCell<Option<Entry<AccessToken>>>,
    /// The same entry type as the Entra path's cache: one copy of its code in the wasm.
    backend: RefCell<TokenCache<BackendToken>>,
}

/// By hand: a derived `Debug` would link formatting code for every field type (~1 KB of wasm).
impl core::fmt::Debug for PortalBroker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PortalBroker")
    }
}

impl PortalBroker {
    /// Checks the options.
    pub fn new(
        win: Window,
        sts_url: Option<String>,
        client_id: Option<String>,
        site_path: Option<String>,
    ) -> Result<Self, BrokerError> {
        let invalid = |d: &'static str| BrokerError::new(ErrorCode::InvalidRequest, d);
        let sts_url = sts_url.map(|u| u.trim().trim_end_matches('/').to_owned()).unwrap_or_default();
        if !crate::config::is_allowed_url(&sts_url, &super::js::origin(&win)) {
            return Err(invalid("stsUrl must be an https URL (http only on loopback)"));
        }
        let client_id = client_id.unwrap_or_default();
        if !logic::valid_client_id(&client_id) {
            return Err(invalid("configure: bad clientId"));
        }
        let site_path = site_path.unwrap_or_default().trim_end_matches('/').to_owned();
        // A path on this origin (`http::send` treats a URL starting with `/` as the page's site).
        if !(site_path.is_empty() || site_path.starts_with('/')) {
            return Err(invalid("configure: bad sitePath"));
        }
        Ok(Self {
            win,
            sts_url,
            client_id,
            site_path,
            portal_token: RefCell::new(None),
            backend: RefCell::new(TokenCache::default()),
        })
    }

    /// The contact's portal token: cached while fresh, else asked of the site.
    async fn portal_token(&self, force: bool) -> Result<AccessToken, BrokerError> {
        let now = super::tokens::now();
        if !force && let Some(e) = self.portal_token.borrow().as_ref().filter(|e| e.is_fresh(now)) {
            return Ok(e.value.clone());
        }
        // ≤ 20 characters, as the site requires: 20 hex digits of a random UUID.
        let state: String =
            super::crypto::uuid(&self.win)?.chars().filter(|c| *c != '-').take(logic::MAX_STATE).collect();
        let body = logic::token_request_body(&self.client_id, &state)?;
        let url = cat(&[&self.site_path, logic::TOKEN_PATH]);
        let reply = http::send(&url, Some(&body), None).await?;
        let issued_at = super::tokens::now();
        let t = logic::read_token_response(
            reply.status,
            &reply.body,
            reply.header("state").as_deref(),
            // The browser's number parser: Rust's would add its own to the wasm.
            reply.header("expires_in").and_then(|v| js::parse_json(&v)).and_then(|n| n.as_f64()),
            &state,
            issued_at,
        )?;
        *self.portal_token.borrow_mut() = Some(Entry { value: t.token.clone(), issued_at, expires_at: t.expires_at });
        Ok(t.token)
    }

    /// `getToken` in Power Pages mode: the workload's app-only token for `scopes` (its backend's
    /// `.default`).
    pub async fn get_token(&self, req: TokenRequest) -> Result<JsValue, BrokerError> {
        let scope = req.scopes.join(" ");
        let key = cache::backend_key(&req.workload, &scope);
        let now = super::tokens::now();
        if !req.force_refresh
            && let Some(hit) = self.backend.borrow().get(&key, now)
        {
            return Ok(result_js(hit, true));
        }
        let subject = self.portal_token(req.force_refresh).await?;
        let correlation_id = super::crypto::uuid(&self.win)?;
        let body = logic::exchange_body(&subject, &scope, &req.workload);
        let url = cat(&[&self.sts_url, "/token"]);
        let issued_at = super::tokens::now();
        let reply = http::send(&url, Some(&body), Some(&correlation_id)).await?;
        let v = reply.json();
        if reply.status == 200 {
            let token = js::get_str(&v, "access_token")
                .ok_or_else(|| BrokerError::new(ErrorCode::StsError, "the STS answer has no access_token"))?;
            let entry = Entry {
                value: BackendToken {
                    token: AccessToken::new(token),
                    token_type: String::from("Bearer"),
                    scopes: req.scopes.clone(),
                    correlation_id,
                },
                issued_at,
                expires_at: cache::expires_at(issued_at, js::get_num(&v, "expires_in").unwrap_or(0.0)),
            };
            let result = result_js(&entry, false);
            self.backend.borrow_mut().insert(key, entry, issued_at);
            return Ok(result);
        }
        let body = StsErrorBody {
            error: js::get_str(&v, "error"),
            error_description: js::get_str(&v, "error_description"),
            correlation_id: js::get_str(&v, "correlation_id"),
            consent_url: js::get_str(&v, "consent_url"),
            claims: None,
        };
        // No authority in Power Pages mode: a consent URL in the answer is not passed on.
        match from_sts(reply.status, &body, None, reply.header("retry-after").as_deref(), &correlation_id, "") {
            // The portal token was refused (it expired meanwhile, or the site rotated its
            // key): forget it, so the next call asks the site for a fresh one.
            StsFailure::SubjectRejected(e) => {
                *self.portal_token.borrow_mut() = None;
                Err(e)
            }
            StsFailure::Failed(e) => Err(e),
            StsFailure::Challenge { .. } => Err(BrokerError::new(ErrorCode::StsError, "unexpected claims challenge")),
        }
    }
}
