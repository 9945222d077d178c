//! The interactive leg: the authorize URL the popup is sent to, and the parameters the redirect page
//! hands back (from its fragment or query), checked against the `state` we sent.

use alloc::string::String;

use crate::errors::{self, BrokerError, ErrorCode};
use crate::form::{self, Form};
use crate::pkce;
use crate::secret::AuthCode;

/// `prompt` values Entra v2.0 understands; anything else is refused before a popup opens.
const PROMPTS: [&str; 5] = ["login", "select_account", "consent", "none", "create"];

/// One authorize request (auth code + PKCE S256).
#[derive(Debug, Clone)]
pub struct AuthorizeRequest<'a> {
    /// Authority host, e.g. `https://login.microsoftonline.com`.
    pub authority: &'a str,
    /// Tenant (tenant-specific authority).
    pub tenant: &'a str,
    /// The broker app.
    pub client_id: &'a str,
    /// The SPA redirect URI (the blank redirect page).
    pub redirect_uri: &'a str,
    /// Space-separated scopes (a workload's user scope plus the OIDC ones).
    pub scope: &'a str,
    /// CSRF protection, echoed back.
    pub state: &'a str,
    /// Replay protection, echoed in the ID token.
    pub nonce: &'a str,
    /// The S256 code challenge.
    pub code_challenge: &'a str,
    /// `prompt`, if any.
    pub prompt: Option<&'a str>,
    /// `login_hint`, if any.
    pub login_hint: Option<&'a str>,
    /// A claims request (raw JSON), for step-up.
    pub claims: Option<&'a str>,
}

/// Checks a caller-supplied `prompt`.
pub fn check_prompt(prompt: Option<&str>) -> Result<(), BrokerError> {
    match prompt {
        Some(p) if !PROMPTS.contains(&p) => {
            Err(BrokerError::new(ErrorCode::InvalidRequest, crate::text::cat(&["signIn: unknown prompt ", p])))
        }
        _ => Ok(()),
    }
}

impl AuthorizeRequest<'_> {
    /// `{authority}/{tenant}/oauth2/v2.0/authorize?…`, response in the fragment so the code never
    /// reaches a server log of the redirect page's host.
    pub fn url(&self) -> String {
        let query = Form::new()
            .pair("client_id", self.client_id)
            .pair("response_type", "code")
            .pair("redirect_uri", self.redirect_uri)
            .pair("response_mode", "fragment")
            .pair("scope", self.scope)
            .pair("state", self.state)
            .pair("nonce", self.nonce)
            .pair("code_challenge", self.code_challenge)
            .pair("code_challenge_method", "S256")
            .pair_opt("prompt", self.prompt)
            .pair_opt("login_hint", self.login_hint)
            .pair_opt("claims", self.claims)
            .finish();
        let endpoint = crate::oauth::endpoint(self.authority, self.tenant, "authorize");
        crate::text::cat(&[&endpoint, "?", &query])
    }
}

/// Which response a redirect carried, once its `state` is known to be ours.
#[derive(Debug)]
pub enum AuthResponse {
    /// Success: the code to redeem.
    Code(AuthCode),
    /// Entra sent an error instead.
    Error(BrokerError),
}

/// Parses the parameters of a redirect that carries `expected_state`.
pub fn parse_response(params: &str, expected_state: &str) -> Result<AuthResponse, BrokerError> {
    let pairs = form::parse(params);
    let state = form::get(&pairs, "state").unwrap_or("");
    if !pkce::same(state, expected_state) {
        return Err(BrokerError::new(ErrorCode::InvalidRequest, "sign-in response with a foreign state was refused"));
    }
    if let Some(error) = form::get(&pairs, "error") {
        return Ok(AuthResponse::Error(errors::from_authorize_error(
            error,
            form::get(&pairs, "error_subcode"),
            form::get(&pairs, "error_description"),
        )));
    }
    match form::get(&pairs, "code") {
        Some(code) if !code.is_empty() => Ok(AuthResponse::Code(AuthCode::new(code))),
        _ => Err(BrokerError::new(ErrorCode::StsError, "sign-in response carried neither a code nor an error")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request() -> AuthorizeRequest<'static> {
        AuthorizeRequest {
            authority: "https://login.microsoftonline.com",
            tenant: "contoso.onmicrosoft.com",
            client_id: "11111111-1111-1111-1111-111111111111",
            redirect_uri: "https://org.crm.dynamics.com/WebResources/t_/redirect.html",
            scope: "api://c/access_as_user openid profile offline_access",
            state: "st",
            nonce: "no",
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            prompt: None,
            login_hint: Some("ada@contoso.com"),
            claims: None,
        }
    }

    #[test]
    fn authorize_url_is_exact() {
        assert_eq!(
            request().url(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize\
             ?client_id=11111111-1111-1111-1111-111111111111&response_type=code\
             &redirect_uri=https%3A%2F%2Forg.crm.dynamics.com%2FWebResources%2Ft_%2Fredirect.html\
             &response_mode=fragment\
             &scope=api%3A%2F%2Fc%2Faccess_as_user+openid+profile+offline_access\
             &state=st&nonce=no&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256&login_hint=ada%40contoso.com"
        );
    }

    #[test]
    fn prompt_and_claims_are_added() {
        let mut r = request();
        r.prompt = Some("login");
        r.claims = Some(r#"{"id_token":{}}"#);
        let url = r.url();
        assert!(url.contains("&prompt=login&"), "{url}");
        assert!(url.ends_with("&claims=%7B%22id_token%22%3A%7B%7D%7D"), "{url}");
    }

    #[test]
    fn prompts_are_checked() {
        assert!(check_prompt(None).is_ok());
        assert!(check_prompt(Some("select_account")).is_ok());
        assert_eq!(check_prompt(Some("always")).unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn code_response() {
        match parse_response("#code=abc&state=s1&session_state=x", "s1").unwrap() {
            AuthResponse::Code(c) => assert_eq!(c.expose(), "abc"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn foreign_state_is_refused() {
        let e = parse_response("#code=abc&state=s2", "s1").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(parse_response("#code=abc", "s1").is_err());
    }

    #[test]
    fn error_response_is_mapped() {
        match parse_response(
            "?error=access_denied&error_subcode=cancel&error_description=AADSTS65004%3A+declined&state=s1",
            "s1",
        )
        .unwrap()
        {
            AuthResponse::Error(e) => {
                assert_eq!(e.code, ErrorCode::UserCancelled);
                assert_eq!(e.description, "sign-in: access_denied: AADSTS65004: declined");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_response_is_an_error() {
        assert_eq!(parse_response("#state=s1", "s1").unwrap_err().code, ErrorCode::StsError);
    }
}
