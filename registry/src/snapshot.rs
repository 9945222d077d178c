//! The in-memory registry: built once from [`RegistryRows`], then read without locks or I/O.
//!
//! Lookups the STS makes on every request are hash lookups: workload by client app id, by name,
//! and consent by (tenant, workload). Per workload, every spelling of a backend a request may use
//! (its resource URI, its app id, its App ID URIs) is indexed once, so [`decide`](crate::decide)
//! never scans. The raw rows are kept too, for [`check`](crate::check) and
//! [`render_matrix`](crate::render_matrix).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::decision::{ConsentRequest, Denial, Grant, decide};
use crate::memo::Decisions;
use crate::model::{AppRegistration, AppRole, CertificateRef, ConsentStatus, RegistryRows, TenantConsent};
use crate::scope::{normalize_resource, normalized};

/// The snapshot's maps hash with foldhash, not the standard SipHash: every cached exchange makes
/// several lookups by audience, client app and workload, and SipHash was ~3k of its ~60k
/// instructions (BENCHMARKS.md). SipHash's resistance to chosen keys is not needed here: these
/// maps hold only the operator's registry rows (requests look keys up, never insert them), and
/// foldhash is still seeded at random per map.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// An immutable, indexed copy of the registry. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Snapshot {
    rows: RegistryRows,
    apps: HashMap<String, usize>,
    workloads: HashMap<String, Workload>,
    by_client: HashMap<String, String>,
    consents: HashMap<(String, String), usize>,
    certificates: HashMap<String, Vec<usize>>,
    audiences: HashMap<String, String>,
    sites: HashMap<String, Site>,
    /// The grants [`Snapshot::decide`] answered from this snapshot (`memo.rs`).
    decisions: Decisions,
}

/// A Power Pages site as the STS sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Lower-case host: the tokens' `iss`.
    pub host: String,
    pub key_url: String,
    /// Lower-case tenant id.
    pub tenant_id: String,
    pub enabled: bool,
    /// Lower-case registered client ids (`aud`/`appid`).
    pub client_ids: BTreeSet<String>,
    /// Workload names the site's contacts may use.
    pub workloads: BTreeSet<String>,
}

/// What an app-only workload requires of an Entra user (either suffices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppOnly {
    pub required_role: Option<String>,
    /// Lower-case group object id.
    pub required_group: Option<String>,
}

/// One workload as the decision sees it: its client app, brokers and backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub name: String,
    pub client_app_id: String,
    pub enabled: bool,
    pub required_scope: String,
    /// Lower-case broker app ids.
    pub brokers: BTreeSet<String>,
    /// `Some` when the workload hands out app-only tokens (and then only those).
    pub app_only: Option<AppOnly>,
    backends: BTreeMap<String, Backend>,
    /// Normalised resource spelling → backend app id. Only backends with a resource are here.
    resources: HashMap<String, String>,
}

/// A backend of one workload and the scopes that workload may obtain from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub app_id: String,
    /// The backend's resource URI, normalised; `None` when the registration has none (or the
    /// app is not registered as a backend): such a backend cannot be reached.
    pub resource: Option<String>,
    /// Lower-case scope name → the name as registered (`files.read` → `Files.Read`).
    scopes: BTreeMap<String, String>,
}

impl Backend {
    /// The registered spelling of a scope name, looked up case-insensitively.
    pub fn scope(&self, name: &str) -> Option<&str> {
        self.scopes.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The registered scope names, sorted case-insensitively.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scopes.values().map(String::as_str)
    }
}

impl Workload {
    /// The backends this workload may obtain tokens for, by app id.
    pub fn backends(&self) -> impl Iterator<Item = &Backend> {
        self.backends.values()
    }

    /// A backend of this workload by app id.
    pub fn backend(&self, app_id: &str) -> Option<&Backend> {
        self.backends.get(&app_id.to_ascii_lowercase())
    }

    /// The backend a normalised resource spelling (URI, app id or App ID URI) names, if this
    /// workload has it.
    pub fn backend_for_resource(&self, normalized_resource: &str) -> Option<&Backend> {
        self.resources.get(normalized_resource).and_then(|id| self.backends.get(id))
    }
}

impl Snapshot {
    /// Builds the indexes. Ids are compared lower-case, whatever the rows hold. Rows that point
    /// at nothing (a broker of an unknown workload, ...) stay in [`Snapshot::rows`] but grant
    /// nothing; [`check`](crate::check) reports them.
    pub fn from_rows(rows: RegistryRows) -> Snapshot {
        let apps = first_index(rows.apps.iter().map(|a| a.app_id.to_ascii_lowercase()));

        let mut workloads: HashMap<String, Workload> = HashMap::default();
        let mut by_client = HashMap::default();
        for w in &rows.workloads {
            let client = w.client_app_id.to_ascii_lowercase();
            if workloads.contains_key(&w.name) || by_client.contains_key(&client) {
                continue; // The schema's keys forbid this; hand-built rows may not.
            }
            by_client.insert(client.clone(), w.name.clone());
            workloads.insert(
                w.name.clone(),
                Workload {
                    name: w.name.clone(),
                    client_app_id: client,
                    enabled: w.enabled,
                    required_scope: w.required_scope.clone(),
                    brokers: BTreeSet::new(),
                    app_only: None,
                    backends: BTreeMap::new(),
                    resources: HashMap::default(),
                },
            );
        }
        for b in &rows.brokers {
            if let Some(w) = workloads.get_mut(&b.workload) {
                w.brokers.insert(b.broker_app_id.to_ascii_lowercase());
            }
        }

        for a in &rows.app_only {
            if let Some(w) = workloads.get_mut(&a.workload)
                && w.app_only.is_none()
            {
                w.app_only = Some(AppOnly {
                    required_role: a.required_role.clone(),
                    required_group: a.required_group.as_deref().map(str::to_ascii_lowercase),
                });
            }
        }

        let app_id_uris = app_id_uris_by_app(&rows);
        for s in &rows.backend_scopes {
            let Some(w) = workloads.get_mut(&s.workload) else {
                continue;
            };
            let id = s.backend_app_id.to_ascii_lowercase();
            let backend = w.backends.entry(id.clone()).or_insert_with(|| Backend {
                resource: backend_resource(&rows, &apps, &id),
                app_id: id,
                scopes: BTreeMap::new(),
            });
            backend.scopes.entry(s.scope.to_ascii_lowercase()).or_insert_with(|| s.scope.clone());
        }
        for w in workloads.values_mut() {
            // BTreeMap order: if two backends share a spelling, the lower app id wins, always.
            for b in w.backends.values() {
                let Some(resource) = &b.resource else {
                    continue;
                };
                let spellings = [resource.clone(), b.app_id.clone()]
                    .into_iter()
                    .chain(app_id_uris.get(&b.app_id).into_iter().flatten().cloned());
                for spelling in spellings {
                    w.resources.entry(spelling).or_insert_with(|| b.app_id.clone());
                }
            }
        }

        let consents =
            first_index(rows.consents.iter().map(|c| (c.tenant_id.to_ascii_lowercase(), c.workload.clone())));
        let mut certificates: HashMap<String, Vec<usize>> = HashMap::default();
        for (i, c) in rows.certificates.iter().enumerate() {
            certificates.entry(c.client_app_id.to_ascii_lowercase()).or_default().push(i);
        }
        let mut audiences = HashMap::default();
        for client in by_client.keys() {
            audiences.insert(client.clone(), client.clone());
            for uri in app_id_uris.get(client).into_iter().flatten() {
                audiences.entry(uri.clone()).or_insert_with(|| client.clone());
            }
        }

        let mut sites: HashMap<String, Site> = HashMap::default();
        for s in &rows.sites {
            sites.entry(s.host.to_ascii_lowercase()).or_insert_with(|| Site {
                host: s.host.to_ascii_lowercase(),
                key_url: s.key_url.clone(),
                tenant_id: s.tenant_id.to_ascii_lowercase(),
                enabled: s.enabled,
                client_ids: BTreeSet::new(),
                workloads: BTreeSet::new(),
            });
        }
        for c in &rows.site_client_ids {
            if let Some(site) = sites.get_mut(&c.host.to_ascii_lowercase()) {
                site.client_ids.insert(c.client_id.to_ascii_lowercase());
            }
        }
        for w in &rows.site_workloads {
            if let Some(site) = sites.get_mut(&w.host.to_ascii_lowercase()) {
                site.workloads.insert(w.workload.clone());
            }
        }

        Snapshot {
            rows,
            apps,
            workloads,
            by_client,
            consents,
            certificates,
            audiences,
            sites,
            decisions: Decisions::new(),
        }
    }

    /// A Power Pages site by host (any case).
    pub fn site(&self, host: &str) -> Option<&Site> {
        self.sites.get(&host.to_ascii_lowercase())
    }

    /// All sites, sorted by host.
    pub fn sites(&self) -> Vec<&Site> {
        let mut all: Vec<&Site> = self.sites.values().collect();
        all.sort_by(|a, b| a.host.cmp(&b.host));
        all
    }

    /// The rows this snapshot was built from.
    pub fn rows(&self) -> &RegistryRows {
        &self.rows
    }

    /// An app registration by app id (any case).
    pub fn app(&self, app_id: &str) -> Option<&AppRegistration> {
        self.apps.get(&app_id.to_ascii_lowercase()).map(|&i| &self.rows.apps[i])
    }

    /// A workload by name.
    pub fn workload(&self, name: &str) -> Option<&Workload> {
        self.workloads.get(name)
    }

    /// The workload whose client app this is (any case).
    pub fn workload_for_client(&self, client_app_id: &str) -> Option<&Workload> {
        self.by_client.get(&client_app_id.to_ascii_lowercase()).and_then(|name| self.workloads.get(name))
    }

    /// All workloads, sorted by name.
    pub fn workloads(&self) -> Vec<&Workload> {
        let mut all: Vec<&Workload> = self.workloads.values().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// A tenant's consent record for a workload, granted or revoked.
    pub fn consent(&self, tenant_id: &str, workload: &str) -> Option<&TenantConsent> {
        self.consents.get(&(tenant_id.to_ascii_lowercase(), workload.to_owned())).map(|&i| &self.rows.consents[i])
    }

    /// Whether the tenant's consent to the workload is currently granted.
    pub fn is_consented(&self, tenant_id: &str, workload: &str) -> bool {
        self.consent(tenant_id, workload).is_some_and(|c| c.status == ConsentStatus::Granted)
    }

    /// The certificate references of a client app, newest `added_at` first.
    pub fn certificates(&self, client_app_id: &str) -> Vec<&CertificateRef> {
        let mut certs: Vec<&CertificateRef> = self
            .certificates
            .get(&client_app_id.to_ascii_lowercase())
            .into_iter()
            .flatten()
            .map(|&i| &self.rows.certificates[i])
            .collect();
        certs.sort_by(|a, b| b.added_at.cmp(&a.added_at).then_with(|| a.thumbprint_sha256.cmp(&b.thumbprint_sha256)));
        certs
    }

    /// [`decide`] against this snapshot, remembering grants: the same request (to the byte)
    /// gets the same `Grant` without deciding again, for as long as this snapshot is the
    /// registry. Same answers as [`decide`] (a property test compares them).
    pub fn decide(&self, req: &ConsentRequest<'_>) -> Result<Arc<Grant>, Denial> {
        if let Some(grant) = self.decisions.get(req) {
            return Ok(grant);
        }
        let grant = Arc::new(decide(self, req)?);
        self.decisions.put(req, &grant);
        Ok(grant)
    }

    /// How many grants [`Snapshot::decide`] holds (at most [`MAX_DECISIONS`](crate::MAX_DECISIONS)).
    pub fn decisions_held(&self) -> usize {
        self.decisions.len()
    }

    /// The client app a user token's `aud` names: the client app id, or (v1 tokens) one of its
    /// App ID URIs, compared like resources (case-insensitive scheme and host, trailing `/`
    /// ignored). Returns the workload of that client app.
    pub fn workload_for_audience(&self, aud: &str) -> Option<&Workload> {
        self.audiences.get(normalized(aud).as_ref()).and_then(|client| self.workload_for_client(client))
    }
}

/// Maps each key to the index of its first row.
fn first_index<K: std::hash::Hash + Eq>(keys: impl Iterator<Item = K>) -> HashMap<K, usize> {
    let mut map = HashMap::default();
    for (i, k) in keys.enumerate() {
        map.entry(k).or_insert(i);
    }
    map
}

/// Normalised App ID URIs per lower-case app id.
fn app_id_uris_by_app(rows: &RegistryRows) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::default();
    for u in &rows.app_id_uris {
        map.entry(u.app_id.to_ascii_lowercase()).or_default().push(normalize_resource(&u.uri));
    }
    map
}

/// A backend's normalised resource; only apps registered *as backends* have one that counts.
fn backend_resource(rows: &RegistryRows, apps: &HashMap<String, usize>, app_id: &str) -> Option<String> {
    let app = &rows.apps[*apps.get(app_id)?];
    if app.role != AppRole::Backend {
        return None;
    }
    app.resource_uri.as_deref().map(normalize_resource).filter(|r| !r.is_empty())
}
