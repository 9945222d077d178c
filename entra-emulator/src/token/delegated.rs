//! Issuing a user's tokens for a public or confidential client — shared by the
//! authorization-code and refresh-token grants: resolve the scopes to one resource, check
//! consent, fire faults, then sign the access token (version per resource), the ID token
//! (`openid`), a refresh token (`offline_access`) and `client_info`.

use serde_json::Value;

use crate::counters::GrantKind;
use crate::directory::scopes::{self, ResolvedScopes, ScopeError};
use crate::directory::{App, Tenant, User, consent};
use crate::error::{EntraError, OAuthError};
use crate::faults::{FaultContext, Stage};
use crate::jwt::claims::{ClientAcr, client_info};
use crate::state::{RefreshRecord, Session};
use crate::token::{TokenCall, internal, success_body};

/// Maps a scope resolution failure to Entra's answer.
pub(crate) fn scope_error(e: &ScopeError, tenant: &Tenant) -> EntraError {
    match e {
        ScopeError::NoResource | ScopeError::InvalidScope(_) => EntraError::new(
            OAuthError::InvalidScope,
            70011,
            format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. [{e}]"
            ),
        ),
        ScopeError::MultipleResources => EntraError::new(
            OAuthError::InvalidScope,
            700022,
            "The provided value for the input parameter scope is not valid because it contains more than one resource. The scope requested by the client must be for a single resource.",
        ),
        ScopeError::UnknownResource(r) => EntraError::new(
            OAuthError::InvalidResource,
            500011,
            format!(
                "The resource principal named {r} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                tenant.display_name
            ),
        ),
    }
}

/// Resolves a `scope` parameter's resource scopes; a request with only OIDC scopes gets
/// Microsoft Graph's `User.Read`, as at Entra.
pub(crate) fn resolve_scopes<'t>(tenant: &'t Tenant, scope: &str) -> Result<ResolvedScopes<'t>, EntraError> {
    let parsed = scopes::parse(scope);
    let resource_scopes =
        if parsed.resource_scopes.is_empty() { vec![scopes::qualify("User.Read")] } else { parsed.resource_scopes };
    scopes::resolve(tenant, &resource_scopes).map_err(|e| scope_error(&e, tenant))
}

/// The `scope` value of a response: each granted scope qualified by the resource as requested.
pub(crate) fn response_scope(requested_as: &str, scp: &[String]) -> String {
    scp.iter().map(|s| format!("{}/{s}", requested_as.trim_end_matches('/'))).collect::<Vec<_>>().join(" ")
}

/// What a refresh token issued now should look like.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshPolicy {
    pub spa: bool,
    pub confidential: bool,
    /// Fixed expiry carried over from the first SPA refresh token; `None` for a fresh one.
    pub fixed_expiry: Option<i64>,
}

/// Everything needed to answer a user-token request.
#[derive(Debug)]
pub(crate) struct UserTokens<'a> {
    pub tenant: &'a Tenant,
    pub client: &'a App,
    pub client_acr: ClientAcr,
    pub user: &'a User,
    pub session: &'a Session,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub xms_cc: Option<Vec<String>>,
    pub grant: GrantKind,
    pub refresh: RefreshPolicy,
}

/// Checks consent and faults, then signs and assembles the response.
pub(crate) fn issue(call: &mut TokenCall<'_>, req: &UserTokens<'_>) -> Result<Value, EntraError> {
    let resolved = resolve_scopes(req.tenant, req.scope)?;
    let scp = consent::decide_delegated(req.tenant, req.client, resolved.app, &resolved.names)
        .map_err(|_| EntraError::consent_required(&req.client.client_id, &req.client.display_name))?;
    let ctx = FaultContext {
        tenant: &req.tenant.id,
        client_id: &req.client.client_id,
        user: Some((&req.user.oid, &req.user.upn)),
        grant: req.grant,
        acrs: &req.session.acrs,
    };
    call.faults(&ctx, Stage::Issue, &resolved.app.client_id)?;

    let shared = call.shared;
    let lifetime = shared.config.access_token_lifetime_secs;
    let access_token = crate::issue::delegated(
        shared,
        &crate::issue::Delegated {
            tenant: req.tenant,
            user: req.user,
            client: req.client,
            client_acr: req.client_acr,
            resource: resolved.app,
            requested_as: &resolved.requested_as,
            scp: scp.clone(),
            version: resolved.app.access_token_version,
            acrs: &req.session.acrs,
            xms_cc: req.xms_cc.clone(),
            lifetime_secs: lifetime,
            extra: None,
        },
    )
    .map_err(|e| internal(&e))?;

    let parsed = scopes::parse(req.scope);
    let id_token = if parsed.openid() {
        Some(crate::issue::id_token(shared, req.tenant, req.user, req.client, req.nonce).map_err(|e| internal(&e))?)
    } else {
        None
    };
    let refresh_token = parsed.offline_access().then(|| {
        let expires_at = match (req.refresh.spa, req.refresh.fixed_expiry) {
            (true, Some(fixed)) => fixed,
            (true, None) => call.now + shared.config.spa_refresh_token_lifetime_secs,
            (false, _) => call.now + shared.config.refresh_token_lifetime_secs,
        };
        shared.store_refresh_token(RefreshRecord {
            client_id: req.client.client_id.clone(),
            spa: req.refresh.spa,
            confidential: req.refresh.confidential,
            session: req.session.clone(),
            expires_at,
        })
    });
    let info = call.wants_client_info().then(|| client_info(&req.user.oid, &req.tenant.id));
    Ok(success_body(
        access_token,
        lifetime,
        Some(response_scope(&resolved.requested_as, &scp)),
        refresh_token,
        id_token,
        info,
    ))
}

/// Client capabilities asked for in a `claims` parameter:
/// `{"access_token":{"xms_cc":{"values":["cp1"]}}}` → `["cp1"]`.
pub(crate) fn xms_cc_from_claims(claims: Option<&str>) -> Result<Option<Vec<String>>, EntraError> {
    let Some(raw) = claims else { return Ok(None) };
    let value: Value = serde_json::from_str(raw)
        .map_err(|_| EntraError::new(OAuthError::InvalidRequest, 90014, "The 'claims' parameter is not valid JSON."))?;
    Ok(value
        .pointer("/access_token/xms_cc/values")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xms_cc_is_read_from_the_claims_request() {
        let got = xms_cc_from_claims(Some(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#));
        assert_eq!(got, Ok(Some(vec!["cp1".to_string()])));
        assert_eq!(xms_cc_from_claims(Some(r#"{"id_token":{}}"#)), Ok(None));
        assert!(xms_cc_from_claims(Some("not json")).is_err());
    }

    #[test]
    fn response_scope_is_qualified() {
        assert_eq!(response_scope("api://x/", &["a".into(), "b".into()]), "api://x/a api://x/b");
    }
}
