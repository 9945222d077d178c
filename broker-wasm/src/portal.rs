//! `configure({ identity: "powerPages", clientId })`: the broker on a Power Pages site, as data.
//!
//! On a portal page there is no Entra sign-in at all: the site itself issues the signed-in
//! contact's token at `POST /_services/auth/token` (same origin, the portal's own session cookie —
//! no popup, no redirect), with `state` and `expires_in` as response headers. The broker asks for
//! it with the site's registered `client_id`, exchanges it at the STS as
//! `subject_token_type=urn:ietf:params:oauth:token-type:jwt` for the workload's app-only token,
//! and renews the portal token before it expires ([`crate::cache::renew_at`]). The browser glue
//! (fetch with `credentials: "same-origin"`) stays in `web/`; this file is what it sends and how it
//! reads the answers, tested on the host.

use alloc::string::String;

use crate::cache::expires_at;
use crate::errors::{BrokerError, ErrorCode};
use crate::form::Form;
use crate::oauth::TOKEN_EXCHANGE;
use crate::secret::AccessToken;

/// The site's token endpoint, relative to the page's origin.
pub const TOKEN_PATH: &str = "/_services/auth/token";
/// RFC 8693 token type of a portal token (it is not an OAuth access token of Entra's).
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// Power Pages accepts `state` and `nonce` of at most 20 characters.
pub const MAX_STATE: usize = 20;
/// A portal token lives at most an hour (`ImplicitGrantFlow/TokenExpirationTime` is clamped to
/// 60–3600 s); a larger `expires_in` header is not the site's.
const MAX_LIFETIME_SECS: f64 = 3600.0;

/// A `clientId` Power Pages accepts: 1–36 ASCII letters, digits and hyphens.
pub fn valid_client_id(client_id: &str) -> bool {
    !client_id.is_empty() && client_id.len() <= 36 && client_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The body of `POST /_services/auth/token`. `state` (≤ 20 characters, random per request) is
/// checked against the answer's `state` header.
pub fn token_request_body(client_id: &str, state: &str) -> Result<String, BrokerError> {
    if !valid_client_id(client_id) {
        return Err(BrokerError::new(ErrorCode::InvalidRequest, "clientId: 1-36 letters, digits, hyphens"));
    }
    if state.is_empty() || state.len() > MAX_STATE {
        return Err(BrokerError::new(ErrorCode::InvalidRequest, "state must be 1-20 characters"));
    }
    Ok(Form::new().pair("client_id", client_id).pair("response_type", "token").pair("state", state).finish())
}

/// A portal token and when it expires (ms since the epoch).
#[derive(Debug, Clone)]
pub struct PortalToken {
    pub token: AccessToken,
    pub expires_at: u64,
}

/// Reads the site's answer: `status`, the body, the `state` header and the `expires_in` header as
/// a number (parsed by the browser).
pub fn read_token_response(
    status: u16,
    body: &str,
    state_header: Option<&str>,
    expires_in_secs: Option<f64>,
    sent_state: &str,
    now: u64,
) -> Result<PortalToken, BrokerError> {
    match status {
        200 => {}
        401 | 403 => {
            return Err(BrokerError::new(ErrorCode::InteractionRequired, "sign in to the site first"));
        }
        // PortalSTS0001: not matched in the body (a substring search is ~2 KB of wasm); a 400 is
        // the request's fault, which for this one-field request is the clientId.
        400 => {
            return Err(BrokerError::new(
                ErrorCode::InvalidRequest,
                "the site refused clientId (ImplicitGrantFlow/RegisteredClientId)",
            ));
        }
        s if s >= 500 => {
            return Err(BrokerError::new(ErrorCode::NetworkError, "the site failed"));
        }
        _ => return Err(BrokerError::new(ErrorCode::InvalidRequest, "the site refused the request")),
    }
    if state_header != Some(sent_state) {
        return Err(BrokerError::new(ErrorCode::StsError, "the site answered another state"));
    }
    let token = body.trim();
    let parts = token.split('.').count();
    if parts != 3 || token.bytes().any(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))) {
        return Err(BrokerError::new(ErrorCode::StsError, "the site's answer is not a token"));
    }
    let lifetime = expires_in_secs.unwrap_or(0.0).min(MAX_LIFETIME_SECS);
    Ok(PortalToken { token: AccessToken::new(token), expires_at: expires_at(now, lifetime) })
}

/// The STS exchange for a portal token: the workload's app-only token for `scope`
/// (`<resource>/.default`).
pub fn exchange_body(portal_token: &AccessToken, scope: &str, workload: &str) -> String {
    Form::new()
        .pair("grant_type", TOKEN_EXCHANGE)
        .pair("subject_token", portal_token.expose())
        .pair("subject_token_type", JWT_TOKEN_TYPE)
        .pair("scope", scope)
        .pair("audience", workload)
        .finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::form;

    #[test]
    fn the_token_request_carries_the_client_id_and_state() {
        let body = token_request_body("my-spa", "s1").unwrap();
        let pairs = form::parse(&body);
        assert_eq!(form::get(&pairs, "client_id"), Some("my-spa"));
        assert_eq!(form::get(&pairs, "response_type"), Some("token"));
        assert_eq!(form::get(&pairs, "state"), Some("s1"));
        for bad in ["", "has space", "x/y", &"a".repeat(37)] {
            assert_eq!(token_request_body(bad, "s").unwrap_err().code, ErrorCode::InvalidRequest, "{bad}");
        }
        assert!(token_request_body("ok", &"s".repeat(21)).is_err());
    }

    #[test]
    fn answers_are_read_strictly() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjIn0.c2ln";
        let t = read_token_response(200, jwt, Some("s1"), Some(900.0), "s1", 1_000).unwrap();
        assert_eq!((t.token.expose(), t.expires_at), (jwt, 1_000 + 900_000));
        let capped = read_token_response(200, jwt, Some("s1"), Some(999_999.0), "s1", 0).unwrap();
        assert_eq!(capped.expires_at, 3_600_000, "a portal token lives at most an hour");
        let code = |r: Result<PortalToken, BrokerError>| r.unwrap_err().code;
        assert_eq!(code(read_token_response(200, jwt, Some("other"), Some(900.0), "s1", 0)), ErrorCode::StsError);
        assert_eq!(code(read_token_response(200, jwt, None, Some(900.0), "s1", 0)), ErrorCode::StsError);
        assert_eq!(code(read_token_response(200, "<html>", Some("s1"), None, "s1", 0)), ErrorCode::StsError);
        assert_eq!(code(read_token_response(401, "", None, None, "s1", 0)), ErrorCode::InteractionRequired);
        let refused = r#"{"ErrorId":"PortalSTS0001","ErrorMessage":"…"}"#;
        assert_eq!(code(read_token_response(400, refused, None, None, "s1", 0)), ErrorCode::InvalidRequest);
        assert_eq!(code(read_token_response(503, "", None, None, "s1", 0)), ErrorCode::NetworkError);
        // No or a bad lifetime: usable once, never cached.
        assert_eq!(read_token_response(200, jwt, Some("s1"), None, "s1", 5).unwrap().expires_at, 5);
    }

    #[test]
    fn the_exchange_names_the_jwt_token_type_and_the_workload() {
        let body = exchange_body(&AccessToken::new("a.b.c"), "https://graph.microsoft.com/.default", "reports");
        let pairs = form::parse(&body);
        assert_eq!(form::get(&pairs, "subject_token_type"), Some(JWT_TOKEN_TYPE));
        assert_eq!(form::get(&pairs, "audience"), Some("reports"));
        assert_eq!(form::get(&pairs, "subject_token"), Some("a.b.c"));
    }
}
