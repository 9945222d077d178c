//! Captures every log line (STS and emulator, at TRACE) of exchanges that exercise success, the
//! cache, a claims challenge, a refusal and a certificate fallback, and checks that none holds a
//! token, a client assertion or a private key.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use entra_emulator::{FaultDuration, FaultKind, FaultSpec};
use reqwest::StatusCode;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_token_assertion_or_key_in_any_log_line() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .init();

    let h = Harness::start_with(Options { certificates: 2, ..Options::default() }).await;
    h.emulator.admin().revoke_certificate(TENANT, CLIENT, &h.certs[0].info().sha1_hex()).unwrap();
    let token = h.user_token(|_| {});
    let mut secrets = vec![token.clone()];
    let ok = h.exchange(&token, FILES_READ, &[("audience", "file-picker")]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    secrets.push(ok.access_token().to_owned());
    let cached = h.exchange(&token, FILES_READ, &[]).await;
    assert_eq!(cached.status, StatusCode::OK);

    let mut mfa = FaultSpec::new(FaultKind::MfaStepUp { code: 50076, policy_id: Some("p".into()) });
    mfa.duration = FaultDuration::NextRequests(1);
    h.emulator.admin().inject_fault(mfa);
    let other = h.user_token(|_| {});
    secrets.push(other.clone());
    let challenged = h.exchange(&other, USER_READ, &[]).await;
    assert_eq!(challenged.status, StatusCode::UNAUTHORIZED);
    let refused = h.exchange(&other, "https://graph.microsoft.com/Mail.Read", &[]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(h.state.exchanger.audit.flush().await, "the audit writer is done with these records");

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.lines().count() > 10, "the capture works: {} lines", logs.lines().count());
    for s in &secrets {
        let signature = s.rsplit('.').next().unwrap();
        assert!(!logs.contains(signature), "a token's signature appears in the logs");
    }
    // Any JWT (token or client assertion) starts with a base64url JSON header: `eyJ`.
    assert!(!logs.contains("eyJ"), "something JWT-shaped appears in the logs");
    for c in &h.certs {
        assert!(!logs.contains("PRIVATE KEY"), "a PEM private key appears in the logs");
        let key_line = c.key_pem().expose().lines().nth(1).unwrap();
        assert!(!logs.contains(key_line), "key material appears in the logs");
    }
}
