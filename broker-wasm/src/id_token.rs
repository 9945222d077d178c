//! The ID token from code redemption: the account it names, and the checks that tie it to our
//! sign-in.
//!
//! The signature is not verified, on purpose: the token came straight from the token endpoint over
//! TLS in answer to our own PKCE-bound request, which OpenID Connect Core §3.1.3.7 (item 6) accepts
//! in place of a signature check. What must be checked is that it answers *this* sign-in (`nonce`),
//! is meant for the broker app (`aud`) and, when the tenant is pinned by id, comes from it (`tid`).

use alloc::string::String;

use crate::b64;
use crate::errors::{BrokerError, ErrorCode};
use crate::pkce;

/// The claims of an ID token that tie it to the sign-in (the account it names is read by
/// `web/signin.rs`'s `account_of`, shared with relayed user tokens).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdClaims {
    /// Audience: must be the broker app.
    pub aud: Option<String>,
    /// Must equal the nonce of the sign-in.
    pub nonce: Option<String>,
    /// Tenant id.
    pub tid: Option<String>,
}

/// The JSON text of a JWT's payload (second segment), for `JSON.parse`.
pub fn payload_json(jwt: &str) -> Option<String> {
    let mut parts = jwt.split('.');
    let (_, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    crate::text::utf8(b64::decode(payload).ok()?)
}

/// Checks an ID token's claims against the sign-in that produced it.
pub fn check(claims: &IdClaims, broker_app_id: &str, nonce: &str, tenant: &str) -> Result<(), BrokerError> {
    let refuse =
        |why: &str| BrokerError::new(ErrorCode::StsError, crate::text::cat(&["the ID token was refused: ", why]));
    if !claims.aud.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(broker_app_id)) {
        return Err(refuse("it is not for the broker app"));
    }
    if !claims.nonce.as_deref().is_some_and(|n| pkce::same(n, nonce)) {
        return Err(refuse("its nonce does not match the sign-in"));
    }
    // A domain tenant (contoso.com) cannot be compared with `tid`; a GUID can.
    if crate::config::is_guid(tenant) && !claims.tid.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(tenant)) {
        return Err(refuse("it is from another tenant"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const BROKER: &str = "11111111-1111-1111-1111-111111111111";
    const TENANT: &str = "33333333-3333-3333-3333-333333333333";

    fn claims() -> IdClaims {
        IdClaims { aud: Some(BROKER.into()), nonce: Some("n1".into()), tid: Some(TENANT.into()) }
    }

    #[test]
    fn payload_is_decoded() {
        let jwt = String::from("eyJhbGciOiJub25lIn0.") + &b64::encode_url(br#"{"nonce":"n1"}"#) + ".sig";
        assert_eq!(payload_json(&jwt).unwrap(), r#"{"nonce":"n1"}"#);
        assert_eq!(payload_json("onlyone"), None);
        assert_eq!(payload_json("a.b"), None);
        assert_eq!(payload_json("a.!!.c"), None);
    }

    #[test]
    fn matching_token_passes() {
        assert!(check(&claims(), BROKER, "n1", TENANT).is_ok());
        assert!(check(&claims(), BROKER, "n1", "contoso.onmicrosoft.com").is_ok());
    }

    #[test]
    fn mismatches_are_refused() {
        let mut c = claims();
        c.nonce = Some("n2".into());
        assert!(check(&c, BROKER, "n1", TENANT).is_err());
        let mut c = claims();
        c.nonce = None;
        assert!(check(&c, BROKER, "n1", TENANT).is_err());
        let mut c = claims();
        c.aud = Some("22222222-2222-2222-2222-222222222222".into());
        assert!(check(&c, BROKER, "n1", TENANT).is_err());
        let mut c = claims();
        c.tid = Some("44444444-4444-4444-4444-444444444444".into());
        assert!(check(&c, BROKER, "n1", TENANT).is_err());
    }
}
