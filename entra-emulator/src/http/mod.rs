//! The HTTP surface: one router, served on both the plain and the TLS listener.
//!
//! Routes mirror Entra's URL shapes (`/{tenant}/v2.0/.well-known/openid-configuration`,
//! `/{tenant}/oauth2/v2.0/token`, …); `/_admin/…` exists only when the config enables it.
//! Endpoint URLs in responses are built from the request's own scheme and `Host`, so a client
//! that came in over HTTPS on `localhost` is sent to HTTPS on `localhost`.

pub mod admin_api;
pub mod admin_consent;
pub mod authorize;
mod cookie;
pub mod discovery;
pub mod portal;
pub mod sign_in_page;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};

use crate::state::Shared;

/// The listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// TLS.
    Https,
}

/// Handler state: the shared emulator state and which listener this router serves.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Shared state.
    pub shared: Arc<Shared>,
    /// Listener scheme.
    pub scheme: Scheme,
}

impl Ctx {
    /// `scheme://host[:port]` of this request, from the `Host` header when it is a plain
    /// host[:port], else the listener's own address.
    pub fn base(&self, headers: &HeaderMap) -> String {
        let fallback = match self.scheme {
            Scheme::Http => &self.shared.http_base,
            Scheme::Https => &self.shared.https_base,
        };
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
            .map_or_else(|| fallback.clone(), |h| format!("{scheme}://{h}"))
    }
}

/// Builds the router for one listener.
pub fn router(shared: Arc<Shared>, scheme: Scheme) -> Router {
    let admin = shared.config.admin_api;
    let ctx = Ctx { shared, scheme };
    let mut router = Router::new()
        .route("/", get(discovery::index))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(discovery::openid_configuration_v2))
        .route("/{tenant}/.well-known/openid-configuration", get(discovery::openid_configuration_v1))
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys_v2))
        .route("/{tenant}/discovery/keys", get(discovery::keys_v1))
        .route("/{tenant}/discovery/instance", get(discovery::instance_discovery))
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize::authorize).post(authorize::authorize_form))
        .route("/{tenant}/oauth2/v2.0/logout", get(authorize::logout))
        .route("/{tenant}/oauth2/v2.0/token", post(crate::token::token).options(crate::token::preflight))
        .route("/{tenant}/adminconsent", get(admin_consent::show).post(admin_consent::decide))
        .route("/{tenant}/v2.0/adminconsent", get(admin_consent::show).post(admin_consent::decide))
        .route("/_portal/{host}/_services/auth/token", post(portal::token))
        .route("/_portal/{host}/_services/auth/publickey", get(portal::public_key))
        .route("/_portal/{host}/SignIn", get(portal::sign_in_page).post(portal::sign_in))
        .route("/_portal/{host}/", get(portal::home));
    if admin {
        router = router.nest("/_admin", admin_api::router());
    }
    router.with_state(ctx)
}

/// Appends `params` to `uri` as query or fragment (`response_mode`), keeping its own query.
pub fn redirect_with(uri: &str, params: &[(&str, &str)], fragment: bool) -> String {
    let Ok(mut url) = url::Url::parse(uri) else { return uri.to_owned() };
    if fragment {
        let encoded: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        url.set_fragment(Some(&encoded));
    } else {
        url.query_pairs_mut().extend_pairs(params);
    }
    url.to_string()
}

/// A `302 Found` to `location`, as Entra redirects (axum's `Redirect::to` is a 303).
pub fn found(location: &str) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match axum::http::HeaderValue::from_str(location) {
        Ok(v) => (axum::http::StatusCode::FOUND, [(axum::http::header::LOCATION, v)]).into_response(),
        Err(_) => axum::http::StatusCode::BAD_REQUEST.into_response(),
    }
}

/// Minimal HTML escaping for the few pages the emulator renders.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
