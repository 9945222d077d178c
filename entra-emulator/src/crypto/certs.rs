//! Registered client certificates (public part only) and their thumbprints.
//!
//! Entra identifies the certificate that signed a client assertion by thumbprint: `x5t`
//! (SHA-1) or `x5t#S256` (SHA-256) of the DER encoding. We keep both digests, the RSA public
//! key and the validity window, which is all the assertion check needs.

use base64::Engine as _;
use sha1::Digest as _;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer as _, X509Certificate};

/// Why a certificate could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// Not PEM, not base64 DER, not parseable X.509.
    #[error("not an X.509 certificate: {0}")]
    Malformed(String),
    /// Not an RSA key (Entra's certificate credentials are RSA).
    #[error("the certificate's key is not RSA")]
    NotRsa,
    /// Reading the file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// One certificate credential of an app.
#[derive(Clone)]
pub struct RegisteredCertificate {
    /// The DER encoding.
    pub der: Vec<u8>,
    /// SHA-1 of the DER (what `x5t` carries, base64url).
    pub sha1: [u8; 20],
    /// SHA-256 of the DER (what `x5t#S256` carries, base64url).
    pub sha256: [u8; 32],
    /// PKCS#1 `RSAPublicKey` DER, for signature checks.
    pub rsa_public_key: Vec<u8>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Revoked by an admin: assertions signed with it fail with AADSTS700027.
    pub revoked: bool,
}

impl std::fmt::Debug for RegisteredCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredCertificate")
            .field("x5t", &self.x5t())
            .field("not_after", &self.not_after)
            .field("revoked", &self.revoked)
            .finish()
    }
}

impl RegisteredCertificate {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertificateError::Malformed(e.to_string()))?;
        let spki = cert.public_key();
        if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
            return Err(CertificateError::NotRsa);
        }
        let validity = cert.validity();
        Ok(Self {
            der: der.to_vec(),
            sha1: sha1::Sha1::digest(der).into(),
            sha256: sha2::Sha256::digest(der).into(),
            rsa_public_key: spki.subject_public_key.data.to_vec(),
            not_before: validity.not_before.to_datetime(),
            not_after: validity.not_after.to_datetime(),
            revoked: false,
        })
    }

    /// Parses PEM text (the first `CERTIFICATE` block).
    pub fn from_pem(pem: &str) -> Result<Self, CertificateError> {
        let (_, block) =
            x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| CertificateError::Malformed(e.to_string()))?;
        Self::from_der(&block.contents)
    }

    /// Loads from configuration: inline PEM, base64 DER or a PEM/DER file.
    pub fn from_config(config: &crate::config::CertificateConfig) -> Result<Self, CertificateError> {
        if let Some(pem) = &config.pem {
            return Self::from_pem(pem);
        }
        if let Some(b64) = &config.der_base64 {
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| CertificateError::Malformed(e.to_string()))?;
            return Self::from_der(&der);
        }
        if let Some(path) = &config.path {
            let bytes = std::fs::read(path)
                .map_err(|source| CertificateError::Io { path: path.display().to_string(), source })?;
            return match std::str::from_utf8(&bytes) {
                Ok(text) if text.contains("-----BEGIN") => Self::from_pem(text),
                _ => Self::from_der(&bytes),
            };
        }
        Err(CertificateError::Malformed("no pem, der_base64 or path given".into()))
    }

    /// `x5t`: base64url (no padding) of the SHA-1 thumbprint.
    pub fn x5t(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.sha1)
    }

    /// `x5t#S256`: base64url (no padding) of the SHA-256 thumbprint.
    pub fn x5t_s256(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.sha256)
    }

    /// The SHA-1 thumbprint as upper-case hex, as the Entra portal shows it.
    pub fn thumbprint_hex(&self) -> String {
        self.sha1.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// Whether `id` names this certificate: a base64url SHA-1 or SHA-256 thumbprint (padded
    /// or not) or a hex SHA-1 thumbprint.
    pub fn matches_thumbprint(&self, id: &str) -> bool {
        let id = id.trim();
        if id.eq_ignore_ascii_case(&self.thumbprint_hex()) {
            return true;
        }
        let Some(bytes) = crate::jwt::b64url_decode(id) else { return false };
        bytes == self.sha1 || bytes == self.sha256
    }
}
