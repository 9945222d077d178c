//! The directory: tenants, users, app registrations and consent grants, as Entra holds them.
//!
//! Built from [`crate::config`] at start-up and mutated by [`crate::Admin`]. Lookups follow
//! Entra's matching rules (GUIDs and App ID URIs compare case-insensitively; an App ID URI
//! matches with or without a trailing slash). Decisions over it live next door as pure
//! functions: [`scopes`] (what a `scope` parameter asks for) and [`consent`] (what is granted).

pub mod consent;
pub mod scopes;

use base64::Engine as _;
use sha2::Digest as _;

use crate::config::{AppConfig, AppRoleGrantConfig, ConsentConfig, TenantConfig, UserConfig};
use crate::crypto::certs::{CertificateError, RegisteredCertificate};

/// Microsoft Graph's App ID URI; scopes without a resource prefix belong to it.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";

/// A user account.
pub type User = UserConfig;

/// An app registration together with its service principal in one tenant.
#[derive(Debug, Clone)]
pub struct App {
    /// Application (client) id, lower case.
    pub client_id: String,
    /// Display name.
    pub display_name: String,
    /// SPA platform redirect URIs.
    pub spa_redirect_uris: Vec<String>,
    /// Web platform redirect URIs.
    pub web_redirect_uris: Vec<String>,
    /// App ID URIs.
    pub identifier_uris: Vec<String>,
    /// Exposed delegated scopes (short names).
    pub scopes: Vec<String>,
    /// Exposed app roles.
    pub app_roles: Vec<String>,
    /// Known client applications (lower-case ids).
    pub known_client_apps: Vec<String>,
    /// Fully qualified permissions the app asks for.
    pub required_scopes: Vec<String>,
    /// Version of access tokens issued for this app as a resource (1 or 2).
    pub access_token_version: u8,
    /// Certificate credentials.
    pub certificates: Vec<RegisteredCertificate>,
    /// Object id of the service principal in this tenant (app-only tokens' `oid`/`sub`).
    pub sp_object_id: String,
}

impl App {
    /// Builds the runtime form of a registration in tenant `tid`.
    pub fn from_config(config: &AppConfig, tid: &str) -> Result<Self, CertificateError> {
        let client_id = config.client_id.to_ascii_lowercase();
        let mut certificates = Vec::new();
        for c in &config.certificates {
            match RegisteredCertificate::from_config(c) {
                Ok(cert) => certificates.push(cert),
                Err(CertificateError::Io { path, .. }) if c.optional => {
                    tracing::warn!(%path, client_id = %client_id, "optional certificate file not found; skipped");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Self {
            sp_object_id: derived_guid(&format!("sp:{tid}:{client_id}")),
            client_id,
            display_name: config.display_name.clone(),
            spa_redirect_uris: config.spa_redirect_uris.clone(),
            web_redirect_uris: config.web_redirect_uris.clone(),
            identifier_uris: config.identifier_uris.clone(),
            scopes: config.scopes.clone(),
            app_roles: config.app_roles.clone(),
            known_client_apps: config.known_client_apps.iter().map(|s| s.to_ascii_lowercase()).collect(),
            required_scopes: config.required_scopes.clone(),
            access_token_version: config.access_token_version.unwrap_or(1),
            certificates,
        })
    }

    /// Whether `id` names this app as a resource: its client id or one of its App ID URIs.
    pub fn is_identified_by(&self, id: &str) -> bool {
        let id = normalize_identifier(id);
        id == self.client_id || self.identifier_uris.iter().any(|u| normalize_identifier(u) == id)
    }

    /// Whether `uri` is a registered SPA redirect URI.
    pub fn is_spa_redirect(&self, uri: &str) -> bool {
        self.spa_redirect_uris.iter().any(|u| u == uri)
    }

    /// Whether `uri` is a registered redirect URI of any platform.
    pub fn is_registered_redirect(&self, uri: &str) -> bool {
        self.is_spa_redirect(uri) || self.web_redirect_uris.iter().any(|u| u == uri)
    }

    /// Whether `origin` (`scheme://host[:port]`) is the origin of one of the SPA redirect URIs:
    /// only those origins get CORS headers on the token endpoint.
    pub fn allows_spa_origin(&self, origin: &str) -> bool {
        self.spa_redirect_uris.iter().filter_map(|u| url::Url::parse(u).ok()).any(|u| {
            let o = u.origin().ascii_serialization();
            o.eq_ignore_ascii_case(origin.trim_end_matches('/'))
        })
    }

    /// Whether the app holds any certificate credential (a confidential client).
    pub fn is_confidential(&self) -> bool {
        !self.certificates.is_empty()
    }
}

/// App ID URIs and GUIDs compare case-insensitively, trailing slash ignored.
pub fn normalize_identifier(id: &str) -> String {
    id.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// A GUID-shaped id derived from `seed`, stable across runs (service principal ids).
pub fn derived_guid(seed: &str) -> String {
    let d = sha2::Sha256::digest(seed.as_bytes());
    let mut b = [0_u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

/// The pairwise `sub`: unique per user and application, as Entra's is.
pub fn pairwise_sub(tid: &str, oid: &str, app_id: &str) -> String {
    let d = sha2::Sha256::digest(format!("{tid}|{oid}|{}", app_id.to_ascii_lowercase()).as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d)
}

/// One tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Tenant id, lower case.
    pub id: String,
    /// Verified domains.
    pub domains: Vec<String>,
    /// Display name.
    pub display_name: String,
    /// Users; the first signs in when no `login_hint` is given.
    pub users: Vec<User>,
    /// Apps (registration + service principal).
    pub apps: Vec<App>,
    /// Delegated permission grants.
    pub consents: Vec<ConsentConfig>,
    /// Application permission grants.
    pub app_role_grants: Vec<AppRoleGrantConfig>,
}

impl Tenant {
    /// Builds the runtime form of a configured tenant.
    pub fn from_config(config: &TenantConfig) -> Result<Self, CertificateError> {
        let id = config.id.to_ascii_lowercase();
        let apps = config.apps.iter().map(|a| App::from_config(a, &id)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            domains: config.domains.clone(),
            display_name: config.display_name.clone(),
            users: config.users.iter().cloned().map(normalize_user).collect(),
            apps,
            consents: config.consents.clone(),
            app_role_grants: config.app_role_grants.clone(),
            id,
        })
    }

    /// Whether the URL segment `segment` names this tenant (id or verified domain).
    pub fn is_named(&self, segment: &str) -> bool {
        segment.eq_ignore_ascii_case(&self.id) || self.domains.iter().any(|d| d.eq_ignore_ascii_case(segment))
    }

    /// A user by object id or UPN.
    pub fn user(&self, oid_or_upn: &str) -> Option<&User> {
        self.users.iter().find(|u| u.oid.eq_ignore_ascii_case(oid_or_upn) || u.upn.eq_ignore_ascii_case(oid_or_upn))
    }

    /// An app by client id.
    pub fn app(&self, client_id: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// Mutable app by client id.
    pub fn app_mut(&mut self, client_id: &str) -> Option<&mut App> {
        self.apps.iter_mut().find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// An app by resource identifier: client id or App ID URI.
    pub fn resource(&self, identifier: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.is_identified_by(identifier))
    }

    /// Adds or replaces a user (by oid).
    pub fn upsert_user(&mut self, user: User) {
        let user = normalize_user(user);
        self.users.retain(|u| u.oid != user.oid);
        self.users.push(user);
    }

    /// Adds a delegated grant, merging scopes into an existing grant for the same client and
    /// resource.
    pub fn add_consent(&mut self, grant: ConsentConfig) {
        let resource = self.resource(&grant.resource).map(|a| a.client_id.clone());
        let same_resource = |g: &ConsentConfig| match &resource {
            Some(id) => self.resource(&g.resource).is_some_and(|a| &a.client_id == id),
            None => normalize_identifier(&g.resource) == normalize_identifier(&grant.resource),
        };
        let index =
            self.consents.iter().position(|g| g.client_id.eq_ignore_ascii_case(&grant.client_id) && same_resource(g));
        match index {
            Some(i) => {
                for s in grant.scopes {
                    if !self.consents[i].scopes.iter().any(|x| x.eq_ignore_ascii_case(&s)) {
                        self.consents[i].scopes.push(s);
                    }
                }
            }
            None => self.consents.push(grant),
        }
    }

    /// Removes the delegated grants of `client_id` (on `resource` only, if given); returns how
    /// many were removed.
    pub fn revoke_consent(&mut self, client_id: &str, resource: Option<&str>) -> usize {
        let target =
            resource.map(|r| self.resource(r).map_or_else(|| normalize_identifier(r), |a| a.client_id.clone()));
        let before = self.consents.len();
        let apps = self.apps.clone();
        self.consents.retain(|g| {
            let on_resource = match &target {
                None => true,
                Some(t) => apps
                    .iter()
                    .find(|a| a.is_identified_by(&g.resource))
                    .map_or_else(|| normalize_identifier(&g.resource) == *t, |a| &a.client_id == t),
            };
            !(g.client_id.eq_ignore_ascii_case(client_id) && on_resource)
        });
        before - self.consents.len()
    }

    /// Adds or replaces an app (by client id).
    pub fn upsert_app(&mut self, app: App) {
        self.apps.retain(|a| a.client_id != app.client_id);
        self.apps.push(app);
    }
}

fn normalize_user(mut user: User) -> User {
    user.oid = user.oid.to_ascii_lowercase();
    user
}

/// What a tenant segment of a URL refers to.
#[derive(Debug, Clone, Copy)]
pub enum TenantRef<'a> {
    /// A specific tenant.
    Specific(&'a Tenant),
    /// `common`: any organisation (and, at Entra, consumers).
    Common,
    /// `organizations`: any organisation.
    Organizations,
}

impl TenantRef<'_> {
    /// The segment used in discovery documents: the tenant id, or `common`/`organizations`.
    pub fn segment(&self) -> &str {
        match self {
            Self::Specific(t) => &t.id,
            Self::Common => "common",
            Self::Organizations => "organizations",
        }
    }
}

/// All tenants.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Tenants in configuration order.
    pub tenants: Vec<Tenant>,
}

impl Directory {
    /// Builds the directory from configuration.
    pub fn from_config(tenants: &[TenantConfig]) -> Result<Self, CertificateError> {
        Ok(Self { tenants: tenants.iter().map(Tenant::from_config).collect::<Result<_, _>>()? })
    }

    /// Resolves a URL tenant segment; `None` for an unknown tenant.
    pub fn resolve(&self, segment: &str) -> Option<TenantRef<'_>> {
        if segment.eq_ignore_ascii_case("common") {
            return Some(TenantRef::Common);
        }
        if segment.eq_ignore_ascii_case("organizations") {
            return Some(TenantRef::Organizations);
        }
        self.tenants.iter().find(|t| t.is_named(segment)).map(TenantRef::Specific)
    }

    /// A tenant by id.
    pub fn tenant(&self, tid: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id.eq_ignore_ascii_case(tid))
    }

    /// Mutable tenant by id or domain.
    pub fn tenant_mut(&mut self, id_or_domain: &str) -> Option<&mut Tenant> {
        self.tenants.iter_mut().find(|t| t.is_named(id_or_domain))
    }

    /// Adds or replaces a tenant (by id).
    pub fn upsert_tenant(&mut self, tenant: Tenant) {
        self.tenants.retain(|t| t.id != tenant.id);
        self.tenants.push(tenant);
    }

    /// The tenant holding a user with this UPN (for `common` sign-ins with a `login_hint`).
    pub fn tenant_of_upn(&self, upn: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.users.iter().any(|u| u.upn.eq_ignore_ascii_case(upn)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_id_uri_matches_with_or_without_slash_and_any_case() {
        let app = App::from_config(
            &AppConfig {
                client_id: "AAAAAAAA-0000-0000-0000-000000000001".into(),
                identifier_uris: vec!["api://Contoso/picker".into()],
                ..Default::default()
            },
            "t",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(app.is_identified_by("aaaaaaaa-0000-0000-0000-000000000001"));
        assert!(app.is_identified_by("api://contoso/picker/"));
        assert!(!app.is_identified_by("api://contoso/other"));
        assert_eq!(app.access_token_version, 1, "Entra's default for accessTokenAcceptedVersion null");
    }

    #[test]
    fn derived_guids_are_stable_and_distinct() {
        assert_eq!(derived_guid("a"), derived_guid("a"));
        assert_ne!(derived_guid("a"), derived_guid("b"));
        assert!(uuid::Uuid::parse_str(&derived_guid("a")).is_ok());
    }

    #[test]
    fn spa_origin_is_origin_of_a_spa_redirect() {
        let app = App::from_config(
            &AppConfig {
                client_id: "b".into(),
                spa_redirect_uris: vec!["https://apps.powerapps.com/auth/redirect".into()],
                web_redirect_uris: vec!["https://web.example/cb".into()],
                ..Default::default()
            },
            "t",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(app.allows_spa_origin("https://apps.powerapps.com"));
        assert!(!app.allows_spa_origin("https://web.example"));
    }
}
