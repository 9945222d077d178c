//! Validation of the user token presented as `assertion` in an on-behalf-of request, with the
//! codes Entra answers (spec §3): bad signature / issuer / version → 50013, an ID token →
//! 240002, expired → 500133, audience not the calling client → 500131, an app-only token →
//! 7000114. All `invalid_grant` (HTTP 400).

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::crypto::signing_keys::KeyRing;
use crate::directory::App;
use crate::error::{EntraError, OAuthError};
use crate::jwt::numeric_date;
use tessera_wire::aadsts;

/// Why the incoming token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncomingError {
    /// Not a JWT.
    #[error("malformed")]
    Malformed,
    /// Signed by an unknown key or the signature does not verify.
    #[error("signature: {0}")]
    Signature(&'static str),
    /// `iss` is not this tenant's issuer for the token's `ver`, or `tid` is another tenant.
    #[error("issuer")]
    Issuer,
    /// An ID token.
    #[error("id token")]
    IdToken,
    /// `exp` passed (or `nbf` not reached).
    #[error("expired")]
    Expired {
        /// Now.
        now: i64,
        /// `exp`.
        exp: i64,
    },
    /// `aud` is not the calling client.
    #[error("audience")]
    Audience {
        /// The token's `aud`.
        aud: String,
    },
    /// An app-only token (`idtyp=app`, or no `scp`).
    #[error("app-only token")]
    AppOnly,
}

impl IncomingError {
    /// The Entra error.
    pub fn to_entra(&self, client_id: &str) -> EntraError {
        let e = |code: u32, msg: String| EntraError::new(OAuthError::InvalidGrant, code, msg);
        match self {
            Self::Malformed => e(50027, "JWT token is invalid or malformed.".into()),
            Self::Signature(reason) => e(50013, format!("Assertion failed signature validation. [Reason - {reason}]")),
            Self::Issuer => e(50013, "Assertion contains an invalid issuer or is from another tenant.".into()),
            Self::IdToken => e(
                240002,
                "Input id_token cannot be used as 'urn:ietf:params:oauth:grant-type:jwt-bearer' grant.".into(),
            ),
            Self::Expired { now, exp } => e(
                aadsts::SUBJECT_TOKEN_EXPIRED,
                format!(
                    "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token. Current time: {now}, expiry time of assertion {exp}."
                ),
            ),
            Self::Audience { aud } => e(
                500131,
                format!(
                    "Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '{aud}' and the expected audience is '{client_id}' or one of the Application Id URIs of this web API registered in Azure AD."
                ),
            ),
            Self::AppOnly => {
                e(7000114, format!("Application '{client_id}' is not allowed to make application on-behalf-of calls."))
            }
        }
    }
}

/// A validated user token.
#[derive(Debug, Clone)]
pub struct IncomingToken {
    /// Its claims.
    pub claims: Map<String, Value>,
    /// User object id.
    pub oid: String,
    /// Satisfied CA contexts (`acrs`).
    pub acrs: Vec<String>,
}

/// What the token must satisfy.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// Tenant of the request.
    pub tid: &'a str,
    /// v1 issuer of that tenant.
    pub issuer_v1: &'a str,
    /// v2 issuer of that tenant.
    pub issuer_v2: &'a str,
    /// The calling client app (must be the audience).
    pub client: &'a App,
    /// Now (unix seconds).
    pub now: i64,
}

/// Validates an incoming user token.
pub fn validate(raw: &str, keys: &KeyRing, expected: &Expected<'_>) -> Result<IncomingToken, IncomingError> {
    let header = jsonwebtoken::decode_header(raw).map_err(|_| IncomingError::Malformed)?;
    let kid = header.kid.ok_or(IncomingError::Signature("The key was not found."))?;
    let key = keys.find(&kid).ok_or(IncomingError::Signature("The key was not found."))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let claims = jsonwebtoken::decode::<Map<String, Value>>(raw, key.decoding_key(), &validation)
        .map_err(|_| {
            IncomingError::Signature("The provided signature value did not match the expected signature value.")
        })?
        .claims;
    let s = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();

    let issuer_ok = match s("ver").as_str() {
        "1.0" => s("iss") == expected.issuer_v1,
        "2.0" => s("iss") == expected.issuer_v2,
        _ => false,
    };
    if !issuer_ok || !s("tid").eq_ignore_ascii_case(expected.tid) {
        return Err(IncomingError::Issuer);
    }
    if !claims.contains_key("azp") && !claims.contains_key("appid") {
        return Err(IncomingError::IdToken);
    }
    let exp = numeric_date(&claims, "exp").ok().flatten().unwrap_or(0);
    let nbf = numeric_date(&claims, "nbf").ok().flatten();
    if expected.now >= exp || nbf.is_some_and(|n| expected.now < n) {
        return Err(IncomingError::Expired { now: expected.now, exp });
    }
    let aud = s("aud");
    if !expected.client.is_identified_by(&aud) {
        return Err(IncomingError::Audience { aud });
    }
    if s("idtyp") == "app" || s("scp").is_empty() {
        return Err(IncomingError::AppOnly);
    }
    let acrs = match claims.get("acrs") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    Ok(IncomingToken { oid: s("oid"), acrs, claims })
}
