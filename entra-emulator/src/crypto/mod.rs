//! Keys and certificates: the token-signing key ring, registered client certificates, and the
//! locally generated CA that the HTTPS listener's certificate chains to.

pub mod certs;
pub mod signing_keys;
pub mod tls;

/// Random bytes from the system CSPRNG (aws-lc-rs), base64url without padding.
pub(crate) fn random_b64(len: usize) -> String {
    use base64::Engine as _;
    let mut bytes = vec![0_u8; len];
    // A failing system RNG leaves zeros; uuid's getrandom would fail the same way, and the
    // emulator is a test tool, so a panic here would only hide the cause.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
