//! The consent decision: may this broker, in this tenant, obtain these backend scopes for this
//! workload? A pure function of a [`Snapshot`] and a [`ConsentRequest`], so it is tested with
//! property tests and never waits for I/O.
//!
//! The checks run in a fixed order — workload, enabled, broker, tenant consent, scope syntax,
//! resource, scope allow-list — and the first failure is the answer. Every list inside a
//! [`Grant`] or a [`Denial`] is sorted and deduplicated, so the answer does not depend on the
//! order of the requested scopes or on the case of their resource URIs.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::ConsentStatus;
use crate::scope::{DEFAULT_SCOPE, parse_scopes};
use crate::snapshot::{Snapshot, Workload};

/// What the STS asks the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentRequest<'a> {
    /// The user's tenant (`tid` of the user token).
    pub tenant_id: &'a str,
    /// The app the user token was issued to (`azp` in v2 tokens, `appid` in v1).
    pub broker_app_id: &'a str,
    /// Which workload the token exchange is for.
    pub target: Target<'a>,
    /// The requested scopes, space-separated, as sent.
    pub scope: &'a str,
    /// The Entra authority host (`https://login.microsoftonline.com`), for the admin-consent URL.
    pub authority: &'a str,
}

/// How the request names its workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target<'a> {
    /// By the client app the user token was issued for (its `aud`, resolved to the app id).
    ClientApp(&'a str),
    /// By workload name. The grant's `client_app_id` tells which client app the user token
    /// must be for; prefer [`Target::WorkloadOfClient`] when both are known.
    Workload(&'a str),
    /// By workload name *and* client app: denied unless the workload belongs to that client app
    /// (a token for one workload's client app cannot be spent on another workload).
    WorkloadOfClient { workload: &'a str, client_app_id: &'a str },
}

/// What the registry allows: exactly what the STS sends upstream and keys its cache with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub workload: String,
    pub client_app_id: String,
    pub backend_app_id: String,
    /// The backend's resource URI, normalised (`https://graph.microsoft.com`).
    pub resource: String,
    /// Fully qualified (`https://graph.microsoft.com/Files.Read`), spelled as registered,
    /// sorted, deduplicated. Never empty, never an OIDC scope.
    pub scopes: Vec<String>,
}

impl Grant {
    /// The scopes as one space-separated OAuth `scope` value.
    pub fn scope_string(&self) -> String {
        self.scopes.join(" ")
    }
}

/// Why the registry refuses a request. Each message says what is wrong and, where there is one,
/// what would fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("client app {client_app_id} is not the client app of any registered workload")]
    UnknownClientApp { client_app_id: String },

    #[error("workload '{workload}' is not registered")]
    UnknownWorkload { workload: String },

    #[error(
        "workload '{workload}' belongs to client app {expected_client_app_id}, \
         not to client app {client_app_id}"
    )]
    WorkloadClientMismatch { workload: String, expected_client_app_id: String, client_app_id: String },

    #[error("workload '{workload}' is disabled in the registry")]
    WorkloadDisabled { workload: String },

    #[error("broker app {broker_app_id} is not allowed to obtain tokens for workload '{workload}'")]
    BrokerNotAllowed { broker_app_id: String, workload: String },

    #[error(
        "tenant {tenant_id} has not consented to workload '{workload}'; \
         a tenant administrator can consent at {admin_consent_url}"
    )]
    TenantNotConsented { tenant_id: String, workload: String, admin_consent_url: String },

    #[error(
        "tenant {tenant_id} consented to workload '{workload}' but the consent was revoked; \
         a tenant administrator can consent again at {admin_consent_url}, and the registry \
         must record the new consent"
    )]
    ConsentRevoked { tenant_id: String, workload: String, admin_consent_url: String },

    #[error("malformed scope {scope:?} (RFC 6749 §3.3; `<resource>/<name>` needs both parts)")]
    MalformedScope { scope: String },

    #[error("no scope requested (openid, profile, offline_access and email do not name a resource)")]
    NoScope,

    #[error(
        "the scopes name several resources ({}); one token is for one resource, so ask \
         separately for each",
        .resources.join(", ")
    )]
    MultipleResources { resources: Vec<String> },

    #[error("{resource}/.default cannot be combined with other scopes of {resource}")]
    DefaultScopeCombined { resource: String },

    #[error("workload '{workload}' is not allowed the scope(s) {}", .scopes.join(" "))]
    ScopeNotAllowed { workload: String, scopes: Vec<String> },

    #[error("workload '{workload}' hands out app-only tokens, which are requested as {resource}/.default only")]
    AppOnlyScope { workload: String, resource: String },

    #[error("{}", role_required_message(.workload, .required_role.as_deref(), .required_group.as_deref()))]
    RoleRequired { workload: String, required_role: Option<String>, required_group: Option<String> },

    #[error("site {host} is not a registered Power Pages site")]
    UnknownSite { host: String },

    #[error("site {host} is disabled in the registry")]
    SiteDisabled { host: String },

    #[error("a portal token must name its workload (audience): site {host} may use several")]
    WorkloadRequired { host: String },

    #[error(
        "workload '{workload}' is delegated (on-behalf-of): a portal user has no Entra token to \
         exchange, so only app-only workloads serve portal tokens"
    )]
    DelegatedOnly { workload: String },

    #[error("site {host} is not allowed to obtain tokens for workload '{workload}'")]
    SiteNotAllowed { host: String, workload: String },
}

fn role_required_message(workload: &str, role: Option<&str>, group: Option<&str>) -> String {
    let what = match (role, group) {
        (Some(r), Some(g)) => format!("app role '{r}' or membership of group {g}"),
        (Some(r), None) => format!("app role '{r}'"),
        (None, Some(g)) => format!("membership of group {g}"),
        (None, None) => "an app role the registry does not name".to_owned(),
    };
    format!("workload '{workload}' hands out app-only tokens only to users with {what}, which the user's token lacks")
}

impl Denial {
    /// Where a tenant administrator can grant the missing consent, when that is the problem.
    pub fn admin_consent_url(&self) -> Option<&str> {
        match self {
            Denial::TenantNotConsented { admin_consent_url, .. } | Denial::ConsentRevoked { admin_consent_url, .. } => {
                Some(admin_consent_url)
            }
            _ => None,
        }
    }
}

/// Decides a request against a snapshot. Pure: same snapshot and request, same answer.
pub fn decide(snapshot: &Snapshot, req: &ConsentRequest<'_>) -> Result<Grant, Denial> {
    let workload = resolve_target(snapshot, req.target)?;
    if !workload.enabled {
        return Err(Denial::WorkloadDisabled { workload: workload.name.clone() });
    }
    let broker = req.broker_app_id.to_ascii_lowercase();
    if !workload.brokers.contains(&broker) {
        return Err(Denial::BrokerNotAllowed { broker_app_id: broker, workload: workload.name.clone() });
    }
    check_consent(snapshot, workload, req.tenant_id, req.authority)?;
    let grant = grant_scopes(workload, req.scope)?;
    if workload.app_only.is_some() {
        only_default(workload, &grant)?;
    }
    Ok(grant)
}

/// An app-only grant is exactly `<resource>/.default` (client credentials accept nothing else).
fn only_default(workload: &Workload, grant: &Grant) -> Result<(), Denial> {
    let default = format!("{}/{DEFAULT_SCOPE}", grant.resource);
    if grant.scopes.len() == 1 && grant.scopes[0].eq_ignore_ascii_case(&default) {
        return Ok(());
    }
    Err(Denial::AppOnlyScope { workload: workload.name.clone(), resource: grant.resource.clone() })
}

/// Whether an Entra user may obtain an app-only workload's token: the user's token carries the
/// workload's required app role (`roles`) or group (`groups`). A delegated workload requires
/// nothing more of the user (`Ok`).
pub fn authorize_app_only_user(workload: &Workload, roles: &[String], groups: &[String]) -> Result<(), Denial> {
    let Some(app_only) = &workload.app_only else {
        return Ok(());
    };
    let has_role = app_only.required_role.as_deref().is_some_and(|r| roles.iter().any(|x| x == r));
    let in_group = app_only.required_group.as_deref().is_some_and(|g| groups.iter().any(|x| x.eq_ignore_ascii_case(g)));
    if has_role || in_group {
        return Ok(());
    }
    Err(Denial::RoleRequired {
        workload: workload.name.clone(),
        required_role: app_only.required_role.clone(),
        required_group: app_only.required_group.clone(),
    })
}

/// What the STS asks the registry for a portal (Power Pages) subject, once the token is known to
/// be the site's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortalRequest<'a> {
    /// The site's host (the token's `iss`).
    pub host: &'a str,
    /// The workload named by the request's `audience`, if any.
    pub workload: Option<&'a str>,
    pub scope: &'a str,
    /// The Entra authority host, for the admin-consent URL.
    pub authority: &'a str,
}

/// The consent decision for a portal contact: the site is enabled, the workload is app-only, the
/// site may use it, the site's tenant consented, and the scope is the backend's `.default`. On
/// success, the grant and the tenant the token is requested in (the site's).
pub fn decide_portal(snapshot: &Snapshot, req: &PortalRequest<'_>) -> Result<(Grant, String), Denial> {
    let site = snapshot.site(req.host).ok_or_else(|| Denial::UnknownSite { host: req.host.to_ascii_lowercase() })?;
    if !site.enabled {
        return Err(Denial::SiteDisabled { host: site.host.clone() });
    }
    let name = match (req.workload, site.workloads.len()) {
        (Some(w), _) => w,
        (None, 1) => site.workloads.iter().next().map(String::as_str).unwrap_or_default(),
        (None, _) => return Err(Denial::WorkloadRequired { host: site.host.clone() }),
    };
    let workload = snapshot.workload(name).ok_or_else(|| Denial::UnknownWorkload { workload: name.to_owned() })?;
    if !workload.enabled {
        return Err(Denial::WorkloadDisabled { workload: workload.name.clone() });
    }
    if workload.app_only.is_none() {
        return Err(Denial::DelegatedOnly { workload: workload.name.clone() });
    }
    if !site.workloads.contains(&workload.name) {
        return Err(Denial::SiteNotAllowed { host: site.host.clone(), workload: workload.name.clone() });
    }
    check_consent(snapshot, workload, &site.tenant_id, req.authority)?;
    let grant = grant_scopes(workload, req.scope)?;
    only_default(workload, &grant)?;
    Ok((grant, site.tenant_id.clone()))
}

fn resolve_target<'s>(snapshot: &'s Snapshot, target: Target<'_>) -> Result<&'s Workload, Denial> {
    let by_name =
        |name: &str| snapshot.workload(name).ok_or_else(|| Denial::UnknownWorkload { workload: name.to_owned() });
    match target {
        Target::ClientApp(client) => snapshot
            .workload_for_client(client)
            .ok_or_else(|| Denial::UnknownClientApp { client_app_id: client.to_ascii_lowercase() }),
        Target::Workload(name) => by_name(name),
        Target::WorkloadOfClient { workload, client_app_id } => {
            let w = by_name(workload)?;
            if !w.client_app_id.eq_ignore_ascii_case(client_app_id) {
                return Err(Denial::WorkloadClientMismatch {
                    workload: w.name.clone(),
                    expected_client_app_id: w.client_app_id.clone(),
                    client_app_id: client_app_id.to_ascii_lowercase(),
                });
            }
            Ok(w)
        }
    }
}

fn check_consent(snapshot: &Snapshot, workload: &Workload, tenant_id: &str, authority: &str) -> Result<(), Denial> {
    let tenant_id = tenant_id.to_ascii_lowercase();
    let status = snapshot.consent(&tenant_id, &workload.name).map(|c| c.status);
    if status == Some(ConsentStatus::Granted) {
        return Ok(());
    }
    let admin_consent_url = admin_consent_url(authority, &tenant_id, &workload.client_app_id);
    let workload = workload.name.clone();
    Err(match status {
        Some(_) => Denial::ConsentRevoked { tenant_id, workload, admin_consent_url },
        None => Denial::TenantNotConsented { tenant_id, workload, admin_consent_url },
    })
}

/// `{authority}/{tenant}/adminconsent?client_id={client app}` (Entra's v1 admin-consent URL,
/// which consents to the client app's configured permissions).
pub fn admin_consent_url(authority: &str, tenant_id: &str, client_app_id: &str) -> String {
    format!(
        "{}/{}/adminconsent?client_id={}",
        authority.trim_end_matches('/'),
        percent_encode(tenant_id),
        percent_encode(client_app_id)
    )
}

/// Percent-encodes all but RFC 3986 unreserved characters. Ids are GUIDs, so this only matters
/// for a hostile value; not worth a dependency.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Which backend a requested resource means for this workload, if any.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum ResourceKey {
    Backend(String),
    Unknown(String),
}

fn grant_scopes(workload: &Workload, scope: &str) -> Result<Grant, Denial> {
    let requested = parse_scopes(scope).map_err(|e| Denial::MalformedScope { scope: e.scope })?;
    if requested.is_empty() {
        return Err(Denial::NoScope);
    }

    let mut by_resource: BTreeMap<ResourceKey, BTreeSet<&str>> = BTreeMap::new();
    for s in &requested {
        let key = match workload.backend_for_resource(&s.resource) {
            Some(b) => ResourceKey::Backend(b.app_id.clone()),
            None => ResourceKey::Unknown(s.resource.clone().into_owned()),
        };
        by_resource.entry(key).or_default().insert(s.name);
    }
    if by_resource.len() > 1 {
        let resources: BTreeSet<String> = by_resource
            .keys()
            .map(|k| match k {
                ResourceKey::Backend(id) => {
                    workload.backend(id).and_then(|b| b.resource.clone()).unwrap_or_else(|| id.clone())
                }
                ResourceKey::Unknown(r) => r.clone(),
            })
            .collect();
        return Err(Denial::MultipleResources { resources: resources.into_iter().collect() });
    }
    let Some((key, names)) = by_resource.into_iter().next() else {
        return Err(Denial::NoScope);
    };

    // Only backends with a resource are indexed, so a known backend always has one.
    let known = match &key {
        ResourceKey::Backend(id) => workload.backend(id).and_then(|b| b.resource.as_deref().map(|r| (b, r))),
        ResourceKey::Unknown(_) => None,
    };
    let Some((backend, resource)) = known else {
        let (ResourceKey::Backend(resource) | ResourceKey::Unknown(resource)) = key;
        return Err(not_allowed(workload, names.iter().map(|n| format!("{resource}/{n}"))));
    };

    let lower: BTreeSet<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    if lower.contains(DEFAULT_SCOPE) && lower.len() > 1 {
        return Err(Denial::DefaultScopeCombined { resource: resource.to_owned() });
    }

    let mut granted = BTreeSet::new();
    let mut refused = Vec::new();
    for name in names {
        match backend.scope(name) {
            Some(registered) => {
                granted.insert(format!("{resource}/{registered}"));
            }
            None => refused.push(format!("{resource}/{name}")),
        }
    }
    if !refused.is_empty() {
        return Err(not_allowed(workload, refused.into_iter()));
    }
    Ok(Grant {
        workload: workload.name.clone(),
        client_app_id: workload.client_app_id.clone(),
        backend_app_id: backend.app_id.clone(),
        resource: resource.to_owned(),
        scopes: granted.into_iter().collect(),
    })
}

fn not_allowed(workload: &Workload, scopes: impl Iterator<Item = String>) -> Denial {
    let scopes: BTreeSet<String> = scopes.collect();
    Denial::ScopeNotAllowed { workload: workload.name.clone(), scopes: scopes.into_iter().collect() }
}
