//! `registry check`: contradictions in the registry that the schema deliberately does not
//! forbid (no foreign keys, see `migrations/0001_registry.sql`), each explained in one line.
//!
//! A problem never makes [`decide`](crate::decide) grant more: rows that point at nothing grant
//! nothing. It does explain why a request that should work is denied, or why a row is useless.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::model::AppRole;
use crate::scope::normalize_resource;
use crate::snapshot::Snapshot;

/// One contradiction found by [`check`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum Problem {
    #[error("tenant {tenant_id} has a consent record for workload '{workload}', which is not registered")]
    ConsentForUnknownWorkload { tenant_id: String, workload: String },

    #[error("workload_brokers lists broker {broker_app_id} for workload '{workload}', which is not registered")]
    BrokerForUnknownWorkload { workload: String, broker_app_id: String },

    #[error(
        "workload_backend_scopes lists {backend_app_id}/{scope} for workload '{workload}', \
         which is not registered"
    )]
    BackendScopeForUnknownWorkload { workload: String, backend_app_id: String, scope: String },

    #[error(
        "workload '{workload}' has no broker app, so no browser can obtain tokens for it \
         (add a row to workload_brokers)"
    )]
    WorkloadWithoutBroker { workload: String },

    #[error(
        "workload '{workload}' has no backend scopes, so every token exchange for it is denied \
         (add rows to workload_backend_scopes)"
    )]
    WorkloadWithoutBackendScopes { workload: String },

    #[error("{used_as} {app_id} of workload '{workload}' has no row in app_registrations")]
    AppNotRegistered { workload: String, app_id: String, used_as: AppRole },

    #[error("app {app_id} is used as a {used_as} by workload '{workload}' but is registered as a {registered_as}")]
    WrongAppRole { workload: String, app_id: String, used_as: AppRole, registered_as: AppRole },

    #[error(
        "backend {backend_app_id} of workload '{workload}' has no resource_uri, so none of its \
         scopes can be requested (set app_registrations.resource_uri)"
    )]
    BackendWithoutResource { workload: String, backend_app_id: String },

    #[error(
        "backend {app_id} has resource_uri {resource_uri:?}, which is neither an absolute URI \
         (scheme://host) nor a GUID, so scopes written against it will not match"
    )]
    ResourceUriNotAbsolute { app_id: String, resource_uri: String },

    #[error("{role} app {app_id} has a resource_uri; only backends have one")]
    ResourceOnNonBackend { app_id: String, role: AppRole },

    #[error(
        "backends {} all have the resource {resource}; requests for it cannot tell them apart",
        .backend_app_ids.join(", ")
    )]
    DuplicateResource { resource: String, backend_app_ids: Vec<String> },

    #[error(
        "client app {client_app_id} of workload '{workload}' has no certificate reference, so the \
         STS cannot sign its client assertions (add a row to client_certificates)"
    )]
    ClientAppWithoutCertificate { workload: String, client_app_id: String },

    #[error(
        "certificate {thumbprint_sha256} is registered for {client_app_id}, which is not the \
         client app of any workload"
    )]
    CertificateForUnknownClientApp { client_app_id: String, thumbprint_sha256: String },

    #[error("App ID URI {uri} belongs to app {app_id}, which has no row in app_registrations")]
    AppIdUriForUnknownApp { app_id: String, uri: String },

    #[error("site {host} has no registered client id, so none of its tokens is accepted (add rows to site_client_ids)")]
    SiteWithoutClientIds { host: String },

    #[error("{table} has a row for site {host}, which is not registered in sites")]
    RowForUnknownSite { table: &'static str, host: String },

    #[error("site {host} may use workload '{workload}', which is not registered")]
    SiteWorkloadUnknown { host: String, workload: String },

    #[error(
        "site {host} may use workload '{workload}', which is delegated (no workload_app_only row); \
         a portal user has no Entra token, so the site's requests are refused"
    )]
    SiteWorkloadNotAppOnly { host: String, workload: String },

    #[error(
        "site {host} may use workload '{workload}', but the site's tenant {tenant_id} has not consented \
         to it (or revoked), so every request is refused"
    )]
    SiteTenantNotConsented { host: String, workload: String, tenant_id: String },

    #[error("workload_app_only lists workload '{workload}', which is not registered")]
    AppOnlyForUnknownWorkload { workload: String },

    #[error(
        "app-only workload '{workload}' has backend scope {backend_app_id}/{scope}; an app-only token is \
         requested for <resource>/.default only, so only '.default' rows can ever be granted"
    )]
    AppOnlyScopeNotDefault { workload: String, backend_app_id: String, scope: String },

    #[error(
        "certificate {thumbprint_sha256} ({source_name}) is configured for client app {client_app_id} but \
         the registry does not reference it, so the STS never signs with it (add a client_certificates \
         row, or remove it from the configuration)"
    )]
    CertificateNotReferenced { client_app_id: String, thumbprint_sha256: String, source_name: String },

    #[error(
        "client_certificates references certificate {thumbprint_sha256} for client app {client_app_id}, \
         but the configuration has no such certificate"
    )]
    CertificateNotConfigured { client_app_id: String, thumbprint_sha256: String },
}

/// One certificate in the STS configuration, by its public facts (for [`check_certificates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredCertificate {
    pub client_app_id: String,
    /// Lower-case hex SHA-256 of the DER certificate.
    pub thumbprint_sha256: String,
    /// Where it is configured (a file name), to say which one is meant.
    pub source_name: String,
}

/// The configuration against the registry's certificate references: configured certificates the
/// registry does not reference (never used: the registry decides which certificates the STS may
/// sign with) and references no configured certificate answers. Ids and thumbprints compare
/// without regard to case. Sorted; empty when the two agree.
pub fn check_certificates(snapshot: &Snapshot, configured: &[ConfiguredCertificate]) -> Vec<Problem> {
    let key = |app: &str, thumbprint: &str| (app.trim().to_ascii_lowercase(), thumbprint.to_ascii_lowercase());
    let configured_keys: HashSet<(String, String)> =
        configured.iter().map(|c| key(&c.client_app_id, &c.thumbprint_sha256)).collect();
    let referenced: HashSet<(String, String)> =
        snapshot.rows().certificates.iter().map(|c| key(&c.client_app_id, &c.thumbprint_sha256)).collect();
    let mut problems = BTreeSet::new();
    for c in configured {
        let (client_app_id, thumbprint_sha256) = key(&c.client_app_id, &c.thumbprint_sha256);
        if !referenced.contains(&(client_app_id.clone(), thumbprint_sha256.clone())) {
            problems.insert(Problem::CertificateNotReferenced {
                client_app_id,
                thumbprint_sha256,
                source_name: c.source_name.clone(),
            });
        }
    }
    for (client_app_id, thumbprint_sha256) in referenced {
        if !configured_keys.contains(&(client_app_id.clone(), thumbprint_sha256.clone())) {
            problems.insert(Problem::CertificateNotConfigured { client_app_id, thumbprint_sha256 });
        }
    }
    problems.into_iter().collect()
}

/// Every contradiction in the snapshot, sorted; empty when the registry is consistent.
pub fn check(snapshot: &Snapshot) -> Vec<Problem> {
    let rows = snapshot.rows();
    let mut problems = BTreeSet::new();
    let workload_names: HashSet<&str> = rows.workloads.iter().map(|w| w.name.as_str()).collect();

    for c in &rows.consents {
        if !workload_names.contains(c.workload.as_str()) {
            problems.insert(Problem::ConsentForUnknownWorkload {
                tenant_id: c.tenant_id.clone(),
                workload: c.workload.clone(),
            });
        }
    }
    for b in &rows.brokers {
        if !workload_names.contains(b.workload.as_str()) {
            problems.insert(Problem::BrokerForUnknownWorkload {
                workload: b.workload.clone(),
                broker_app_id: b.broker_app_id.clone(),
            });
        }
    }
    for s in &rows.backend_scopes {
        if !workload_names.contains(s.workload.as_str()) {
            problems.insert(Problem::BackendScopeForUnknownWorkload {
                workload: s.workload.clone(),
                backend_app_id: s.backend_app_id.clone(),
                scope: s.scope.clone(),
            });
        }
    }

    for w in snapshot.workloads() {
        let name = &w.name;
        // An app-only workload that a site uses is reached without a broker.
        let used_by_site = w.app_only.is_some() && snapshot.sites().iter().any(|s| s.workloads.contains(name));
        if w.brokers.is_empty() && !used_by_site {
            problems.insert(Problem::WorkloadWithoutBroker { workload: name.clone() });
        }
        if w.app_only.is_some() {
            for b in w.backends() {
                for scope in b.scopes().filter(|s| !s.eq_ignore_ascii_case(crate::scope::DEFAULT_SCOPE)) {
                    problems.insert(Problem::AppOnlyScopeNotDefault {
                        workload: name.clone(),
                        backend_app_id: b.app_id.clone(),
                        scope: scope.to_owned(),
                    });
                }
            }
        }
        if w.backends().next().is_none() {
            problems.insert(Problem::WorkloadWithoutBackendScopes { workload: name.clone() });
        }
        let uses = std::iter::once((w.client_app_id.as_str(), AppRole::Client))
            .chain(w.brokers.iter().map(|b| (b.as_str(), AppRole::Broker)))
            .chain(w.backends().map(|b| (b.app_id.as_str(), AppRole::Backend)));
        for (app_id, used_as) in uses {
            match snapshot.app(app_id) {
                None => problems.insert(Problem::AppNotRegistered {
                    workload: name.clone(),
                    app_id: app_id.to_owned(),
                    used_as,
                }),
                Some(app) if app.role != used_as => problems.insert(Problem::WrongAppRole {
                    workload: name.clone(),
                    app_id: app_id.to_owned(),
                    used_as,
                    registered_as: app.role,
                }),
                Some(_) => false,
            };
        }
        for b in w.backends() {
            let registered_backend = snapshot.app(&b.app_id).is_some_and(|a| a.role == AppRole::Backend);
            if registered_backend && b.resource.is_none() {
                problems.insert(Problem::BackendWithoutResource {
                    workload: name.clone(),
                    backend_app_id: b.app_id.clone(),
                });
            }
        }
        if snapshot.certificates(&w.client_app_id).is_empty() {
            problems.insert(Problem::ClientAppWithoutCertificate {
                workload: name.clone(),
                client_app_id: w.client_app_id.clone(),
            });
        }
    }

    let mut by_resource: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for app in &rows.apps {
        let Some(resource_uri) = &app.resource_uri else {
            continue;
        };
        if app.role != AppRole::Backend {
            problems.insert(Problem::ResourceOnNonBackend { app_id: app.app_id.clone(), role: app.role });
            continue;
        }
        if !is_absolute_or_guid(resource_uri) {
            problems.insert(Problem::ResourceUriNotAbsolute {
                app_id: app.app_id.clone(),
                resource_uri: resource_uri.clone(),
            });
        }
        by_resource.entry(normalize_resource(resource_uri)).or_default().push(app.app_id.clone());
    }
    for (resource, mut backend_app_ids) in by_resource {
        if backend_app_ids.len() > 1 {
            backend_app_ids.sort();
            problems.insert(Problem::DuplicateResource { resource, backend_app_ids });
        }
    }

    for c in &rows.certificates {
        if snapshot.workload_for_client(&c.client_app_id).is_none() {
            problems.insert(Problem::CertificateForUnknownClientApp {
                client_app_id: c.client_app_id.clone(),
                thumbprint_sha256: c.thumbprint_sha256.clone(),
            });
        }
    }
    for u in &rows.app_id_uris {
        if snapshot.app(&u.app_id).is_none() {
            problems.insert(Problem::AppIdUriForUnknownApp { app_id: u.app_id.clone(), uri: u.uri.clone() });
        }
    }

    check_sites(snapshot, &mut problems);
    problems.into_iter().collect()
}

/// Sites and app-only workloads (`migrations/0004_sites_app_only.sql`).
fn check_sites(snapshot: &Snapshot, problems: &mut BTreeSet<Problem>) {
    let rows = snapshot.rows();
    let known = |host: &str| snapshot.site(host).is_some();
    for c in rows.site_client_ids.iter().filter(|c| !known(&c.host)) {
        problems.insert(Problem::RowForUnknownSite { table: "site_client_ids", host: c.host.clone() });
    }
    for w in rows.site_workloads.iter().filter(|w| !known(&w.host)) {
        problems.insert(Problem::RowForUnknownSite { table: "site_workloads", host: w.host.clone() });
    }
    for a in rows.app_only.iter().filter(|a| snapshot.workload(&a.workload).is_none()) {
        problems.insert(Problem::AppOnlyForUnknownWorkload { workload: a.workload.clone() });
    }
    for site in snapshot.sites() {
        if site.client_ids.is_empty() {
            problems.insert(Problem::SiteWithoutClientIds { host: site.host.clone() });
        }
        for name in &site.workloads {
            let (host, workload) = (site.host.clone(), name.clone());
            match snapshot.workload(name) {
                None => problems.insert(Problem::SiteWorkloadUnknown { host, workload }),
                Some(w) if w.app_only.is_none() => problems.insert(Problem::SiteWorkloadNotAppOnly { host, workload }),
                Some(_) if !snapshot.is_consented(&site.tenant_id, name) => problems
                    .insert(Problem::SiteTenantNotConsented { host, workload, tenant_id: site.tenant_id.clone() }),
                Some(_) => false,
            };
        }
    }
}

/// `scheme://host…` with both parts non-empty, or a GUID (36 hex digits and dashes).
fn is_absolute_or_guid(resource: &str) -> bool {
    match resource.split_once("://") {
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                && !rest.is_empty()
                && !rest.starts_with('/')
        }
        None => resource.len() == 36 && resource.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'),
    }
}
