//! Why an exchange failed, as a typed enum inside and as an RFC 6749 error at the edge.
//!
//! Each variant documents the status and `error` code it answers with. Messages are specific (they
//! name the field, the scope, the tenant) and never contain a token.

use std::time::Duration;

use crate::entra::keys::KeyError;
use crate::entra::obo::OboError;
pub use crate::entra::upstream::UpstreamError;
use crate::entra::validate::{PeekError, VerifyError};
use crate::portal::keys::SiteKeyError;
pub use crate::portal::validate::PortalTokenError;

/// Waiters of one single flight share an error, hence `Clone`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// 400 `invalid_request`: the form is malformed (or the body is not a form at all; the edge
    /// then answers 408, 413 or 415 instead of 400, with the same `error`).
    #[error("{0}")]
    InvalidRequest(RequestError),
    /// 400 `unsupported_grant_type`.
    #[error("grant_type {0:?} is not supported; use urn:ietf:params:oauth:grant-type:token-exchange")]
    UnsupportedGrantType(String),
    /// 400 `invalid_scope`: scopes malformed, not allowed, or of several resources.
    #[error("{0}")]
    InvalidScope(String),
    /// 400 `invalid_target`: the audience names no usable workload.
    #[error("{0}")]
    InvalidTarget(String),
    /// 400 `invalid_grant`: the subject token is not acceptable (signature, issuer, audience,
    /// expiry, calling app, scope, app-only…).
    #[error("subject_token rejected: {0}")]
    InvalidSubjectToken(SubjectTokenError),
    /// 403 `unauthorized_client`: the broker app may not request this workload.
    #[error("{0}")]
    UnauthorizedClient(String),
    /// 403 `consent_required`: the tenant has not consented (or consent was revoked); carries the
    /// admin-consent URL.
    #[error("{message}")]
    ConsentRequired { message: String, consent_url: String },
    /// 403 `access_denied`: Entra blocked the user (Conditional Access) or the workload is disabled.
    #[error("{message}")]
    AccessDenied { message: String, claims: Option<String> },
    /// 401 `insufficient_claims`: Entra demands more (MFA, CA, CAE). `claims` is the raw JSON
    /// challenge; the edge sends it base64-encoded.
    #[error("{message}")]
    InsufficientClaims { message: String, claims: String },
    /// 503 `temporarily_unavailable`: Entra throttled or failed after our retries.
    #[error("{message}")]
    Unavailable { message: String, retry_after: Duration },
    /// 502 `server_error`: Entra could not be reached at all, or answered what no Entra would.
    /// Its own outcome label (`upstream_error`) in metrics and audit, so that an operator tells
    /// Entra's trouble from ours (500) without reading logs.
    #[error("{0}")]
    Upstream(UpstreamError),
    /// 502 `server_error`: a Power Pages site's public key could not be fetched (its outcome is
    /// `upstream_error`, like Entra's trouble).
    #[error("{0}")]
    SiteUnreachable(SiteKeyError),
    /// 500 `server_error`: our own fault (configuration, no usable credential). Logged in full,
    /// answered briefly.
    #[error("{0}")]
    Internal(String),
}

impl ExchangeError {
    /// The HTTP status the edge answers with, as a number: the domain knows no HTTP types (the
    /// edge, `http::error`, turns it into one).
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidRequest(e) => e.status(),
            Self::UnsupportedGrantType(_)
            | Self::InvalidScope(_)
            | Self::InvalidTarget(_)
            | Self::InvalidSubjectToken(_) => 400,
            Self::UnauthorizedClient(_) | Self::ConsentRequired { .. } | Self::AccessDenied { .. } => 403,
            Self::InsufficientClaims { .. } => 401,
            Self::Unavailable { .. } => 503,
            Self::Upstream(_) | Self::SiteUnreachable(_) => 502,
            Self::Internal(_) => 500,
        }
    }

    /// The RFC 6749 / RFC 8693 / RFC 6750 `error` code.
    pub fn oauth_code(&self) -> &'static str {
        use tessera_wire::error as code;
        match self {
            Self::InvalidRequest(_) => code::INVALID_REQUEST,
            Self::UnsupportedGrantType(_) => code::UNSUPPORTED_GRANT_TYPE,
            Self::InvalidScope(_) => code::INVALID_SCOPE,
            Self::InvalidTarget(_) => code::INVALID_TARGET,
            Self::InvalidSubjectToken(_) => code::INVALID_GRANT,
            Self::UnauthorizedClient(_) => code::UNAUTHORIZED_CLIENT,
            Self::ConsentRequired { .. } => code::CONSENT_REQUIRED,
            Self::AccessDenied { .. } => code::ACCESS_DENIED,
            Self::InsufficientClaims { .. } => code::INSUFFICIENT_CLAIMS,
            Self::Unavailable { .. } => code::TEMPORARILY_UNAVAILABLE,
            Self::Upstream(_) | Self::SiteUnreachable(_) | Self::Internal(_) => code::SERVER_ERROR,
        }
    }

    /// The short outcome label used in metrics and audit records: the OAuth code, except that
    /// a 502 (`upstream_error`) is told apart from our own 500 (`server_error`), which share it.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Upstream(_) | Self::SiteUnreachable(_) => "upstream_error",
            other => other.oauth_code(),
        }
    }

    /// What the caller is told. Internal errors stay in the log.
    pub fn public_description(&self) -> String {
        match self {
            Self::Internal(_) => "the token service failed; see its log with this correlation id".into(),
            other => other.to_string(),
        }
    }
}

/// Why the token request itself is malformed (`invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the body must be application/x-www-form-urlencoded (Content-Type header)")]
    NotAForm,
    #[error("the request body exceeds {max_bytes} bytes (server.max_body_bytes)")]
    BodyTooLarge { max_bytes: usize },
    /// axum's reason (never the body).
    #[error("the body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("the request body did not arrive within {secs} s (server.body_read_timeout_secs)")]
    BodyTimeout { secs: u64 },
    #[error("the request headers are {bytes} bytes; this server accepts at most {max_bytes} (server.max_header_bytes)")]
    HeadersTooLarge { bytes: usize, max_bytes: usize },
    #[error("the form body is not UTF-8")]
    NotUtf8,
    /// RFC 6749 §3.1: parameters "MUST NOT be included more than once". Only known parameter
    /// names are checked, so this is one of them.
    #[error("parameter {0} is given more than once")]
    Repeated(String),
    #[error("grant_type is required")]
    NoGrantType,
    #[error("subject_token is required")]
    NoSubjectToken,
    #[error("subject_token is larger than any Entra access token")]
    SubjectTokenTooLarge,
    #[error("subject_token_type is required")]
    NoSubjectTokenType,
    #[error(
        "subject_token_type must be urn:ietf:params:oauth:token-type:access_token (an Entra user token) \
         or urn:ietf:params:oauth:token-type:jwt (a Power Pages token)"
    )]
    SubjectTokenType,
    #[error("requested_token_type: only urn:ietf:params:oauth:token-type:access_token can be issued")]
    RequestedTokenType,
    #[error("claims is too long")]
    ClaimsTooLong,
    #[error("claims must be a JSON object (the decoded claims challenge)")]
    ClaimsNotObject,
}

impl RequestError {
    /// `400`, or the more specific status HTTP has for what is wrong with the request as a
    /// message (its media type, size or pace) rather than with its parameters.
    pub fn status(&self) -> u16 {
        match self {
            Self::BodyTimeout { .. } => 408,
            Self::BodyTooLarge { .. } => 413,
            Self::NotAForm => 415,
            Self::HeadersTooLarge { .. } => 431,
            _ => 400,
        }
    }
}

/// Why a subject token was refused (`400 invalid_grant`), by the step that refused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectTokenError {
    /// Structure, claims or lifetime, before any key is fetched.
    #[error(transparent)]
    Malformed(#[from] PeekError),
    /// Issuer or signature.
    #[error(transparent)]
    NotAuthentic(#[from] VerifyError),
    /// The token names a signing key its tenant does not publish. `kid` clipped to 64 characters.
    #[error("signing key {kid:?} is not published for tenant {tenant}")]
    UnknownKey { tenant: String, kid: String },
    /// `aud` (clipped to 100 characters) is no client app of the registry.
    #[error("aud {0:?} is not a registered client app")]
    UnregisteredAudience(String),
    /// `scp` lacks the scope the workload requires of its callers.
    #[error("scp does not contain {scope:?}, the scope workload {workload:?} requires")]
    MissingScope { scope: String, workload: String },
    /// A Power Pages token that is malformed, expired, of an unknown site or client id, or whose
    /// signature does not verify with the site's key.
    #[error(transparent)]
    Portal(#[from] PortalTokenError),
    /// Entra refused it in the OBO call (`invalid_grant`, `interaction_required`): the first line
    /// of Entra's description (`AADSTS500133: …`).
    #[error("{0}")]
    RefusedByEntra(String),
}

/// The one place the errors of the exchange's steps become answers. A peek or verify refusal is
/// the caller's token; an unknown key too; a key set that cannot be fetched is Entra's trouble.
impl From<PeekError> for ExchangeError {
    fn from(e: PeekError) -> Self {
        Self::InvalidSubjectToken(e.into())
    }
}

impl From<PortalTokenError> for ExchangeError {
    fn from(e: PortalTokenError) -> Self {
        Self::InvalidSubjectToken(e.into())
    }
}

impl From<SiteKeyError> for ExchangeError {
    fn from(e: SiteKeyError) -> Self {
        Self::SiteUnreachable(e)
    }
}

impl From<VerifyError> for ExchangeError {
    fn from(e: VerifyError) -> Self {
        Self::InvalidSubjectToken(e.into())
    }
}

impl From<KeyError> for ExchangeError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::UnknownKid { tenant, kid } => {
                Self::InvalidSubjectToken(SubjectTokenError::UnknownKey { tenant, kid })
            }
            fetch @ KeyError::Fetch { .. } => Self::Upstream(UpstreamError::Keys(fetch)),
        }
    }
}

impl ExchangeError {
    /// What Entra's refusal of the OBO call means for the broker. The admin-consent URL is the
    /// exchange's to know (the authority, tenant and client app), not the Entra client's.
    pub fn from_obo(e: OboError, consent_url: impl FnOnce() -> String) -> Self {
        match e {
            OboError::ConsentRequired(message) => Self::ConsentRequired { message, consent_url: consent_url() },
            OboError::Blocked { message, claims } => Self::AccessDenied { message, claims },
            OboError::ClaimsChallenge { message, claims } => Self::InsufficientClaims { message, claims },
            OboError::SubjectTokenRefused(summary) => {
                Self::InvalidSubjectToken(SubjectTokenError::RefusedByEntra(summary))
            }
            OboError::ScopeRefused(summary) => Self::InvalidScope(summary),
            OboError::Unavailable { message, retry_after } => Self::Unavailable { message, retry_after },
            OboError::Upstream(e) => Self::Upstream(e),
            e @ (OboError::ClientRejected(_)
            | OboError::CertificatesRejected { .. }
            | OboError::NoCertificate(_)
            | OboError::Signing(_)) => Self::Internal(e.to_string()),
        }
    }
}

/// Maps a registry denial to the OAuth error a broker can act on. Exhaustive on purpose: a new
/// denial must be given its answer here, not fall into some other one.
impl From<registry::Denial> for ExchangeError {
    fn from(d: registry::Denial) -> Self {
        use registry::Denial as D;
        let message = d.to_string();
        match d {
            D::TenantNotConsented { admin_consent_url, .. } | D::ConsentRevoked { admin_consent_url, .. } => {
                Self::ConsentRequired { message, consent_url: admin_consent_url }
            }
            D::BrokerNotAllowed { .. } => Self::UnauthorizedClient(message),
            D::WorkloadDisabled { .. } | D::SiteDisabled { .. } | D::RoleRequired { .. } => {
                Self::AccessDenied { message, claims: None }
            }
            D::SiteNotAllowed { .. } => Self::UnauthorizedClient(message),
            D::UnknownClientApp { .. }
            | D::UnknownWorkload { .. }
            | D::WorkloadClientMismatch { .. }
            | D::UnknownSite { .. }
            | D::WorkloadRequired { .. }
            | D::DelegatedOnly { .. } => Self::InvalidTarget(message),
            D::MalformedScope { .. }
            | D::NoScope
            | D::MultipleResources { .. }
            | D::DefaultScopeCombined { .. }
            | D::ScopeNotAllowed { .. }
            | D::AppOnlyScope { .. } => Self::InvalidScope(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entra::keys::FetchError;

    fn key_fetch() -> KeyError {
        KeyError::Fetch { tenant: "t".into(), cause: FetchError::Unreachable { kind: "connect" } }
    }

    /// A 502 (Entra's trouble) and a 500 (ours) share the wire code but not the outcome label
    /// that metrics and audit records carry.
    #[test]
    fn upstream_and_internal_errors_have_distinct_outcomes() {
        let upstream = ExchangeError::Upstream(UpstreamError::Unreachable { kind: "connect" });
        let internal = ExchangeError::Internal("no certificate".into());
        assert_eq!(
            (upstream.status(), upstream.oauth_code(), upstream.outcome()),
            (502, "server_error", "upstream_error")
        );
        assert_eq!(
            (internal.status(), internal.oauth_code(), internal.outcome()),
            (500, "server_error", "server_error")
        );
        let refused = ExchangeError::from(PeekError::Expired);
        assert_eq!(refused.outcome(), refused.oauth_code(), "every other outcome is the OAuth code");
    }

    /// The one mapping of the steps' errors: the token's faults are 400 `invalid_grant`, a key set
    /// that cannot be fetched is a 502.
    #[test]
    fn step_errors_map_to_their_answers() {
        assert_eq!(
            ExchangeError::from(PeekError::NoKid),
            ExchangeError::InvalidSubjectToken(SubjectTokenError::Malformed(PeekError::NoKid))
        );
        assert_eq!(
            ExchangeError::from(VerifyError::BadSignature),
            ExchangeError::InvalidSubjectToken(SubjectTokenError::NotAuthentic(VerifyError::BadSignature))
        );
        let unknown = KeyError::UnknownKid { tenant: "t".into(), kid: "k".into() };
        assert_eq!(
            ExchangeError::from(unknown),
            ExchangeError::InvalidSubjectToken(SubjectTokenError::UnknownKey { tenant: "t".into(), kid: "k".into() })
        );
        let fetch = ExchangeError::from(key_fetch());
        assert_eq!(fetch, ExchangeError::Upstream(UpstreamError::Keys(key_fetch())));
        assert_eq!(fetch.status(), 502);
        // What the caller reads names the step.
        assert_eq!(
            ExchangeError::from(VerifyError::BadSignature).public_description(),
            "subject_token rejected: the signature does not verify with the tenant's signing key"
        );
        assert_eq!(
            fetch.public_description(),
            "cannot fetch signing keys for tenant t: Entra could not be reached (connect)"
        );
    }
}
