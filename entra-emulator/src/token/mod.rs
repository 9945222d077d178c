//! `POST /{tenant}/oauth2/v2.0/token`: parses the form, counts the request, dispatches by
//! grant type (one file per grant), applies injected latency, and renders the JSON answer
//! with `Cache-Control: no-store` and — only for the origin of a SPA redirect URI of the
//! calling client — CORS headers.

mod auth_code;
mod client_auth;
mod client_credentials;
pub(crate) mod delegated;
mod obo;
mod refresh;

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::counters::GrantKind;
use crate::directory::{Tenant, TenantRef};
use crate::error::{EntraError, OAuthError, ResponseIds, no_store_headers};
use crate::faults::{FaultContext, Stage};
use crate::http::Ctx;
use crate::state::Shared;

/// The form of a token request. `Debug` lists parameter names only: values include
/// assertions, codes and refresh tokens.
pub(crate) struct TokenForm(BTreeMap<String, String>);

impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TokenForm").field(&self.0.keys().collect::<Vec<_>>()).finish()
    }
}

impl TokenForm {
    fn parse(body: &[u8]) -> Self {
        let mut map = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        Self(map)
    }
}

/// One token request in flight.
#[derive(Debug)]
pub(crate) struct TokenCall<'a> {
    pub shared: &'a Shared,
    /// `scheme://host` the request came to.
    pub base: String,
    /// The tenant segment of the URL.
    pub tenant_segment: String,
    pub form: TokenForm,
    /// The `Origin` header (browsers send it cross-origin).
    pub origin: Option<String>,
    /// Now (unix seconds).
    pub now: i64,
    /// Latency injected by faults.
    pub delay_ms: u64,
}

impl TokenCall<'_> {
    /// A non-empty parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A required parameter (AADSTS900144 when missing).
    pub fn required(&self, name: &str) -> Result<&str, EntraError> {
        self.param(name).ok_or_else(|| EntraError::missing_parameter(name))
    }

    /// Fires the faults matching this request at `stage`: adds latency, returns the failure.
    pub fn faults(&mut self, ctx: &FaultContext<'_>, stage: Stage, resource: &str) -> Result<(), EntraError> {
        let fired = self.shared.faults().fire(ctx, stage);
        self.delay_ms += fired.delay_ms;
        match fired.failure.and_then(|k| crate::faults::to_error(&k, resource)) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The token endpoints this host serves for `tenant`: what a client assertion's `aud` may be.
    pub fn assertion_audiences(&self, tenant: &Tenant) -> Vec<String> {
        let mut segments = vec![tenant.id.clone(), self.tenant_segment.clone()];
        segments.extend(tenant.domains.iter().cloned());
        segments
            .iter()
            .flat_map(|s| [format!("{}/{s}/oauth2/v2.0/token", self.base), format!("{}/{s}/oauth2/token", self.base)])
            .collect()
    }

    /// The specific tenant of the URL; OBO and client credentials refuse `common`/`organizations`.
    pub fn specific_tenant<'d>(&self, dir: &'d crate::directory::Directory) -> Result<&'d Tenant, EntraError> {
        match dir.resolve(&self.tenant_segment) {
            Some(TenantRef::Specific(t)) => Ok(t),
            Some(_) => Err(EntraError::new(
                OAuthError::InvalidRequest,
                9001023,
                "The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
            )),
            None => Err(EntraError::tenant_not_found(&self.tenant_segment)),
        }
    }

    /// Whether `client_info=1` was sent.
    pub fn wants_client_info(&self) -> bool {
        self.param("client_info") == Some("1")
    }
}

/// A successful token response body.
pub(crate) fn success_body(
    access_token: String,
    expires_in: i64,
    scope: Option<String>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    client_info: Option<String>,
) -> Value {
    let mut body = json!({ "token_type": "Bearer" });
    if let Some(obj) = body.as_object_mut() {
        if let Some(scope) = scope {
            obj.insert("scope".into(), json!(scope));
        }
        obj.insert("expires_in".into(), json!(expires_in));
        obj.insert("ext_expires_in".into(), json!(expires_in));
        obj.insert("access_token".into(), json!(access_token));
        for (name, value) in [("refresh_token", refresh_token), ("id_token", id_token), ("client_info", client_info)] {
            if let Some(v) = value {
                obj.insert(name.into(), json!(v));
            }
        }
    }
    body
}

/// A server-side failure while signing (should not happen).
pub(crate) fn internal(e: &anyhow::Error) -> EntraError {
    tracing::error!(error = %e, "token signing failed");
    EntraError::new(OAuthError::ServerError, 50000, "There was an error issuing a token.")
        .with_status(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token(State(ctx): State<Ctx>, Path(tenant): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let shared = ctx.shared.clone();
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()).map(str::to_owned);
    let mut call = TokenCall {
        shared: &shared,
        base: ctx.base(&headers),
        tenant_segment: tenant,
        form: TokenForm::parse(&body),
        origin: origin.clone(),
        now: shared.now().unix_timestamp(),
        delay_ms: 0,
    };
    let client_id = call.param("client_id").unwrap_or_default().to_ascii_lowercase();
    let result = dispatch(&mut call, &client_id);
    if call.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(call.delay_ms)).await;
    }
    let mut response = match result {
        Ok((grant, body)) => {
            shared.counters.issued(grant, &client_id);
            (StatusCode::OK, no_store_headers(), Json(body)).into_response()
        }
        Err(e) => {
            tracing::info!(code = e.code, error = e.error.as_str(), client_id = %client_id, "token request refused");
            e.into_response_with(&ResponseIds::new(&headers, shared.now()), &call.base)
        }
    };
    if let Some(origin) = origin
        && spa_origin_allowed(&shared, &client_id, &origin)
        && let Ok(v) = HeaderValue::from_str(&origin)
    {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

fn dispatch(call: &mut TokenCall<'_>, client_id: &str) -> Result<(GrantKind, Value), EntraError> {
    let grant_type = call.required("grant_type")?.to_owned();
    let grant = GrantKind::from_wire(&grant_type).ok_or_else(|| {
        EntraError::new(
            OAuthError::UnsupportedGrantType,
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        )
    })?;
    call.shared.counters.request(grant, client_id);
    let body = match grant {
        GrantKind::AuthorizationCode => auth_code::run(call)?,
        GrantKind::RefreshToken => refresh::run(call)?,
        GrantKind::OnBehalfOf => obo::run(call)?,
        GrantKind::ClientCredentials => client_credentials::run(call)?,
    };
    Ok((grant, body))
}

fn spa_origin_allowed(shared: &Shared, client_id: &str, origin: &str) -> bool {
    let dir = shared.dir();
    dir.tenants.iter().filter_map(|t| t.app(client_id)).any(|a| a.allows_spa_origin(origin))
}

/// `OPTIONS` preflight: allowed for origins of SPA redirect URIs registered in the directory.
pub async fn preflight(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()).unwrap_or_default();
    let allowed = ctx.shared.dir().tenants.iter().flat_map(|t| t.apps.iter()).any(|a| a.allows_spa_origin(origin));
    let mut response = StatusCode::NO_CONTENT.into_response();
    if allowed && let Ok(v) = HeaderValue::from_str(origin) {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
        let requested = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            requested.unwrap_or_else(|| HeaderValue::from_static("content-type")),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_debug_shows_parameter_names_never_values() {
        let form = TokenForm::parse(b"grant_type=client_credentials&client_assertion=eyJSECRET&refresh_token=1.RT");
        let printed = format!("{form:?}");
        assert!(printed.contains("client_assertion") && printed.contains("refresh_token"));
        assert!(!printed.contains("eyJSECRET") && !printed.contains("1.RT"));
    }

    #[test]
    fn first_value_of_a_repeated_parameter_wins() {
        let form = TokenForm::parse(b"scope=a&scope=b");
        assert_eq!(form.0.get("scope").map(String::as_str), Some("a"));
    }
}
