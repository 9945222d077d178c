//! The demo directory the emulator serves: the registry's demo workload (`registry::demo`), as an
//! Entra admin would register it. Shared by `sts demo` and the integration tests, so both run
//! against the same picture of Entra.

use entra_emulator::{AppConfig, CertificateConfig, ConsentConfig, EmulatorConfig, TenantConfig, UserConfig};
use registry::demo;

/// The demo user (signs in without a UI).
pub const USER_OID: &str = "0b5b7d3e-9b1c-4a8e-8f3a-2c6d1e4f5a6b";
pub const USER_UPN: &str = "adele@contoso.test";
/// A broker registered in Entra but not allowed for the workload in the registry.
pub const OTHER_BROKER: &str = "99999999-8888-4777-8666-555555555555";

/// Tenants `demo::TENANT_ID` (consented in the registry) and `demo::OTHER_TENANT_ID` (not), each
/// with the broker SPA (`spa_redirect_uris`), the file-picker client app (with `certificates_pem`)
/// and Microsoft Graph (issuing tokens of `graph_token_version`, as the real Graph does: 1).
pub fn emulator_config(
    certificates_pem: &[String],
    spa_redirect_uris: &[String],
    graph_token_version: u8,
) -> EmulatorConfig {
    let tenant = |id: &str| TenantConfig {
        id: id.into(),
        display_name: "Contoso (demo)".into(),
        users: vec![UserConfig {
            oid: USER_OID.into(),
            upn: USER_UPN.into(),
            name: "Adele Vance".into(),
            ..Default::default()
        }],
        apps: vec![
            AppConfig {
                client_id: demo::BROKER_APP_ID.into(),
                display_name: "Tessera broker".into(),
                spa_redirect_uris: spa_redirect_uris.to_vec(),
                ..Default::default()
            },
            AppConfig { client_id: OTHER_BROKER.into(), display_name: "Another broker".into(), ..Default::default() },
            AppConfig {
                client_id: demo::FILE_PICKER_CLIENT_APP_ID.into(),
                display_name: "File picker".into(),
                identifier_uris: vec![demo::FILE_PICKER_APP_ID_URI.into()],
                scopes: vec![demo::REQUIRED_SCOPE.into()],
                known_client_apps: vec![demo::BROKER_APP_ID.into()],
                access_token_version: Some(2),
                certificates: certificates_pem
                    .iter()
                    .map(|pem| CertificateConfig { pem: Some(pem.clone()), ..Default::default() })
                    .collect(),
                ..Default::default()
            },
            AppConfig {
                client_id: demo::GRAPH_APP_ID.into(),
                display_name: "Microsoft Graph".into(),
                identifier_uris: vec![demo::GRAPH_RESOURCE.into()],
                scopes: vec!["Files.Read".into(), "User.Read".into(), "Mail.Read".into()],
                access_token_version: Some(graph_token_version),
                ..Default::default()
            },
        ],
        consents: vec![
            ConsentConfig {
                client_id: demo::FILE_PICKER_CLIENT_APP_ID.into(),
                resource: demo::GRAPH_RESOURCE.into(),
                scopes: demo::GRAPH_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            },
            ConsentConfig {
                client_id: demo::BROKER_APP_ID.into(),
                resource: demo::FILE_PICKER_APP_ID_URI.into(),
                scopes: vec![demo::REQUIRED_SCOPE.into()],
            },
        ],
        ..Default::default()
    };
    EmulatorConfig { tenants: vec![tenant(demo::TENANT_ID), tenant(demo::OTHER_TENANT_ID)], ..Default::default() }
}
