//! The emulator's configuration: listeners, token lifetimes and the initial directory.
//!
//! Read from TOML or JSON (`EmulatorConfig::from_file`), or built in code by tests. Every field
//! has a default so a test can write `EmulatorConfig { tenants: vec![…], ..Default::default() }`.
//! The directory part mirrors what an Entra admin would register: tenants, users, app
//! registrations (with their certificates, exposed scopes and token version) and consent grants.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use figment::Figment;
use figment::providers::{Env, Format as _, Toml};
use serde::{Deserialize, Serialize};

/// Everything the emulator needs to start.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorConfig {
    /// Listeners, issuers and lifetimes.
    pub server: ServerConfig,
    /// The initial directory; changeable later through [`crate::Admin`].
    pub tenants: Vec<TenantConfig>,
    /// Power Pages sites, served under `/_portal/{host}/…` (see [`crate::portal`]).
    pub sites: Vec<SiteConfig>,
}

/// A Power Pages site: its host name (the tokens' `iss`), its site settings and its contacts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteConfig {
    /// Host name without scheme, e.g. `contoso.powerappsportals.com`.
    pub host: String,
    /// Site settings by name, as a maker sets them (`ImplicitGrantFlow/RegisteredClientId` =
    /// `"id1;id2"`, `ImplicitGrantFlow/TokenExpirationTime` = `"600"`, …).
    pub settings: std::collections::BTreeMap<String, String>,
    /// Contacts who can sign in on the site's sign-in page.
    pub contacts: Vec<ContactConfig>,
}

/// A portal contact (Dataverse `contact` row).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactConfig {
    /// Contact id (GUID): the token's `sub`.
    pub id: String,
    /// `preferred_username`.
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
}

/// Listeners, issuer bases and token lifetimes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address both listeners bind to.
    pub bind: String,
    /// Plain HTTP port; 0 picks a free one.
    pub http_port: u16,
    /// HTTPS port; 0 picks a free one.
    pub https_port: u16,
    /// Serve the `/_admin/…` HTTP API. Off by default: it can mint tokens for anyone.
    pub admin_api: bool,
    /// Base of v2 issuers (`{issuer_base}/{tid}/v2.0`). Default: the HTTPS base URL, so that a
    /// token has the same issuer whichever listener issued it (as Entra's is always
    /// `https://login.microsoftonline.com`).
    pub issuer_base: Option<String>,
    /// Base of v1 issuers (`{v1_issuer_base}/{tid}/`). Default: `{https base}/sts.windows.net`,
    /// standing in for Entra's `https://sts.windows.net`.
    pub v1_issuer_base: Option<String>,
    /// Lifetime of access tokens, in seconds (Entra: 60–90 minutes).
    pub access_token_lifetime_secs: i64,
    /// Fixed lifetime of refresh tokens issued to SPA redirect URIs (Entra: 24 h, not extended).
    pub spa_refresh_token_lifetime_secs: i64,
    /// Lifetime of other refresh tokens (Entra: 90 days).
    pub refresh_token_lifetime_secs: i64,
    /// The admin-consent page grants without showing its Accept button (demo convenience).
    pub admin_consent_auto_accept: bool,
    /// Label the keys of the v1 key document with the v2 issuer template
    /// (`{issuer_base}/{tenantid}/v2.0`), as multi-tenant key documents at Entra can be: a
    /// validator must then accept a v1 token signed with a key labelled in the v2 form.
    pub v1_keys_carry_v2_issuer: bool,
    /// Show a sign-in page at `authorize`, as Entra does: an account picker for the tenant's users
    /// (the `login_hint`'s first), a consent prompt when consent is missing (or `prompt=consent`),
    /// `prompt` honoured, and a browser session cookie so the next sign-in is one click (or none
    /// with `prompt=none`). Off by default: then `authorize` signs the `login_hint` (or the first
    /// user) in without any page, which tests and benchmarks that drive it without a browser need.
    pub sign_in_page: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1".to_owned(),
            http_port: 0,
            https_port: 0,
            admin_api: false,
            issuer_base: None,
            v1_issuer_base: None,
            access_token_lifetime_secs: 3600,
            spa_refresh_token_lifetime_secs: 24 * 3600,
            refresh_token_lifetime_secs: 90 * 24 * 3600,
            admin_consent_auto_accept: false,
            v1_keys_carry_v2_issuer: false,
            sign_in_page: false,
        }
    }
}

/// One directory (tenant).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantConfig {
    /// Tenant id (GUID).
    pub id: String,
    /// Verified domain names that may stand for the id in URLs (`contoso.onmicrosoft.com`).
    pub domains: Vec<String>,
    /// Display name shown on the consent page.
    pub display_name: String,
    /// Users; the first one signs in when `authorize` carries no `login_hint`.
    pub users: Vec<UserConfig>,
    /// App registrations (each also acts as its service principal in this tenant).
    pub apps: Vec<AppConfig>,
    /// Delegated permission grants (admin consent), like Entra's `oauth2PermissionGrants`.
    pub consents: Vec<ConsentConfig>,
    /// Application permission grants (app role assignments) for client credentials.
    pub app_role_grants: Vec<AppRoleGrantConfig>,
}

/// A user account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserConfig {
    /// Object id (GUID), stable per tenant.
    pub oid: String,
    /// User principal name, e.g. `adele@contoso.onmicrosoft.com`.
    pub upn: String,
    /// Display name.
    pub name: String,
    /// Given name (v1 `given_name`).
    pub given_name: Option<String>,
    /// Family name (v1 `family_name`).
    pub family_name: Option<String>,
    /// Security group object ids: the `groups` claim of the user's access tokens.
    pub groups: Vec<String>,
    /// App roles assigned to the user, per resource app: the `roles` claim of the user's access
    /// tokens for that resource (Entra's app role assignments to users).
    pub app_roles: Vec<UserAppRoleConfig>,
}

/// App roles a user holds on one resource app.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct UserAppRoleConfig {
    /// The resource app's client id.
    pub resource: String,
    /// Role values.
    pub roles: Vec<String>,
}

/// An app registration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// Application (client) id (GUID).
    pub client_id: String,
    /// Display name.
    pub display_name: String,
    /// Redirect URIs of the "Single-page application" platform: PKCE S256, CORS, 24 h refresh tokens.
    pub spa_redirect_uris: Vec<String>,
    /// Redirect URIs of the "Web" platform.
    pub web_redirect_uris: Vec<String>,
    /// Application ID URIs, e.g. `api://{client_id}`.
    pub identifier_uris: Vec<String>,
    /// Delegated scopes this app exposes as a resource (short names, e.g. `access_as_user`).
    pub scopes: Vec<String>,
    /// Application roles this app exposes as a resource (for client credentials).
    pub app_roles: Vec<String>,
    /// Apps whose consent is covered by consenting this app (`knownClientApplications`).
    pub known_client_apps: Vec<String>,
    /// Fully qualified delegated permissions the app asks for (`requiredResourceAccess`);
    /// what the admin-consent page grants when no explicit `scope` is given.
    pub required_scopes: Vec<String>,
    /// Version of the access tokens issued *for* this app as a resource
    /// (`accessTokenAcceptedVersion`). `None` means 1, Entra's default for `null`.
    pub access_token_version: Option<u8>,
    /// Certificate credentials (public part only).
    pub certificates: Vec<CertificateConfig>,
}

/// A certificate credential's public part, inline PEM, base64 DER or a file path.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CertificateConfig {
    /// PEM text (`-----BEGIN CERTIFICATE-----`).
    pub pem: Option<String>,
    /// Standard base64 of the DER encoding (what the Entra portal's manifest holds).
    pub der_base64: Option<String>,
    /// A PEM or DER file; relative paths are relative to the config file.
    pub path: Option<PathBuf>,
    /// A missing `path` file is skipped with a warning instead of failing start-up (the demo
    /// generates its certificate on first run; private keys are never committed).
    pub optional: bool,
}

/// A delegated permission grant: `client_id` may act for users on `resource` with `scopes`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentConfig {
    /// The client app that was consented.
    pub client_id: String,
    /// The resource: app id or one of its App ID URIs.
    pub resource: String,
    /// Short scope names.
    pub scopes: Vec<String>,
}

/// An application permission grant (app role assignment).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AppRoleGrantConfig {
    /// The client app given the roles.
    pub client_id: String,
    /// The resource: app id or one of its App ID URIs.
    pub resource: String,
    /// Role values.
    pub roles: Vec<String>,
}

impl EmulatorConfig {
    /// Reads a TOML (default) or JSON (`.json`) file. Environment variables prefixed
    /// `ENTRA_EMULATOR_` override server settings, e.g. `ENTRA_EMULATOR_SERVER__HTTPS_PORT=8443`.
    /// Certificate paths are resolved against the file's folder.
    pub fn from_file(path: impl AsRef<Path>) -> anyhow::Result<Self> {
        let path = path.as_ref();
        let mut config: EmulatorConfig = if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        } else {
            Figment::from(Toml::file_exact(path))
                .merge(Env::prefixed("ENTRA_EMULATOR_").split("__"))
                .extract()
                .with_context(|| format!("parsing {}", path.display()))?
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        for tenant in &mut config.tenants {
            for app in &mut tenant.apps {
                for cert in &mut app.certificates {
                    if let Some(p) = &cert.path
                        && p.is_relative()
                    {
                        cert.path = Some(dir.join(p));
                    }
                }
            }
        }
        Ok(config)
    }
}
