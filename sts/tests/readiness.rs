//! `/readyz` tells the truth within seconds: the database going away and coming back, every
//! certificate of a client app rejected by Entra, and Entra unreachable.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::private_pg::PrivatePg;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

async fn readyz(h: &Harness) -> (StatusCode, Value) {
    let r = h.http.get(format!("{}/readyz", h.base)).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

/// Asks `/readyz` until its status is `want`; returns how long that took. Fails past `bound`.
async fn until_status(h: &Harness, want: &str, bound: Duration) -> (Duration, StatusCode, Value) {
    let started = Instant::now();
    loop {
        let (code, body) = readyz(h).await;
        if body["status"] == want {
            return (started.elapsed(), code, body);
        }
        assert!(started.elapsed() < bound, "/readyz not {want} within {bound:?}: {code} {body}");
        tokio::time::sleep(Duration::from_millis(250)).await; // a load balancer's polling
    }
}

#[tokio::test]
async fn database_outage_is_degraded_within_seconds_and_ready_again_after() {
    let pg = PrivatePg::start();
    let h = Harness::start_with(Options { pg_admin_url: Some(pg.admin_url()), ..Options::default() }).await;
    let (code, body) = readyz(&h).await;
    assert_eq!((code, body["status"].as_str()), (StatusCode::OK, Some("ready")), "{body}");

    pg.stop();
    let (took, code, body) = until_status(&h, "degraded", Duration::from_secs(15)).await;
    eprintln!("degraded {took:?} after the database stopped");
    assert_eq!(code, StatusCode::OK, "the last good snapshot still serves: {body}");
    assert_eq!(body["checks"]["registry"]["status"], "degraded", "{body}");
    assert!(body["checks"]["registry"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    // Tokens are still issued from the snapshot; their audit records wait in the spool.
    let a = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(!h.state.exchanger.audit.flush().await);
    let (_, body) = readyz(&h).await;
    assert_eq!(body["checks"]["audit"]["status"], "spooling", "{body}");

    pg.start_again();
    let (took, code, body) = until_status(&h, "ready", Duration::from_secs(15)).await;
    eprintln!("ready {took:?} after the database returned");
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["checks"]["registry"]["status"], "ready", "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !h.state.exchanger.audit.flush().await {
        assert!(Instant::now() < deadline, "the spool was not replayed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, body) = readyz(&h).await;
    assert_eq!(body["checks"]["audit"]["status"], "ready", "{body}");
}

#[tokio::test]
async fn every_certificate_rejected_by_entra_fails_the_check_and_answers_503() {
    let h = Harness::start_with(Options { certificates: 2, ..Options::default() }).await;
    let (code, body) = readyz(&h).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let app = &body["checks"]["credentials"]["client_apps"][CLIENT];
    assert_eq!((app["status"].as_str(), app["certificates"].as_u64()), (Some("ready"), Some(2)), "{body}");
    assert_eq!(body["checks"]["entra"]["status"], "reachable", "{body}");

    // One certificate rejected: the other serves; still ready.
    h.emulator.admin().revoke_certificate(TENANT, CLIENT, &h.certs[0].info().sha1_hex()).unwrap();
    let a = h.exchange(&h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let (code, body) = readyz(&h).await;
    assert_eq!((code, body["status"].as_str()), (StatusCode::OK, Some("ready")), "{body}");
    assert_eq!(body["checks"]["credentials"]["client_apps"][CLIENT]["rejected_by_entra"], 1, "{body}");

    // All rejected: no new token can be issued for the only client app.
    h.emulator.admin().revoke_certificate(TENANT, CLIENT, &h.certs[1].info().sha1_hex()).unwrap();
    let a = h.exchange(&h.user_token(|_| {}), USER_READ, &[]).await;
    assert_ne!(a.status, StatusCode::OK, "{}", a.body);
    let (code, body) = readyz(&h).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready", "{body}");
    let app = &body["checks"]["credentials"]["client_apps"][CLIENT];
    assert_eq!((app["status"].as_str(), app["rejected_by_entra"].as_u64()), (Some("failing"), Some(2)), "{body}");
    assert_eq!(body["checks"]["credentials"]["status"], "failing", "{body}");
}

#[tokio::test]
async fn unreachable_authority_is_reported_as_degraded() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let h = Harness::start_with(Options { authority: Some(format!("http://127.0.0.1:{port}")), ..Options::default() })
        .await;
    let started = Instant::now();
    let (code, body) = readyz(&h).await;
    assert!(started.elapsed() < Duration::from_secs(5), "the probe is bounded: {:?}", started.elapsed());
    assert_eq!((code, body["status"].as_str()), (StatusCode::OK, Some("degraded")), "{body}");
    let entra = &body["checks"]["entra"];
    assert_eq!(entra["status"], "unreachable", "{body}");
    assert_eq!(entra["error"], sts::EntraProbeError::Connect.to_string(), "{body}");
    assert_eq!(entra["authority"], format!("http://127.0.0.1:{port}"), "{body}");
}
