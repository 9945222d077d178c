//! Entra's error responses, exactly as the token endpoint sends them.
//!
//! Inside, each validator has its own typed error (thiserror); at the edge each becomes an
//! [`EntraError`]: an OAuth `error` code, an `AADSTSnnnn:` number and message, optional
//! `suberror` and `claims`. Rendering adds what Entra adds: the Trace ID / Correlation ID /
//! Timestamp lines in `error_description`, `error_codes`, `timestamp`, `trace_id`,
//! `correlation_id`, `error_uri`, HTTP 401 for `invalid_client` and `Retry-After` when throttling.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tessera_wire::aadsts;
use time::OffsetDateTime;

/// The OAuth `error` values Entra uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthError {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client` (HTTP 401)
    InvalidClient,
    /// `invalid_grant`
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// `invalid_resource`
    InvalidResource,
    /// `interaction_required`
    InteractionRequired,
    /// `consent_required` (authorize redirects)
    ConsentRequired,
    /// `access_denied`
    AccessDenied,
    /// `temporarily_unavailable`
    TemporarilyUnavailable,
    /// `server_error`
    ServerError,
    /// `invalid_tenant` (discovery of an unknown tenant)
    InvalidTenant,
}

impl OAuthError {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        use tessera_wire::error as code;
        match self {
            Self::InvalidRequest => code::INVALID_REQUEST,
            Self::InvalidClient => code::INVALID_CLIENT,
            Self::InvalidGrant => code::INVALID_GRANT,
            Self::UnauthorizedClient => code::UNAUTHORIZED_CLIENT,
            Self::UnsupportedGrantType => code::UNSUPPORTED_GRANT_TYPE,
            Self::InvalidScope => code::INVALID_SCOPE,
            // Entra's own codes, which only the emulator speaks.
            Self::InvalidResource => "invalid_resource",
            Self::InteractionRequired => code::INTERACTION_REQUIRED,
            Self::ConsentRequired => code::CONSENT_REQUIRED,
            Self::AccessDenied => code::ACCESS_DENIED,
            Self::TemporarilyUnavailable => code::TEMPORARILY_UNAVAILABLE,
            Self::ServerError => code::SERVER_ERROR,
            Self::InvalidTenant => "invalid_tenant",
        }
    }
}

/// One Entra error, before rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraError {
    /// HTTP status.
    pub status: StatusCode,
    /// OAuth error code.
    pub error: OAuthError,
    /// The AADSTS number.
    pub code: u32,
    /// The message after `AADSTSnnnn: `.
    pub message: String,
    /// `suberror`, e.g. `consent_required`, `basic_action`, `message_only`.
    pub suberror: Option<&'static str>,
    /// The claims challenge (raw JSON; sent as a JSON *string*).
    pub claims: Option<String>,
    /// Seconds for `Retry-After` (429 / 503).
    pub retry_after: Option<u64>,
}

impl EntraError {
    /// An error with HTTP 400, or 401 for `invalid_client`.
    pub fn new(error: OAuthError, code: u32, message: impl Into<String>) -> Self {
        let status =
            if error == OAuthError::InvalidClient { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
        Self { status, error, code, message: message.into(), suberror: None, claims: None, retry_after: None }
    }

    /// Sets the `suberror`.
    pub fn with_suberror(mut self, suberror: &'static str) -> Self {
        self.suberror = Some(suberror);
        self
    }

    /// Sets the claims challenge.
    pub fn with_claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into());
        self
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// AADSTS900144: a required body parameter is missing.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            OAuthError::InvalidRequest,
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    /// AADSTS90002: unknown tenant.
    pub fn tenant_not_found(tenant: &str) -> Self {
        Self::new(
            OAuthError::InvalidRequest,
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        )
    }

    /// AADSTS700016: the app is not registered in the tenant.
    pub fn app_not_found(client_id: &str, tenant: &str) -> Self {
        Self::new(
            OAuthError::UnauthorizedClient,
            aadsts::APP_NOT_IN_TENANT,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    /// AADSTS65001: no consent for the client on the resource.
    pub fn consent_required(client_id: &str, client_name: &str) -> Self {
        Self::new(
            OAuthError::InvalidGrant,
            aadsts::CONSENT_MISSING,
            format!(
                "The user or administrator has not consented to use the application with ID '{client_id}' named '{client_name}'. Send an interactive authorization request for this user and resource."
            ),
        )
        .with_suberror(tessera_wire::error::CONSENT_REQUIRED)
    }

    /// The full `error_description`, as Entra formats it.
    pub fn description(&self, ids: &ResponseIds) -> String {
        format!(
            "AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            self.code, self.message, ids.trace_id, ids.correlation_id, ids.timestamp
        )
    }

    /// The JSON body.
    pub fn body(&self, ids: &ResponseIds, base: &str) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), json!(self.error.as_str()));
        body.insert("error_description".into(), json!(self.description(ids)));
        body.insert("error_codes".into(), json!([self.code]));
        body.insert("timestamp".into(), json!(ids.timestamp));
        body.insert("trace_id".into(), json!(ids.trace_id));
        body.insert("correlation_id".into(), json!(ids.correlation_id));
        body.insert("error_uri".into(), json!(format!("{base}/error?code={}", self.code)));
        if let Some(suberror) = self.suberror {
            body.insert("suberror".into(), json!(suberror));
        }
        if let Some(claims) = &self.claims {
            body.insert("claims".into(), json!(claims));
        }
        Value::Object(body)
    }

    /// The complete HTTP response.
    pub fn into_response_with(self, ids: &ResponseIds, base: &str) -> Response {
        let body = self.body(ids, base);
        let mut headers = no_store_headers();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        (self.status, headers, axum::Json(body)).into_response()
    }
}

/// The per-response identifiers Entra stamps on errors.
#[derive(Debug, Clone)]
pub struct ResponseIds {
    /// A fresh GUID per response.
    pub trace_id: String,
    /// The caller's `client-request-id` header if it sent one, else a fresh GUID.
    pub correlation_id: String,
    /// `2016-01-09 02:02:12Z`.
    pub timestamp: String,
}

impl ResponseIds {
    /// Ids for a response to a request with these headers, at `now`.
    pub fn new(headers: &HeaderMap, now: OffsetDateTime) -> Self {
        let correlation_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| uuid::Uuid::parse_str(v).is_ok())
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        Self { trace_id: uuid::Uuid::new_v4().to_string(), correlation_id, timestamp: entra_timestamp(now) }
    }
}

/// Entra's timestamp format: `2016-01-09 02:02:12Z`.
pub fn entra_timestamp(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    at.format(&format).unwrap_or_default()
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, as on every token response.
pub fn no_store_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_client_is_401_and_others_400() {
        assert_eq!(EntraError::new(OAuthError::InvalidClient, 700027, "x").status, StatusCode::UNAUTHORIZED);
        assert_eq!(EntraError::new(OAuthError::InvalidGrant, 50013, "x").status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn body_has_entra_shape() {
        let ids =
            ResponseIds { trace_id: "t".into(), correlation_id: "c".into(), timestamp: "2016-01-09 02:02:12Z".into() };
        let e = EntraError::consent_required("id", "name").with_claims("{\"a\":1}");
        let body = e.body(&ids, "http://h");
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["suberror"], "consent_required");
        assert_eq!(body["error_codes"], json!([65001]));
        assert_eq!(body["claims"], "{\"a\":1}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.starts_with("AADSTS65001: "));
        assert!(description.ends_with("Timestamp: 2016-01-09 02:02:12Z"));
    }

    #[test]
    fn timestamp_format() {
        let at = time::macros::datetime!(2016-01-09 02:02:12 UTC);
        assert_eq!(entra_timestamp(at), "2016-01-09 02:02:12Z");
    }
}
