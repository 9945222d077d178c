//! RFC 6749 §5.2 error responses (with RFC 6750 `WWW-Authenticate` for claims challenges).
//!
//! Every error the STS answers leaves through [`write`], so every one carries the same headers:
//! the exchange's own refusals ([`OAuthError`]) and the edge's (404, 405, 408, 413, 415, 431 …,
//! shaped by [`super::shape`]).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::entra::claims::to_header_form;
use crate::exchange::ExchangeError;

#[derive(Debug)]
pub struct OAuthError {
    pub error: ExchangeError,
    pub correlation_id: String,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let Self { error, correlation_id } = self;
        if let ExchangeError::Internal(detail) = &error {
            tracing::error!(correlation_id, detail, "internal error");
        }
        let mut body = error_body(error.oauth_code(), &error.public_description(), &correlation_id);
        let mut www_authenticate = None;
        let mut retry_after = None;
        match &error {
            ExchangeError::ConsentRequired { consent_url, .. } => body["consent_url"] = json!(consent_url),
            ExchangeError::InsufficientClaims { claims, .. } => {
                let encoded = to_header_form(claims);
                www_authenticate = Some(format!("Bearer error=\"insufficient_claims\", claims=\"{encoded}\""));
                body["claims"] = json!(encoded);
            }
            ExchangeError::AccessDenied { claims: Some(claims), .. } => body["claims"] = json!(to_header_form(claims)),
            ExchangeError::Unavailable { retry_after: d, .. } => retry_after = Some(d.as_secs().max(1).to_string()),
            _ => {}
        }
        let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = write(status, body);
        let headers = response.headers_mut();
        if let Some(v) = www_authenticate.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// An RFC 6749 error body with `error`, `error_description` and `correlation_id`.
pub fn error_body(code: &str, description: &str, correlation_id: &str) -> serde_json::Value {
    json!({ "error": code, "error_description": description, "correlation_id": correlation_id })
}

/// The one writer of error responses: JSON, never stored by a browser or proxy (RFC 6749 §5.1
/// asks it of token responses, and an error names the user's tenant and workload).
pub fn write(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    crate::http::token::no_store(&mut response);
    response
}
