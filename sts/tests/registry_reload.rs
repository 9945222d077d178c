//! The STS notices a newly applied registry migration and reloads; when the database goes away it
//! keeps serving the last good snapshot and `/readyz` says `degraded`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn new_migration_reloads_and_an_unreachable_database_degrades_without_losing_the_snapshot() {
    let h = Harness::start().await;
    let other_tenant = h.user_token(|r| r.tenant = OTHER_TENANT.into());
    assert_eq!(h.exchange(&other_tenant, FILES_READ, &[]).await.error(), "consent_required");

    // An operator grants consent in a new migration.
    assert!(!h.state.registry.refresh(false).await, "nothing changed yet: no reload");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("20261122120000_consent_other_tenant.sql"),
        format!(
            "INSERT INTO tenant_consents (tenant_id, workload, status, changed_at, reference) \
             VALUES ('{OTHER_TENANT}', 'file-picker', 'granted', '2026-11-22T12:00:00Z', 'CHG-42');"
        ),
    )
    .unwrap();
    h.db.store().migrate(Some(dir.path())).await.unwrap();
    assert!(h.state.registry.refresh(false).await, "a new migration triggers a reload");
    let a = h.exchange(&other_tenant, FILES_READ, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    // The database becomes unreachable: refresh fails, the snapshot stays, readiness degrades.
    h.state.registry.store().close().await;
    assert!(!h.state.registry.refresh(true).await);
    let ready = h.http.get(format!("{}/readyz", h.base)).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "still serving");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["registry"]["status"], "degraded");
    let b = h.exchange(&h.user_token(|_| {}), USER_READ, &[]).await;
    assert_eq!(b.status, StatusCode::OK, "tokens are still issued from the last good snapshot: {}", b.body);
}
