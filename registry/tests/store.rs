//! The store against real databases: every test runs on PostgreSQL (a fresh database, dropped
//! afterwards) and on SQLite (a temporary file).

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

use registry::demo;
use registry::testing::TestDb;
use registry::{
    AuditRecord, ConsentRequest, ConsentStatus, Denial, MigrationOrigin, Problem, Snapshot, StoreError, Target, check,
    decide, render_matrix,
};

/// Runs `$test(TestDb)` once per database engine.
macro_rules! on_both_engines {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test]
                async fn postgres() {
                    super::$test(registry::testing::TestDb::postgres().await).await;
                }
                #[tokio::test]
                async fn sqlite() {
                    super::$test(registry::testing::TestDb::sqlite().await).await;
                }
            }
        )*
    };
}

on_both_engines!(
    schema_and_example_migrations_build_the_registry,
    demo_registry_loads_as_demo_rows,
    embedded_and_folder_demo_migrations_are_the_same,
    fingerprint_changes_only_when_a_migration_is_applied,
    editing_an_applied_migration_is_refused,
    operator_versions_below_the_schema_range_are_refused,
    unmigrated_database_says_so,
    audit_batches_are_written_whole_or_not_at_all,
    check_finds_each_contradiction,
);

const CONTOSO_TENANT: &str = "caf30cf9-f297-46b2-aa07-de549604846f";
const EXPENSE_CLIENT: &str = "067bdb17-4026-4f68-b529-94d1528fea12";
const EXAMPLE_BROKER: &str = "bac483c8-bfa2-4aa9-883b-5a47ce6233d2";

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/examples")
}

/// The example migrations, sorted by name (= by version).
fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 7, "expected the seven example migrations");
    files
}

fn copy_into(dir: &Path, files: &[PathBuf]) {
    for f in files {
        std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
    }
}

async fn schema_and_example_migrations_build_the_registry(db: TestDb) {
    let operator = db.scratch_dir();
    copy_into(operator.path(), &example_files());
    let store = db.store();

    let report = store.migrate(Some(operator.path())).await.unwrap();
    let schema: Vec<i64> =
        report.applied.iter().filter(|m| m.origin == MigrationOrigin::Schema).map(|m| m.version).collect();
    // Only the top-level files: examples/ and demo-registry/ are not part of the schema.
    assert_eq!(schema, vec![1, 2, 3, 4]);
    let operator_versions: Vec<i64> =
        report.applied.iter().filter(|m| m.origin == MigrationOrigin::Operator).map(|m| m.version).collect();
    assert_eq!(
        operator_versions,
        vec![
            20261122100000,
            20261122100100,
            20261122100200,
            20261122100300,
            20261122100400,
            20261122100500,
            20261122100600
        ]
    );
    assert_eq!(report.already_applied, 0);

    let again = store.migrate(Some(operator.path())).await.unwrap();
    assert!(again.applied.is_empty(), "{again}");
    assert_eq!(again.already_applied, 11);

    let snapshot = store.load_snapshot().await.unwrap();
    assert_eq!(check(&snapshot), vec![], "the examples are consistent");
    let workload = snapshot.workload_for_client(EXPENSE_CLIENT).unwrap();
    assert_eq!(workload.name, "expense-report");
    let scopes: Vec<&str> = workload.backends().flat_map(|b| b.scopes()).collect();
    assert_eq!(scopes, vec!["Expenses.Read", "Expenses.Submit"]);
    assert_eq!(snapshot.certificates(EXPENSE_CLIENT).len(), 1);
    let consent = snapshot.consent(CONTOSO_TENANT, "expense-report").unwrap();
    assert_eq!(consent.status, ConsentStatus::Revoked, "grant, then revoke");

    let denial = decide(
        &snapshot,
        &ConsentRequest {
            tenant_id: CONTOSO_TENANT,
            broker_app_id: EXAMPLE_BROKER,
            target: Target::ClientApp(EXPENSE_CLIENT),
            scope: "api://25182f8f-3162-40f4-b99f-4beecbb81217/Expenses.Read",
            authority: "https://login.microsoftonline.com",
        },
    )
    .unwrap_err();
    assert!(matches!(denial, Denial::ConsentRevoked { .. }), "{denial}");

    // The app-only workload and the Power Pages site of the last two examples.
    let site = snapshot.site("Contoso.PowerAppsPortals.com").unwrap();
    assert!(site.client_ids.contains("contoso-invoices") && site.workloads.contains("invoice-archive"));
    let archive = snapshot.workload("invoice-archive").unwrap();
    assert_eq!(archive.app_only.as_ref().unwrap().required_role.as_deref(), Some("Invoices.Archive.Reader"));
    let (grant, tenant) = registry::decide_portal(
        &snapshot,
        &registry::PortalRequest {
            host: "contoso.powerappsportals.com",
            workload: Some("invoice-archive"),
            scope: "api://8e2d4b7a-1c3f-4e5d-a6b7-c8d9e0f1a2b3/.default",
            authority: "https://login.microsoftonline.com",
        },
    )
    .unwrap();
    assert_eq!((grant.scopes.len(), tenant.as_str()), (1, CONTOSO_TENANT));
    let text = render_matrix(&snapshot);
    assert!(text.contains("Power Pages sites (1)") && text.contains("App-only workloads (1)"), "{text}");
    db.cleanup().await;
}

async fn demo_registry_loads_as_demo_rows(db: TestDb) {
    let store = db.store();
    store.migrate(Some(&demo::migrations_dir())).await.unwrap();
    let snapshot = store.load_snapshot().await.unwrap();
    let mut expected = demo::rows();
    expected.sort();
    assert_eq!(snapshot.rows(), &expected);
    assert_eq!(check(&snapshot), vec![]);

    let grant = decide(
        &snapshot,
        &ConsentRequest {
            tenant_id: demo::TENANT_ID,
            broker_app_id: demo::BROKER_APP_ID,
            target: Target::ClientApp(demo::FILE_PICKER_CLIENT_APP_ID),
            scope: "openid Files.Read User.Read",
            authority: "https://login.microsoftonline.com",
        },
    )
    .unwrap();
    assert_eq!(grant.scope_string(), "https://graph.microsoft.com/Files.Read https://graph.microsoft.com/User.Read");

    let matrix = render_matrix(&snapshot);
    assert_eq!(matrix, render_matrix(&Snapshot::from_rows(demo::rows())));
    let consent_line = matrix.lines().find(|l| l.starts_with(demo::TENANT_ID)).unwrap();
    assert!(consent_line.contains("granted"), "{matrix}");
    assert!(matrix.contains("Files.Read User.Read"), "{matrix}");
    db.cleanup().await;
}

async fn embedded_and_folder_demo_migrations_are_the_same(db: TestDb) {
    let store = db.store();
    let embedded = store.migrate_demo().await.unwrap();
    assert_eq!(embedded.applied.len(), 5, "four schema migrations and the demo registry");
    // Same versions and checksums from the folder: nothing new, and no "modified" error.
    let folder = store.migrate(Some(&demo::migrations_dir())).await.unwrap();
    assert!(folder.applied.is_empty(), "{folder}");
    db.cleanup().await;
}

async fn fingerprint_changes_only_when_a_migration_is_applied(db: TestDb) {
    let files = example_files();
    let operator = db.scratch_dir();
    copy_into(operator.path(), &files[..1]);
    let store = db.store();

    store.migrate(Some(operator.path())).await.unwrap();
    let first = store.migrations_fingerprint().await.unwrap();
    store.migrate(Some(operator.path())).await.unwrap();
    assert_eq!(store.migrations_fingerprint().await.unwrap(), first);
    let before = store.load_snapshot().await.unwrap();
    assert_eq!(before.workload("expense-report").unwrap().backends().flat_map(|b| b.scopes()).count(), 1);

    copy_into(operator.path(), &files[1..2]);
    let report = store.migrate(Some(operator.path())).await.unwrap();
    assert_eq!(report.applied.len(), 1);
    let second = store.migrations_fingerprint().await.unwrap();
    assert_ne!(second, first);
    let after = store.load_snapshot().await.unwrap();
    let workload = after.workload("expense-report").unwrap();
    assert!(workload.backends().any(|b| b.scope("expenses.submit").is_some()));
    db.cleanup().await;
}

async fn editing_an_applied_migration_is_refused(db: TestDb) {
    let files = example_files();
    let operator = db.scratch_dir();
    copy_into(operator.path(), &files[..1]);
    let store = db.store();
    store.migrate(Some(operator.path())).await.unwrap();

    let path = operator.path().join(files[0].file_name().unwrap());
    let mut sql = std::fs::read_to_string(&path).unwrap();
    sql.push_str("\n-- an innocent-looking edit\n");
    std::fs::write(&path, sql).unwrap();
    let err = store.migrate(Some(operator.path())).await.unwrap_err();
    assert!(matches!(err, StoreError::Migrate { origin: MigrationOrigin::Operator, .. }), "{err}");
    assert!(err.to_string().contains("20261122100000"), "{err}");
    db.cleanup().await;
}

async fn operator_versions_below_the_schema_range_are_refused(db: TestDb) {
    let operator = db.scratch_dir();
    std::fs::write(operator.path().join("0003_my_workload.sql"), "SELECT 1;\n").unwrap();
    let err = db.store().migrate(Some(operator.path())).await.unwrap_err();
    assert!(matches!(err, StoreError::ReservedVersion { version: 3, .. }), "{err}");
    db.cleanup().await;
}

async fn unmigrated_database_says_so(db: TestDb) {
    let store = db.store();
    assert!(matches!(store.load_snapshot().await, Err(StoreError::NotMigrated)));
    store.migrate(None).await.unwrap();
    let snapshot = store.load_snapshot().await.unwrap();
    assert!(snapshot.workloads().is_empty());
    db.cleanup().await;
}

fn audit(i: i64) -> AuditRecord {
    AuditRecord {
        id: uuid::Uuid::new_v4(),
        at_ms: 1_790_000_000_000 + i,
        correlation_id: format!("corr-{i}"),
        tenant_id: Some(demo::TENANT_ID.into()),
        user_oid: Some("5f1b7c0e-8d2a-4e6b-9c3d-2a1f0e9d8c7b".into()),
        broker_app_id: Some(demo::BROKER_APP_ID.into()),
        client_app_id: Some(demo::FILE_PICKER_CLIENT_APP_ID.into()),
        workload: Some(demo::WORKLOAD.into()),
        backend: Some(demo::GRAPH_APP_ID.into()),
        scopes: Some("https://graph.microsoft.com/User.Read".into()),
        outcome: "issued".into(),
        error: None,
        cache_hit: i % 2 == 0,
        latency_us: 1_500 + i,
        hits: if i % 4 == 0 { 3 } else { 1 },
        last_at_ms: if i % 4 == 0 { Some(1_790_000_000_500 + i) } else { None },
        site: if i % 3 == 0 { Some("contoso.powerappsportals.com".into()) } else { None },
    }
}

async fn audit_batches_are_written_whole_or_not_at_all(db: TestDb) {
    let store = db.store();
    store.migrate(None).await.unwrap();

    let mut first = vec![audit(0), audit(1)];
    first.push(AuditRecord {
        tenant_id: None,
        user_oid: None,
        broker_app_id: None,
        client_app_id: None,
        workload: None,
        backend: None,
        scopes: None,
        outcome: "invalid_request".into(),
        error: Some("invalid_request".into()),
        ..audit(2)
    });
    store.insert_audit(&first).await.unwrap();
    store.insert_audit(&[]).await.unwrap();
    let read = store.recent_audit(10).await.unwrap();
    let mut expected = first.clone();
    expected.reverse();
    assert_eq!(read, expected);

    // Larger than one INSERT statement: still one transaction.
    let big: Vec<AuditRecord> = (10..2_510).map(audit).collect();
    store.insert_audit(&big).await.unwrap();
    assert_eq!(store.recent_audit(10_000).await.unwrap().len(), 2_503);

    // A record already stored (the STS replaying its spool) is skipped; the rest is stored.
    let mut replayed: Vec<AuditRecord> = (3_000..3_010).map(audit).collect();
    replayed.push(first[0].clone());
    replayed.extend(big[..5].iter().cloned());
    store.insert_audit(&replayed).await.unwrap();
    store.insert_audit(&replayed).await.unwrap();
    assert_eq!(store.recent_audit(10_000).await.unwrap().len(), 2_513, "each record stored once");

    // A row the database refuses in the last chunk fails the batch, and nothing of it is kept.
    // (PostgreSQL refuses NUL in text; SQLite stores anything, so it has no such row.)
    if db.sqlite_path().is_none() {
        let mut failing: Vec<AuditRecord> = (4_000..5_200).map(audit).collect();
        failing.push(AuditRecord { correlation_id: "nul\0byte".into(), ..audit(5_200) });
        assert!(store.insert_audit(&failing).await.is_err());
        assert_eq!(store.recent_audit(10_000).await.unwrap().len(), 2_513);
    }
    db.cleanup().await;
}

const BROKER: &str = "b0000000-0000-4000-8000-000000000001";
const CLIENT_NO_BROKER: &str = "c0000000-0000-4000-8000-000000000001";
const CLIENT_NO_CERT: &str = "c0000000-0000-4000-8000-000000000002";
const GRAPH: &str = "00000003-0000-0000-c000-000000000000";
const BACKEND_NO_RESOURCE: &str = "d0000000-0000-4000-8000-000000000002";
const TENANT: &str = "e0000000-0000-4000-8000-000000000001";

async fn check_finds_each_contradiction(db: TestDb) {
    let store = db.store();
    store.migrate(None).await.unwrap();
    // Each statement is accepted by the schema (no foreign keys, on purpose).
    store
        .execute_script(&format!(
            "INSERT INTO app_registrations (app_id, role, display_name, resource_uri) VALUES
                ('{BROKER}', 'broker', 'broker', NULL),
                ('{CLIENT_NO_BROKER}', 'client', 'no broker', NULL),
                ('{CLIENT_NO_CERT}', 'client', 'no certificate', NULL),
                ('{GRAPH}', 'backend', 'Microsoft Graph', 'https://graph.microsoft.com'),
                ('{BACKEND_NO_RESOURCE}', 'backend', 'no resource', NULL);
             INSERT INTO workloads (name, client_app_id) VALUES
                ('no-broker', '{CLIENT_NO_BROKER}'),
                ('no-cert', '{CLIENT_NO_CERT}');
             INSERT INTO workload_brokers (workload, broker_app_id) VALUES ('no-cert', '{BROKER}');
             INSERT INTO workload_backend_scopes (workload, backend_app_id, scope) VALUES
                ('no-broker', '{GRAPH}', 'User.Read'),
                ('no-cert', '{BACKEND_NO_RESOURCE}', 'Read');
             INSERT INTO client_certificates (client_app_id, thumbprint_sha256, description, added_at)
                VALUES ('{CLIENT_NO_BROKER}', '{}', 'c', '2026-11-22T10:00:00Z');
             INSERT INTO tenant_consents (tenant_id, workload, status, changed_at, reference)
                VALUES ('{TENANT}', 'ghost', 'granted', '2026-11-22T10:00:00Z', NULL);",
            "ab".repeat(32)
        ))
        .await
        .unwrap();

    let problems = check(&store.load_snapshot().await.unwrap());
    let expected = vec![
        Problem::ConsentForUnknownWorkload { tenant_id: TENANT.into(), workload: "ghost".into() },
        Problem::WorkloadWithoutBroker { workload: "no-broker".into() },
        Problem::BackendWithoutResource { workload: "no-cert".into(), backend_app_id: BACKEND_NO_RESOURCE.into() },
        Problem::ClientAppWithoutCertificate { workload: "no-cert".into(), client_app_id: CLIENT_NO_CERT.into() },
    ];
    assert_eq!(problems, expected);
    let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(messages[0].contains("ghost") && messages[0].contains(TENANT));
    assert!(messages[1].contains("no-broker") && messages[1].contains("workload_brokers"));
    assert!(messages[2].contains(BACKEND_NO_RESOURCE) && messages[2].contains("resource_uri"));
    assert!(messages[3].contains(CLIENT_NO_CERT) && messages[3].contains("certificate"));
    db.cleanup().await;
}

#[tokio::test]
async fn default_sqlite_file_is_created_with_its_directory_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/registry.sqlite");
    let store = registry::Store::connect(None, &path).await.unwrap();
    assert_eq!(store.backend_name(), "sqlite");
    store.migrate(None).await.unwrap();
    assert!(path.exists());
    assert!(path.with_file_name("registry.sqlite-wal").exists(), "WAL journal expected");
    store.close().await;
}

#[tokio::test]
async fn unsupported_database_urls_are_refused_without_echoing_them() {
    let err = registry::Store::connect(Some("mysql://admin:hunter2@db.example/registry"), Path::new("unused"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }));
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn postgres_store_reports_its_backend() {
    let db = TestDb::postgres().await;
    assert_eq!(db.store().backend_name(), "postgres");
    assert!(db.url().contains("tessera_test_"));
    db.cleanup().await;
}
