//! The exchange's happy paths against the real emulator and PostgreSQL: v1 and v2 tokens, the
//! cache, single-flight, expiry, audit rows, and the browser-facing extras.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn v2_user_token_becomes_a_graph_token_for_the_same_user() {
    let h = Harness::start().await;
    let token = h.user_token(|_| {});
    let a = h.exchange(&token, &format!("{FILES_READ} {USER_READ}"), &[("audience", "file-picker")]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token");
    assert_eq!(a.headers["cache-control"], "no-store");
    assert!(a.body["expires_in"].as_i64().unwrap() > 3000);
    let claims = a.token_claims();
    assert_eq!(claims["aud"], registry::demo::GRAPH_APP_ID, "{claims}");
    assert_eq!(claims["oid"], USER_OID);
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["azp"], CLIENT, "the backend token is the client app's, on behalf of the user");
    let scp: Vec<&str> = claims["scp"].as_str().unwrap().split(' ').collect();
    assert!(scp.contains(&"Files.Read") && scp.contains(&"User.Read"), "{scp:?}");
    assert_eq!(claims["xms_cc"][0], "cp1", "client capability cp1 is declared: {claims}");
    assert_eq!(h.obo_requests(), 1);
}

#[tokio::test]
async fn v1_user_token_with_app_id_uri_audience_is_accepted_and_backend_version_follows_the_resource() {
    let h = Harness::start_with(Options { backend_token_version: 1, ..Options::default() }).await;
    let token = h.user_token(|r| {
        r.version = 1;
    });
    let a = h.exchange(&token, FILES_READ, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let claims = a.token_claims();
    assert_eq!(claims["ver"], "1.0", "Graph accepts v1 here, so Entra issues v1: {claims}");
    assert_eq!(claims["appid"], CLIENT);
}

#[tokio::test]
async fn second_identical_request_is_served_from_the_cache() {
    let h = Harness::start().await;
    let token = h.user_token(|_| {});
    let first = h.exchange(&token, FILES_READ, &[]).await;
    let second = h.exchange(&token, FILES_READ, &[]).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(first.access_token(), second.access_token());
    assert_eq!(h.obo_requests(), 1, "the second answer came from the cache");
    // Scope order and resource case do not make a new entry.
    let third = h.exchange(&token, "HTTPS://GRAPH.MICROSOFT.COM/Files.Read", &[]).await;
    assert_eq!(third.access_token(), first.access_token());
    assert_eq!(h.obo_requests(), 1);
    // Different scopes do.
    h.exchange(&token, USER_READ, &[]).await;
    assert_eq!(h.obo_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_identical_requests_make_one_obo_call() {
    let h = Arc::new(Harness::start().await);
    // Entra takes its time, so all 64 are in flight while the first OBO call is: without
    // single-flight each of them would find the cache empty and reach Entra (checked by disabling
    // it: 64 calls).
    let mut slow = entra_emulator::FaultSpec::new(entra_emulator::FaultKind::Latency { millis: 500 });
    slow.grant = Some(entra_emulator::GrantKind::OnBehalfOf);
    h.emulator.admin().inject_fault(slow);
    let token = Arc::new(h.user_token(|_| {}));
    let start = Arc::new(tokio::sync::Barrier::new(64));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (h, token, start) = (Arc::clone(&h), Arc::clone(&token), Arc::clone(&start));
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            h.exchange(&token, FILES_READ, &[]).await
        }));
    }
    let mut tokens = std::collections::HashSet::new();
    for t in tasks {
        let a = t.await.unwrap();
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        tokens.insert(a.access_token().to_owned());
    }
    assert_eq!(tokens.len(), 1);
    assert_eq!(h.obo_requests(), 1, "single-flight: exactly one OBO call reached Entra");
}

#[tokio::test]
async fn a_token_inside_the_expiry_margin_is_refreshed_not_served() {
    // Backend tokens live 3600 s; with a margin of 3600 s every cached entry is already too old.
    let h = Harness::start_with(Options { cache_expiry_margin_secs: 3600, ..Options::default() }).await;
    let token = h.user_token(|_| {});
    let a = h.exchange(&token, FILES_READ, &[]).await;
    let b = h.exchange(&token, FILES_READ, &[]).await;
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(h.obo_requests(), 2, "the entry expired before the token did, so Entra was asked again");
}

#[tokio::test]
async fn each_exchange_leaves_an_audit_row_without_tokens() {
    let h = Harness::start().await;
    let token = h.user_token(|_| {});
    let ok = h.exchange(&token, FILES_READ, &[]).await;
    h.exchange(&token, FILES_READ, &[]).await;
    h.exchange(&token, "https://graph.microsoft.com/Mail.Read", &[]).await;
    assert!(h.state.exchanger.audit.flush().await, "the audit is in the database");
    let rows = h.db.store().recent_audit(10).await.unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let outcomes: Vec<(&str, bool)> = rows.iter().map(|r| (r.outcome.as_str(), r.cache_hit)).collect();
    assert!(
        outcomes.contains(&("ok", false))
            && outcomes.contains(&("ok", true))
            && outcomes.contains(&("invalid_scope", false)),
        "{outcomes:?}"
    );
    let ok_row = rows.iter().find(|r| r.outcome == "ok" && !r.cache_hit).unwrap();
    assert_eq!(ok_row.tenant_id.as_deref(), Some(TENANT));
    assert_eq!(ok_row.user_oid.as_deref(), Some(USER_OID));
    assert_eq!(ok_row.broker_app_id.as_deref(), Some(BROKER));
    assert_eq!(ok_row.client_app_id.as_deref(), Some(CLIENT));
    assert_eq!(ok_row.workload.as_deref(), Some("file-picker"));
    assert_eq!(ok_row.backend.as_deref(), Some(registry::demo::GRAPH_APP_ID));
    let all = format!("{rows:?}");
    assert!(!all.contains(&token) && !all.contains(ok.access_token()), "no token in audit rows");
}

/// Records waiting for the writer's pace, and hits in its tally, are written when the server
/// stops, not lost.
#[tokio::test]
async fn closing_the_audit_writes_what_is_queued() {
    let h = Harness::start().await;
    let token = h.user_token(|_| {});
    h.exchange(&token, FILES_READ, &[]).await;
    h.exchange(&token, FILES_READ, &[]).await;
    h.exchange(&token, "https://graph.microsoft.com/Mail.Read", &[]).await;
    h.state.exchanger.audit.close().await;
    let rows = h.db.store().recent_audit(10).await.unwrap();
    assert_eq!(rows.len(), 3, "the records and the hit are stored once close returns: {rows:?}");
    assert_eq!(rows.iter().filter(|r| r.cache_hit).count(), 1, "{rows:?}");
}

/// A cache hit is counted in the writer's tally, not queued as a record: at rest the tally's first
/// row still wakes the writer, which writes it at once rather than at the next flush or record.
#[tokio::test]
async fn a_cache_hit_at_rest_is_written_without_a_flush() {
    let h = Harness::start().await;
    let token = h.user_token(|_| {});
    assert_eq!(h.exchange(&token, FILES_READ, &[]).await.status, StatusCode::OK);
    assert!(h.state.exchanger.audit.flush().await, "the miss is in the database");
    assert_eq!(h.exchange(&token, FILES_READ, &[]).await.status, StatusCode::OK);
    // No seam says "the writer wrote on its own": wait for the row, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let rows = h.db.store().recent_audit(10).await.unwrap();
        if let Some(hit) = rows.iter().find(|r| r.cache_hit) {
            assert_eq!((hit.hits, hit.user_oid.as_deref(), hit.outcome.as_str()), (1, Some(USER_OID), "ok"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the hit was not written within 10 s: {rows:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Under load, repeated cache hits of one token share an audit row whose `hits` count every one
/// of them; the miss that issued the token keeps its own row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_cache_hits_are_counted_in_shared_audit_rows() {
    let h = std::sync::Arc::new(Harness::start().await);
    let token = h.user_token(|_| {});
    assert_eq!(h.exchange(&token, FILES_READ, &[]).await.status, StatusCode::OK);
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let (h, token) = (h.clone(), token.clone());
            tokio::spawn(async move { h.exchange(&token, FILES_READ, &[]).await.status })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert!(h.state.exchanger.audit.flush().await, "the audit is in the database");
    let rows = h.db.store().recent_audit(100).await.unwrap();
    let hit_rows: Vec<_> = rows.iter().filter(|r| r.cache_hit).collect();
    // How many rows the 60 hits share depends on how they fell into the writer's batches (its
    // pace); that they fold is the pure `audit::coalesce` properties' to prove. Here: each hit is
    // counted exactly once, whatever the batches were.
    assert_eq!(hit_rows.iter().map(|r| r.hits).sum::<i64>(), 60, "every hit is counted once: {rows:?}");
    let misses: Vec<_> = rows.iter().filter(|r| !r.cache_hit).collect();
    assert_eq!((misses.len(), misses[0].hits, misses[0].last_at_ms), (1, 1, None), "the miss has its own row");
    for r in hit_rows.iter().filter(|r| r.hits > 1) {
        assert!(r.last_at_ms.is_some_and(|last| last >= r.at_ms), "{r:?}");
        assert_eq!((r.user_oid.as_deref(), r.workload.as_deref()), (Some(USER_OID), Some("file-picker")));
    }
}

#[tokio::test]
async fn broker_config_cors_openapi_and_correlation_ids() {
    let h = Harness::start().await;
    let cfg: serde_json::Value =
        h.http.get(format!("{}/broker/config", h.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(cfg["broker_app_id"], BROKER);
    assert_eq!(cfg["workloads"][0]["name"], "file-picker");
    assert_eq!(cfg["workloads"][0]["client_app_id"], CLIENT);
    assert_eq!(cfg["workloads"][0]["user_scope"], format!("{}/access_as_user", registry::demo::FILE_PICKER_APP_ID_URI));
    assert_eq!(cfg["workloads"][0]["backends"][0]["resource"], "https://graph.microsoft.com");

    // Preflight from a Dynamics origin matching the wildcard, and from one that does not.
    let preflight = |origin: &'static str| {
        h.http
            .request(reqwest::Method::OPTIONS, format!("{}/token", h.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-correlation-id")
            .send()
    };
    let ok = preflight("https://contoso.crm4.dynamics.com").await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://contoso.crm4.dynamics.com");
    let no = preflight("https://evil.example.com").await.unwrap();
    assert!(no.headers().get("access-control-allow-origin").is_none());

    let doc: serde_json::Value =
        h.http.get(format!("{}/openapi.json", h.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/token"]["post"]["responses"]["401"].is_object());

    let r = h
        .http
        .post(format!("{}/token", h.base))
        .header("x-correlation-id", "abc-123")
        .form(&[("grant_type", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-correlation-id"], "abc-123");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["correlation_id"], "abc-123");

    let metrics = h.http.get(format!("{}/metrics", h.metrics_base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tessera_exchanges_total{outcome=\"unsupported_grant_type\"} 1"), "{metrics}");
    let ready = h.http.get(format!("{}/readyz", h.base)).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

/// `/metrics` names client apps and certificate thumbprints: it is served on the operators'
/// listener only, and the public one answers it like any unknown path.
#[tokio::test]
async fn metrics_are_on_the_operators_listener_only() {
    let h = Harness::start().await;
    let public = h.http.get(format!("{}/metrics", h.base)).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = public.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(!body.to_string().contains("tessera_"), "{body}");

    let operators = h.http.get(format!("{}/metrics", h.metrics_base)).send().await.unwrap();
    assert_eq!(operators.status(), StatusCode::OK);
    assert!(operators.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = operators.text().await.unwrap();
    assert!(text.contains("tessera_certificate_days_left{client_app="), "{text}");
    let token = h.http.post(format!("{}/token", h.metrics_base)).send().await.unwrap();
    assert_eq!(token.status(), StatusCode::NOT_FOUND, "the operators' listener serves nothing else");
}
