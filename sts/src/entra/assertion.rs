//! Client assertions (spec §2): the JWT that proves, with the client app's certificate, that the
//! STS is that confidential client when it calls Entra's token endpoint.

use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;

use crate::certs::{CertError, Certificate};
pub use crate::config::AssertionAlg;
use crate::secret::ClientAssertion;

/// Assertion lifetime. Entra accepts at most 10 minutes; MSAL uses the same. The OBO client reuses
/// an assertion for requests to the same endpoint until it has two minutes left (about eight
/// minutes), as msal-node and MSAL Python do: Entra does not treat `jti` as single-use.
pub const ASSERTION_LIFETIME_SECS: i64 = 10 * 60;

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

/// Signs a client assertion for `client_id` at `token_endpoint`.
///
/// - header `{alg, typ:"JWT"}` plus `x5t#S256` for PS256 (the default) or `x5t` for RS256 — the
///   thumbprint that goes with the algorithm, as MSAL does, base64url of the digest;
/// - `aud` = the exact token endpoint being POSTed to, one string (an array is AADSTS50027);
/// - `iss` = `sub` = the client id; `jti` a fresh UUID v4; `nbf` = `iat` = `now`;
///   `exp` = `now` + [`ASSERTION_LIFETIME_SECS`].
///
/// The result is redacted in `Debug`: an assertion is a bearer credential for its lifetime.
///
/// jsonwebtoken supplies the header type (its field names, `x5t#S256` included) and verifies
/// assertions in the tests, but the signature is made here with the key [`Certificate`] parsed
/// once at load: `jsonwebtoken::encode` (aws-lc-rs backend) re-parses and re-checks the RSA key
/// on every call — measured 2.7 ms per assertion through `encode` against 0.3 ms here (debug
/// build). What remains hand-written is the JWS compact form (RFC 7515 §7.1): three base64url
/// parts joined by dots.
pub fn client_assertion(
    cert: &Certificate,
    alg: AssertionAlg,
    client_id: &str,
    token_endpoint: &str,
    now: i64,
) -> Result<ClientAssertion, CertError> {
    let (header, padding): (Header, &'static dyn RsaEncoding) = match alg {
        AssertionAlg::PS256 => {
            (Header { x5t_s256: Some(cert.x5t_s256()), ..Header::new(Algorithm::PS256) }, &RSA_PSS_SHA256)
        }
        AssertionAlg::RS256 => (Header { x5t: Some(cert.x5t()), ..Header::new(Algorithm::RS256) }, &RSA_PKCS1_SHA256),
    };
    let claims = Claims {
        aud: token_endpoint,
        iss: client_id,
        sub: client_id,
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now,
        iat: now,
        exp: now + ASSERTION_LIFETIME_SECS,
    };
    let mut jwt = URL_SAFE_NO_PAD.encode(to_json(&header)?);
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(to_json(&claims)?, &mut jwt);
    let signature = cert.sign(padding, jwt.as_bytes())?;
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut jwt);
    Ok(ClientAssertion::new(jwt))
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, CertError> {
    serde_json::to_vec(value).map_err(|e| CertError::Sign(format!("serialising the assertion: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;
    use std::sync::OnceLock;

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{DecodingKey, Validation};
    use serde_json::Value;
    use sha1::Sha1;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::certs::generate_self_signed;

    const CLIENT: &str = "74d4521a-2fb0-478a-8f36-c6518b55ba49";
    const ENDPOINT: &str = "https://login.microsoftonline.com/0a1b2c3d-0000-4000-8000-000000000001/oauth2/v2.0/token";

    /// RSA key generation takes a moment; one certificate serves every test here (read-only).
    fn cert() -> &'static Certificate {
        static CERT: OnceLock<Certificate> = OnceLock::new();
        CERT.get_or_init(|| generate_self_signed("assertion-test", 30).unwrap().certificate().unwrap())
    }

    fn decoding_key(cert: &Certificate) -> DecodingKey {
        DecodingKey::from_rsa_der(cert.info().rsa_public_key().unwrap())
    }

    fn part(jwt: &str, i: usize) -> Value {
        let seg = jwt.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
    }

    /// Verifies the signature with the certificate's public key and returns the claims; the
    /// claims themselves are checked exactly by the callers, so time validation is off here.
    fn verify(jwt: &str, alg: Algorithm) -> Value {
        let mut v = Validation::new(alg);
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(jwt, &decoding_key(cert()), &v).unwrap().claims
    }

    fn expected_claims(jti: &Value, now: i64) -> Value {
        serde_json::json!({
            "aud": ENDPOINT, "iss": CLIENT, "sub": CLIENT, "jti": jti,
            "nbf": now, "iat": now, "exp": now + 600,
        })
    }

    #[test]
    fn ps256_has_the_exact_header_and_claims_and_verifies() {
        let now = 1_800_000_000;
        let jwt = client_assertion(cert(), AssertionAlg::PS256, CLIENT, ENDPOINT, now).unwrap();
        let jwt = jwt.expose();
        let x5t_s256 = URL_SAFE_NO_PAD.encode(Sha256::digest(cert().der()));
        assert_eq!(part(jwt, 0), serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": x5t_s256}));
        let claims = verify(jwt, Algorithm::PS256);
        assert_eq!(claims, part(jwt, 1));
        assert_eq!(claims, expected_claims(&claims["jti"], now));
        let jti = uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap();
        assert_eq!(jti.get_version_num(), 4);
    }

    #[test]
    fn rs256_carries_x5t_sha1_and_verifies() {
        let now = 1_800_000_123;
        let jwt = client_assertion(cert(), AssertionAlg::RS256, CLIENT, ENDPOINT, now).unwrap();
        let jwt = jwt.expose();
        let x5t = URL_SAFE_NO_PAD.encode(Sha1::digest(cert().der()));
        assert_eq!(part(jwt, 0), serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": x5t}));
        let claims = verify(jwt, Algorithm::RS256);
        assert_eq!(claims, expected_claims(&claims["jti"], now));
    }

    #[test]
    fn a_signature_from_another_key_does_not_verify() {
        let other = generate_self_signed("other", 30).unwrap().certificate().unwrap();
        let jwt = client_assertion(&other, AssertionAlg::PS256, CLIENT, ENDPOINT, 1).unwrap();
        let mut v = Validation::new(Algorithm::PS256);
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        assert!(jsonwebtoken::decode::<Value>(jwt.expose(), &decoding_key(cert()), &v).is_err());
    }

    #[test]
    fn every_assertion_has_a_fresh_jti() {
        let jtis: HashSet<String> = (0..20)
            .map(|_| {
                let jwt = client_assertion(cert(), AssertionAlg::PS256, CLIENT, ENDPOINT, 5).unwrap();
                part(jwt.expose(), 1)["jti"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(jtis.len(), 20);
    }

    #[test]
    fn the_assertion_is_redacted_in_debug() {
        let jwt = client_assertion(cert(), AssertionAlg::PS256, CLIENT, ENDPOINT, 5).unwrap();
        let shown = format!("{jwt:?}");
        assert_eq!(shown, "ClientAssertion([redacted])");
        assert!(!shown.contains(jwt.expose().split('.').next().unwrap()));
    }
}
