//! What Entra answers, mapped for the broker: claims challenges, consent, throttling, outages,
//! certificate rotation and signing-key rotation.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::*;
use entra_emulator::{FaultDuration, FaultKind, FaultSpec};
use reqwest::StatusCode;
use serde_json::json;
use sts::ExchangeError;
use sts::validation::{FetchError, KeyError};

#[tokio::test]
async fn mfa_claims_challenge_round_trip() {
    let h = Harness::start().await;
    h.emulator.admin().inject_fault(FaultSpec::new(FaultKind::MfaStepUp { code: 50076, policy_id: Some("c1".into()) }));
    let token = h.user_token(|_| {});
    let a = h.exchange(&token, FILES_READ, &[]).await;
    assert_eq!((a.status, a.error()), (StatusCode::UNAUTHORIZED, "insufficient_claims"), "{}", a.body);
    let header = a.headers["www-authenticate"].to_str().unwrap().to_owned();
    let b64 = a.body["claims"].as_str().unwrap();
    assert_eq!(header, format!("Bearer error=\"insufficient_claims\", claims=\"{b64}\""));
    let claims = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap();
    assert!(claims.contains("c1"), "{claims}");

    // The broker re-authenticates with those claims: the new user token carries the satisfied
    // policy; the retry passes `claims` and so bypasses any cache.
    let stepped_up = h.user_token(|r| {
        r.extra_claims.insert("acrs".into(), json!(["c1"]));
    });
    let b = h.exchange(&stepped_up, FILES_READ, &[("claims", &claims)]).await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.body);
    assert_eq!(h.obo_requests(), 2);
}

#[tokio::test]
async fn claims_request_bypasses_the_cache_and_refreshes_it() {
    let h = Harness::start().await;
    let token = h.user_token(|_| {});
    let a = h.exchange(&token, FILES_READ, &[]).await;
    let b = h
        .exchange(&token, FILES_READ, &[("claims", r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#)])
        .await;
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(h.obo_requests(), 2, "claims went to Entra");
    let c = h.exchange(&token, FILES_READ, &[]).await;
    assert_eq!(c.access_token(), b.access_token(), "the fresher token replaced the cached one");
    assert_eq!(h.obo_requests(), 2);
}

#[tokio::test]
async fn consent_missing_at_entra_is_consent_required_with_url() {
    let h = Harness::start().await;
    h.emulator.admin().revoke_consent(TENANT, CLIENT, None).unwrap();
    let a = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!((a.status, a.error()), (StatusCode::FORBIDDEN, "consent_required"), "{}", a.body);
    assert!(a.description().contains("AADSTS65001"), "{}", a.description());
    assert!(a.body["consent_url"].as_str().unwrap().ends_with(&format!("/{TENANT}/adminconsent?client_id={CLIENT}")));
}

#[tokio::test]
async fn conditional_access_block_is_access_denied() {
    let h = Harness::start().await;
    h.emulator.admin().inject_fault(FaultSpec::new(FaultKind::ConditionalAccessBlock));
    let a = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!((a.status, a.error()), (StatusCode::FORBIDDEN, "access_denied"), "{}", a.body);
    assert!(a.description().contains("AADSTS53003"));
}

#[tokio::test]
async fn throttling_is_retried_then_reported_with_retry_after() {
    let h = Harness::start().await;
    // Two 429s, then normal: our two retries absorb them.
    let mut spec = FaultSpec::new(FaultKind::Throttle { retry_after_secs: 0 });
    spec.duration = FaultDuration::NextRequests(2);
    h.emulator.admin().inject_fault(spec);
    let a = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(h.obo_requests(), 3);

    // Throttled for good: 503 with Retry-After after the retries.
    h.emulator.admin().inject_fault(FaultSpec::new(FaultKind::Throttle { retry_after_secs: 1 }));
    let a = h.exchange(&h.user_token(|_| {}), USER_READ, &[]).await;
    assert_eq!((a.status, a.error()), (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"), "{}", a.body);
    assert_eq!(a.headers["retry-after"], "1");
    assert_eq!(h.obo_requests(), 6);
}

#[tokio::test]
async fn server_errors_are_retried_and_an_unreachable_entra_is_502() {
    let h = Harness::start().await;
    let mut spec = FaultSpec::new(FaultKind::ServerError);
    spec.duration = FaultDuration::NextRequests(1);
    h.emulator.admin().inject_fault(spec);
    let a = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    // Keys are fetched from the emulator, then Entra goes away: the OBO call cannot connect.
    let token = h.user_token(|_| {});
    let emulator_base = h.emulator.http_base();
    drop(h);
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let h2 = Harness::start_with(Options { authority: Some(format!("http://127.0.0.1:{port}")), ..Options::default() })
        .await;
    let a = h2.exchange(&token, FILES_READ, &[]).await;
    assert_eq!((a.status, a.error()), (StatusCode::BAD_GATEWAY, "server_error"), "{}", a.body);
    // The tenant's keys cannot be fetched from the dead authority: Entra's trouble, said so.
    let unreachable =
        KeyError::Fetch { tenant: TENANT.into(), cause: FetchError::Unreachable { kind: "connect_refused" } };
    assert_eq!(a.description(), ExchangeError::from(unreachable).public_description());
    assert_ne!(emulator_base, h2.emulator.http_base());
}

#[tokio::test]
async fn revoked_certificate_falls_back_to_the_next_one_without_a_failed_request() {
    let h = Harness::start_with(Options { certificates: 2, ..Options::default() }).await;
    let newest = h.certs[0].info().sha1_hex();
    h.emulator.admin().revoke_certificate(TENANT, CLIENT, &newest).unwrap();
    let a = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(h.obo_requests(), 2, "one rejected by certificate, one accepted");
    // The bad certificate is now behind the good one: the next miss uses the good one directly.
    let b = h.exchange(&h.user_token(|_| {}), USER_READ, &[]).await;
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(h.obo_requests(), 3);
    let metrics = h.http.get(format!("{}/metrics", h.metrics_base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tessera_certificate_days_left"), "{metrics}");
    assert!(
        metrics.contains(&format!("tessera_certificate_rejections_total{{client_app=\"{CLIENT}\",code=\"700027\"}} 1")),
        "{metrics}"
    );
}

#[tokio::test]
async fn signing_key_rotation_causes_no_failed_request() {
    let h = Harness::start().await;
    let before = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!(before.status, StatusCode::OK);
    h.emulator.admin().rotate_signing_key().unwrap();
    // A token signed with the new key: its kid is unknown to the STS, which refetches once.
    let after = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    let metrics = h.http.get(format!("{}/metrics", h.metrics_base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tessera_key_refreshes_total{reason=\"unknown_kid\"} 1"), "{metrics}");
}
