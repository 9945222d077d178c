//! Client-app certificates: the confidential-client credentials the STS signs OBO client
//! assertions with (spec §2, §7).
//!
//! A guided tour:
//! - [`CertInfo`] (`info.rs`): the public facts of one X.509 certificate — subject, validity and
//!   thumbprints — parsed once. What `sts cert inspect` prints and what the registry references.
//! - [`Certificate`] (`certificate.rs`): a certificate *with* its RSA private key, loaded from a
//!   PFX or from PEM files; the signing key is prepared once, at load.
//! - [`CredentialSet`] (`credential_set.rs`): every configured certificate per client app, with the
//!   rotation state: newest valid first, the ones Entra rejected behind the others. Only the
//!   certificates the registry references for their client app (`client_certificates`) are ever
//!   candidates (`references.rs`).
//! - [`generate_self_signed`] (`generate.rs`): a new self-signed certificate + key (PEM, PFX), for
//!   `sts cert new`, the demo and tests.
//!
//! Key material never leaves these types through `Debug`, `Display` or an error message: a
//! passwords and PEM keys are [`crate::secret::Password`] and [`crate::secret::PrivateKeyPem`], which
//! print as `[redacted]`; a [`Certificate`] prints only public facts.

mod certificate;
mod credential_set;
mod generate;
mod info;
mod references;

pub use certificate::Certificate;
pub use credential_set::{BAD_MARK_SECS, CredentialSet, EXPIRY_WARNING_DAYS};
pub use generate::{Generated, generate_self_signed, generate_self_signed_at, generate_self_signed_with_validity};
pub use info::CertInfo;

/// Why a certificate could not be loaded, generated or used. Messages name files, environment
/// variables and thumbprints — never a password or key bytes.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot read {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("the PFX password is wrong (the file's integrity check failed)")]
    WrongPfxPassword,
    #[error("the environment variable {0} holding the PFX password is not set (or not UTF-8)")]
    PasswordEnvMissing(String),
    #[error("not a usable PFX (PKCS#12) file: {0}")]
    Pfx(String),
    #[error("the PFX file holds no private key with its certificate")]
    PfxWithoutKey,
    #[error("not a usable X.509 certificate: {0}")]
    Certificate(String),
    #[error("not a usable RSA private key: {0}")]
    PrivateKey(String),
    #[error("the private key does not belong to the certificate (their public keys differ)")]
    KeyMismatch,
    #[error("credential configuration for client app {client_app_id:?}: {reason}")]
    Config { client_app_id: String, reason: String },
    #[error("certificate {source_name} of client app {client_app_id}: {source}")]
    Load { client_app_id: String, source_name: String, source: Box<CertError> },
    #[error("signing the client assertion failed: {0}")]
    Sign(String),
    #[error("generating the certificate failed: {0}")]
    Generate(String),
}

/// Lower-case hex of a digest. Hand-written: two lines do not justify another dependency.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(to_hex(&[0x00, 0x0a, 0xff, 0x10]), "000aff10");
    }
}
