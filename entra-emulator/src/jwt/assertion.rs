//! Client assertion (certificate credential) validation, per spec §2.
//!
//! Accepted, because real MSAL libraries send them: PS256 + `x5t#S256` and RS256 + `x5t`
//! (thumbprints padded or not), `kid` as a thumbprint, integer / float / string times, missing
//! `nbf` or `iat`, reused `jti` (MSAL caches assertions for minutes, so Entra does not treat
//! `jti` as single-use), extra headers such as `x5c`.
//! Rejected with Entra's codes (all `invalid_client`, HTTP 401): malformed or array `aud`
//! (50027), `aud` not this token endpoint (50012), `iss`/`sub` ≠ client id (700021), outside
//! its time window (700024), unknown / revoked / expired certificate or bad signature (700027).

use serde_json::Value;

use crate::crypto::certs::RegisteredCertificate;
use crate::directory::App;
use crate::error::{EntraError, OAuthError};
use crate::jwt::{CompactJws, numeric_date};
use tessera_wire::aadsts;

/// Tolerated clock difference, as Entra's (five minutes).
pub const CLOCK_SKEW_SECS: i64 = 300;

/// Why an assertion is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// Not a parseable JWS, or a required claim has the wrong type.
    #[error("malformed assertion: {0}")]
    Malformed(String),
    /// `alg` other than RS256 / PS256.
    #[error("unsupported alg {0}")]
    UnsupportedAlgorithm(String),
    /// `aud` is not one string.
    #[error("aud is not a single string")]
    AudienceNotString,
    /// `aud` is not this tenant's token endpoint on this host.
    #[error("aud {0} is not the token endpoint")]
    AudienceMismatch(String),
    /// `iss` or `sub` differs from the client id.
    #[error("iss/sub do not match client_id")]
    IssuerMismatch,
    /// `exp`/`nbf`/`iat` put `now` outside the assertion's window.
    #[error("outside the valid time range")]
    OutsideTimeWindow {
        /// Now.
        now: i64,
        /// `nbf` (or `iat`), if present.
        not_before: Option<i64>,
        /// `exp`.
        expires: i64,
    },
    /// No header thumbprint names a registered certificate.
    #[error("key not found")]
    KeyNotFound(String),
    /// The certificate was revoked by an admin.
    #[error("key revoked")]
    KeyRevoked(String),
    /// The certificate is past `notAfter`.
    #[error("key expired")]
    KeyExpired(String),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature(String),
}

impl AssertionError {
    /// The Entra error for this refusal.
    pub fn to_entra(&self, client_id: &str) -> EntraError {
        let e = |code: u32, msg: String| EntraError::new(OAuthError::InvalidClient, code, msg);
        let doc =
            "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";
        match self {
            Self::Malformed(why) => e(50027, format!("JWT token is invalid or malformed. [{why}]")),
            Self::UnsupportedAlgorithm(alg) => e(
                5002738,
                format!(
                    "Invalid JWT token. '{alg}' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, PS256'"
                ),
            ),
            Self::AudienceNotString => {
                e(50027, "Invalid JWT token. The 'aud' claim must be a single string value.".into())
            }
            Self::AudienceMismatch(_) => {
                e(50012, format!("Client assertion audience claim does not match Realm issuer. {doc}"))
            }
            Self::IssuerMismatch => {
                e(700021, format!("Client assertion application identifier doesn't match 'client_id' parameter. {doc}"))
            }
            Self::OutsideTimeWindow { now, not_before, expires } => e(
                aadsts::ASSERTION_OUTSIDE_WINDOW,
                format!(
                    "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. {doc}",
                    iso(*now),
                    not_before.map_or_else(|| "-".to_owned(), iso),
                    iso(*expires)
                ),
            ),
            Self::KeyNotFound(thumb) => e(
                aadsts::ASSERTION_KEY_REFUSED,
                format!(
                    "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumb}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'. {doc}]"
                ),
            ),
            Self::KeyRevoked(thumb) => e(
                aadsts::ASSERTION_KEY_REFUSED,
                format!(
                    "Client assertion contains an invalid signature. [Reason - The key was revoked., Thumbprint of key used by client: '{thumb}']"
                ),
            ),
            Self::KeyExpired(thumb) => e(
                aadsts::ASSERTION_KEY_REFUSED,
                format!(
                    "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '{thumb}']"
                ),
            ),
            Self::BadSignature(thumb) => e(
                aadsts::ASSERTION_KEY_REFUSED,
                format!(
                    "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '{thumb}']"
                ),
            ),
        }
    }
}

fn iso(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs).map_or_else(|_| secs.to_string(), crate::error::entra_timestamp)
}

/// What to check an assertion against.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The `client_id` parameter (or the app's id).
    pub client_id: &'a str,
    /// The app with its certificates.
    pub app: &'a App,
    /// Accepted `aud` values: this host's token endpoint(s) for this tenant.
    pub audiences: &'a [String],
    /// Now (unix seconds).
    pub now: i64,
}

/// Validates a client assertion; returns the certificate that signed it.
pub fn validate<'a>(raw: &str, expected: &Expected<'a>) -> Result<&'a RegisteredCertificate, AssertionError> {
    let jws = CompactJws::parse(raw).map_err(|e| AssertionError::Malformed(e.to_string()))?;
    let alg = jws.header_str("alg").unwrap_or_default();
    let verification: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match alg {
        "RS256" => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        "PS256" => &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256,
        other => return Err(AssertionError::UnsupportedAlgorithm(other.to_owned())),
    };

    let same = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case(expected.client_id));
    if !same(jws.claim_str("iss")) || !same(jws.claim_str("sub")) {
        return Err(AssertionError::IssuerMismatch);
    }

    match jws.claims.get("aud") {
        Some(Value::String(aud)) => {
            if !expected.audiences.iter().any(|a| a.eq_ignore_ascii_case(aud.trim_end_matches('/'))) {
                return Err(AssertionError::AudienceMismatch(aud.clone()));
            }
        }
        _ => return Err(AssertionError::AudienceNotString),
    }

    let thumb = ["x5t#S256", "x5t", "kid"].iter().find_map(|h| jws.header_str(h)).unwrap_or_default().to_owned();
    let cert = ["x5t#S256", "x5t", "kid"]
        .iter()
        .filter_map(|h| jws.header_str(h))
        .find_map(|id| expected.app.certificates.iter().find(|c| c.matches_thumbprint(id)))
        .ok_or_else(|| AssertionError::KeyNotFound(thumb.clone()))?;
    if cert.revoked {
        return Err(AssertionError::KeyRevoked(thumb));
    }
    if cert.not_after.unix_timestamp() < expected.now {
        return Err(AssertionError::KeyExpired(thumb));
    }
    aws_lc_rs::signature::UnparsedPublicKey::new(verification, &cert.rsa_public_key)
        .verify(jws.signing_input.as_bytes(), &jws.signature)
        .map_err(|_| AssertionError::BadSignature(thumb.clone()))?;

    let time = |name: &str| numeric_date(&jws.claims, name).map_err(|e| AssertionError::Malformed(e.to_string()));
    let expires = time("exp")?.ok_or_else(|| AssertionError::Malformed("exp is required".into()))?;
    let not_before = match time("nbf")? {
        Some(nbf) => Some(nbf),
        None => time("iat")?,
    };
    let now = expected.now;
    if now > expires + CLOCK_SKEW_SECS || not_before.is_some_and(|nbf| now + CLOCK_SKEW_SECS < nbf) {
        return Err(AssertionError::OutsideTimeWindow { now, not_before, expires });
    }
    Ok(cert)
}
