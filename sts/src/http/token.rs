//! `POST /token`: the RFC 8693 token exchange.

use std::task::Poll;
use std::time::Duration;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::answer;
use super::correlation::CorrelationId;
use super::error::OAuthError;
use crate::exchange::{ExchangeError, RequestError, parse_form};
use crate::state::AppState;

pub async fn token(
    State(state): State<AppState>,
    Extension(CorrelationId(correlation_id)): Extension<CorrelationId>,
    request: Request,
) -> Response {
    let refuse = |error| OAuthError { error, correlation_id: correlation_id.clone() }.into_response();
    if !is_form(request.headers()) {
        return unread_body(refuse(ExchangeError::InvalidRequest(RequestError::NotAForm)));
    }
    // One deadline for the whole body: hyper times the headers, nothing times a body that trickles
    // in a byte at a time (tower-http's body timeout restarts at every frame). Armed only when the
    // body is not already there: a token request's few KB nearly always arrive with its head, and
    // arming and dropping a timer (the runtime's timer wheel, its lock, the clock) on every
    // request was ~1k of a cached exchange's instructions.
    let limit = Duration::from_secs(state.config.server.body_read_timeout_secs.max(1));
    let mut read = std::pin::pin!(Bytes::from_request(request, &state));
    let first = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
    let read = match first {
        Poll::Ready(result) => Ok(result),
        Poll::Pending => tokio::time::timeout(limit, read).await,
    };
    let body = match read {
        Ok(Ok(b)) => b,
        Ok(Err(rejection)) => {
            let error = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                RequestError::BodyTooLarge { max_bytes: state.config.server.max_body_bytes }
            } else {
                RequestError::BodyUnreadable(rejection.body_text())
            };
            return unread_body(refuse(ExchangeError::InvalidRequest(error)));
        }
        Err(_elapsed) => {
            let error = RequestError::BodyTimeout { secs: limit.as_secs() };
            return unread_body(refuse(ExchangeError::InvalidRequest(error)));
        }
    };
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return refuse(e),
    };
    match state.exchanger.exchange(form, &correlation_id).await {
        Ok(issued) => {
            let expires_in = (issued.token.expires_at - crate::clock::unix_now()).max(0);
            let json = answer::issued(issued.token.access_token.expose(), expires_in, &issued.token.scope);
            let mut response =
                ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json).into_response();
            no_store(&mut response);
            response
        }
        Err(error) => refuse(error),
    }
}

/// An answer given before the whole body was read: hyper will close the connection after it (the
/// rest of the body is still on the wire), so say so — a client that reused the connection for
/// its next request would otherwise see it closed without an answer.
pub fn unread_body(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// `application/x-www-form-urlencoded`, with or without parameters such as `charset`.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// Token responses must never be cached by browsers or proxies (RFC 6749 §5.1).
pub fn no_store(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
