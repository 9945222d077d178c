//! Reading the whole registry into a [`Snapshot`], in one read-only transaction so the snapshot
//! never mixes rows from before and after an operator's migration.

use crate::model::{
    AppIdUri, AppOnlyRow, AppRegistration, BackendScope, CertificateRef, RegistryRows, SiteClientId, SiteRow,
    SiteWorkload, TenantConsent, WorkloadBroker, WorkloadRow,
};
use crate::snapshot::Snapshot;

use super::{Pool, Store, StoreError};

type AppTuple = (String, String, String, Option<String>);
type ConsentTuple = (String, String, String, String, Option<String>);

/// The raw tuples of every table, before the enum columns are parsed.
struct Raw {
    apps: Vec<AppTuple>,
    app_id_uris: Vec<(String, String)>,
    workloads: Vec<(String, String, bool, String)>,
    brokers: Vec<(String, String)>,
    backend_scopes: Vec<(String, String, String)>,
    consents: Vec<ConsentTuple>,
    certificates: Vec<(String, String, String, String)>,
    sites: Vec<(String, String, String, bool)>,
    site_client_ids: Vec<(String, String)>,
    site_workloads: Vec<(String, String)>,
    app_only: Vec<(String, Option<String>, Option<String>)>,
}

/// Reads every table through `$conn`. A macro, not a function: the same portable queries are
/// compiled once for PostgreSQL and once for SQLite.
macro_rules! read_raw {
    ($conn:expr) => {
        Raw {
            apps: sqlx::query_as("SELECT app_id, role, display_name, resource_uri FROM app_registrations")
                .fetch_all(&mut *$conn)
                .await?,
            app_id_uris: sqlx::query_as("SELECT app_id, uri FROM app_id_uris").fetch_all(&mut *$conn).await?,
            workloads: sqlx::query_as("SELECT name, client_app_id, enabled, required_scope FROM workloads")
                .fetch_all(&mut *$conn)
                .await?,
            brokers: sqlx::query_as("SELECT workload, broker_app_id FROM workload_brokers")
                .fetch_all(&mut *$conn)
                .await?,
            backend_scopes: sqlx::query_as("SELECT workload, backend_app_id, scope FROM workload_backend_scopes")
                .fetch_all(&mut *$conn)
                .await?,
            consents: sqlx::query_as("SELECT tenant_id, workload, status, changed_at, reference FROM tenant_consents")
                .fetch_all(&mut *$conn)
                .await?,
            certificates: sqlx::query_as(
                "SELECT client_app_id, thumbprint_sha256, description, added_at \
                 FROM client_certificates",
            )
            .fetch_all(&mut *$conn)
            .await?,
            sites: sqlx::query_as("SELECT host, key_url, tenant_id, enabled FROM sites").fetch_all(&mut *$conn).await?,
            site_client_ids: sqlx::query_as("SELECT host, client_id FROM site_client_ids")
                .fetch_all(&mut *$conn)
                .await?,
            site_workloads: sqlx::query_as("SELECT host, workload FROM site_workloads").fetch_all(&mut *$conn).await?,
            app_only: sqlx::query_as("SELECT workload, required_role, required_group FROM workload_app_only")
                .fetch_all(&mut *$conn)
                .await?,
        }
    };
}

impl Store {
    /// Reads the registry and builds its snapshot.
    pub async fn load_snapshot(&self) -> Result<Snapshot, StoreError> {
        match self.read_raw().await {
            Ok(raw) => Ok(Snapshot::from_rows(parse(raw)?)),
            Err(e) => Err(self.explain(e).await),
        }
    }

    async fn read_raw(&self) -> Result<Raw, sqlx::Error> {
        match &self.pool {
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
                let raw = read_raw!(tx);
                tx.commit().await?;
                Ok(raw)
            }
            Pool::Sqlite(pool) => {
                // In WAL mode a read transaction sees one consistent state of the file.
                let mut tx = pool.begin().await?;
                let raw = read_raw!(tx);
                tx.commit().await?;
                Ok(raw)
            }
        }
    }
}

/// Turns tuples into rows, sorted so a snapshot does not depend on the database's row order or
/// collation.
fn parse(raw: Raw) -> Result<RegistryRows, StoreError> {
    let invalid = |table, e: crate::model::UnknownValue| StoreError::InvalidRow { table, detail: e.to_string() };
    let mut rows = RegistryRows {
        apps: raw
            .apps
            .into_iter()
            .map(|(app_id, role, display_name, resource_uri)| {
                Ok(AppRegistration {
                    role: role.parse().map_err(|e| invalid("app_registrations", e))?,
                    app_id,
                    display_name,
                    resource_uri,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        app_id_uris: raw.app_id_uris.into_iter().map(|(app_id, uri)| AppIdUri { app_id, uri }).collect(),
        workloads: raw
            .workloads
            .into_iter()
            .map(|(name, client_app_id, enabled, required_scope)| WorkloadRow {
                name,
                client_app_id,
                enabled,
                required_scope,
            })
            .collect(),
        brokers: raw
            .brokers
            .into_iter()
            .map(|(workload, broker_app_id)| WorkloadBroker { workload, broker_app_id })
            .collect(),
        backend_scopes: raw
            .backend_scopes
            .into_iter()
            .map(|(workload, backend_app_id, scope)| BackendScope { workload, backend_app_id, scope })
            .collect(),
        consents: raw
            .consents
            .into_iter()
            .map(|(tenant_id, workload, status, changed_at, reference)| {
                Ok(TenantConsent {
                    status: status.parse().map_err(|e| invalid("tenant_consents", e))?,
                    tenant_id,
                    workload,
                    changed_at,
                    reference,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        certificates: raw
            .certificates
            .into_iter()
            .map(|(client_app_id, thumbprint_sha256, description, added_at)| CertificateRef {
                client_app_id,
                thumbprint_sha256,
                description,
                added_at,
            })
            .collect(),
        sites: raw
            .sites
            .into_iter()
            .map(|(host, key_url, tenant_id, enabled)| SiteRow { host, key_url, tenant_id, enabled })
            .collect(),
        site_client_ids: raw
            .site_client_ids
            .into_iter()
            .map(|(host, client_id)| SiteClientId { host, client_id })
            .collect(),
        site_workloads: raw
            .site_workloads
            .into_iter()
            .map(|(host, workload)| SiteWorkload { host, workload })
            .collect(),
        app_only: raw
            .app_only
            .into_iter()
            .map(|(workload, required_role, required_group)| AppOnlyRow { workload, required_role, required_group })
            .collect(),
    };
    rows.sort();
    Ok(rows)
}
