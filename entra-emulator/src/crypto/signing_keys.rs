//! The token-signing key ring and its JWKS form.
//!
//! Entra signs every tenant's tokens with one global, rotating set of RSA keys, each published
//! with a self-signed certificate (`x5c`) and `kid` = `x5t` = base64url SHA-1 of that
//! certificate. We do the same: one current key signs; after a rotation the previous keys stay
//! published (tokens they signed still verify) until they are retired.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Value, json};
use sha1::Digest as _;
use x509_parser::prelude::{FromDer as _, X509Certificate};

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One signing key with its published certificate.
pub struct SigningKey {
    /// `kid` and `x5t`.
    pub kid: String,
    cert_der: Vec<u8>,
    n: String,
    e: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("private_key", &"[redacted]").finish()
    }
}

impl SigningKey {
    /// Generates a 2048-bit RSA key and a self-signed certificate over it.
    pub fn generate() -> anyhow::Result<Self> {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)?;
        Self::from_key_pair(&key_pair)
    }

    /// Wraps an existing RSA key pair (PKCS#8 PEM), e.g. a fixed key for reproducible demos.
    pub fn from_pkcs8_pem(pem: &str) -> anyhow::Result<Self> {
        let key_pair = rcgen::KeyPair::from_pem_and_sign_algo(pem, &rcgen::PKCS_RSA_SHA256)?;
        Self::from_key_pair(&key_pair)
    }

    fn from_key_pair(key_pair: &rcgen::KeyPair) -> anyhow::Result<Self> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(rcgen::DnType::CommonName, "accounts.entra-emulator.local");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(5 * 365);
        let cert = params.self_signed(key_pair)?;
        let cert_der = cert.der().to_vec();
        let (n, e) = rsa_components(&cert_der)?;
        let kid = B64URL.encode(sha1::Sha1::digest(&cert_der));
        let encoding = EncodingKey::from_rsa_pem(key_pair.serialize_pem().as_bytes())?;
        let decoding = DecodingKey::from_rsa_components(&n, &e)?;
        Ok(Self { kid, cert_der, n, e, encoding, decoding })
    }

    /// Signs `claims` as an RS256 JWT with Entra's header (`typ`, `alg`, `x5t`, `kid`).
    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.kid = Some(self.kid.clone());
        header.x5t = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// The key for verifying tokens it signed.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The JWK, with `issuer` when given (v2 key sets carry it; v1 ones do not).
    pub fn jwk(&self, issuer: Option<&str>) -> Value {
        let mut jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n,
            "e": self.e,
            "x5c": [B64.encode(&self.cert_der)],
            "cloud_instance_name": "microsoftonline.com",
        });
        if let (Some(issuer), Some(obj)) = (issuer, jwk.as_object_mut()) {
            obj.insert("issuer".into(), json!(issuer));
        }
        jwk
    }
}

/// Base64url `n` and `e` of the certificate's RSA key, without leading zero bytes.
fn rsa_components(cert_der: &[u8]) -> anyhow::Result<(String, String)> {
    let (_, cert) = X509Certificate::from_der(cert_der)?;
    match cert.public_key().parsed()? {
        x509_parser::public_key::PublicKey::RSA(rsa) => {
            let strip = |b: &[u8]| -> Vec<u8> {
                let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
                b[start..].to_vec()
            };
            Ok((B64URL.encode(strip(rsa.modulus)), B64URL.encode(strip(rsa.exponent))))
        }
        _ => anyhow::bail!("signing key is not RSA"),
    }
}

/// The current key plus earlier keys that are still published.
#[derive(Debug)]
pub struct KeyRing {
    current: std::sync::Arc<SigningKey>,
    previous: Vec<std::sync::Arc<SigningKey>>,
}

impl KeyRing {
    /// A ring holding one key.
    pub fn new(key: SigningKey) -> Self {
        Self { current: std::sync::Arc::new(key), previous: Vec::new() }
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> std::sync::Arc<SigningKey> {
        self.current.clone()
    }

    /// All published keys, current first.
    pub fn published(&self) -> impl Iterator<Item = &std::sync::Arc<SigningKey>> {
        std::iter::once(&self.current).chain(self.previous.iter())
    }

    /// A published key by `kid`.
    pub fn find(&self, kid: &str) -> Option<std::sync::Arc<SigningKey>> {
        self.published().find(|k| k.kid == kid).cloned()
    }

    /// Makes `key` current; the old current stays published.
    pub fn rotate(&mut self, key: SigningKey) {
        let old = std::mem::replace(&mut self.current, std::sync::Arc::new(key));
        self.previous.insert(0, old);
    }

    /// Stops publishing every key but the current one; returns how many were retired.
    pub fn retire_previous(&mut self) -> usize {
        std::mem::take(&mut self.previous).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_is_the_sha1_thumbprint_and_debug_hides_the_key() {
        let key = SigningKey::generate().unwrap();
        let jwk = key.jwk(None);
        let der = base64::engine::general_purpose::STANDARD.decode(jwk["x5c"][0].as_str().unwrap()).unwrap();
        assert_eq!(key.kid, B64URL.encode(sha1::Sha1::digest(&der)));
        assert!(jwk.get("issuer").is_none());
        assert!(format!("{key:?}").contains("[redacted]"));
    }

    #[test]
    fn rotation_keeps_the_old_key_published_until_retired() {
        let mut ring = KeyRing::new(SigningKey::generate().unwrap());
        let old = ring.current().kid.clone();
        ring.rotate(SigningKey::generate().unwrap());
        assert!(ring.find(&old).is_some());
        assert_ne!(ring.current().kid, old);
        assert_eq!(ring.retire_previous(), 1);
        assert!(ring.find(&old).is_none());
    }
}
