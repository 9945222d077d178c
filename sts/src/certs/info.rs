//! The public facts of one X.509 certificate, parsed once: subject, validity, thumbprints.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{CertError, to_hex};

/// One certificate's public facts. Cheap to keep: the thumbprints are computed at parse time
/// because every client assertion carries one in its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    der: Vec<u8>,
    subject: String,
    issuer: String,
    not_before: i64,
    not_after: i64,
    sha1: [u8; 20],
    sha256: [u8; 32],
    /// RSA public key (PKCS#1 `RSAPublicKey` DER) when the key is RSA — to check that a private
    /// key belongs to this certificate and, in tests, to verify signatures.
    rsa_public_key: Option<Vec<u8>>,
}

impl CertInfo {
    /// Parses a DER-encoded certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let (rest, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|e| CertError::Certificate(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CertError::Certificate("trailing bytes after the certificate".into()));
        }
        let spki = cert.public_key();
        let rsa_public_key = (spki.algorithm.algorithm == x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION)
            .then(|| spki.subject_public_key.data.to_vec());
        Ok(Self {
            der: der.to_vec(),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            sha1: Sha1::digest(der).into(),
            sha256: Sha256::digest(der).into(),
            rsa_public_key,
        })
    }

    /// Every `CERTIFICATE` block of a PEM text, in order (a chain file lists the leaf first).
    pub fn all_from_pem(pem: &str) -> Result<Vec<Self>, CertError> {
        let mut out = Vec::new();
        for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
            let block = block.map_err(|e| CertError::Certificate(format!("PEM: {e}")))?;
            if block.label == "CERTIFICATE" {
                out.push(Self::from_der(&block.contents)?);
            }
        }
        Ok(out)
    }

    /// The first `CERTIFICATE` block of a PEM text: the leaf.
    pub fn from_pem(pem: &str) -> Result<Self, CertError> {
        Self::all_from_pem(pem)?
            .into_iter()
            .next()
            .ok_or_else(|| CertError::Certificate("no CERTIFICATE block in the PEM text".into()))
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// RFC 4514 form, e.g. `CN=file-picker.contoso.example`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `notBefore`, unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// `notAfter`, unix seconds (the certificate is valid through this second).
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// Whether the certificate is within its validity period at `now`.
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    pub fn thumbprint_sha1(&self) -> [u8; 20] {
        self.sha1
    }

    pub fn thumbprint_sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// `x5t`: base64url of the SHA-1 digest of the DER, unpadded (spec §2: not hex).
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.sha1)
    }

    /// `x5t#S256`: base64url of the SHA-256 digest of the DER, unpadded.
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.sha256)
    }

    /// Lower-case hex SHA-1: the "thumbprint" the Entra portal shows.
    pub fn sha1_hex(&self) -> String {
        to_hex(&self.sha1)
    }

    /// Lower-case hex SHA-256: what the registry's certificate references hold.
    pub fn sha256_hex(&self) -> String {
        to_hex(&self.sha256)
    }

    /// The RSA public key, PKCS#1 `RSAPublicKey` DER (`None` for non-RSA certificates): what a
    /// verifier of the assertions needs (`jsonwebtoken::DecodingKey::from_rsa_der`).
    pub fn rsa_public_key(&self) -> Option<&[u8]> {
        self.rsa_public_key.as_deref()
    }
}
