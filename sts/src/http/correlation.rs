//! Correlation ids: taken from `client-request-id` (what MSAL sends) or `x-correlation-id`, or made
//! up; echoed back as `x-correlation-id`, put in every log line of the request and in audit records.
//!
//! This outermost layer also shapes every answer (see [`super::shape`]) and turns a panic anywhere
//! below it into an answer. Without it hyper drops the connection of a panicking request: the
//! caller sees a reset with nothing to report, and nothing is counted. Here it becomes `500 server_error` with the correlation id, an error log
//! line and `tessera_panics_total`. It lives here because this layer knows the correlation id.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tracing::Instrument;

use super::error::OAuthError;
use super::shape;
use crate::config::ServerConfig;
use crate::exchange::ExchangeError;
use crate::metrics::Metrics;

/// What the edge layer needs, cloned per request (one reference count and two numbers).
#[derive(Debug, Clone)]
pub struct Edge {
    pub metrics: Arc<Metrics>,
    pub limits: shape::Limits,
}

impl Edge {
    /// The edge of a server with this configuration (the public one and the operators' one).
    pub fn new(metrics: Arc<Metrics>, config: &ServerConfig) -> Self {
        let limits = shape::Limits { max_header_bytes: config.max_header_bytes, max_body_bytes: config.max_body_bytes };
        Self { metrics, limits }
    }
}

/// The request's correlation id, as a request extension.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

pub async fn middleware(State(edge): State<Edge>, mut request: Request, next: Next) -> Response {
    let id = ["x-correlation-id", "client-request-id"]
        .iter()
        .filter_map(|h| request.headers().get(*h))
        .filter_map(|v| v.to_str().ok())
        .find(|v| acceptable(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    request.extensions_mut().insert(CorrelationId(id.clone()));
    let span =
        tracing::info_span!("request", correlation_id = %id, method = %request.method(), path = %request.uri().path());
    // AssertUnwindSafe: after a panic the request's own state is dropped, never reused; shared
    // state behind mutexes is read with `PoisonError::into_inner` throughout, and caches and the
    // registry snapshot are replaced whole, so a half-done request leaves nothing inconsistent.
    let shaped = shape::around(edge.limits, &id, request, next);
    let mut response = match AssertUnwindSafe(shaped.instrument(span.clone())).catch_unwind().await {
        Ok(response) => response,
        Err(_payload) => {
            // The payload is not logged: a panic message may quote request data. The panic hook
            // has already printed its location on stderr.
            edge.metrics.panics.inc();
            span.in_scope(|| tracing::error!(correlation_id = %id, "the request panicked; answered 500"));
            panicked(&id)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-correlation-id", v);
    }
    response
}

/// `500 server_error`, through the same writer as every other OAuth error (never cached).
fn panicked(correlation_id: &str) -> Response {
    OAuthError {
        error: ExchangeError::Internal("a request handler panicked".into()),
        correlation_id: correlation_id.to_owned(),
    }
    .into_response()
}

/// Caller-supplied ids end up in logs: keep them short and boring.
fn acceptable(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::Router;
    use axum::routing::get;
    use serde_json::Value;

    use super::*;

    async fn boom() -> &'static str {
        panic!("injected by the test")
    }

    /// A router with a panicking route behind the same layer `http::router` uses, served on
    /// loopback: the caller gets an OAuth 500 on a connection that stays usable.
    #[tokio::test]
    async fn a_panic_is_answered_counted_and_keeps_the_connection() {
        crate::crypto::install_provider(); // for reqwest's rustls, whichever test runs first
        let metrics = Arc::new(Metrics::new());
        let router = Router::new().route("/boom", get(boom)).route("/fine", get(|| async { "fine" })).layer(
            axum::middleware::from_fn_with_state(Edge::new(Arc::clone(&metrics), &ServerConfig::default()), middleware),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        // One connection for every request: a dropped connection would fail the next one.
        let http = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();

        for round in 1..=2_u32 {
            let r = http
                .get(format!("http://{addr}/boom"))
                .header("client-request-id", format!("panic-test-{round}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 500);
            assert_eq!(r.headers()["cache-control"], "no-store");
            assert_eq!(r.headers()["pragma"], "no-cache");
            assert_eq!(r.headers()["x-correlation-id"], format!("panic-test-{round}").as_str());
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "server_error");
            assert_eq!(body["correlation_id"], format!("panic-test-{round}"));
            assert!(!body.to_string().contains("injected"), "the panic message is not shown: {body}");
            assert!(metrics.render().contains(&format!("tessera_panics_total {round}")), "{}", metrics.render());
        }
        let r = http.get(format!("http://{addr}/fine")).send().await.unwrap();
        assert_eq!(r.status(), 200, "the server still answers after two panics");
        assert!(metrics.render().contains("tessera_panics_total 2"));
        server.abort();
    }
}
