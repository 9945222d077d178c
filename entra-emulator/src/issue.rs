//! Minting access tokens: shared by the grants and by [`crate::Admin::issue_user_token`], so a
//! token minted for a test is signed and shaped exactly like one from the token endpoint.

use serde_json::{Map, Value};

use crate::directory::{App, Tenant, User};
use crate::jwt::claims::{self, AccessTokenSpec, ClientAcr, Subject};
use crate::state::Shared;

/// The `aud` Entra puts in a token for `resource`: its app id in v2; in v1 the resource as the
/// client named it (normally an App ID URI).
pub fn audience(version: u8, resource: &App, requested_as: &str) -> String {
    if version == 2 { resource.client_id.clone() } else { requested_as.trim_end_matches('/').to_owned() }
}

/// A delegated (user) access token request.
#[derive(Debug)]
pub struct Delegated<'a> {
    /// Tenant.
    pub tenant: &'a Tenant,
    /// The user.
    pub user: &'a User,
    /// The client the token is issued to.
    pub client: &'a App,
    /// How the client authenticated.
    pub client_acr: ClientAcr,
    /// The resource.
    pub resource: &'a App,
    /// How the client named the resource.
    pub requested_as: &'a str,
    /// Scope names for `scp`.
    pub scp: Vec<String>,
    /// Token version (normally the resource's setting).
    pub version: u8,
    /// Satisfied CA contexts.
    pub acrs: &'a [String],
    /// Client capabilities.
    pub xms_cc: Option<Vec<String>>,
    /// Lifetime in seconds.
    pub lifetime_secs: i64,
    /// Claims to add or override (tests).
    pub extra: Option<&'a Map<String, Value>>,
}

/// Signs a delegated access token.
pub fn delegated(shared: &Shared, d: &Delegated<'_>) -> anyhow::Result<String> {
    let tid = d.tenant.id.as_str();
    let spec = AccessTokenSpec {
        version: d.version,
        issuer: if d.version == 1 { shared.issuer_v1(tid) } else { shared.issuer_v2(tid) },
        tid,
        aud: audience(d.version, d.resource, d.requested_as),
        resource_app_id: &d.resource.client_id,
        client_id: &d.client.client_id,
        client_acr: d.client_acr,
        subject: Subject::User { user: d.user, acrs: d.acrs },
        scp: d.scp.clone(),
        roles: user_roles(d.user, d.resource),
        xms_cc: d.xms_cc.clone(),
        iat: shared.now().unix_timestamp(),
        lifetime_secs: d.lifetime_secs,
    };
    let mut token = claims::access_token(&spec);
    if let (Some(extra), Some(obj)) = (d.extra, token.as_object_mut()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    shared.sign(&token)
}

/// The app roles `user` holds on `resource` (Entra puts them in the user's tokens for it).
fn user_roles(user: &User, resource: &App) -> Vec<String> {
    user.app_roles
        .iter()
        .filter(|a| a.resource.eq_ignore_ascii_case(&resource.client_id))
        .flat_map(|a| a.roles.iter().cloned())
        .collect()
}

/// Signs an app-only access token (client credentials).
pub fn app_only(
    shared: &Shared,
    tenant: &Tenant,
    client: &App,
    resource: &App,
    requested_as: &str,
    roles: Vec<String>,
    xms_cc: Option<Vec<String>>,
) -> anyhow::Result<String> {
    let tid = tenant.id.as_str();
    let version = resource.access_token_version;
    let spec = AccessTokenSpec {
        version,
        issuer: if version == 1 { shared.issuer_v1(tid) } else { shared.issuer_v2(tid) },
        tid,
        aud: audience(version, resource, requested_as),
        resource_app_id: &resource.client_id,
        client_id: &client.client_id,
        client_acr: ClientAcr::Certificate,
        subject: Subject::App { sp_oid: &client.sp_object_id },
        scp: Vec::new(),
        roles,
        xms_cc,
        iat: shared.now().unix_timestamp(),
        lifetime_secs: shared.config.access_token_lifetime_secs,
    };
    shared.sign(&claims::access_token(&spec))
}

/// Signs a v2 ID token.
pub fn id_token(
    shared: &Shared,
    tenant: &Tenant,
    user: &User,
    client: &App,
    nonce: Option<&str>,
) -> anyhow::Result<String> {
    let claims = claims::id_token(
        &shared.issuer_v2(&tenant.id),
        &tenant.id,
        user,
        &client.client_id,
        nonce,
        shared.now().unix_timestamp(),
        shared.config.access_token_lifetime_secs,
    );
    shared.sign(&claims)
}
