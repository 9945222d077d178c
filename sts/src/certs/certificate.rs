//! One client-app certificate with its RSA private key, loaded from a PFX or from PEM files.

use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::signature::{KeyPair as _, RsaEncoding, RsaKeyPair};

use super::{CertError, CertInfo};
use crate::config::CredentialConfig;
use crate::secret::{Password, PrivateKeyPem};

/// A certificate and its private key. `Debug` shows the public facts only.
///
/// The key is parsed and checked once, here, at load: every OBO cache miss signs an assertion,
/// and parsing an RSA key (with aws-lc's consistency check) costs about twice the signature.
#[derive(Clone)]
pub struct Certificate {
    info: CertInfo,
    key: Arc<RsaKeyPair>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.info.subject())
            .field("sha256", &self.info.sha256_hex())
            .field("not_before", &self.info.not_before())
            .field("not_after", &self.info.not_after())
            .field("private_key", &"[redacted]")
            .finish()
    }
}

impl Certificate {
    /// Loads the first private key and its leaf certificate from a PKCS#12 file (what Windows,
    /// Key Vault and `openssl pkcs12 -export` produce). Both PBES2 (AES) and the legacy PBES1
    /// (3DES / RC2) encryptions are read.
    pub fn from_pfx(bytes: &[u8], password: &Password) -> Result<Self, CertError> {
        let store = p12_keystore::KeyStore::from_pkcs12(bytes, password.expose()).map_err(|e| match e {
            // The MAC is keyed by the password: a mismatch is how a wrong password shows.
            p12_keystore::error::Error::MacError(_) => CertError::WrongPfxPassword,
            other => CertError::Pfx(other.to_string()),
        })?;
        let (_alias, chain) = store.private_key_chain().ok_or(CertError::PfxWithoutKey)?;
        let leaf = chain.chain().first().ok_or(CertError::PfxWithoutKey)?;
        let info = CertInfo::from_der(leaf.as_der())?;
        // PKCS#12 key bags always hold PKCS#8.
        Self::from_parts(info, parse_key(KeyFormat::Pkcs8, chain.key())?)
    }

    /// Loads a PEM certificate (the first `CERTIFICATE` block: the leaf) and a PEM RSA private key,
    /// either PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CertError> {
        let info = CertInfo::from_pem(cert_pem)?;
        Self::from_parts(info, rsa_key_from_pem(key_pem)?)
    }

    /// Loads the certificate one `[[credentials]]` entry names: `pfx` (password from the
    /// environment variable `pfx_password_env` or the file `pfx_password_file`; none means an
    /// empty password) or `cert_pem` + `key_pem`.
    pub fn load(cfg: &CredentialConfig) -> Result<Self, CertError> {
        let config_error =
            |reason: &str| CertError::Config { client_app_id: cfg.client_app_id.clone(), reason: reason.to_owned() };
        match (&cfg.pfx, &cfg.cert_pem, &cfg.key_pem) {
            (Some(pfx), None, None) => {
                let password = match (&cfg.pfx_password_env, &cfg.pfx_password_file) {
                    (Some(_), Some(_)) => {
                        return Err(config_error("set only one of `pfx_password_env` and `pfx_password_file`"));
                    }
                    (Some(var), None) => {
                        Password::new(std::env::var(var).map_err(|_| CertError::PasswordEnvMissing(var.clone()))?)
                    }
                    (None, Some(file)) => password_from_file(file)?,
                    (None, None) => Password::new(""),
                };
                Self::from_pfx(&read(pfx)?, &password)
            }
            (None, Some(cert), Some(key)) => {
                if cfg.pfx_password_env.is_some() || cfg.pfx_password_file.is_some() {
                    return Err(config_error("a PFX password is configured but no `pfx` file"));
                }
                let cert_pem = read_text(cert)?;
                let key_pem = PrivateKeyPem::new(read_text(key)?);
                Self::from_pem(&cert_pem, key_pem.expose())
            }
            _ => Err(config_error("set either `pfx`, or both `cert_pem` and `key_pem`")),
        }
    }

    /// Checks that the key belongs to the certificate: a mismatched pair would only surface
    /// later, as AADSTS700027 on every request.
    fn from_parts(info: CertInfo, key: RsaKeyPair) -> Result<Self, CertError> {
        let cert_public = info
            .rsa_public_key()
            .ok_or_else(|| CertError::Certificate("the certificate's key is not RSA (Entra needs RSA)".into()))?;
        if key.public_key().as_ref() != cert_public {
            return Err(CertError::KeyMismatch);
        }
        Ok(Self { info, key: Arc::new(key) })
    }

    /// The public facts (subject, validity, thumbprints).
    pub fn info(&self) -> &CertInfo {
        &self.info
    }

    pub fn der(&self) -> &[u8] {
        self.info.der()
    }

    pub fn subject(&self) -> &str {
        self.info.subject()
    }

    /// `notBefore`, unix seconds.
    pub fn not_before(&self) -> i64 {
        self.info.not_before()
    }

    /// `notAfter`, unix seconds.
    pub fn not_after(&self) -> i64 {
        self.info.not_after()
    }

    pub fn thumbprint_sha1(&self) -> [u8; 20] {
        self.info.thumbprint_sha1()
    }

    pub fn thumbprint_sha256(&self) -> [u8; 32] {
        self.info.thumbprint_sha256()
    }

    /// base64url(SHA-1(DER)), unpadded: the RS256 assertion header's `x5t`.
    pub fn x5t(&self) -> String {
        self.info.x5t()
    }

    /// base64url(SHA-256(DER)), unpadded: the PS256 assertion header's `x5t#S256`.
    pub fn x5t_s256(&self) -> String {
        self.info.x5t_s256()
    }

    /// Lower-case hex SHA-256: what the registry's certificate references hold.
    pub fn sha256_hex(&self) -> String {
        self.info.sha256_hex()
    }

    /// Signs `message` with the private key: PKCS#1 v1.5 or PSS padding, SHA-256, as `padding` says.
    pub(crate) fn sign(&self, padding: &'static dyn RsaEncoding, message: &[u8]) -> Result<Vec<u8>, CertError> {
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(padding, &aws_lc_rs::rand::SystemRandom::new(), message, &mut signature)
            .map_err(|_| CertError::Sign("the RSA signature failed".into()))?;
        Ok(signature)
    }
}

#[derive(Clone, Copy)]
enum KeyFormat {
    /// `PrivateKeyInfo` (RFC 5208), PEM label `PRIVATE KEY`; what PKCS#12 holds.
    Pkcs8,
    /// `RSAPrivateKey` (RFC 8017), PEM label `RSA PRIVATE KEY`.
    Pkcs1,
}

/// Parses and checks an RSA private key (consistent, 2048–8192 bits) with aws-lc-rs.
fn parse_key(format: KeyFormat, der: &[u8]) -> Result<RsaKeyPair, CertError> {
    let parsed = match format {
        KeyFormat::Pkcs8 => RsaKeyPair::from_pkcs8(der),
        KeyFormat::Pkcs1 => RsaKeyPair::from_der(der),
    };
    // `KeyRejected` says why (e.g. `WrongAlgorithm` for an EC key, `TooSmall`), never the key.
    parsed.map_err(|e| match e.to_string().as_str() {
        "WrongAlgorithm" => CertError::PrivateKey("the key is not RSA (Entra client assertions need RSA)".into()),
        reason => CertError::PrivateKey(format!("rejected: {reason}")),
    })
}

/// The first RSA private key in a PEM text.
fn rsa_key_from_pem(key_pem: &str) -> Result<RsaKeyPair, CertError> {
    // Blocks are matched by label only; `Pem`'s own Debug would print the key, so it is never logged.
    for block in x509_parser::pem::Pem::iter_from_buffer(key_pem.as_bytes()) {
        let block = block.map_err(|e| CertError::PrivateKey(format!("PEM: {e}")))?;
        match block.label.as_str() {
            "PRIVATE KEY" => return parse_key(KeyFormat::Pkcs8, &block.contents),
            "RSA PRIVATE KEY" => return parse_key(KeyFormat::Pkcs1, &block.contents),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(CertError::PrivateKey(
                    "encrypted PEM keys are not supported; use a password-protected PFX instead".into(),
                ));
            }
            "EC PRIVATE KEY" => {
                return Err(CertError::PrivateKey("an EC key; Entra client assertions need RSA".into()));
            }
            _ => {}
        }
    }
    Err(CertError::PrivateKey("no `PRIVATE KEY` or `RSA PRIVATE KEY` block in the PEM text".into()))
}

fn read(path: &Path) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|source| CertError::Io { path: path.to_owned(), source })
}

fn read_text(path: &Path) -> Result<String, CertError> {
    std::fs::read_to_string(path).map_err(|source| CertError::Io { path: path.to_owned(), source })
}

/// A mounted secret file usually ends with a newline the password does not contain.
fn password_from_file(path: &Path) -> Result<Password, CertError> {
    let text = read_text(path)?;
    let password = text.strip_suffix('\n').map_or(text.as_str(), |s| s.strip_suffix('\r').unwrap_or(s));
    Ok(Password::new(password))
}
