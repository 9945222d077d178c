//! Every response is shaped: what the router, the body limit or hyper's service refuse with a bare
//! status (404, 405, 413 …) leaves as RFC 6749 JSON with the correlation id, through the one error
//! writer — and requests whose headers exceed `server.max_header_bytes` are refused with 431 here,
//! before any handler runs.
//!
//! Done around the whole router, rather than per route, so that a route added later cannot answer
//! an error in another shape. Called by the correlation layer (one middleware, not two: each
//! `from_fn` layer clones the service below it and boxes a future on every request).

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{self, OAuthError};
use super::token::unread_body;
use crate::exchange::{ExchangeError, RequestError};

/// The two limits the shaping names (copied per request: no reference counts on the hot path).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub max_body_bytes: usize,
}

/// Runs the request through `next` (the router), refusing oversized heads first and shaping bare
/// error answers after.
pub async fn around(limits: Limits, correlation_id: &str, request: Request, next: Next) -> Response {
    let bytes = head_bytes(&request);
    if bytes > limits.max_header_bytes {
        let error = RequestError::HeadersTooLarge { bytes, max_bytes: limits.max_header_bytes };
        // The rest of an oversized request is not worth reading.
        let correlation_id = correlation_id.to_owned();
        return unread_body(OAuthError { error: ExchangeError::InvalidRequest(error), correlation_id }.into_response());
    }
    let method = request.method().clone();
    let uri = request.uri().clone(); // shares the request's bytes: no copy
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let description = match status {
        StatusCode::NOT_FOUND => format!("no endpoint at {}; the token exchange is POST /token", clip(uri.path())),
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on {}", clip(uri.path())),
        StatusCode::PAYLOAD_TOO_LARGE => RequestError::BodyTooLarge { max_bytes: limits.max_body_bytes }.to_string(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported Content-Type".to_owned(),
        other => other.canonical_reason().unwrap_or("the request failed").to_owned(),
    };
    let code = match status {
        StatusCode::SERVICE_UNAVAILABLE => tessera_wire::error::TEMPORARILY_UNAVAILABLE,
        s if s.is_server_error() => tessera_wire::error::SERVER_ERROR,
        _ => tessera_wire::error::INVALID_REQUEST,
    };
    let (mut parts, _bare_body) = response.into_parts();
    let mut shaped = error::write(status, error::error_body(code, &description, correlation_id));
    // Keep what the refusal said in headers (`Allow` on 405, CORS headers …), in the JSON shape.
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in parts.headers.drain().filter_map(|(n, v)| n.map(|n| (n, v))) {
        shaped.headers_mut().entry(name).or_insert(value);
    }
    shaped
}

/// The request line and header fields as they came on the wire (give or take the spaces).
fn head_bytes(request: &Request) -> usize {
    let target = request.uri().path_and_query().map_or(1, |p| p.as_str().len());
    let line = request.method().as_str().len().saturating_add(target).saturating_add(12);
    request.headers().iter().fold(line, |sum, (name, value)| {
        sum.saturating_add(name.as_str().len()).saturating_add(value.len()).saturating_add(4)
    })
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("application/problem+json"))
}

/// Paths come from the client: echo a bounded, printable prefix only.
fn clip(path: &str) -> String {
    path.chars().take(100).filter(|c| !c.is_control()).collect()
}
