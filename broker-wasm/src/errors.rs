//! The broker's one error type and the pure mappings onto it from what the STS, Entra's token
//! endpoint and the authorize redirect answer. In the browser a [`BrokerError`] becomes a
//! `TokenBrokerError` object (see `tessera-broker.d.ts`).

use alloc::borrow::ToOwned;
use alloc::string::String;

use alloc::borrow::Cow;

use crate::b64;
use crate::text::cat;

/// The `code` of a `TokenBrokerError`: the closed set of the v1 window API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The user must sign in (or step up): call again with `interactive: "ifRequired"` from a click.
    InteractionRequired,
    /// A tenant admin has not consented to the workload: show `consentUrl`.
    ConsentRequired,
    /// The browser refused the popup (no user gesture).
    PopupBlocked,
    /// The user closed the sign-in popup or declined.
    UserCancelled,
    /// The caller's request or configuration is wrong; retrying will not help.
    InvalidRequest,
    /// The STS or Entra refused or failed; see `retryable`.
    StsError,
    /// The STS or Entra could not be reached.
    NetworkError,
    /// A request or the sign-in took too long.
    Timeout,
    /// `signOut()` ran (in this tab or another of the origin) while the call was in flight.
    UserSignedOut,
}

impl ErrorCode {
    /// The wire name used by the window API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InteractionRequired => "interaction_required",
            Self::ConsentRequired => "consent_required",
            Self::PopupBlocked => "popup_blocked",
            Self::UserCancelled => "user_cancelled",
            Self::InvalidRequest => "invalid_request",
            Self::StsError => "sts_error",
            Self::NetworkError => "network_error",
            Self::Timeout => "timeout",
            Self::UserSignedOut => "user_signed_out",
        }
    }
}

/// One failure, with everything a control needs to react to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// Human-readable detail (never contains a token).
    pub description: Cow<'static, str>,
    /// The `x-correlation-id` of the STS call, or Entra's correlation id, when there was one.
    pub correlation_id: Option<String>,
    /// Whether trying the same call again later can succeed.
    pub retryable: bool,
    /// A claims challenge (raw JSON) the next interactive sign-in will satisfy.
    pub claims: Option<String>,
    /// The admin-consent URL to show, for `consent_required`.
    pub consent_url: Option<String>,
}

impl BrokerError {
    /// An error with the default retryability of its code.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            correlation_id: None,
            retryable: matches!(code, ErrorCode::NetworkError | ErrorCode::Timeout),
            claims: None,
            consent_url: None,
        }
    }

    /// Sets `retryable`.
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Sets the correlation id.
    pub fn correlated(mut self, id: Option<String>) -> Self {
        self.correlation_id = id;
        self
    }
}

/// The JSON error body of the STS (`error`, `error_description`, …), as far as it was present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StsErrorBody {
    /// OAuth error code.
    pub error: Option<String>,
    /// Detail.
    pub error_description: Option<String>,
    /// The STS's correlation id (echo of ours).
    pub correlation_id: Option<String>,
    /// Admin-consent URL, with `consent_required`.
    pub consent_url: Option<String>,
    /// Base64 of the claims JSON, with `insufficient_claims`.
    pub claims: Option<String>,
}

/// What a failed `POST {sts}/token` means for the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsFailure {
    /// Step-up needed: sign in interactively with these claims (raw JSON), then retry once.
    Challenge {
        /// The decoded claims request.
        claims: String,
        /// Correlation id of the failed call.
        correlation_id: Option<String>,
    },
    /// The STS rejected the user token itself (`invalid_grant`): a fresh one may pass.
    SubjectRejected(BrokerError),
    /// Anything else: give this to the caller.
    Failed(BrokerError),
}

/// Maps a non-200 STS answer (status, JSON body, `WWW-Authenticate`, `Retry-After`).
/// `sent_correlation_id` is ours, used when the body has none.
pub fn from_sts(
    status: u16,
    body: &StsErrorBody,
    www_authenticate: Option<&str>,
    retry_after: Option<&str>,
    sent_correlation_id: &str,
    authority: &str,
) -> StsFailure {
    let correlation_id = Some(body.correlation_id.clone().unwrap_or_else(|| sent_correlation_id.to_owned()));
    let error = body.error.as_deref().unwrap_or("");
    let description = describe("STS: ", error, body.error_description.as_deref());
    let fail = |code: ErrorCode, retryable: bool, description: String| {
        BrokerError::new(code, description).retryable(retryable).correlated(correlation_id.clone())
    };
    if status == 401 && error == "insufficient_claims" {
        let encoded = body.claims.clone().or_else(|| www_authenticate.and_then(|h| auth_param(h, "claims")));
        return match encoded.as_deref().and_then(decode_claims) {
            Some(claims) => StsFailure::Challenge { claims, correlation_id },
            None => StsFailure::Failed(fail(
                ErrorCode::StsError,
                false,
                cat(&[&description, " (challenge without readable claims)"]),
            )),
        };
    }
    match (status, error) {
        (403, "consent_required") => {
            let mut e = fail(ErrorCode::ConsentRequired, false, description);
            // Only a page of the pinned authority: the STS must not send the user elsewhere (and
            // none without one: Power Pages mode has no authority; the Power Apps bundle always has one).
            e.consent_url = body.consent_url.clone().filter(|u| {
                (!cfg!(feature = "power-pages") || !authority.is_empty())
                    && u.as_bytes().get(authority.len()) == Some(&b'/')
                    && u.starts_with(authority)
            });
            StsFailure::Failed(e)
        }
        (400, "invalid_grant") => StsFailure::SubjectRejected(fail(ErrorCode::StsError, false, description)),
        (400, _) => StsFailure::Failed(fail(ErrorCode::InvalidRequest, false, description)),
        (429 | 503, _) => {
            let d = match retry_after {
                Some(secs) => cat(&[&description, " (retry after ", secs.trim(), " s)"]),
                None => description,
            };
            StsFailure::Failed(fail(ErrorCode::StsError, true, d))
        }
        (500..=599, _) => StsFailure::Failed(fail(ErrorCode::StsError, true, description)),
        _ => StsFailure::Failed(fail(ErrorCode::StsError, false, description)),
    }
}

/// An Entra token-endpoint error (code redemption or refresh), from its JSON body fields.
/// `claims` is Entra's JSON *string* (not base64).
pub fn from_entra_token_error(
    status: u16,
    error: &str,
    suberror: Option<&str>,
    description: Option<&str>,
    claims: Option<&str>,
    correlation_id: Option<String>,
) -> BrokerError {
    let d = describe("Entra: ", error, description);
    let (code, retryable) = match (error, suberror) {
        (_, Some("consent_required")) | ("consent_required", _) => (ErrorCode::ConsentRequired, false),
        ("invalid_grant" | "interaction_required" | "login_required", _) => (ErrorCode::InteractionRequired, false),
        ("temporarily_unavailable" | "server_error", _) => (ErrorCode::StsError, true),
        _ if status == 429 || status >= 500 => (ErrorCode::StsError, true),
        _ => (ErrorCode::StsError, false),
    };
    let mut e = BrokerError::new(code, d).retryable(retryable).correlated(correlation_id);
    e.claims = claims.filter(|c| !c.trim().is_empty()).map(str::to_owned);
    e
}

/// An `error` coming back to the redirect page instead of a code.
pub fn from_authorize_error(error: &str, subcode: Option<&str>, description: Option<&str>) -> BrokerError {
    let d = describe("sign-in: ", error, description);
    let (code, retryable) = match (error, subcode) {
        // Entra answers access_denied (subcode `cancel`) when the user declines the prompt.
        ("access_denied", _) => (ErrorCode::UserCancelled, false),
        ("consent_required", _) => (ErrorCode::ConsentRequired, false),
        ("interaction_required" | "login_required", _) => (ErrorCode::InteractionRequired, false),
        ("temporarily_unavailable" | "server_error", _) => (ErrorCode::StsError, true),
        ("invalid_request" | "unsupported_response_type" | "invalid_scope", _) => (ErrorCode::InvalidRequest, false),
        _ => (ErrorCode::StsError, false),
    };
    BrokerError::new(code, d).retryable(retryable)
}

/// `"<who>: <error>: <first line of description>"`. Entra's descriptions carry trace and
/// correlation lines after the first; the first says it all.
fn describe(who: &str, error: &str, description: Option<&str>) -> String {
    let error = if error.is_empty() { "HTTP error" } else { error };
    match description.and_then(|d| d.lines().next()) {
        Some(first) => cat(&[who, error, ": ", first]),
        None => cat(&[who, error]),
    }
}

/// Base64 `claims` → the raw JSON claims request; `None` unless it decodes to a JSON object.
fn decode_claims(encoded: &str) -> Option<String> {
    let bytes = b64::decode(encoded).ok()?;
    let text = crate::text::utf8(bytes)?;
    text.trim_start().starts_with('{').then_some(text)
}

/// One `name="value"` (or `name=token`) parameter of a `WWW-Authenticate: Bearer …` header.
pub fn auth_param(header: &str, name: &str) -> Option<String> {
    let mut rest = header.trim();
    rest = rest.strip_prefix("Bearer").or_else(|| rest.strip_prefix("bearer")).unwrap_or(rest);
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            // Quoted-string: a backslash escapes the next character (RFC 9110 §5.6.4).
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, quoted.get(end..).unwrap_or_default())
        } else {
            let (token, next) = after.split_at_checked(after.find(',').unwrap_or(after.len())).unwrap_or((after, ""));
            (token.trim().to_owned(), next)
        };
        if key.trim().eq_ignore_ascii_case(name) {
            return Some(value);
        }
        rest = next;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
