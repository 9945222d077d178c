//! The demo registry: the ids in `migrations/demo-registry/`, for `sts demo` and for tests.
//!
//! One broker app, the `file-picker` workload (client app with App ID URI `api://<client-id>`),
//! Microsoft Graph as its backend with `Files.Read` and `User.Read`, the demo tenant consented,
//! and a certificate reference. [`rows`] is the same registry as Rust values; a store test
//! checks that it equals what the migration loads, so the two cannot drift apart.

use std::path::PathBuf;

use sqlx::migrate::Migrator;

use crate::model::{
    AppIdUri, AppRegistration, AppRole, BackendScope, CertificateRef, ConsentStatus, RegistryRows, TenantConsent,
    WorkloadBroker, WorkloadRow,
};

/// The tenant that consented to the demo workload.
pub const TENANT_ID: &str = "7ec0c3c6-ea9e-468c-8dc8-70754fe89a2d";
/// A tenant with no consent at all (for "not consented" cases).
pub const OTHER_TENANT_ID: &str = "046536ef-d8c1-4c3a-8995-ba5580d61e5d";
/// The broker app (SPA public client) the browser signs in as.
pub const BROKER_APP_ID: &str = "aaa36729-c0f3-47d1-9c10-c4e2752a73a5";
/// The demo workload's name.
pub const WORKLOAD: &str = "file-picker";
/// The file-picker's client app (confidential client; the STS performs OBO as it).
pub const FILE_PICKER_CLIENT_APP_ID: &str = "74d4521a-2fb0-478a-8f36-c6518b55ba49";
/// The client app's App ID URI (`api://<client-id>`).
pub const FILE_PICKER_APP_ID_URI: &str = "api://74d4521a-2fb0-478a-8f36-c6518b55ba49";
/// The scope the client app exposes; the user token must carry it.
pub const REQUIRED_SCOPE: &str = "access_as_user";
/// Microsoft Graph's (real, global) application id.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Microsoft Graph's resource URI.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// The Graph scopes the demo workload may obtain (bare names).
pub const GRAPH_SCOPES: [&str; 2] = ["Files.Read", "User.Read"];
/// The certificate reference of the demo client app. A placeholder: a demo that generates its
/// certificate at start-up must add a reference with that certificate's thumbprint.
pub const CERTIFICATE_THUMBPRINT_SHA256: &str = "72a2aa02219b41e0eb279e66ce397e1bd4183cef4bb7b6c0b5526f9661f60f6a";

/// The demo registry migrations, embedded in the binary (they need no files at run time), set
/// to ignore the schema's versions in the shared `_sqlx_migrations` table.
/// The demo registry as SQL, for tools that apply it as an operator migration (`sts demo`).
/// Same file as [`migrator`]'s, so the checksum matches whichever way it was applied.
pub const DEMO_REGISTRY_SQL: &str = include_str!("../../migrations/demo-registry/20260101000000_demo_registry.sql");

pub fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("../migrations/demo-registry");
    migrator.set_ignore_missing(true);
    migrator
}

/// Where the demo registry migrations are in a source checkout, for tests that copy or apply
/// them as an operator folder.
pub fn migrations_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations/demo-registry")
}

/// The demo registry as rows, equal to what its migration inserts.
pub fn rows() -> RegistryRows {
    let app = |app_id: &str, role, display_name: &str, resource_uri: Option<&str>| AppRegistration {
        app_id: app_id.into(),
        role,
        display_name: display_name.into(),
        resource_uri: resource_uri.map(Into::into),
    };
    RegistryRows {
        apps: vec![
            app(BROKER_APP_ID, AppRole::Broker, "Tessera demo broker", None),
            app(FILE_PICKER_CLIENT_APP_ID, AppRole::Client, "Tessera demo file picker", None),
            app(GRAPH_APP_ID, AppRole::Backend, "Microsoft Graph", Some(GRAPH_RESOURCE)),
        ],
        app_id_uris: vec![AppIdUri { app_id: FILE_PICKER_CLIENT_APP_ID.into(), uri: FILE_PICKER_APP_ID_URI.into() }],
        workloads: vec![WorkloadRow {
            name: WORKLOAD.into(),
            client_app_id: FILE_PICKER_CLIENT_APP_ID.into(),
            enabled: true,
            required_scope: REQUIRED_SCOPE.into(),
        }],
        brokers: vec![WorkloadBroker { workload: WORKLOAD.into(), broker_app_id: BROKER_APP_ID.into() }],
        backend_scopes: GRAPH_SCOPES
            .iter()
            .map(|s| BackendScope {
                workload: WORKLOAD.into(),
                backend_app_id: GRAPH_APP_ID.into(),
                scope: (*s).into(),
            })
            .collect(),
        consents: vec![TenantConsent {
            tenant_id: TENANT_ID.into(),
            workload: WORKLOAD.into(),
            status: ConsentStatus::Granted,
            changed_at: "2026-01-01T00:00:00Z".into(),
            reference: Some("demo tenant".into()),
        }],
        certificates: vec![CertificateRef {
            client_app_id: FILE_PICKER_CLIENT_APP_ID.into(),
            thumbprint_sha256: CERTIFICATE_THUMBPRINT_SHA256.into(),
            description: "demo file-picker certificate (reference only)".into(),
            added_at: "2026-01-01T00:00:00Z".into(),
        }],
        ..RegistryRows::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_id_uri_is_api_scheme_of_the_client_id() {
        assert_eq!(FILE_PICKER_APP_ID_URI, format!("api://{FILE_PICKER_CLIENT_APP_ID}"));
    }

    #[test]
    fn demo_registry_has_no_problems() {
        let snapshot = crate::Snapshot::from_rows(rows());
        assert_eq!(crate::check(&snapshot), vec![]);
    }
}
