//! Client authentication at the token endpoint: certificate assertions for confidential
//! clients; nothing for public ones (which must then present no credential at all).

use crate::counters::GrantKind;
use crate::directory::{App, Tenant};
use crate::error::{EntraError, OAuthError};
use crate::faults::{FaultContext, Stage};
use crate::jwt::assertion;
use crate::jwt::claims::ClientAcr;
use crate::token::TokenCall;

use tessera_wire::CLIENT_ASSERTION_TYPE_JWT_BEARER as ASSERTION_TYPE;

/// Authenticates a confidential client; fails with `invalid_client` (401).
pub(crate) fn require_certificate(
    call: &mut TokenCall<'_>,
    tenant: &Tenant,
    app: &App,
    grant: GrantKind,
) -> Result<ClientAcr, EntraError> {
    if call.param("client_secret").is_some() {
        return Err(EntraError::new(
            OAuthError::InvalidClient,
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        ));
    }
    let (Some(raw), Some(kind)) = (call.param("client_assertion"), call.param("client_assertion_type")) else {
        return Err(EntraError::new(
            OAuthError::InvalidClient,
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    if kind != ASSERTION_TYPE {
        return Err(EntraError::new(
            OAuthError::InvalidClient,
            7000218,
            format!(
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'. Unsupported client_assertion_type '{kind}'."
            ),
        ));
    }
    let audiences = call.assertion_audiences(tenant);
    let expected = assertion::Expected { client_id: &app.client_id, app, audiences: &audiences, now: call.now };
    assertion::validate(raw, &expected).map_err(|e| e.to_entra(&app.client_id))?;
    let ctx = FaultContext { tenant: &tenant.id, client_id: &app.client_id, user: None, grant, acrs: &[] };
    call.faults(&ctx, Stage::ClientAuth, &app.client_id)?;
    Ok(ClientAcr::Certificate)
}

/// A public client must not send credentials (AADSTS700025).
pub(crate) fn require_public(call: &TokenCall<'_>) -> Result<ClientAcr, EntraError> {
    if call.param("client_assertion").is_some() || call.param("client_secret").is_some() {
        return Err(EntraError::new(
            OAuthError::InvalidClient,
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        ));
    }
    Ok(ClientAcr::Public)
}

/// Tokens issued to a SPA redirect URI may only be redeemed cross-origin (AADSTS9002327);
/// others may not be redeemed cross-origin at all (AADSTS9002326).
pub(crate) fn check_origin(call: &TokenCall<'_>, spa: bool) -> Result<(), EntraError> {
    match (spa, call.origin.is_some()) {
        (true, false) => Err(EntraError::new(
            OAuthError::InvalidRequest,
            9002327,
            "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
        )),
        (false, true) => Err(EntraError::new(
            OAuthError::InvalidRequest,
            9002326,
            "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type.",
        )),
        _ => Ok(()),
    }
}
