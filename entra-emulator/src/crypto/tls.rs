//! The HTTPS listener's certificates: a CA generated at start-up and a server certificate for
//! `localhost`, `127.0.0.1` and `::1` signed by it.
//!
//! Real MSAL clients refuse non-HTTPS authorities, so the emulator serves TLS; clients trust
//! the CA through its PEM (`RunningEmulator::ca_pem`, or `serve --write-ca FILE`).

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The generated CA and the rustls server configuration using the server certificate.
#[derive(Debug)]
pub struct LocalTls {
    /// PEM of the CA certificate.
    pub ca_pem: String,
    /// Server configuration for the HTTPS listener.
    pub server_config: Arc<rustls::ServerConfig>,
}

impl LocalTls {
    /// Generates a fresh CA and server certificate (ECDSA P-256: quick to generate).
    pub fn generate() -> anyhow::Result<Self> {
        let now = time::OffsetDateTime::now_utc();

        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "entra-emulator local CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        ca_params.not_before = now - time::Duration::days(1);
        ca_params.not_after = now + time::Duration::days(365);
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let server_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut server_params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()])?;
        server_params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
        server_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        server_params.not_before = now - time::Duration::days(1);
        server_params.not_after = now + time::Duration::days(365);
        let server_cert = server_params.signed_by(&server_key, &issuer)?;

        let chain = vec![CertificateDer::from(server_cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self { ca_pem: ca_cert.pem(), server_config: Arc::new(server_config) })
    }
}
