//! The registry's rows, exactly as the tables hold them.
//!
//! [`RegistryRows`] is the plain data a [`Snapshot`](crate::Snapshot) is built from: the store
//! reads it from the database, tests and property tests build it by hand. Keeping the raw rows
//! (rather than only the indexes) is what lets [`check`](crate::check) report rows that point
//! at nothing, such as a consent for a workload that does not exist.

use std::fmt;
use std::str::FromStr;

/// What an app registration is to Tessera (column `app_registrations.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppRole {
    /// The SPA public client the browser broker signs the user in as; shared by all workloads.
    Broker,
    /// A workload's confidential client; the STS holds its certificate and performs OBO as it.
    Client,
    /// A resource the OBO token is for (Microsoft Graph, a vendor API, ...).
    Backend,
}

impl AppRole {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AppRole::Broker => "broker",
            AppRole::Client => "client",
            AppRole::Backend => "backend",
        }
    }
}

impl fmt::Display for AppRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AppRole {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "broker" => Ok(AppRole::Broker),
            "client" => Ok(AppRole::Client),
            "backend" => Ok(AppRole::Backend),
            other => Err(UnknownValue(other.to_owned())),
        }
    }
}

/// A tenant's consent to a workload (column `tenant_consents.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConsentStatus {
    Granted,
    Revoked,
}

impl ConsentStatus {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentStatus::Granted => "granted",
            ConsentStatus::Revoked => "revoked",
        }
    }
}

impl fmt::Display for ConsentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConsentStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "granted" => Ok(ConsentStatus::Granted),
            "revoked" => Ok(ConsentStatus::Revoked),
            other => Err(UnknownValue(other.to_owned())),
        }
    }
}

/// A stored enum column held a value this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownValue(pub String);

/// A row of `app_registrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRegistration {
    pub app_id: String,
    pub role: AppRole,
    pub display_name: String,
    /// Backends only: what their scopes are written against (`https://graph.microsoft.com`).
    pub resource_uri: Option<String>,
}

/// A row of `app_id_uris`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppIdUri {
    pub app_id: String,
    pub uri: String,
}

/// A row of `workloads`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadRow {
    pub name: String,
    pub client_app_id: String,
    pub enabled: bool,
    /// The delegated scope the client app exposes (`access_as_user`); the user's token must
    /// carry it in `scp`.
    pub required_scope: String,
}

/// A row of `workload_brokers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadBroker {
    pub workload: String,
    pub broker_app_id: String,
}

/// A row of `workload_backend_scopes`: `scope` is the bare name (`Files.Read`, `.default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendScope {
    pub workload: String,
    pub backend_app_id: String,
    pub scope: String,
}

/// A row of `tenant_consents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantConsent {
    pub tenant_id: String,
    pub workload: String,
    pub status: ConsentStatus,
    /// RFC 3339 UTC.
    pub changed_at: String,
    pub reference: Option<String>,
}

/// A row of `client_certificates`: a reference to a certificate, never key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRef {
    pub client_app_id: String,
    /// SHA-256 of the DER certificate, lower-case hex (64 characters).
    pub thumbprint_sha256: String,
    pub description: String,
    /// RFC 3339 UTC.
    pub added_at: String,
}

/// A row of `sites`: a Power Pages site whose portal tokens the STS accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRow {
    /// Host name without scheme, lower case: the tokens' `iss`.
    pub host: String,
    /// Where the site's PEM public key is fetched.
    pub key_url: String,
    /// The Entra tenant of the site's environment.
    pub tenant_id: String,
    pub enabled: bool,
}

/// A row of `site_client_ids`: a registered client id accepted as a portal token's `aud`/`appid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteClientId {
    pub host: String,
    pub client_id: String,
}

/// A row of `site_workloads`: a workload a site's contacts may obtain app-only tokens of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteWorkload {
    pub host: String,
    pub workload: String,
}

/// A row of `workload_app_only`: the workload hands out app-only tokens, to Entra users holding
/// `required_role` (in `roles`) or `required_group` (in `groups`), and to contacts of its sites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppOnlyRow {
    pub workload: String,
    pub required_role: Option<String>,
    pub required_group: Option<String>,
}

/// Every registry table's rows (audit records excluded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryRows {
    pub apps: Vec<AppRegistration>,
    pub app_id_uris: Vec<AppIdUri>,
    pub workloads: Vec<WorkloadRow>,
    pub brokers: Vec<WorkloadBroker>,
    pub backend_scopes: Vec<BackendScope>,
    pub consents: Vec<TenantConsent>,
    pub certificates: Vec<CertificateRef>,
    pub sites: Vec<SiteRow>,
    pub site_client_ids: Vec<SiteClientId>,
    pub site_workloads: Vec<SiteWorkload>,
    pub app_only: Vec<AppOnlyRow>,
}

impl RegistryRows {
    /// Sorts every table by its key, so two registries with the same rows compare equal
    /// whatever order the database returned them in.
    pub fn sort(&mut self) {
        self.apps.sort_by(|a, b| a.app_id.cmp(&b.app_id));
        self.app_id_uris.sort_by(|a, b| (&a.app_id, &a.uri).cmp(&(&b.app_id, &b.uri)));
        self.workloads.sort_by(|a, b| a.name.cmp(&b.name));
        self.brokers.sort_by(|a, b| (&a.workload, &a.broker_app_id).cmp(&(&b.workload, &b.broker_app_id)));
        self.backend_scopes.sort_by(|a, b| {
            (&a.workload, &a.backend_app_id, &a.scope).cmp(&(&b.workload, &b.backend_app_id, &b.scope))
        });
        self.consents.sort_by(|a, b| (&a.tenant_id, &a.workload).cmp(&(&b.tenant_id, &b.workload)));
        self.certificates
            .sort_by(|a, b| (&a.client_app_id, &a.thumbprint_sha256).cmp(&(&b.client_app_id, &b.thumbprint_sha256)));
        self.sites.sort_by(|a, b| a.host.cmp(&b.host));
        self.site_client_ids.sort_by(|a, b| (&a.host, &a.client_id).cmp(&(&b.host, &b.client_id)));
        self.site_workloads.sort_by(|a, b| (&a.host, &a.workload).cmp(&(&b.host, &b.workload)));
        self.app_only.sort_by(|a, b| a.workload.cmp(&b.workload));
    }
}
