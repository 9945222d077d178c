//! Where the registry lives: PostgreSQL, or an embedded SQLite file by default.
//!
//! An enum over the two concrete pools rather than `sqlx::AnyPool`: `Any` needs its drivers
//! installed at run time, configures SQLite only through a URL (not the typed options used here
//! for WAL mode, the busy timeout and creating the file), and hides which engine is in use, which
//! the few engine-specific statements (PostgreSQL's REPEATABLE READ snapshot, the schema probe)
//! need. Each portable query is written once and compiled for both pools by the `with_pool!`
//! macro below.

mod audit;
mod load;
mod migrate;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use audit::AuditRecord;
pub use migrate::{
    AppliedMigration, FIRST_OPERATOR_VERSION, MigrationOrigin, MigrationRef, MigrationReport, MigrationStatus,
    schema_migrator,
};

/// Runs the same code against whichever pool the store holds. The body is compiled once per
/// database, so `sqlx::query` infers the right database type in each arm.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Postgres($pool) => $body,
            $crate::store::Pool::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// How long a query waits for a free connection before the store reports an error (and the STS
/// keeps serving its last snapshot).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long SQLite waits for another writer's lock (WAL allows one writer at a time).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The registry database. Cheap to clone (the pools are reference-counted).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl std::fmt::Debug for Store {
    /// The engine and pool size only: never connection options, which may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (size, idle) = with_pool!(self, pool => (pool.size(), pool.num_idle()));
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .field("connections", &size)
            .field("idle", &idle)
            .finish()
    }
}

#[derive(Clone)]
pub(crate) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// What can go wrong with the registry database. Messages never contain the database URL (it
/// may hold a password).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported registry database URL scheme {scheme:?}: use postgres://, postgresql:// or sqlite:")]
    UnsupportedUrl { scheme: String },

    #[error("invalid registry database URL: {0}")]
    InvalidUrl(#[source] sqlx::Error),

    #[error("cannot create the directory {path} for the SQLite registry: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot connect to the {backend} registry database: {source}")]
    Connect {
        backend: &'static str,
        #[source]
        source: sqlx::Error,
    },

    #[error(
        "the registry database has no schema yet: apply the migrations first \
         (`sts migrate`, or registry.migrate_on_start = true)"
    )]
    NotMigrated,

    #[error("cannot read the operator migrations in {dir}: {source}")]
    OperatorMigrations {
        dir: PathBuf,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    #[error(
        "operator migration {version} ({description}) uses a version reserved for Tessera's schema \
         (below {FIRST_OPERATOR_VERSION}); name operator migrations <UTC timestamp>_<description>.sql, \
         e.g. 20261122100000_add_workload.sql"
    )]
    ReservedVersion { version: i64, description: String },

    #[error("applying the {origin} migrations failed: {source}")]
    Migrate {
        origin: MigrationOrigin,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    #[error("registry database query failed: {0}")]
    Query(#[from] sqlx::Error),

    #[error("table {table} holds a value this version cannot read: {detail}")]
    InvalidRow { table: &'static str, detail: String },

    #[error("the registry database did not answer within {} ms", after.as_millis())]
    TimedOut { after: Duration },
}

impl Store {
    /// Opens the registry. `database_url` selects PostgreSQL (`postgres://…`) or a SQLite file
    /// (`sqlite:…`); `None` means the embedded SQLite default at `sqlite_path`, created (with its
    /// directory) if missing. SQLite runs in WAL mode, so readers never wait for the writer.
    pub async fn connect(database_url: Option<&str>, sqlite_path: &Path) -> Result<Store, StoreError> {
        let Some(url) = database_url else {
            create_parent_dir(sqlite_path).await?;
            return Self::connect_sqlite(SqliteConnectOptions::new().filename(sqlite_path)).await;
        };
        let scheme = url.split_once(':').map_or(url, |(s, _)| s);
        match scheme {
            "postgres" | "postgresql" => {
                let options = PgConnectOptions::from_str(url).map_err(StoreError::InvalidUrl)?;
                let pool = PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(|source| StoreError::Connect { backend: "postgres", source })?;
                Ok(Store { pool: Pool::Postgres(pool) })
            }
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(url).map_err(StoreError::InvalidUrl)?;
                create_parent_dir(options.get_filename()).await?;
                Self::connect_sqlite(options).await
            }
            other => Err(StoreError::UnsupportedUrl { scheme: other.to_owned() }),
        }
    }

    async fn connect_sqlite(options: SqliteConnectOptions) -> Result<Store, StoreError> {
        // WAL with `synchronous = NORMAL`, SQLite's own recommendation for WAL: no corruption on a
        // crash, one fsync per checkpoint instead of per transaction. A power cut may lose the last
        // audit batches of the embedded store; PostgreSQL is the store for production.
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Connect { backend: "sqlite", source })?;
        Ok(Store { pool: Pool::Sqlite(pool) })
    }

    /// `"postgres"` or `"sqlite"`.
    pub fn backend_name(&self) -> &'static str {
        match self.pool {
            Pool::Postgres(_) => "postgres",
            Pool::Sqlite(_) => "sqlite",
        }
    }

    /// Whether the database answers a trivial query within `timeout`. Bounded on purpose: a
    /// query waits up to the pool's 10 s acquire timeout (sqlx keeps retrying a refused
    /// connection until then), far too long for a readiness probe.
    pub async fn ping(&self, timeout: Duration) -> Result<(), StoreError> {
        let query = async { with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ())) };
        match tokio::time::timeout(timeout, query).await {
            Ok(answer) => Ok(answer?),
            Err(_) => Err(StoreError::TimedOut { after: timeout }),
        }
    }

    /// Closes every connection; later calls fail. Lets a test drop its database promptly.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }

    /// Runs one SQL script (several statements allowed) outside the migrations. For tests that
    /// need a registry the schema accepts but `check` rejects.
    #[cfg(feature = "testing")]
    pub async fn execute_script(&self, sql: &str) -> Result<(), StoreError> {
        use sqlx::Executor;
        with_pool!(self, pool => pool.execute(sql).await.map(|_| ()))?;
        Ok(())
    }

    /// Whether the schema's first table exists; used to turn "no such table" into
    /// [`StoreError::NotMigrated`].
    async fn schema_present(&self) -> Result<bool, StoreError> {
        let n: i64 = match &self.pool {
            Pool::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = 'app_registrations'",
                )
                .fetch_one(pool)
                .await?
            }
            Pool::Sqlite(pool) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sqlite_master \
                     WHERE type = 'table' AND name = 'app_registrations'",
                )
                .fetch_one(pool)
                .await?
            }
        };
        Ok(n > 0)
    }

    /// Maps a failed query to [`StoreError::NotMigrated`] when the schema is missing.
    async fn explain(&self, error: sqlx::Error) -> StoreError {
        match self.schema_present().await {
            Ok(false) => StoreError::NotMigrated,
            _ => StoreError::Query(error),
        }
    }
}

async fn create_parent_dir(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => tokio::fs::create_dir_all(dir)
            .await
            .map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source }),
        _ => Ok(()),
    }
}

/// The PostgreSQL channel on which a registry change is announced (`sts migrate` notifies it after
/// applying migrations; every serving STS listens).
pub const CHANGE_CHANNEL: &str = "tessera_registry_changed";

/// What a [`ChangeListener`] heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeEvent {
    /// A change was announced.
    Changed,
    /// The connection was lost (and is re-established by the next wait): changes may have been
    /// missed meanwhile.
    Lost,
}

/// A `LISTEN` on [`CHANGE_CHANNEL`] (PostgreSQL only).
#[derive(Debug)]
pub struct ChangeListener {
    inner: sqlx::postgres::PgListener,
}

impl ChangeListener {
    /// Waits for the next announcement (or the loss of the connection).
    pub async fn next(&mut self) -> Result<ChangeEvent, StoreError> {
        Ok(match self.inner.try_recv().await? {
            Some(_) => ChangeEvent::Changed,
            None => ChangeEvent::Lost,
        })
    }
}

impl Store {
    /// Announces a registry change to every listening STS (PostgreSQL `NOTIFY`; nothing on SQLite,
    /// whose single process polls).
    pub async fn notify_changed(&self) -> Result<(), StoreError> {
        if let Pool::Postgres(pool) = &self.pool {
            sqlx::query("SELECT pg_notify($1, '')").bind(CHANGE_CHANNEL).execute(pool).await?;
        }
        Ok(())
    }

    /// Listens for announced changes; `None` on SQLite.
    pub async fn change_listener(&self) -> Result<Option<ChangeListener>, StoreError> {
        let Pool::Postgres(pool) = &self.pool else { return Ok(None) };
        let mut inner = sqlx::postgres::PgListener::connect_with(pool).await?;
        inner.listen(CHANGE_CHANNEL).await?;
        Ok(Some(ChangeListener { inner }))
    }
}
