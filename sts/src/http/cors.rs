//! CORS for browser callers (the broker runs inside `https://<org>.crm4.dynamics.com` pages).
//!
//! tower-http does the protocol work (preflight, `Vary`, headers); this module only decides which
//! origins match the configured patterns, because tower-http has exact origins or a predicate but
//! no host wildcards. The patterns are [`OriginPattern`]s, parsed with the configuration.

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::origin::OriginPattern;

/// The CORS layer for the browser-facing routes. No credentials: the broker sends tokens in the
/// body, never cookies.
pub fn layer(patterns: Vec<OriginPattern>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin.to_str().is_ok_and(|o| patterns.iter().any(|p| p.matches(o)))
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static("x-correlation-id"),
            HeaderName::from_static("client-request-id"),
        ])
        .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER, HeaderName::from_static("x-correlation-id")])
        .max_age(std::time::Duration::from_secs(600))
}
