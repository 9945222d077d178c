//! Correlation ids: taken from `client-request-id` (what MSAL sends) or `x-correlation-id`, or made
//! up; echoed back as `x-correlation-id`, put in every log line of the request and in audit records.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The request's correlation id, as a request extension.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

pub async fn middleware(mut request: Request, next: Next) -> Response {
    let id = ["x-correlation-id", "client-request-id"]
        .iter()
        .filter_map(|h| request.headers().get(*h))
        .filter_map(|v| v.to_str().ok())
        .find(|v| acceptable(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    request.extensions_mut().insert(CorrelationId(id.clone()));
    let span =
        tracing::info_span!("request", correlation_id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = next.run(request).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-correlation-id", v);
    }
    response
}

/// Caller-supplied ids end up in logs: keep them short and boring.
fn acceptable(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
