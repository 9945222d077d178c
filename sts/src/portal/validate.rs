//! Reading a portal token: structure and claims first (no I/O), the signature second.
//!
//! Everything here is the caller's bytes: sizes and times are compared, never computed with, and
//! the lints keep it so.
#![deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::cast_possible_wrap)]

use std::ops::RangeInclusive;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Token times Tessera accepts (1970–9999), as for Entra tokens.
const PLAUSIBLE_TIMES: RangeInclusive<i64> = 0..=253_402_300_799;
/// Longest `sub` (a contact id is a GUID) and `aud` (a registered client id: at most 36) read.
const MAX_ID: usize = 64;
/// Longest host name.
const MAX_HOST: usize = 253;

/// What the unverified portal token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalClaims {
    /// `iss`, lower-cased: the site's host.
    pub site: String,
    /// `sub`: the contact id.
    pub contact: String,
    /// `aud` (= `appid` when both are present), lower-cased: the registered client id.
    pub client_id: String,
}

/// Why a portal token was refused before or at its signature (`400 invalid_grant`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortalTokenError {
    #[error("the portal token is not a compact JWS (header.claims.signature)")]
    NotCompact,
    #[error("the portal token's {0} is not base64url JSON")]
    Unreadable(&'static str),
    #[error("the portal token is signed with {0:?}; Power Pages signs with RS256")]
    Algorithm(String),
    #[error("the portal token has no {0} claim (or an unusable one)")]
    Missing(&'static str),
    #[error("the portal token's aud and appid differ")]
    AudAppIdMismatch,
    #[error("the portal token's {0} is not an integer time within 1970-9999")]
    ImplausibleTime(&'static str),
    #[error("the portal token has expired (exp)")]
    Expired,
    #[error("the portal token is not valid yet (nbf)")]
    NotYetValid,
    #[error("iss {0:?} is not a registered Power Pages site")]
    UnknownSite(String),
    #[error("aud {client_id:?} is not a client id registered for site {site}")]
    UnregisteredClientId { site: String, client_id: String },
    #[error("the signature does not verify with site {0}'s public key")]
    BadSignature(String),
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<String>,
    appid: Option<String>,
    exp: Option<serde_json::Value>,
    nbf: Option<serde_json::Value>,
}

fn part<T: for<'de> Deserialize<'de>>(b64: &str, name: &'static str) -> Result<T, PortalTokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(b64.trim_end_matches('=')).map_err(|_| PortalTokenError::Unreadable(name))?;
    serde_json::from_slice(&bytes).map_err(|_| PortalTokenError::Unreadable(name))
}

fn time(value: Option<&serde_json::Value>, name: &'static str) -> Result<Option<i64>, PortalTokenError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => {
            n.as_i64().filter(|t| PLAUSIBLE_TIMES.contains(t)).map(Some).ok_or(PortalTokenError::ImplausibleTime(name))
        }
        Some(_) => Err(PortalTokenError::ImplausibleTime(name)),
    }
}

fn nonempty(v: Option<String>, max: usize, name: &'static str) -> Result<String, PortalTokenError> {
    v.filter(|s| !s.is_empty() && s.len() <= max).ok_or(PortalTokenError::Missing(name))
}

/// Structure, claims and lifetime of an unverified portal token. `now` and `leeway` in seconds.
pub fn peek(token: &str, now: i64, leeway: i64) -> Result<PortalClaims, PortalTokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(PortalTokenError::NotCompact);
    };
    let header: Header = part(h, "header")?;
    if header.alg != "RS256" {
        return Err(PortalTokenError::Algorithm(header.alg.chars().take(20).collect()));
    }
    let c: Claims = part(p, "claims")?;
    let site = nonempty(c.iss, MAX_HOST, "iss")?.to_ascii_lowercase();
    let contact = nonempty(c.sub, MAX_ID, "sub")?;
    let client_id = nonempty(c.aud, MAX_ID, "aud")?.to_ascii_lowercase();
    if c.appid.as_deref().is_some_and(|a| !a.eq_ignore_ascii_case(&client_id)) {
        return Err(PortalTokenError::AudAppIdMismatch);
    }
    let exp = time(c.exp.as_ref(), "exp")?.ok_or(PortalTokenError::Missing("exp"))?;
    let nbf = time(c.nbf.as_ref(), "nbf")?;
    if exp.saturating_add(leeway) < now {
        return Err(PortalTokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf.saturating_sub(leeway) > now) {
        return Err(PortalTokenError::NotYetValid);
    }
    Ok(PortalClaims { site, contact, client_id })
}

/// The signature, with the site's key. Times and claims were checked by [`peek`].
pub fn verify(token: &str, site: &str, key: &DecodingKey) -> Result<(), PortalTokenError> {
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Value>(token, key, &v)
        .map(|_| ())
        .map_err(|_| PortalTokenError::BadSignature(site.to_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn token(header: &str, claims: serde_json::Value) -> String {
        format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    fn good() -> serde_json::Value {
        serde_json::json!({"iss":"Contoso.PowerAppsPortals.com","sub":"c1","aud":"Spa","appid":"spa","exp":2_000,"nbf":1_000})
    }

    #[test]
    fn reads_a_portal_token() {
        let c = peek(&token(r#"{"alg":"RS256","typ":"JWT"}"#, good()), 1_500, 60).unwrap();
        assert_eq!(
            c,
            PortalClaims { site: "contoso.powerappsportals.com".into(), contact: "c1".into(), client_id: "spa".into() }
        );
    }

    #[test]
    fn each_fault_has_its_error() {
        let h = r#"{"alg":"RS256"}"#;
        let with = |k: &str, v: serde_json::Value| {
            let mut c = good();
            c[k] = v;
            token(h, c)
        };
        assert_eq!(peek("a.b", 0, 0), Err(PortalTokenError::NotCompact));
        assert_eq!(
            peek(&token(r#"{"alg":"none"}"#, good()), 1_500, 0),
            Err(PortalTokenError::Algorithm("none".into()))
        );
        assert_eq!(peek(&with("appid", "other".into()), 1_500, 0), Err(PortalTokenError::AudAppIdMismatch));
        assert_eq!(peek(&with("aud", serde_json::Value::Null), 1_500, 0), Err(PortalTokenError::Missing("aud")));
        assert_eq!(peek(&with("exp", 1e308.into()), 1_500, 0), Err(PortalTokenError::ImplausibleTime("exp")));
        assert_eq!(peek(&with("exp", "2000".into()), 1_500, 0), Err(PortalTokenError::ImplausibleTime("exp")));
        assert_eq!(peek(&token(h, good()), 2_061, 60), Err(PortalTokenError::Expired));
        assert!(peek(&token(h, good()), 2_060, 60).is_ok(), "leeway");
        assert_eq!(peek(&token(h, good()), 939, 60), Err(PortalTokenError::NotYetValid));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Any string: a claim set or an error, never a panic.
        #[test]
        fn any_input_is_read_or_refused(s in "\\PC{0,300}", now in proptest::prelude::any::<i64>(), leeway in 0_i64..3600) {
            let _ = peek(&s, now, leeway);
        }
    }
}
