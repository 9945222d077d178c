//! `sts registry check|show` inspect and never write: pending migrations (schema and operator)
//! are reported, not applied, even with `registry.migrate_on_start` on; `check` fails while any
//! is pending, while the schema is missing, or while the operator folder cannot be read.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;

use registry::MigrationOrigin;
use registry::testing::TestDb;

const PENDING: &str = "20261201000000_note_for_review.sql";

/// Runs the built `sts` against `db` with `operator_dir`, `migrate_on_start` explicitly on.
fn sts(db: &TestDb, operator_dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sts"))
        .env_clear()
        .env("TESSERA_REGISTRY__DATABASE_URL", db.url())
        .env("TESSERA_REGISTRY__OPERATOR_MIGRATIONS_DIR", operator_dir)
        .env("TESSERA_REGISTRY__MIGRATE_ON_START", "true")
        .env("TESSERA_LOG__LEVEL", "warn")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn all(out: &Output) -> String {
    format!("{}{}", stdout(out), String::from_utf8_lossy(&out.stderr))
}

/// A registry with its schema applied and one operator migration waiting in the folder.
async fn schema_and_pending_migration() -> (TestDb, tempfile::TempDir) {
    let db = TestDb::postgres().await;
    db.store().migrate(None).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Harmless if applied, so a write would go unnoticed by everything but the migrations table.
    std::fs::write(dir.path().join(PENDING), "SELECT 1;\n").unwrap();
    (db, dir)
}

async fn pending_operator_versions(db: &TestDb, dir: &Path) -> Vec<i64> {
    let status = db.store().migration_status(Some(dir)).await.unwrap();
    status.pending.iter().filter(|m| m.origin == MigrationOrigin::Operator).map(|m| m.version).collect()
}

#[tokio::test]
async fn a_pending_operator_migration_stays_pending_after_check_and_show() {
    let (db, dir) = schema_and_pending_migration().await;
    assert_eq!(pending_operator_versions(&db, dir.path()).await, [20_261_201_000_000]);

    let check = sts(&db, dir.path(), &["registry", "check"]);
    assert!(!check.status.success(), "check passes while a migration is pending:\n{}", all(&check));
    assert!(stdout(&check).contains("pending operator 20261201000000 note for review"), "{}", all(&check));

    let show = sts(&db, dir.path(), &["registry", "show"]);
    assert!(show.status.success(), "{}", all(&show));
    assert!(all(&show).contains("pending operator 20261201000000"), "{}", all(&show));

    assert_eq!(pending_operator_versions(&db, dir.path()).await, [20_261_201_000_000], "inspection applied it");

    // `sts migrate` is the command that applies it; then check has nothing to say.
    let migrate = sts(&db, dir.path(), &["migrate"]);
    assert!(migrate.status.success(), "{}", all(&migrate));
    assert!(pending_operator_versions(&db, dir.path()).await.is_empty());
    let check = sts(&db, dir.path(), &["registry", "check"]);
    assert!(check.status.success(), "{}", all(&check));
    assert!(stdout(&check).contains("registry check: no problems"), "{}", all(&check));
    db.cleanup().await;
}

#[tokio::test]
async fn a_missing_schema_is_reported_and_not_created() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let check = sts(&db, dir.path(), &["registry", "check"]);
    assert!(!check.status.success(), "{}", all(&check));
    assert!(stdout(&check).contains("no schema yet"), "{}", all(&check));
    assert!(stdout(&check).contains("pending schema 1 registry"), "{}", all(&check));
    let show = sts(&db, dir.path(), &["registry", "show"]);
    assert!(!show.status.success(), "{}", all(&show));

    // Not even sqlx's bookkeeping table was created.
    let status = db.store().migration_status(None).await.unwrap();
    assert!(!status.schema_present);
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(db.url()).await.unwrap();
    let tables: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(tables, 0, "inspection created tables");
    db.cleanup().await;
}

#[tokio::test]
async fn a_broken_operator_folder_is_reported_not_raised() {
    let (db, dir) = schema_and_pending_migration().await;
    // Not `<integer>_<text>.sql`: sqlx cannot read the folder at all.
    std::fs::write(dir.path().join("first_draft.sql"), "SELECT 1;\n").unwrap();
    let check = sts(&db, dir.path(), &["registry", "check"]);
    assert!(!check.status.success(), "{}", all(&check));
    let out = stdout(&check);
    assert!(out.contains("the operator folder cannot be used"), "{}", all(&check));
    assert!(out.contains("registry check:"), "the check ran to its summary: {}", all(&check));
    db.cleanup().await;
}

#[test]
fn a_missing_sqlite_registry_is_reported_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registry.db");
    for command in ["check", "show"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sts"))
            .env_clear()
            .env("TESSERA_REGISTRY__SQLITE_PATH", &file)
            .args(["registry", command])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{}", all(&out));
        assert!(stdout(&out).contains("no registry database"), "{}", all(&out));
        assert!(!file.exists(), "`registry {command}` created the SQLite file");
    }
}

/// `show` lists the Power Pages sites and the app-only workloads with who may obtain them; `check`
/// names a site that lists a delegated workload.
#[tokio::test]
async fn show_and_check_cover_sites_and_app_only_grants() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/examples");
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    assert!(sts(&db, dir.path(), &["migrate"]).status.success());

    let show = sts(&db, dir.path(), &["registry", "show"]);
    assert!(show.status.success(), "{}", all(&show));
    let out = stdout(&show);
    let app_only = out.lines().find(|l| l.starts_with("invoice-archive  Invoices.Archive.Reader")).unwrap_or_default();
    assert!(
        app_only.contains("0b6c7f3e-2a51-4d8e-9c47-1f2e3d4c5b6a") && app_only.contains("contoso.powerappsportals.com"),
        "{out}"
    );
    let site = out.lines().find(|l| l.starts_with("contoso.powerappsportals.com")).unwrap_or_default();
    for expected in [
        "caf30cf9-f297-46b2-aa07-de549604846f",
        "yes",
        "contoso-invoices",
        "invoice-archive",
        "/_services/auth/publickey",
    ] {
        assert!(site.contains(expected), "{expected} missing:\n{out}");
    }

    std::fs::write(
        dir.path().join("20261201000000_site_lists_a_delegated_workload.sql"),
        "INSERT INTO site_workloads (host, workload) VALUES ('contoso.powerappsportals.com', 'expense-report');\n",
    )
    .unwrap();
    assert!(sts(&db, dir.path(), &["migrate"]).status.success());
    let check = sts(&db, dir.path(), &["registry", "check"]);
    assert!(!check.status.success(), "{}", all(&check));
    assert!(
        stdout(&check).contains(
            "site contoso.powerappsportals.com may use workload 'expense-report', which is delegated (no workload_app_only row)"
        ),
        "{}",
        all(&check)
    );
    db.cleanup().await;
}
