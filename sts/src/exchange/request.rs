//! The RFC 8693 token-exchange request as the broker sends it, parsed and checked before anything
//! else happens. Pure: no I/O, so every rule is unit-tested.
//!
//! Every field is the caller's: sizes are compared, never computed with, and the lint keeps it so.
#![deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::cast_possible_wrap)]

use super::error::{ExchangeError, RequestError};
use crate::secret::SubjectToken;

use tessera_wire::{grant_type, token_type};

/// A real Entra access token is 1–4 KB; anything far beyond is not one.
pub const MAX_SUBJECT_TOKEN_BYTES: usize = 16 * 1024;
pub const MAX_SCOPE_BYTES: usize = 2 * 1024;
pub const MAX_CLAIMS_BYTES: usize = 4 * 1024;

/// The form as received ([`super::form::parse`]). Unknown fields are ignored (RFC 6749 §3.2:
/// "unrecognized request parameters MUST be ignored"); duplicated fields are rejected by the parser.
/// The subject token is a [`SubjectToken`] from the moment it is read, so no `Debug` shows it.
#[derive(Debug, Default)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub subject_token: Option<SubjectToken>,
    pub subject_token_type: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    pub audience: Option<String>,
    pub requested_token_type: Option<String>,
    pub claims: Option<String>,
}

/// What kind of subject token the request says it carries (`subject_token_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    /// `…:token-type:access_token`: an Entra user's access token for the workload's client app.
    EntraAccessToken,
    /// `…:token-type:jwt`: a Power Pages site's token for its signed-in contact.
    PortalJwt,
}

/// A checked exchange request.
#[derive(Debug)]
pub struct ExchangeRequest {
    pub subject_token: SubjectToken,
    pub kind: SubjectKind,
    /// Space-separated backend scopes, as sent (the registry normalises them).
    pub scope: String,
    /// Workload name from `audience` (or `resource` when it is not a URI).
    pub workload: Option<String>,
    /// A claims challenge (raw JSON object) to satisfy: bypasses the cache.
    pub claims: Option<String>,
}

impl TokenForm {
    pub fn check(self) -> Result<ExchangeRequest, ExchangeError> {
        let invalid = ExchangeError::InvalidRequest;
        match self.grant_type.as_deref() {
            None => return Err(invalid(RequestError::NoGrantType)),
            Some(grant_type::TOKEN_EXCHANGE) => {}
            Some(other) => return Err(ExchangeError::UnsupportedGrantType(other.chars().take(100).collect())),
        }
        let subject_token = self
            .subject_token
            .filter(|t| !t.expose().is_empty())
            .ok_or_else(|| invalid(RequestError::NoSubjectToken))?;
        if subject_token.expose().len() > MAX_SUBJECT_TOKEN_BYTES {
            return Err(invalid(RequestError::SubjectTokenTooLarge));
        }
        let kind = match self.subject_token_type.as_deref() {
            Some(token_type::ACCESS_TOKEN) => SubjectKind::EntraAccessToken,
            Some(token_type::JWT) => SubjectKind::PortalJwt,
            Some(_) => return Err(invalid(RequestError::SubjectTokenType)),
            None => return Err(invalid(RequestError::NoSubjectTokenType)),
        };
        if let Some(t) = self.requested_token_type.as_deref()
            && t != token_type::ACCESS_TOKEN
        {
            return Err(invalid(RequestError::RequestedTokenType));
        }
        let scope = self.scope.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let scope = scope.ok_or_else(|| {
            ExchangeError::InvalidScope("scope is required: the backend scopes to obtain, of one resource".into())
        })?;
        if scope.len() > MAX_SCOPE_BYTES {
            return Err(ExchangeError::InvalidScope("scope is too long".into()));
        }
        // `audience` names the workload. `resource` is accepted too when it is a plain name; as a
        // URI it would name the backend, which `scope` already does.
        let workload = match (self.audience, self.resource) {
            (Some(a), _) if !a.is_empty() => Some(a),
            (_, Some(r)) if !r.is_empty() && !r.contains(':') => Some(r),
            _ => None,
        };
        if let Some(w) = &workload
            && (w.len() > 64 || !w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return Err(ExchangeError::InvalidTarget(format!(
                "audience {:?} is not a workload name",
                w.chars().take(64).collect::<String>()
            )));
        }
        let claims = match self.claims.filter(|c| !c.trim().is_empty()) {
            None => None,
            Some(c) if c.len() > MAX_CLAIMS_BYTES => return Err(invalid(RequestError::ClaimsTooLong)),
            Some(c) => match serde_json::from_str::<serde_json::Value>(&c) {
                Ok(v) if v.is_object() => Some(v.to_string()),
                _ => return Err(invalid(RequestError::ClaimsNotObject)),
            },
        };
        Ok(ExchangeRequest { subject_token, kind, scope, workload, claims })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn form() -> TokenForm {
        TokenForm {
            grant_type: Some(grant_type::TOKEN_EXCHANGE.into()),
            subject_token: Some(SubjectToken::new("eyJ.a.b")),
            subject_token_type: Some(token_type::ACCESS_TOKEN.into()),
            scope: Some(" https://graph.microsoft.com/User.Read ".into()),
            resource: None,
            audience: Some("file-picker".into()),
            requested_token_type: None,
            claims: None,
        }
    }

    fn err(f: TokenForm) -> ExchangeError {
        f.check().unwrap_err()
    }

    fn invalid(f: TokenForm) -> RequestError {
        match err(f) {
            ExchangeError::InvalidRequest(e) => e,
            other => panic!("not invalid_request: {other:?}"),
        }
    }

    #[test]
    fn accepts_a_good_request() {
        let r = form().check().unwrap();
        assert_eq!(r.scope, "https://graph.microsoft.com/User.Read");
        assert_eq!(r.workload.as_deref(), Some("file-picker"));
        assert_eq!(r.kind, SubjectKind::EntraAccessToken);
        let portal = TokenForm { subject_token_type: Some(token_type::JWT.into()), ..form() }.check().unwrap();
        assert_eq!(portal.kind, SubjectKind::PortalJwt);
        assert!(!format!("{r:?}").contains("eyJ"), "Debug must not show the token");
        assert!(!format!("{:?}", form()).contains("eyJ"), "nor the form's");
    }

    #[test]
    fn each_bad_field_has_its_own_error() {
        use RequestError as R;
        let cases = [
            (TokenForm { grant_type: None, ..form() }, R::NoGrantType),
            (TokenForm { subject_token: None, ..form() }, R::NoSubjectToken),
            (TokenForm { subject_token: Some(SubjectToken::new("")), ..form() }, R::NoSubjectToken),
            (
                TokenForm { subject_token: Some(SubjectToken::new("x".repeat(MAX_SUBJECT_TOKEN_BYTES + 1))), ..form() },
                R::SubjectTokenTooLarge,
            ),
            (TokenForm { subject_token_type: Some("urn:x".into()), ..form() }, R::SubjectTokenType),
            (TokenForm { subject_token_type: None, ..form() }, R::NoSubjectTokenType),
            (TokenForm { requested_token_type: Some(token_type::ID_TOKEN.into()), ..form() }, R::RequestedTokenType),
            (TokenForm { claims: Some("[1]".into()), ..form() }, R::ClaimsNotObject),
            (TokenForm { claims: Some("{".repeat(MAX_CLAIMS_BYTES + 1)), ..form() }, R::ClaimsTooLong),
        ];
        for (f, want) in cases {
            assert_eq!(invalid(f), want);
        }
        assert!(
            matches!(err(TokenForm { grant_type: Some("password".into()), ..form() }), ExchangeError::UnsupportedGrantType(g) if g == "password")
        );
        assert!(matches!(err(TokenForm { scope: Some("  ".into()), ..form() }), ExchangeError::InvalidScope(_)));
        assert!(matches!(err(TokenForm { scope: None, ..form() }), ExchangeError::InvalidScope(_)));
        assert!(matches!(
            err(TokenForm { audience: Some("no spaces!".into()), ..form() }),
            ExchangeError::InvalidTarget(_)
        ));
    }

    #[test]
    fn claims_are_minified_and_resource_names_a_workload() {
        let r = TokenForm { claims: Some("{ \"access_token\" : {} }".into()), ..form() }.check().unwrap();
        assert_eq!(r.claims.as_deref(), Some("{\"access_token\":{}}"));
        let r = TokenForm { audience: None, resource: Some("file-picker".into()), ..form() }.check().unwrap();
        assert_eq!(r.workload.as_deref(), Some("file-picker"));
        let r = TokenForm { audience: None, resource: Some("https://graph.microsoft.com".into()), ..form() }
            .check()
            .unwrap();
        assert_eq!(r.workload, None);
    }
}
