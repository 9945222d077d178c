//! `Store::migration_status`: what inspection reports, read without writing, on both engines;
//! and `check_certificates`, the configuration against the registry's certificate references.

#![allow(clippy::unwrap_used)]

use registry::testing::TestDb;
use registry::{ConfiguredCertificate, MigrationOrigin, Problem, Snapshot, check_certificates, demo};

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
    a_fresh_database_lists_the_schema_as_pending_and_stays_empty,
    pending_and_modified_operator_migrations_are_reported,
    an_unreadable_or_reserved_operator_folder_is_reported,
);

async fn a_fresh_database_lists_the_schema_as_pending_and_stays_empty(db: TestDb) {
    for _ in 0..2 {
        let status = db.store().migration_status(None).await.unwrap();
        assert!(!status.schema_present);
        let schema: Vec<i64> = status.pending.iter().map(|m| m.version).collect();
        let embedded: Vec<i64> = registry::store::schema_migrator().iter().map(|m| m.version).collect();
        assert_eq!(schema, embedded);
        assert!(status.pending.iter().all(|m| m.origin == MigrationOrigin::Schema));
        assert!(!status.is_up_to_date());
    }
    // Nothing was created: migrating now applies every schema migration.
    let report = db.store().migrate(None).await.unwrap();
    assert_eq!(report.already_applied, 0);
    assert!(db.store().migration_status(None).await.unwrap().is_up_to_date());
    db.cleanup().await;
}

async fn pending_and_modified_operator_migrations_are_reported(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("20260101000000_first.sql"), "SELECT 1;\n").unwrap();
    db.store().migrate(Some(dir.path())).await.unwrap();
    assert!(db.store().migration_status(Some(dir.path())).await.unwrap().is_up_to_date());

    std::fs::write(dir.path().join("20260102000000_second.sql"), "SELECT 2;\n").unwrap();
    std::fs::write(dir.path().join("20260101000000_first.sql"), "SELECT 1; -- edited\n").unwrap();
    let status = db.store().migration_status(Some(dir.path())).await.unwrap();
    assert!(status.schema_present);
    let pending: Vec<String> = status.pending.iter().map(ToString::to_string).collect();
    assert_eq!(pending, ["operator 20260102000000 second"]);
    let modified: Vec<String> = status.modified.iter().map(ToString::to_string).collect();
    assert_eq!(modified, ["operator 20260101000000 first"]);
    // Still pending: the status applied nothing.
    let again = db.store().migration_status(Some(dir.path())).await.unwrap();
    assert_eq!(again.pending, status.pending);
    db.cleanup().await;
}

async fn an_unreadable_or_reserved_operator_folder_is_reported(db: TestDb) {
    db.store().migrate(None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0005_too_low.sql"), "SELECT 1;\n").unwrap();
    let status = db.store().migration_status(Some(dir.path())).await.unwrap();
    let error = status.operator_error.as_ref().unwrap().to_string();
    assert!(error.contains("reserved"), "{error}");
    assert!(status.pending.is_empty(), "the schema is applied and the folder is not listed");

    let missing = dir.path().join("no-such-folder");
    let status = db.store().migration_status(Some(&missing)).await.unwrap();
    assert!(status.operator_error.is_some());
    assert!(!status.is_up_to_date());
    db.cleanup().await;
}

#[test]
fn certificates_configured_but_unreferenced_and_the_reverse_are_named() {
    let snapshot = Snapshot::from_rows(demo::rows());
    let referenced = ConfiguredCertificate {
        client_app_id: demo::FILE_PICKER_CLIENT_APP_ID.to_uppercase(),
        thumbprint_sha256: demo::CERTIFICATE_THUMBPRINT_SHA256.to_uppercase(),
        source_name: "a.pfx".into(),
    };
    assert_eq!(check_certificates(&snapshot, std::slice::from_ref(&referenced)), [], "compared without case");

    let other = ConfiguredCertificate { thumbprint_sha256: "ab".repeat(32), source_name: "b.pfx".into(), ..referenced };
    let problems = check_certificates(&snapshot, std::slice::from_ref(&other));
    assert_eq!(
        problems,
        [
            Problem::CertificateNotReferenced {
                client_app_id: demo::FILE_PICKER_CLIENT_APP_ID.into(),
                thumbprint_sha256: "ab".repeat(32),
                source_name: "b.pfx".into(),
            },
            Problem::CertificateNotConfigured {
                client_app_id: demo::FILE_PICKER_CLIENT_APP_ID.into(),
                thumbprint_sha256: demo::CERTIFICATE_THUMBPRINT_SHA256.into(),
            },
        ]
    );
}
