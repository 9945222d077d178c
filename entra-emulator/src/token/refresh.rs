//! The `refresh_token` grant. Refresh tokens are multi-resource (any consented resource may be
//! asked for) and rotated on every use: each answer carries a new one. Tokens issued to SPA
//! redirect URIs keep the fixed 24 h lifetime of the first one (AADSTS700084 after that) and
//! are redeemable only cross-origin. As at Entra, the previous refresh token is not revoked.

use serde_json::Value;

use crate::counters::GrantKind;
use crate::directory::TenantRef;
use crate::error::{EntraError, OAuthError};
use crate::token::delegated::{RefreshPolicy, UserTokens, issue, xms_cc_from_claims};
use crate::token::{TokenCall, client_auth};

fn invalid_grant(code: u32, message: String) -> EntraError {
    EntraError::new(OAuthError::InvalidGrant, code, message)
}

pub(super) fn run(call: &mut TokenCall<'_>) -> Result<Value, EntraError> {
    let client_id = call.required("client_id")?.to_ascii_lowercase();
    let raw = call.required("refresh_token")?.to_owned();
    let scope = call.required("scope")?.to_owned();
    let record = call
        .shared
        .refresh_token(&raw)
        .ok_or_else(|| invalid_grant(9002313, "Invalid request. Request is malformed or invalid.".into()))?;
    if record.client_id != client_id {
        return Err(invalid_grant(
            70000,
            "Provided grant is invalid or malformed. The refresh token was issued to another client.".into(),
        ));
    }
    if call.now >= record.expires_at {
        return Err(if record.spa {
            invalid_grant(
                700084,
                format!(
                    "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of {}, which cannot be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page.",
                    lifetime_text(call.shared.config.spa_refresh_token_lifetime_secs)
                ),
            )
        } else {
            invalid_grant(70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.".into())
        });
    }

    let shared = call.shared;
    let dir = shared.dir();
    let tenant = match dir.resolve(&call.tenant_segment) {
        Some(TenantRef::Specific(t)) if t.id == record.session.tid => t,
        Some(TenantRef::Common | TenantRef::Organizations) => {
            dir.tenant(&record.session.tid).ok_or_else(|| EntraError::tenant_not_found(&record.session.tid))?
        }
        Some(TenantRef::Specific(_)) => {
            return Err(invalid_grant(
                70000,
                "Provided grant is invalid or malformed. The refresh token belongs to another tenant.".into(),
            ));
        }
        None => return Err(EntraError::tenant_not_found(&call.tenant_segment)),
    };
    let client = tenant.app(&client_id).ok_or_else(|| EntraError::app_not_found(&client_id, &tenant.id))?;
    client_auth::check_origin(call, record.spa)?;
    let client_acr = if record.confidential {
        client_auth::require_certificate(call, tenant, client, GrantKind::RefreshToken)?
    } else {
        client_auth::require_public(call)?
    };
    let user = tenant
        .user(&record.session.oid)
        .ok_or_else(|| invalid_grant(50034, "The user account does not exist in the directory.".into()))?;
    let xms_cc = xms_cc_from_claims(call.param("claims"))?;
    issue(
        call,
        &UserTokens {
            tenant,
            client,
            client_acr,
            user,
            session: &record.session,
            scope: &scope,
            nonce: None,
            xms_cc,
            grant: GrantKind::RefreshToken,
            refresh: RefreshPolicy {
                spa: record.spa,
                confidential: record.confidential,
                fixed_expiry: Some(record.expires_at),
            },
        },
    )
}

/// Entra's `d.hh:mm:ss` rendering of a lifetime.
fn lifetime_text(secs: i64) -> String {
    format!("{}.{:02}:{:02}:{:02}", secs / 86400, (secs % 86400) / 3600, (secs % 3600) / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lifetime_text_matches_entra() {
        assert_eq!(super::lifetime_text(86400), "1.00:00:00");
    }
}
