//! The `client_credentials` grant with a certificate: an app-only token (`idtyp=app`, `roles`
//! = the application permissions granted) for `{resource}/.default`, the only scope form this
//! grant accepts (AADSTS1002012 otherwise).

use serde_json::Value;

use crate::counters::GrantKind;
use crate::directory::consent;
use crate::directory::scopes;
use crate::error::{EntraError, OAuthError};
use crate::faults::{FaultContext, Stage};
use crate::token::delegated::{scope_error, xms_cc_from_claims};
use crate::token::{TokenCall, client_auth, internal, success_body};

pub(super) fn run(call: &mut TokenCall<'_>) -> Result<Value, EntraError> {
    let shared = call.shared;
    let dir = shared.dir();
    let tenant = call.specific_tenant(&dir)?;
    let client_id = call.required("client_id")?.to_ascii_lowercase();
    let client = tenant.app(&client_id).ok_or_else(|| EntraError::app_not_found(&client_id, &tenant.id))?;
    client_auth::require_certificate(call, tenant, client, GrantKind::ClientCredentials)?;
    let scope = call.required("scope")?.to_owned();

    let parsed = scopes::parse(&scope);
    let only_default =
        parsed.oidc.is_empty() && parsed.resource_scopes.len() == 1 && parsed.resource_scopes[0].name == ".default";
    if !only_default {
        return Err(EntraError::new(
            OAuthError::InvalidScope,
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    let resolved = scopes::resolve(tenant, &parsed.resource_scopes).map_err(|e| scope_error(&e, tenant))?;
    let roles = consent::granted_roles(tenant, client, resolved.app);
    let xms_cc = xms_cc_from_claims(call.param("claims"))?;

    let ctx = FaultContext {
        tenant: &tenant.id,
        client_id: &client.client_id,
        user: None,
        grant: GrantKind::ClientCredentials,
        acrs: &[],
    };
    call.faults(&ctx, Stage::Issue, &resolved.app.client_id)?;

    let token = crate::issue::app_only(shared, tenant, client, resolved.app, &resolved.requested_as, roles, xms_cc)
        .map_err(|e| internal(&e))?;
    Ok(success_body(token, shared.config.access_token_lifetime_secs, None, None, None, None))
}
