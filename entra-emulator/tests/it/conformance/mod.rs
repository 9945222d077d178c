//! The Rust ecosystem's own OAuth 2.0 / OpenID Connect clients — oauth2-rs and openidconnect-rs —
//! as independent clients of the emulator, beside MSAL Python (`interop/msal`). They know nothing
//! of the emulator: where they accept its answers, a standards-following client of Entra would too.
//!
//! Both speak HTTP through the tree's reqwest 0.12 (`env.http`, which trusts the emulator's CA and
//! follows no redirects, as oauth2-rs asks of its HTTP clients).

mod oauth;
mod oidc;

use oauth2::http::HeaderValue;
use oauth2::http::header::ORIGIN;
use oauth2::{
    AsyncHttpClient, ErrorResponseType, HttpClientError, HttpRequest, RequestTokenError, StandardErrorResponse,
};

use crate::common::{Env, SPA_ORIGIN};

/// `env.http` sending `Origin` as the broker's browser page does: the emulator, like Entra, redeems
/// a SPA's codes and refresh tokens only cross-origin (AADSTS9002327), and oauth2-rs's typed
/// requests have no way to add a header, so the header goes in at the HTTP client seam.
#[derive(Debug)]
pub struct SpaHttp(reqwest::Client);

impl SpaHttp {
    pub fn new(env: &Env) -> Self {
        Self(env.http.clone())
    }
}

impl<'c> AsyncHttpClient<'c> for SpaHttp {
    type Error = <reqwest::Client as AsyncHttpClient<'c>>::Error;
    type Future = <reqwest::Client as AsyncHttpClient<'c>>::Future;

    fn call(&'c self, mut request: HttpRequest) -> Self::Future {
        request.headers_mut().insert(ORIGIN, HeaderValue::from_static(SPA_ORIGIN));
        self.0.call(request)
    }
}

/// The typed error body of a refused token request, after asserting the library parsed it as one
/// (not as a transport or parse failure), with Entra's `AADSTS{code}: ` description prefix.
pub fn server_error<T: ErrorResponseType + std::fmt::Display + 'static>(
    err: RequestTokenError<HttpClientError<reqwest::Error>, StandardErrorResponse<T>>,
    code: u32,
) -> StandardErrorResponse<T> {
    let RequestTokenError::ServerResponse(body) = err else { panic!("not an OAuth error response: {err:?}") };
    let description = body.error_description().map(String::as_str).unwrap_or_default();
    assert!(description.starts_with(&format!("AADSTS{code}: ")), "{body:?}");
    body
}
