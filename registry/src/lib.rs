//! Tessera's registry: which broker may obtain tokens for which client app (workload), for which
//! backends and scopes, in which tenants.
//!
//! A guided tour, in the order a request meets it:
//!
//! - [`store`] — the registry lives in PostgreSQL or an embedded SQLite file. Tessera's schema
//!   (`migrations/0001_…`) is embedded; operators add their registry content as migrations in
//!   their own folder ([`Store::migrate`]). The STS polls [`Store::migrations_fingerprint`] and
//!   reloads the snapshot only when a migration was applied.
//! - [`Snapshot`] — the whole registry in memory, indexed by client app id, workload name and
//!   (tenant, workload). Built from plain [`RegistryRows`], so tests need no database.
//! - [`decide`] — the consent decision: a pure function of a snapshot and a [`ConsentRequest`],
//!   answering a [`Grant`] (exactly the scopes to request upstream) or a [`Denial`] that says
//!   why. Property tests in `tests/decide_props.rs` pin down what it must never allow.
//!   [`Snapshot::decide`] is the same decision remembered per snapshot (`memo.rs`): what the
//!   STS calls on every exchange.
//! - [`check`] and [`render_matrix`] — `sts registry check|show`: contradictions the schema
//!   lets through on purpose (it has no foreign keys), and a readable consent matrix.
//! - [`demo`] — the registry `sts demo` and the tests run against.
//!
//! Nothing here handles a token: the registry holds ids, scopes and certificate *references*.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod check;
mod decision;
pub mod demo;
mod matrix;
mod memo;
mod model;
pub mod scope;
mod snapshot;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use check::{ConfiguredCertificate, Problem, check, check_certificates};
pub use decision::{
    ConsentRequest, Denial, Grant, PortalRequest, Target, admin_consent_url, authorize_app_only_user, decide,
    decide_portal,
};
pub use matrix::render_matrix;
pub use memo::MAX_ENTRIES as MAX_DECISIONS;
pub use model::{
    AppIdUri, AppOnlyRow, AppRegistration, AppRole, BackendScope, CertificateRef, ConsentStatus, RegistryRows,
    SiteClientId, SiteRow, SiteWorkload, TenantConsent, UnknownValue, WorkloadBroker, WorkloadRow,
};
pub use snapshot::{AppOnly, Backend, Site, Snapshot, Workload};
pub use store::{
    AppliedMigration, AuditRecord, CHANGE_CHANNEL, ChangeEvent, ChangeListener, MigrationOrigin, MigrationRef,
    MigrationReport, MigrationStatus, Store, StoreError,
};
