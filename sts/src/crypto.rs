//! The process-wide crypto provider. rustls needs exactly one; aws-lc-rs is the one jsonwebtoken
//! uses. Its own small module so that any module (and its tests) can install it without depending
//! on the wiring in `app`.

/// Installs aws-lc-rs as rustls's provider; a second call is a no-op.
pub fn install_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
