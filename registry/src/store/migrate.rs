//! Schema migrations (embedded) and operator migrations (a folder), sharing `_sqlx_migrations`.
//!
//! Both migrators run with `ignore_missing`: each sees the other's versions in the shared table
//! as "applied but not in my folder", which sqlx would otherwise refuse. Schema versions are small
//! integers and operator versions UTC timestamps, and [`Store::migrate`] refuses an operator
//! version below [`FIRST_OPERATOR_VERSION`], so the two can never claim the same version.
//! `sqlx migrate run --ignore-missing` on each folder does exactly the same (see
//! `migrations/README.md`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use sqlx::migrate::{Migrate, Migrator};

use super::{Store, StoreError, with_pool};

/// Operator migration versions start here; everything below is reserved for Tessera's schema.
/// A `YYYYMMDD…` timestamp is always above it.
pub const FIRST_OPERATOR_VERSION: i64 = 1_000_000;

/// Tessera's schema migrations (`migrations/0001_…`), embedded in the binary.
pub fn schema_migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("../migrations");
    migrator.set_ignore_missing(true);
    migrator
}

/// Which folder a migration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationOrigin {
    /// Tessera's schema, embedded in the binary.
    Schema,
    /// The operator's registry content.
    Operator,
}

impl fmt::Display for MigrationOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MigrationOrigin::Schema => "schema",
            MigrationOrigin::Operator => "operator",
        })
    }
}

/// A migration this run applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
    pub origin: MigrationOrigin,
}

/// What [`Store::migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Applied by this run, in order.
    pub applied: Vec<AppliedMigration>,
    /// Already applied before this run (both origins).
    pub already_applied: usize,
}

impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} migration(s) applied, {} already applied", self.applied.len(), self.already_applied)?;
        for m in &self.applied {
            write!(f, "; {} {} {}", m.origin, m.version, m.description)?;
        }
        Ok(())
    }
}

/// A migration as inspection reports it (not applied, or applied from a different file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRef {
    pub version: i64,
    pub description: String,
    pub origin: MigrationOrigin,
}

impl fmt::Display for MigrationRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.origin, self.version, self.description)
    }
}

/// What [`Store::migration_status`] found, read without writing anything.
#[derive(Debug, Default)]
pub struct MigrationStatus {
    /// Whether Tessera's schema is there at all (its first table exists).
    pub schema_present: bool,
    /// Not applied yet, schema first, each in version order.
    pub pending: Vec<MigrationRef>,
    /// Applied, but the file differs from what was applied: `migrate` would refuse to go on.
    pub modified: Vec<MigrationRef>,
    /// Versions that started and failed (sqlx's "dirty" migrations): `migrate` refuses them too.
    pub failed: Vec<i64>,
    /// Why the operator folder cannot be used: unreadable, a file sqlx cannot read as a
    /// migration, or a version reserved for the schema. Its migrations are then not listed.
    pub operator_error: Option<StoreError>,
}

impl MigrationStatus {
    /// Nothing to apply and nothing in the way: what `sts migrate` would leave unchanged.
    pub fn is_up_to_date(&self) -> bool {
        self.schema_present
            && self.pending.is_empty()
            && self.modified.is_empty()
            && self.failed.is_empty()
            && self.operator_error.is_none()
    }
}

impl Store {
    /// Compares the applied migrations with Tessera's schema and the operator's folder, without
    /// applying anything or creating a table: for `sts registry check|show`, which inspect and must
    /// never change the database. A folder that cannot be read is reported in the status, not as
    /// an error, so the rest can still be inspected.
    pub async fn migration_status(&self, operator_dir: Option<&Path>) -> Result<MigrationStatus, StoreError> {
        let mut status = MigrationStatus::default();
        let operator = match operator_dir {
            None => None,
            Some(dir) => match operator_migrator(dir).await {
                Ok(m) => match reject_reserved_versions(&m) {
                    Ok(()) => Some(m),
                    Err(e) => {
                        status.operator_error = Some(e);
                        None
                    }
                },
                Err(e) => {
                    status.operator_error = Some(e);
                    None
                }
            },
        };
        let applied = self.read_applied().await?;
        status.schema_present = self.schema_present().await?;
        let runs = std::iter::once((schema_migrator(), MigrationOrigin::Schema))
            .chain(operator.map(|m| (m, MigrationOrigin::Operator)));
        for (migrator, origin) in runs {
            for m in migrator.iter().filter(|m| !m.migration_type.is_down_migration()) {
                let this = || MigrationRef { version: m.version, description: m.description.to_string(), origin };
                match applied.get(&m.version) {
                    None => status.pending.push(this()),
                    Some((_, false)) => {}
                    Some((checksum, true)) if checksum.as_slice() != m.checksum.as_ref() => {
                        status.modified.push(this())
                    }
                    Some(_) => {}
                }
            }
        }
        status.failed = applied.iter().filter(|(_, (_, ok))| !ok).map(|(&v, _)| v).collect();
        status.failed.sort_unstable();
        Ok(status)
    }

    /// `_sqlx_migrations` as version → (checksum, success); empty when the table does not exist
    /// (it is not created here, unlike sqlx's own listing).
    async fn read_applied(&self) -> Result<HashMap<i64, (Vec<u8>, bool)>, StoreError> {
        const SQL: &str = "SELECT version, checksum, success FROM _sqlx_migrations";
        let present: i64 = match &self.pool {
            super::Pool::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'",
                )
                .fetch_one(pool)
                .await?
            }
            super::Pool::Sqlite(pool) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
                )
                .fetch_one(pool)
                .await?
            }
        };
        if present == 0 {
            return Ok(HashMap::new());
        }
        let rows: Vec<(i64, Vec<u8>, bool)> = with_pool!(self, pool => sqlx::query_as(SQL).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|(version, checksum, ok)| (version, (checksum, ok))).collect())
    }

    /// Applies Tessera's schema migrations, then the operator's migrations in `operator_dir`
    /// (only its top-level `<version>_<description>.sql` files, as sqlx reads a folder).
    /// Idempotent; an applied migration whose file changed is an error, never re-applied.
    pub async fn migrate(&self, operator_dir: Option<&Path>) -> Result<MigrationReport, StoreError> {
        let operator = match operator_dir {
            Some(dir) => Some(operator_migrator(dir).await?),
            None => None,
        };
        self.run_migrations(operator).await
    }

    /// Applies the schema and the embedded demo registry (`migrations/demo-registry/`), as if it
    /// were the operator folder. For `sts demo` and tests.
    pub async fn migrate_demo(&self) -> Result<MigrationReport, StoreError> {
        self.run_migrations(Some(crate::demo::migrator())).await
    }

    async fn run_migrations(&self, operator: Option<Migrator>) -> Result<MigrationReport, StoreError> {
        if let Some(m) = &operator {
            reject_reserved_versions(m)?;
        }
        let before = self.applied_versions().await?;
        let mut report = MigrationReport { applied: Vec::new(), already_applied: before.len() };
        let mut known = before;
        let runs = std::iter::once((schema_migrator(), MigrationOrigin::Schema))
            .chain(operator.map(|m| (m, MigrationOrigin::Operator)));
        for (migrator, origin) in runs {
            with_pool!(self, pool => migrator.run(pool).await)
                .map_err(|source| StoreError::Migrate { origin, source })?;
            let after = self.applied_versions().await?;
            for m in migrator.iter().filter(|m| !m.migration_type.is_down_migration()) {
                if after.contains(&m.version) && !known.contains(&m.version) {
                    report.applied.push(AppliedMigration {
                        version: m.version,
                        description: m.description.to_string(),
                        origin,
                    });
                }
            }
            known = after;
        }
        Ok(report)
    }

    async fn applied_versions(&self) -> Result<HashSet<i64>, StoreError> {
        let applied = with_pool!(self, pool => {
            let mut conn = pool.acquire().await?;
            async {
                conn.ensure_migrations_table().await?;
                conn.list_applied_migrations().await
            }
            .await
        })
        .map_err(|source| StoreError::Migrate { origin: MigrationOrigin::Schema, source })?;
        Ok(applied.into_iter().map(|m| m.version).collect())
    }

    /// A cheap fingerprint of the applied migrations (count, highest version, latest install
    /// time). It changes whenever a migration is applied, so the STS polls it and reloads the
    /// snapshot only then.
    pub async fn migrations_fingerprint(&self) -> Result<String, StoreError> {
        const SQL: &str = "SELECT COUNT(*), COALESCE(MAX(version), 0), \
                           CAST(MAX(installed_on) AS TEXT) \
                           FROM _sqlx_migrations WHERE success";
        let result: Result<(i64, i64, Option<String>), sqlx::Error> =
            with_pool!(self, pool => sqlx::query_as(SQL).fetch_one(pool).await);
        match result {
            Ok((count, max_version, installed)) => {
                Ok(format!("{count}:{max_version}:{}", installed.unwrap_or_default()))
            }
            Err(e) => Err(self.explain(e).await),
        }
    }
}

async fn operator_migrator(dir: &Path) -> Result<Migrator, StoreError> {
    let mut migrator =
        Migrator::new(dir).await.map_err(|source| StoreError::OperatorMigrations { dir: dir.to_path_buf(), source })?;
    migrator.set_ignore_missing(true);
    Ok(migrator)
}

fn reject_reserved_versions(migrator: &Migrator) -> Result<(), StoreError> {
    match migrator.iter().find(|m| m.version < FIRST_OPERATOR_VERSION) {
        Some(m) => Err(StoreError::ReservedVersion { version: m.version, description: m.description.to_string() }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_versions_stay_below_the_operator_range() {
        let migrator = schema_migrator();
        assert!(migrator.iter().count() >= 2);
        assert!(migrator.iter().all(|m| (1..FIRST_OPERATOR_VERSION).contains(&m.version)));
    }

    #[test]
    fn demo_versions_are_operator_versions() {
        assert!(reject_reserved_versions(&crate::demo::migrator()).is_ok());
        assert!(reject_reserved_versions(&schema_migrator()).is_err());
    }
}
