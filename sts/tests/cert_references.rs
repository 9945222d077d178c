//! The registry decides which certificates the STS may sign with: a configured certificate with
//! no `client_certificates` row for its client app is never used, and `sts registry check`
//! names it (and any reference no configured certificate answers).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use arc_swap::ArcSwap;
use common::{CLIENT, FILES_READ, Harness, Options};
use prometheus_client::metrics::gauge::Gauge;
use registry::testing::TestDb;
use registry::{CertificateRef, Snapshot};
use sts::{Certificate, CredentialSet, generate_self_signed_with_validity};

/// The demo registry with exactly these certificate references for the demo client app.
fn snapshot_referencing(thumbprints: &[String]) -> Arc<Snapshot> {
    let mut rows = registry::demo::rows();
    rows.certificates = thumbprints
        .iter()
        .map(|t| CertificateRef {
            client_app_id: CLIENT.into(),
            thumbprint_sha256: t.clone(),
            description: String::new(),
            added_at: "2026-01-01T00:00:00Z".into(),
        })
        .collect();
    Arc::new(Snapshot::from_rows(rows))
}

fn cert(name: &str, not_before: i64) -> Certificate {
    let g = generate_self_signed_with_validity(name, not_before, not_before + 90 * 86_400).unwrap();
    Certificate::from_pem(g.cert_pem(), g.key_pem().expose()).unwrap()
}

fn subjects(set: &CredentialSet, now: i64) -> Vec<String> {
    set.candidates(CLIENT, now).iter().map(|c| c.subject().to_owned()).collect()
}

#[test]
fn only_referenced_certificates_are_candidates_and_a_new_snapshot_is_followed() {
    let now = sts::unix_now();
    let (newer, older) = (cert("newer", now - 3600), cert("older", now - 7200));
    let (newer_hex, older_hex) = (newer.sha256_hex(), older.sha256_hex());
    let set = CredentialSet::from_certs(vec![(CLIENT.into(), newer), (CLIENT.into(), older)]);
    assert_eq!(subjects(&set, now), ["CN=newer", "CN=older"], "a set that follows no registry uses all");

    let current = Arc::new(ArcSwap::new(snapshot_referencing(std::slice::from_ref(&older_hex))));
    let gauge = Gauge::default();
    let source = Arc::clone(&current);
    set.follow_registry(move || source.load_full(), gauge.clone());
    assert_eq!(subjects(&set, now), ["CN=older"], "the newest is configured but not referenced");
    assert_eq!(set.unreferenced(), [(CLIENT.to_owned(), newer_hex.clone())]);
    assert_eq!(gauge.get(), 1);

    // A reload that adds the reference: used again, newest first.
    current.store(snapshot_referencing(&[older_hex.clone(), newer_hex.to_uppercase()]));
    assert_eq!(subjects(&set, now), ["CN=newer", "CN=older"]);
    assert_eq!(gauge.get(), 0);

    // A reload that removes every reference: nothing to sign with.
    current.store(snapshot_referencing(&[]));
    assert!(subjects(&set, now).is_empty());
    assert_eq!(gauge.get(), 2);
}

#[tokio::test]
async fn an_unreferenced_certificate_is_never_used_for_an_exchange() {
    let h = Harness::start_with(Options { certificates: 1, unreferenced_certificates: vec![0], ..Options::default() })
        .await;
    let token = h.user_token(|_| {});
    let refused = h.exchange(&token, FILES_READ, &[]).await;
    // Only the error is shown on failure: a success body would hold a token.
    assert_eq!(refused.status, 500, "an exchange was signed with an unreferenced certificate ({})", refused.error());
    assert_eq!(refused.error(), "server_error");
    assert_eq!(h.obo_requests(), 0, "Entra was called");
    // Our own fault (no usable certificate): outcome `server_error`, not Entra's `upstream_error`.
    assert!(h.state.exchanger.audit.flush().await, "the audit row was written");
    let outcomes: Vec<String> = h.db.store().recent_audit(10).await.unwrap().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["server_error"]);
    let ready = h.http.get(format!("{}/readyz", h.base)).send().await.unwrap();
    assert_eq!(ready.status(), 503, "no workload can be served without a referenced certificate");
    let metrics = h.http.get(format!("{}/metrics", h.metrics_base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tessera_certificates_unreferenced 1"), "{metrics}");

    // The operator adds the reference; the reloaded snapshot makes the certificate usable.
    h.registry_sql(&format!(
        "INSERT INTO client_certificates (client_app_id, thumbprint_sha256, description, added_at) \
         VALUES ('{CLIENT}', '{}', 'now referenced', '2026-01-02T00:00:00Z')",
        h.certs[0].info().sha256_hex()
    ))
    .await;
    let issued = h.exchange(&token, FILES_READ, &[]).await;
    assert_eq!(issued.status, 200, "{} {}", issued.error(), issued.description());
    assert_eq!(h.obo_requests(), 1);
}

#[tokio::test]
async fn registry_check_names_unreferenced_and_unconfigured_certificates() {
    let db = TestDb::postgres().await;
    db.store().migrate_demo().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let g =
        generate_self_signed_with_validity("configured-only", sts::unix_now() - 60, sts::unix_now() + 86_400).unwrap();
    let (cert_path, key_path) = (dir.path().join("c.cert.pem"), dir.path().join("c.key.pem"));
    std::fs::write(&cert_path, g.cert_pem()).unwrap();
    std::fs::write(&key_path, g.key_pem().expose()).unwrap();
    let config = dir.path().join("tessera.toml");
    std::fs::write(
        &config,
        format!(
            "[[credentials]]\nclient_app_id = \"{CLIENT}\"\ncert_pem = {:?}\nkey_pem = {:?}\n",
            cert_path.display().to_string(),
            key_path.display().to_string()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sts"))
        .env_clear()
        .env("TESSERA_CONFIG", &config)
        .env("TESSERA_REGISTRY__DATABASE_URL", db.url())
        .args(["registry", "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    let configured = g.info().sha256_hex();
    assert!(
        stdout.lines().any(|l| l.contains(&configured) && l.contains("does not reference it")),
        "the configured certificate is not named: {stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(registry::demo::CERTIFICATE_THUMBPRINT_SHA256) && l.contains("no such certificate")),
        "the demo registry's reference is not named: {stdout}"
    );
    db.cleanup().await;
}
