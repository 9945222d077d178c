//! The on-behalf-of grant (`urn:ietf:params:oauth:grant-type:jwt-bearer`,
//! `requested_token_use=on_behalf_of`), spec §3: a confidential client authenticated by
//! certificate presents a user token whose audience is itself and gets a token for one
//! downstream resource, if the tenant consented. OIDC scopes are ignored for the resource;
//! `offline_access` adds a refresh token; a `claims` request with `xms_cc` puts `xms_cc` in
//! the token.

use serde_json::Value;

use crate::counters::GrantKind;
use crate::directory::consent;
use crate::directory::scopes::{self};
use crate::error::{EntraError, OAuthError};
use crate::faults::{FaultContext, Stage};
use crate::jwt::claims::client_info;
use crate::jwt::incoming;
use crate::state::{RefreshRecord, Session};
use crate::token::delegated::{response_scope, scope_error, xms_cc_from_claims};
use crate::token::{TokenCall, client_auth, internal, success_body};

pub(super) fn run(call: &mut TokenCall<'_>) -> Result<Value, EntraError> {
    let shared = call.shared;
    let dir = shared.dir();
    let tenant = call.specific_tenant(&dir)?;
    let client_id = call.required("client_id")?.to_ascii_lowercase();
    let client = tenant.app(&client_id).ok_or_else(|| EntraError::app_not_found(&client_id, &tenant.id))?;
    if call.required("requested_token_use")? != tessera_wire::REQUESTED_TOKEN_USE_OBO {
        return Err(EntraError::new(
            OAuthError::InvalidRequest,
            90023,
            "Invalid request. The 'requested_token_use' parameter must be 'on_behalf_of'.",
        ));
    }
    let client_acr = client_auth::require_certificate(call, tenant, client, GrantKind::OnBehalfOf)?;
    let assertion = call.required("assertion")?.to_owned();
    let scope = call.required("scope")?.to_owned();

    let (issuer_v1, issuer_v2) = (shared.issuer_v1(&tenant.id), shared.issuer_v2(&tenant.id));
    let expected =
        incoming::Expected { tid: &tenant.id, issuer_v1: &issuer_v1, issuer_v2: &issuer_v2, client, now: call.now };
    let incoming =
        incoming::validate(&assertion, &shared.keys(), &expected).map_err(|e| e.to_entra(&client.client_id))?;
    let user = tenant.user(&incoming.oid).ok_or_else(|| {
        EntraError::new(
            OAuthError::InvalidGrant,
            50034,
            format!("The user account {} does not exist in the {} directory.", incoming.oid, tenant.id),
        )
    })?;

    let parsed = scopes::parse(&scope);
    let resolved = scopes::resolve(tenant, &parsed.resource_scopes).map_err(|e| scope_error(&e, tenant))?;
    let scp = consent::decide_delegated(tenant, client, resolved.app, &resolved.names)
        .map_err(|_| EntraError::consent_required(&client.client_id, &client.display_name))?;
    let xms_cc = xms_cc_from_claims(call.param("claims"))?;

    let ctx = FaultContext {
        tenant: &tenant.id,
        client_id: &client.client_id,
        user: Some((&user.oid, &user.upn)),
        grant: GrantKind::OnBehalfOf,
        acrs: &incoming.acrs,
    };
    call.faults(&ctx, Stage::Issue, &resolved.app.client_id)?;

    let lifetime = shared.config.access_token_lifetime_secs;
    let access_token = crate::issue::delegated(
        shared,
        &crate::issue::Delegated {
            tenant,
            user,
            client,
            client_acr,
            resource: resolved.app,
            requested_as: &resolved.requested_as,
            scp: scp.clone(),
            version: resolved.app.access_token_version,
            acrs: &incoming.acrs,
            xms_cc,
            lifetime_secs: lifetime,
            extra: None,
        },
    )
    .map_err(|e| internal(&e))?;
    let refresh_token = parsed.offline_access().then(|| {
        shared.store_refresh_token(RefreshRecord {
            client_id: client.client_id.clone(),
            spa: false,
            confidential: true,
            session: Session {
                tid: tenant.id.clone(),
                oid: user.oid.clone(),
                auth_time: call.now,
                acrs: incoming.acrs.clone(),
            },
            expires_at: call.now + shared.config.refresh_token_lifetime_secs,
        })
    });
    let info = call.wants_client_info().then(|| client_info(&user.oid, &tenant.id));
    Ok(success_body(
        access_token,
        lifetime,
        Some(response_scope(&resolved.requested_as, &scp)),
        refresh_token,
        None,
        info,
    ))
}
