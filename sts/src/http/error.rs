//! RFC 6749 §5.2 error responses (with RFC 6750 `WWW-Authenticate` for claims challenges).

use axum::Json;
use axum::http::{HeaderValue, header};
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
        let mut body = json!({
            "error": error.oauth_code(),
            "error_description": error.public_description(),
            "correlation_id": correlation_id,
        });
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
        let mut response = (error.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(v) = www_authenticate.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::RETRY_AFTER, v);
        }
        response
    }
}
