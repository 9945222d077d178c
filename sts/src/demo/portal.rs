//! The demo's Power Pages site and its app-only workload: a contact signs in on the emulator's
//! site, the site's page gets the contact's token and exchanges it at the STS for an app-only
//! Microsoft Graph token of the `graph-reports` workload — no popup, no Entra sign-in.

use entra_emulator::{AppConfig, AppRoleGrantConfig, CertificateConfig, ContactConfig, EmulatorConfig, SiteConfig};
use registry::demo;

/// The site's host (its tokens' `iss`).
pub const SITE_HOST: &str = "contoso-demo.powerappsportals.com";
/// The client id the site registered for its implicit grant (`aud` of its tokens).
pub const PORTAL_CLIENT_ID: &str = "tessera-demo-portal";
/// The contact who signs in.
pub const CONTACT_ID: &str = "5a1c0c7e-0000-4000-8000-00000000c0de";
/// The app-only workload.
pub const WORKLOAD: &str = "graph-reports";
/// Its client app (certificate: the demo's development certificate, shared with file-picker).
pub const CLIENT_APP_ID: &str = "3c9f1d2e-6b7a-4c8d-9e0f-1a2b3c4d5e6f";
/// The app role an Entra user needs for it (the demo user holds none).
pub const REQUIRED_ROLE: &str = "Reports.Reader";
/// The scope of an app-only token.
pub fn scope() -> String {
    format!("{}/.default", demo::GRAPH_RESOURCE)
}

/// Registers the workload's client app (with its Graph application permission) in both demo
/// tenants, and the site, whose page calls the STS at `sts_url` — through the broker bundle at
/// `broker_script` (the Power Pages bundle, `tessera-broker-pages.js`) when the demo serves one.
pub fn add_to_emulator(
    config: &mut EmulatorConfig,
    certificates_pem: &[String],
    sts_url: &str,
    broker_script: Option<&str>,
) {
    for tenant in &mut config.tenants {
        tenant.apps.push(AppConfig {
            client_id: CLIENT_APP_ID.into(),
            display_name: "Graph reports (app-only)".into(),
            certificates: certificates_pem
                .iter()
                .map(|pem| CertificateConfig { pem: Some(pem.clone()), ..Default::default() })
                .collect(),
            ..Default::default()
        });
        tenant.app_role_grants.push(AppRoleGrantConfig {
            client_id: CLIENT_APP_ID.into(),
            resource: demo::GRAPH_RESOURCE.into(),
            roles: vec!["Reports.Read.All".into()],
        });
    }
    let settings = [
        ("ImplicitGrantFlow/RegisteredClientId", PORTAL_CLIENT_ID.to_owned()),
        ("ImplicitGrantFlow/TokenExpirationTime", "900".to_owned()),
        ("Tessera/StsUrl", sts_url.to_owned()),
        ("Tessera/Workload", WORKLOAD.to_owned()),
        ("Tessera/Scope", scope()),
        ("Tessera/BrokerScriptUrl", broker_script.unwrap_or_default().to_owned()),
    ];
    config.sites.push(SiteConfig {
        host: SITE_HOST.into(),
        settings: settings.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        contacts: vec![ContactConfig {
            id: CONTACT_ID.into(),
            username: "pat.portal".into(),
            given_name: "Pat".into(),
            family_name: "Portal".into(),
            email: "pat@contoso-demo.example".into(),
        }],
    });
}

/// The registry migration of the site and the workload, with the certificate reference
/// (`cert_sha256`). The key URL is a placeholder: the emulator's port is known only once it
/// listens, so [`key_url_sql`] sets it after start.
pub fn registry_sql(cert_sha256: &str) -> String {
    let (tenant, graph, site, client, workload, role) =
        (demo::TENANT_ID, demo::GRAPH_APP_ID, SITE_HOST, CLIENT_APP_ID, WORKLOAD, REQUIRED_ROLE);
    format!(
        "-- The demo's Power Pages site and its app-only workload, written by `sts demo`.\n\
         INSERT INTO app_registrations (app_id, role, display_name, resource_uri)\n\
         VALUES ('{client}', 'client', 'Graph reports (app-only)', NULL);\n\
         INSERT INTO workloads (name, client_app_id, enabled, required_scope)\n\
         VALUES ('{workload}', '{client}', TRUE, 'access_as_user');\n\
         INSERT INTO workload_brokers (workload, broker_app_id) VALUES ('{workload}', '{broker}');\n\
         INSERT INTO workload_backend_scopes (workload, backend_app_id, scope) VALUES ('{workload}', '{graph}', '.default');\n\
         INSERT INTO workload_app_only (workload, required_role, required_group) VALUES ('{workload}', '{role}', NULL);\n\
         INSERT INTO tenant_consents (tenant_id, workload, status, changed_at, reference)\n\
         VALUES ('{tenant}', '{workload}', 'granted', '2026-01-01T00:02:00Z', 'demo tenant');\n\
         INSERT INTO client_certificates (client_app_id, thumbprint_sha256, description, added_at)\n\
         VALUES ('{client}', '{cert_sha256}', 'sts demo development certificate', '2026-01-01T00:02:00Z');\n\
         INSERT INTO sites (host, key_url, tenant_id, enabled)\n\
         VALUES ('{site}', 'http://127.0.0.1/_services/auth/publickey', '{tenant}', TRUE);\n\
         INSERT INTO site_client_ids (host, client_id) VALUES ('{site}', '{PORTAL_CLIENT_ID}');\n\
         INSERT INTO site_workloads (host, workload) VALUES ('{site}', '{workload}');\n",
        broker = demo::BROKER_APP_ID,
    )
}

/// Points the site's key URL at this run's emulator. A demo-only shortcut: an operator changes the
/// registry with a migration, but the demo's emulator port may differ between runs, and an applied
/// migration is never edited.
pub fn key_url_sql(emulator_http: &str) -> String {
    format!(
        "UPDATE sites SET key_url = '{emulator_http}/_portal/{SITE_HOST}/_services/auth/publickey' \
         WHERE host = '{SITE_HOST}';"
    )
}
