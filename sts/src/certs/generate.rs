//! A new self-signed client certificate + RSA key, for `sts cert new`, the demo and tests.
//!
//! Entra accepts self-signed certificates for app credentials: what it checks is that the public
//! key was uploaded to the app registration. RSA because PS256/RS256 assertions need it; 2048 bits
//! because it is Entra's minimum and the cheapest to sign with on every OBO cache miss.

use time::OffsetDateTime;

use super::{CertError, CertInfo, Certificate};
use crate::clock::unix_now;
use crate::secret::{Password, PrivateKeyPem};

/// A freshly generated certificate and key. `Debug` shows the public facts only.
#[derive(Clone)]
pub struct Generated {
    info: CertInfo,
    cert_pem: String,
    /// PKCS#8 `PRIVATE KEY` PEM.
    key_pem: PrivateKeyPem,
    /// The same key, PKCS#8 DER, for the PFX.
    key_pkcs8: Vec<u8>,
}

impl std::fmt::Debug for Generated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generated")
            .field("subject", &self.info.subject())
            .field("sha256", &self.info.sha256_hex())
            .field("private_key", &"[redacted]")
            .finish()
    }
}

/// Skew allowance: a certificate made now is already valid for a peer whose clock is a little behind.
const BACKDATE_SECS: i64 = 5 * 60;

/// A self-signed RSA-2048 certificate with subject `CN=<cn>`, valid from five minutes ago for
/// `days` days.
pub fn generate_self_signed(cn: &str, days: u32) -> Result<Generated, CertError> {
    generate_self_signed_at(cn, days, unix_now())
}

/// [`generate_self_signed`] with an explicit clock (unix seconds).
pub fn generate_self_signed_at(cn: &str, days: u32, now: i64) -> Result<Generated, CertError> {
    generate_self_signed_with_validity(cn, now - BACKDATE_SECS, now + i64::from(days) * 86_400)
}

/// Like [`generate_self_signed`] with an explicit validity (unix seconds) — for rotation and
/// expiry tests that need certificates of different ages.
pub fn generate_self_signed_with_validity(cn: &str, not_before: i64, not_after: i64) -> Result<Generated, CertError> {
    let gen_err = |e: &dyn std::fmt::Display| CertError::Generate(e.to_string());
    if cn.trim().is_empty() {
        return Err(CertError::Generate("the common name is empty".into()));
    }
    if not_after <= not_before {
        return Err(CertError::Generate("notAfter must be later than notBefore".into()));
    }
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(|e| gen_err(&e))?;

    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| gen_err(&e))?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, cn);
    params.distinguished_name = name;
    params.not_before = OffsetDateTime::from_unix_timestamp(not_before).map_err(|e| gen_err(&e))?;
    params.not_after = OffsetDateTime::from_unix_timestamp(not_after).map_err(|e| gen_err(&e))?;
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.self_signed(&key).map_err(|e| gen_err(&e))?;

    Ok(Generated {
        info: CertInfo::from_der(cert.der())?,
        cert_pem: cert.pem(),
        key_pem: PrivateKeyPem::new(key.serialize_pem()),
        key_pkcs8: key.serialize_der(),
    })
}

impl Generated {
    /// The public facts (subject, validity, thumbprints).
    pub fn info(&self) -> &CertInfo {
        &self.info
    }

    /// The certificate, PEM: the file to upload to the app registration.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> &PrivateKeyPem {
        &self.key_pem
    }

    /// The certificate and key as a PKCS#12 file protected by `password` (PBES2 AES-256-CBC,
    /// HMAC-SHA256 integrity: what OpenSSL 3 and current Windows write by default).
    pub fn pfx(&self, password: &Password) -> Result<Vec<u8>, CertError> {
        let p12_err = |e: p12_keystore::error::Error| CertError::Generate(format!("PFX: {e}"));
        let cert = p12_keystore::Certificate::from_der(self.info.der()).map_err(p12_err)?;
        // localKeyId ties the key bag to its certificate bag; the SHA-1 thumbprint is the
        // customary value (Windows writes the same).
        let chain = p12_keystore::PrivateKeyChain::new(&self.key_pkcs8, self.info.thumbprint_sha1(), [cert]);
        let mut store = p12_keystore::KeyStore::new();
        let alias = self.info.subject().strip_prefix("CN=").unwrap_or(self.info.subject());
        store.add_entry(alias, p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        store.writer(password.expose()).write().map_err(p12_err)
    }

    /// The ready-to-sign [`Certificate`].
    pub fn certificate(&self) -> Result<Certificate, CertError> {
        Certificate::from_pem(&self.cert_pem, self.key_pem.expose())
    }
}
