//! The audit trail: one row per token-exchange decision, written in batches.
//!
//! The STS buffers records and hands them over in batches so that auditing costs one round trip
//! per batch, not one per request; repeated cache hits of one token within a batch may arrive as
//! one record with `hits` > 1 (see `migrations/0003_audit_hits.sql`). A record has no field for a
//! token and never will.
//!
//! Inserts are idempotent by record id (`ON CONFLICT (id) DO NOTHING`): the STS replays records
//! from its local spool after a database outage, and a batch whose commit reached the database
//! but whose answer did not (a timeout) may be replayed; it must not be counted twice.

use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{Store, StoreError, with_pool};

/// Rows per INSERT statement. 17 parameters per row keeps a statement far below SQLite's
/// 32,766 and PostgreSQL's 65,535 bind-parameter limits.
const ROWS_PER_STATEMENT: usize = 1_000;

const INSERT: &str = "INSERT INTO audit_records (id, at_ms, correlation_id, tenant_id, user_oid, \
                      broker_app_id, client_app_id, workload, backend, scopes, outcome, error, \
                      cache_hit, latency_us, hits, last_at_ms, site) ";

const SELECT: &str = "SELECT id, at_ms, correlation_id, tenant_id, user_oid, broker_app_id, \
                      client_app_id, workload, backend, scopes, outcome, error, cache_hit, \
                      latency_us, hits, last_at_ms, site FROM audit_records";

/// One token-exchange decision. Ids, scopes and outcomes only: no token, no assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: Uuid,
    /// Unix time in milliseconds.
    pub at_ms: i64,
    pub correlation_id: String,
    /// `None` when the request failed before the user token was validated.
    pub tenant_id: Option<String>,
    pub user_oid: Option<String>,
    pub broker_app_id: Option<String>,
    pub client_app_id: Option<String>,
    pub workload: Option<String>,
    /// The backend app id.
    pub backend: Option<String>,
    /// Space-separated, fully qualified scopes.
    pub scopes: Option<String>,
    /// What happened, e.g. `issued`, `denied`, `upstream_error`.
    pub outcome: String,
    /// The OAuth error code or denial reason, if any.
    pub error: Option<String>,
    pub cache_hit: bool,
    /// The slowest of the exchanges this record stands for.
    pub latency_us: i64,
    /// How many exchanges this record stands for: 1, or the number of cache hits of one token
    /// coalesced into it.
    pub hits: i64,
    /// The last of the coalesced exchanges (`at_ms` is the first); `None` when `hits` is 1.
    pub last_at_ms: Option<i64>,
    /// The Power Pages site whose contact asked (`user_oid` is then the contact id); `None` for an
    /// Entra user. Absent in spool lines of earlier versions.
    #[serde(default)]
    pub site: Option<String>,
}

impl Store {
    /// Writes a batch of audit records in one transaction (one INSERT per 1,000 records): all of
    /// the batch is stored, or none of it. A record whose id is already stored is skipped, so
    /// writing a batch twice stores it once.
    pub async fn insert_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in records.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::new(INSERT);
                query.push_values(chunk, |mut row, r| {
                    row.push_bind(r.id.to_string())
                        .push_bind(r.at_ms)
                        .push_bind(r.correlation_id.as_str())
                        .push_bind(r.tenant_id.as_deref())
                        .push_bind(r.user_oid.as_deref())
                        .push_bind(r.broker_app_id.as_deref())
                        .push_bind(r.client_app_id.as_deref())
                        .push_bind(r.workload.as_deref())
                        .push_bind(r.backend.as_deref())
                        .push_bind(r.scopes.as_deref())
                        .push_bind(r.outcome.as_str())
                        .push_bind(r.error.as_deref())
                        .push_bind(r.cache_hit)
                        .push_bind(r.latency_us)
                        .push_bind(r.hits)
                        .push_bind(r.last_at_ms)
                        .push_bind(r.site.as_deref());
                });
                query.push(" ON CONFLICT (id) DO NOTHING");
                query.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The most recent audit records, newest first (ties broken by id).
    pub async fn recent_audit(&self, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!("{SELECT} ORDER BY at_ms DESC, id DESC LIMIT $1");
        // 17 columns: one more than sqlx's tuples decode, so read by index (a macro, not a
        // function: the same code is compiled once per engine's row type).
        macro_rules! read {
            ($row:expr) => {{
                use sqlx::Row as _;
                let row = $row;
                let id: String = row.try_get(0)?;
                let id = Uuid::parse_str(&id).map_err(|e| StoreError::InvalidRow {
                    table: "audit_records",
                    detail: format!("id {id:?}: {e}"),
                })?;
                AuditRecord {
                    id,
                    at_ms: row.try_get(1)?,
                    correlation_id: row.try_get(2)?,
                    tenant_id: row.try_get(3)?,
                    user_oid: row.try_get(4)?,
                    broker_app_id: row.try_get(5)?,
                    client_app_id: row.try_get(6)?,
                    workload: row.try_get(7)?,
                    backend: row.try_get(8)?,
                    scopes: row.try_get(9)?,
                    outcome: row.try_get(10)?,
                    error: row.try_get(11)?,
                    cache_hit: row.try_get(12)?,
                    latency_us: row.try_get(13)?,
                    hits: row.try_get(14)?,
                    last_at_ms: row.try_get(15)?,
                    site: row.try_get(16)?,
                }
            }};
        }
        let records: Vec<AuditRecord> = with_pool!(self, pool => {
            let rows = sqlx::query(&sql).bind(i64::from(limit)).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(read!(row));
            }
            out
        });
        Ok(records)
    }
}
