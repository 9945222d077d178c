//! Test helpers (cargo feature `testing`): a fresh, empty registry database per test.
//!
//! PostgreSQL: a new database `tessera_test_<uuid>` on the server named by `TEST_PG_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped by [`TestDb::cleanup`] or,
//! failing that, when the `TestDb` is dropped. SQLite: a file in a temporary directory that goes
//! away with the `TestDb`. If PostgreSQL cannot be reached the test panics with the command that
//! starts it: a test that needs a database never passes without one.

#![allow(clippy::panic, clippy::expect_used)]

use std::fmt;
use std::path::{Path, PathBuf};

use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;

use crate::Store;

/// The server tests use unless `TEST_PG_URL` says otherwise.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Names the PostgreSQL server (any database on it) the tests create their databases on.
pub const PG_URL_ENV: &str = "TEST_PG_URL";

/// A fresh registry database and a [`Store`] connected to it (not yet migrated).
pub struct TestDb {
    store: Store,
    url: String,
    kind: Kind,
}

enum Kind {
    Postgres { admin_url: String, database: String, dropped: bool },
    Sqlite { dir: TempDir, path: PathBuf },
}

impl TestDb {
    /// A new, empty PostgreSQL database. Panics, saying how to start PostgreSQL, if the server
    /// cannot be reached.
    pub async fn postgres() -> TestDb {
        let admin_url = std::env::var(PG_URL_ENV).unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
        Self::postgres_at(&admin_url).await
    }

    /// A new, empty PostgreSQL database on the server at `admin_url` (e.g. a private server a
    /// test starts and stops itself).
    pub async fn postgres_at(admin_url: &str) -> TestDb {
        let admin_url = admin_url.to_owned();
        let database = format!("tessera_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = connect_admin(&admin_url).await;
        admin
            .execute(format!("CREATE DATABASE \"{database}\"").as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {database}: {e}"));
        let _ = admin.close().await;
        let url = with_database(&admin_url, &database);
        let store = Store::connect(Some(&url), Path::new("unused.sqlite"))
            .await
            .unwrap_or_else(|e| panic!("cannot open test database {database}: {e}"));
        TestDb { store, url, kind: Kind::Postgres { admin_url, database, dropped: false } }
    }

    /// A new, empty SQLite file in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("cannot create a temporary directory");
        let path = dir.path().join("registry.sqlite");
        let url = format!("sqlite://{}", path.display());
        let store = Store::connect(Some(&url), &path)
            .await
            .unwrap_or_else(|e| panic!("cannot open test SQLite database {url}: {e}"));
        TestDb { store, url, kind: Kind::Sqlite { dir, path } }
    }

    /// The database URL, for configuring an STS under test.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The store connected to this database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The SQLite file (`None` for PostgreSQL).
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Sqlite { path, .. } => Some(path),
            Kind::Postgres { .. } => None,
        }
    }

    /// A directory that lives as long as this database (SQLite's temporary directory, or a new
    /// one next to it), for operator migration folders and the like.
    pub fn scratch_dir(&self) -> TempDir {
        match &self.kind {
            Kind::Sqlite { dir, .. } => tempfile::tempdir_in(dir.path()),
            Kind::Postgres { .. } => tempfile::tempdir(),
        }
        .expect("cannot create a temporary directory")
    }

    /// Closes the store and drops the database now (PostgreSQL) or removes the file (SQLite).
    pub async fn cleanup(mut self) {
        self.store.close().await;
        if let Kind::Postgres { admin_url, database, dropped } = &mut self.kind {
            let mut admin = connect_admin(admin_url).await;
            drop_database(&mut admin, database).await;
            let _ = admin.close().await;
            *dropped = true;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Kind::Postgres { admin_url, database, dropped: false } = &self.kind else {
            return;
        };
        // Drop cannot await, and may run inside a runtime that must not block on itself: drop
        // the database from a short-lived thread with its own runtime. WITH (FORCE) ends the
        // store's connections, which still belong to the test's runtime.
        let (admin_url, database) = (admin_url.clone(), database.clone());
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cannot start a runtime to drop the test database");
            runtime.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    drop_database(&mut admin, &database).await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

impl fmt::Debug for TestDb {
    /// Names the database, never the URL (which may hold a password).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Postgres { database, .. } => f.debug_struct("TestDb").field("postgres", database).finish(),
            Kind::Sqlite { path, .. } => f.debug_struct("TestDb").field("sqlite", path).finish(),
        }
    }
}

async fn connect_admin(admin_url: &str) -> PgConnection {
    match PgConnection::connect(admin_url).await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "PostgreSQL is not reachable ({e}). These tests need it: start it with\n    \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
             or point {PG_URL_ENV} at a server where the user may create databases \
             (default {DEFAULT_PG_URL})."
        ),
    }
}

async fn drop_database(admin: &mut PgConnection, database: &str) {
    let sql = format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
    if let Err(e) = admin.execute(sql.as_str()).await {
        eprintln!("warning: could not drop test database {database}: {e}");
    }
}

/// The same server URL with another database name (path), keeping user, host and query.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority_and_path, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = authority_and_path.split_once('/').map_or(authority_and_path, |(a, _)| a);
    match query {
        Some(q) => format!("{scheme}://{authority}/{database}?{q}"),
        None => format!("{scheme}://{authority}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgresql://h", "x"), "postgresql://h/x");
    }
}
