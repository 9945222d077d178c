//! The exact requests the broker sends: Entra's token endpoint (code redemption, refresh) and the
//! STS's RFC 8693 token exchange. Bodies are built here, sent by `web::http`.

use alloc::string::String;

use crate::form::Form;
use crate::secret::{AccessToken, AuthCode, CodeVerifier, RefreshToken};
use crate::text::cat;

/// RFC 8693 grant type.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 token type of the subject (and issued) token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// `{authority}/{tenant}/oauth2/v2.0/{leaf}`: the tenant-specific v2.0 endpoints.
pub fn endpoint(authority: &str, tenant: &str, leaf: &str) -> String {
    cat(&[authority, "/", tenant, "/oauth2/v2.0/", leaf])
}

/// The admin-consent page for a workload's client app (what a tenant admin must visit when Entra
/// says `consent_required` to the broker itself, before the STS is even reached).
pub fn admin_consent_url(authority: &str, tenant: &str, client_app_id: &str) -> String {
    let query = Form::new().pair("client_id", client_app_id).finish();
    cat(&[authority, "/", tenant, "/adminconsent?", &query])
}

/// The scopes of a user-token request: the workload's delegated scope plus the OIDC scopes, which
/// give us an ID token (the account) and a refresh token.
pub fn user_token_scope(user_scope: &str) -> String {
    cat(&[user_scope, " openid profile offline_access"])
}

/// The scopes of a refresh for another workload: no ID token needed any more.
pub fn refresh_scope(user_scope: &str) -> String {
    cat(&[user_scope, " offline_access"])
}

/// Code redemption with PKCE. No client secret: the broker app is an SPA public client, and Entra
/// accepts this cross-origin only because the redirect URI is registered as SPA.
pub fn code_redemption_body(
    client_id: &str,
    code: &AuthCode,
    redirect_uri: &str,
    verifier: &CodeVerifier,
    scope: &str,
    claims: Option<&str>,
) -> String {
    Form::new()
        .pair("client_id", client_id)
        .pair("grant_type", "authorization_code")
        .pair("code", code.expose())
        .pair("redirect_uri", redirect_uri)
        .pair("code_verifier", verifier.expose())
        .pair("scope", scope)
        .pair_opt("claims", claims)
        .finish()
}

/// Refresh-token grant for one workload's client app; Entra rotates the refresh token.
pub fn refresh_body(client_id: &str, refresh_token: &RefreshToken, scope: &str) -> String {
    Form::new()
        .pair("client_id", client_id)
        .pair("grant_type", "refresh_token")
        .pair("refresh_token", refresh_token.expose())
        .pair("scope", scope)
        .finish()
}

/// The STS exchange (RFC 8693): the user token for the workload's client app in, a backend token
/// out. `audience` names the workload; `claims` is a raw JSON claims request, if any.
pub fn exchange_body(subject_token: &AccessToken, scope: &str, workload: &str, claims: Option<&str>) -> String {
    Form::new()
        .pair("grant_type", TOKEN_EXCHANGE)
        .pair("subject_token", subject_token.expose())
        .pair("subject_token_type", ACCESS_TOKEN_TYPE)
        .pair("scope", scope)
        .pair("audience", workload)
        .pair_opt("claims", claims)
        .finish()
}

/// The fields of a successful token response the broker uses (Entra's or the STS's).
#[derive(Debug, Clone, Default)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: Option<AccessToken>,
    /// A rotated refresh token (Entra only).
    pub refresh_token: Option<RefreshToken>,
    /// The ID token (Entra code redemption only).
    pub id_token: Option<String>,
    /// Lifetime in seconds (Entra sometimes sends it as a string; already converted).
    pub expires_in: Option<f64>,
    /// Remaining life of the refresh token in seconds (Entra, SPA clients).
    pub refresh_token_expires_in: Option<f64>,
    /// Granted scopes, space-separated.
    pub scope: Option<String>,
    /// `Bearer`.
    pub token_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint("http://127.0.0.1:9", "t.example.com", "token"),
            "http://127.0.0.1:9/t.example.com/oauth2/v2.0/token"
        );
        assert_eq!(
            admin_consent_url("https://login.microsoftonline.com", "t", "c"),
            "https://login.microsoftonline.com/t/adminconsent?client_id=c"
        );
    }

    #[test]
    fn code_redemption() {
        let body = code_redemption_body(
            "b",
            &AuthCode::new("co de"),
            "https://x/r.html",
            &CodeVerifier::new("ver"),
            &user_token_scope("api://c/access_as_user"),
            None,
        );
        assert_eq!(
            body,
            "client_id=b&grant_type=authorization_code&code=co+de\
             &redirect_uri=https%3A%2F%2Fx%2Fr.html&code_verifier=ver\
             &scope=api%3A%2F%2Fc%2Faccess_as_user+openid+profile+offline_access"
        );
    }

    #[test]
    fn refresh() {
        assert_eq!(
            refresh_body("b", &RefreshToken::new("rt"), &refresh_scope("api://c/access_as_user")),
            "client_id=b&grant_type=refresh_token&refresh_token=rt\
             &scope=api%3A%2F%2Fc%2Faccess_as_user+offline_access"
        );
    }

    #[test]
    fn exchange() {
        let body = exchange_body(
            &AccessToken::new("ey.x.y"),
            "https://graph.microsoft.com/Files.Read",
            "file-picker",
            Some("{}"),
        );
        assert_eq!(
            body,
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
             &subject_token=ey.x.y\
             &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token\
             &scope=https%3A%2F%2Fgraph.microsoft.com%2FFiles.Read&audience=file-picker\
             &claims=%7B%7D"
        );
    }
}
