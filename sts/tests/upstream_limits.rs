//! An Entra that is slow, throttling, slow to handshake, unreachable or rotating its keys while
//! someone floods the STS with made-up key ids: every wait is bounded by one deadline, bursts
//! queue for connections instead of failing, and a genuine new signing key is accepted within the
//! refetch interval whatever junk came before it.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use entra_emulator::{FaultDuration, FaultKind, FaultSpec};
use reqwest::StatusCode;
use sts::ExchangeError;
use sts::validation::{FetchError, KeyError};
use tokio::net::{TcpListener, TcpStream};

const SLACK: Duration = Duration::from_secs(2);

async fn metrics(h: &Harness) -> String {
    h.http.get(format!("{}/metrics", h.metrics_base)).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn stacked_faults_answer_within_the_deadline_with_entras_retry_after() {
    // The default deadline (10 s), an Entra that answers after 9 s with 503 Retry-After: 5.
    let h = Harness::start().await;
    assert_eq!(h.state.config.entra.upstream_timeout_ms, 10_000);
    h.emulator.admin().inject_fault(FaultSpec::new(FaultKind::Latency { millis: 9_000 }));
    h.emulator.admin().inject_fault(FaultSpec::new(FaultKind::ServiceUnavailable { retry_after_secs: Some(5) }));
    let started = Instant::now();
    let a = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    let took = started.elapsed();
    assert_eq!((a.status, a.error()), (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"), "{}", a.body);
    assert_eq!(a.headers["retry-after"], "5", "Entra's own Retry-After, which did not fit the deadline");
    assert!(took <= Duration::from_millis(10_000) + SLACK, "answered after {took:?}");
    assert_eq!(h.obo_requests(), 1, "no retry that could not finish in time");
}

#[tokio::test]
async fn a_silent_entra_is_answered_at_the_deadline() {
    let h =
        Harness::start_with(Options { configure: |c| c.entra.upstream_timeout_ms = 1_000, ..Options::default() }).await;
    h.emulator.admin().inject_fault(FaultSpec::new(FaultKind::Latency { millis: 30_000 }));
    let started = Instant::now();
    let a = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    let took = started.elapsed();
    assert_eq!((a.status, a.error()), (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"), "{}", a.body);
    assert!(a.description().contains("upstream_timeout_ms"), "{}", a.body);
    assert!(took <= Duration::from_millis(1_000) + SLACK, "answered after {took:?}");
    assert!(metrics(&h).await.contains("tessera_upstream_errors_total{kind=\"deadline\"} 1"));
}

#[tokio::test]
async fn retries_that_fit_the_deadline_still_happen() {
    let h = Harness::start().await;
    let mut spec = FaultSpec::new(FaultKind::ServiceUnavailable { retry_after_secs: Some(1) });
    spec.duration = FaultDuration::NextRequests(1);
    h.emulator.admin().inject_fault(spec);
    let a = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(h.obo_requests(), 2);
}

/// A TCP proxy in front of the emulator's HTTPS listener that lets one new connection through at
/// a time, `hold` apart: an authority whose TLS handshakes are slow and serialised.
async fn slow_handshake_proxy(hold: Duration) -> (String, Arc<OnceLock<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let target: Arc<OnceLock<String>> = Arc::default();
    let gate = Arc::new(tokio::sync::Mutex::new(()));
    let upstream = Arc::clone(&target);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (gate, upstream) = (Arc::clone(&gate), Arc::clone(&upstream));
            tokio::spawn(async move {
                {
                    let _one_at_a_time = gate.lock().await;
                    tokio::time::sleep(hold).await;
                }
                let Some(target) = upstream.get() else { return };
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_distinct_misses_against_a_slow_handshaking_authority_all_succeed() {
    // One handshake per 150 ms, and Entra takes 300 ms per answer: in the 3 s connect timeout only
    // ~20 connections come up, and they serve ~half of the burst. The other connects time out —
    // those requests must wait for a pooled connection (retrying within the deadline), not fail.
    let (proxy, target) = slow_handshake_proxy(Duration::from_millis(150)).await;
    let h = Arc::new(
        Harness::start_with(Options { https: true, authority: Some(format!("https://{proxy}")), ..Options::default() })
            .await,
    );
    target.set(h.emulator.https_base().trim_start_matches("https://").to_owned()).unwrap();
    let mut latency = FaultSpec::new(FaultKind::Latency { millis: 300 });
    latency.grant = Some(entra_emulator::GrantKind::OnBehalfOf);
    h.emulator.admin().inject_fault(latency);
    let tokens: Vec<String> = (0..200).map(|_| h.user_token(|_| {})).collect();
    assert_eq!(tokens.iter().collect::<HashSet<_>>().len(), 200, "distinct tokens: 200 cache misses");
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|t| {
            let h = Arc::clone(&h);
            tokio::spawn(async move { h.exchange(&t, FILES_READ, &[]).await })
        })
        .collect();
    let mut failed = Vec::new();
    for t in tasks {
        let a = t.await.unwrap();
        if a.status != StatusCode::OK {
            failed.push(format!("{} {}", a.status, a.body));
        }
    }
    assert!(failed.is_empty(), "{} of 200 failed, e.g. {:?}", failed.len(), failed.first());
    assert_eq!(h.obo_requests(), 200);
}

#[tokio::test]
async fn tls_failures_are_counted_by_kind() {
    // The emulator's HTTPS listener, without trusting its CA.
    let mut h = Harness::start().await;
    let emulator_https = h.emulator.https_base();
    h.shut_down().await;
    let h = Harness::start_with(Options { authority: Some(emulator_https), ..Options::default() }).await;
    let a = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!((a.status, a.error()), (StatusCode::BAD_GATEWAY, "server_error"), "{}", a.body);
    assert!(a.body["correlation_id"].is_string());
    let m = metrics(&h).await;
    assert!(m.contains("tessera_upstream_errors_total{kind=\"tls\"}"), "{m}");
}

#[tokio::test]
async fn refused_connections_are_retried_then_counted() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let h =
        Harness::start_with(Options { authority: Some(format!("http://127.0.0.1:{closed}")), ..Options::default() })
            .await;
    let a = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!((a.status, a.error()), (StatusCode::BAD_GATEWAY, "server_error"), "{}", a.body);
    let unreachable =
        KeyError::Fetch { tenant: TENANT.into(), cause: FetchError::Unreachable { kind: "connect_refused" } };
    assert_eq!(a.description(), ExchangeError::from(unreachable).public_description(), "{}", a.body);
    // On the wire a 502 is `server_error`; in metrics and audit it is Entra's trouble, not ours.
    let m = metrics(&h).await;
    assert!(m.contains("tessera_exchanges_total{outcome=\"upstream_error\"} 1"), "{m}");
    assert!(!m.contains("tessera_exchanges_total{outcome=\"server_error\"}"), "{m}");
    assert!(h.state.exchanger.audit.flush().await, "the audit row was written");
    let rows = h.db.store().recent_audit(10).await.unwrap();
    let outcomes: Vec<&str> = rows.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["upstream_error"]);
}

/// A token like `token` whose header names another (made-up) key.
fn with_kid(token: &str, kid: &str) -> String {
    use base64::Engine;
    let (_, rest) = token.split_once('.').unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!(r#"{{"alg":"RS256","kid":"{kid}","typ":"JWT"}}"#));
    format!("{header}.{rest}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_kids_cannot_stall_a_genuine_key_rotation() {
    let h = Harness::start_with(Options { configure: |c| c.entra.key_refetch_interval_secs = 2, ..Options::default() })
        .await;
    let good = h.user_token(|_| {});
    assert_eq!(h.exchange(&good, FILES_READ, &[]).await.status, StatusCode::OK, "keys loaded");
    // Junk spends this window's forced refetch...
    for i in 0..20 {
        let a = h.exchange(&with_kid(&good, &format!("made-up-{i}")), USER_READ, &[]).await;
        assert_eq!(a.error(), "invalid_grant", "{}", a.body);
    }
    // ...and then Entra rotates for real.
    h.emulator.admin().rotate_signing_key().unwrap();
    let rotated = h.user_token(|_| {});
    let first_seen = Instant::now();
    let accepted = loop {
        // More junk all along: it must neither delay the new key nor cost more fetches.
        let _ = h.exchange(&with_kid(&good, "made-up-again"), USER_READ, &[]).await;
        let a = h.exchange(&rotated, FILES_READ, &[]).await;
        if a.status == StatusCode::OK {
            break first_seen.elapsed();
        }
        assert_eq!(a.error(), "invalid_grant", "{}", a.body);
        assert!(first_seen.elapsed() < Duration::from_secs(2) + SLACK, "the new key is still refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(accepted <= Duration::from_secs(2) + SLACK, "accepted after {accepted:?}");
    let m = metrics(&h).await;
    assert!(m.contains("tessera_key_refreshes_total{reason=\"unknown_kid\"} 1"), "{m}");
    assert!(m.contains("tessera_key_refreshes_total{reason=\"scheduled\"} 1"), "the window's end fetched it: {m}");
}

#[tokio::test]
async fn a_v1_token_is_accepted_with_a_key_labelled_in_the_v2_form() {
    let h = Harness::start_with(Options {
        backend_token_version: 1,
        emulator: |c| c.server.v1_keys_carry_v2_issuer = true,
        ..Options::default()
    })
    .await;
    let jwks: serde_json::Value = h
        .http
        .get(format!("{}/{TENANT}/discovery/keys", h.emulator.http_base()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let label = jwks["keys"][0]["issuer"].as_str().unwrap_or_default();
    assert!(label.ends_with("/{tenantid}/v2.0"), "the v1 key document labels keys in the v2 form: {jwks}");
    let token = h.user_token(|r| r.version = 1);
    let a = h.exchange(&token, FILES_READ, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}
