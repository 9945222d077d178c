//! The `authorization_code` grant: redeem a code from `authorize` (once, within ten
//! minutes, at the same redirect URI, with the PKCE verifier), cross-origin only for SPA
//! redirect URIs.

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;

use crate::counters::GrantKind;
use crate::directory::TenantRef;
use crate::error::{EntraError, OAuthError};
use crate::token::delegated::{RefreshPolicy, UserTokens, issue};
use crate::token::{TokenCall, client_auth};

fn invalid_grant(code: u32, message: &str) -> EntraError {
    EntraError::new(OAuthError::InvalidGrant, code, message)
}

/// Whether `verifier` answers `challenge` under `method` (RFC 7636).
pub(crate) fn pkce_matches(method: Option<&str>, challenge: &str, verifier: &str) -> bool {
    match method.unwrap_or("plain") {
        "S256" => {
            let digest = sha2::Sha256::digest(verifier.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) == challenge
        }
        "plain" => verifier == challenge,
        _ => false,
    }
}

pub(super) fn run(call: &mut TokenCall<'_>) -> Result<Value, EntraError> {
    let client_id = call.required("client_id")?.to_ascii_lowercase();
    let code = call.required("code")?.to_owned();
    let redirect_uri = call.required("redirect_uri")?.to_owned();
    let record = call
        .shared
        .redeem_code(&code)
        .ok_or_else(|| invalid_grant(9002313, "Invalid request. Request is malformed or invalid."))?;
    if record.redeemed {
        return Err(invalid_grant(
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ));
    }
    if call.now >= record.expires_at {
        return Err(invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if record.client_id != client_id {
        return Err(invalid_grant(
            70000,
            "Provided grant is invalid or malformed. The code was issued to another client.",
        ));
    }
    if record.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            500112,
            &format!(
                "The reply address '{redirect_uri}' does not match the reply address '{}' provided when requesting Authorization code.",
                record.redirect_uri
            ),
        ));
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
                "Provided grant is invalid or malformed. The code was issued for another tenant.",
            ));
        }
        None => return Err(EntraError::tenant_not_found(&call.tenant_segment)),
    };
    let client = tenant.app(&client_id).ok_or_else(|| EntraError::app_not_found(&client_id, &tenant.id))?;

    client_auth::check_origin(call, record.spa)?;
    let client_acr = if record.spa || !client.is_confidential() {
        client_auth::require_public(call)?
    } else {
        client_auth::require_certificate(call, tenant, client, GrantKind::AuthorizationCode)?
    };

    if let Some(challenge) = &record.code_challenge {
        let verifier = call.required("code_verifier")?;
        if !pkce_matches(record.code_challenge_method.as_deref(), challenge, verifier) {
            return Err(invalid_grant(
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
    }

    let user = tenant
        .user(&record.session.oid)
        .ok_or_else(|| invalid_grant(50034, "The user account does not exist in the directory."))?;
    let scope = call.param("scope").unwrap_or(&record.scope).to_owned();
    issue(
        call,
        &UserTokens {
            tenant,
            client,
            client_acr,
            user,
            session: &record.session,
            scope: &scope,
            nonce: record.nonce.as_deref(),
            xms_cc: record.xms_cc.clone(),
            grant: GrantKind::AuthorizationCode,
            refresh: RefreshPolicy {
                spa: record.spa,
                confidential: !record.spa && client.is_confidential(),
                fixed_expiry: None,
            },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_and_plain() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(Some("S256"), challenge, verifier));
        assert!(!pkce_matches(Some("S256"), challenge, "wrong"));
        assert!(pkce_matches(None, "abc", "abc"));
        assert!(!pkce_matches(Some("S512"), "abc", "abc"));
    }
}
