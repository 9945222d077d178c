//! OpenID Connect discovery (v2 and v1 shapes), the JWKS, and MSAL's instance discovery.
//!
//! As at Entra: a tenant-specific document names that tenant's id in every URL and issuer;
//! `common`/`organizations` documents keep the segment in URLs and carry the issuer template
//! `…/{tenantid}/v2.0`. JWKS keys carry `kid`, `x5t`, `x5c` and (v2 only) an `issuer`.
//! Discovery and keys answer cross-origin requests (`Access-Control-Allow-Origin: *`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::directory::TenantRef;
use crate::error::{EntraError, OAuthError, ResponseIds};
use crate::http::Ctx;

const TEMPLATE: &str = "{tenantid}";

fn public_json(body: Value) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=86400, private"));
    (headers, Json(body)).into_response()
}

/// `invalid_tenant` / AADSTS90002, as discovery answers for an unknown tenant.
fn unknown_tenant(ctx: &Ctx, headers: &HeaderMap, tenant: &str) -> Response {
    let mut e = EntraError::tenant_not_found(tenant);
    e.error = OAuthError::InvalidTenant;
    e.into_response_with(&ResponseIds::new(headers, ctx.shared.now()), &ctx.base(headers))
}

/// Resolves the tenant segment to (URL segment, issuer tenant part), or `None` if unknown.
fn resolve(ctx: &Ctx, tenant: &str) -> Option<(String, String)> {
    let dir = ctx.shared.dir();
    dir.resolve(tenant).map(|r| match r {
        TenantRef::Specific(t) => (t.id.clone(), t.id.clone()),
        other => (other.segment().to_owned(), TEMPLATE.to_owned()),
    })
}

/// `GET /` — a pointer for humans.
pub async fn index(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    let base = ctx.base(&headers);
    let tenants: Vec<String> = ctx.shared.dir().tenants.iter().map(|t| t.id.clone()).collect();
    Json(json!({
        "service": "entra-emulator",
        "tenants": tenants,
        "discovery": tenants.iter().map(|t| format!("{base}/{t}/v2.0/.well-known/openid-configuration")).collect::<Vec<_>>(),
    }))
    .into_response()
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub async fn openid_configuration_v2(
    State(ctx): State<Ctx>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((seg, iss_tenant)) = resolve(&ctx, &tenant) else { return unknown_tenant(&ctx, &headers, &tenant) };
    let base = ctx.base(&headers);
    let t = format!("{base}/{seg}");
    public_json(json!({
        "token_endpoint": format!("{t}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{t}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": ctx.shared.issuer_v2(&iss_tenant),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{t}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{t}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{t}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
            "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{t}/kerberos"),
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
}

/// `GET /{tenant}/.well-known/openid-configuration` (v1 metadata).
pub async fn openid_configuration_v1(
    State(ctx): State<Ctx>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((seg, iss_tenant)) = resolve(&ctx, &tenant) else { return unknown_tenant(&ctx, &headers, &tenant) };
    let base = ctx.base(&headers);
    let t = format!("{base}/{seg}");
    public_json(json!({
        "token_endpoint": format!("{t}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{t}/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": ctx.shared.issuer_v1(&iss_tenant),
        "microsoft_multi_refresh_token": true,
        "authorization_endpoint": format!("{t}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{t}/oauth2/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{t}/oauth2/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name",
            "family_name", "nickname"],
        "check_session_iframe": format!("{t}/oauth2/checksession"),
        "userinfo_endpoint": format!("{t}/openid/userinfo"),
        "kerberos_endpoint": format!("{t}/kerberos"),
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
}

/// `GET /{tenant}/discovery/v2.0/keys`.
pub async fn keys_v2(State(ctx): State<Ctx>, Path(tenant): Path<String>, headers: HeaderMap) -> Response {
    let Some((_, iss_tenant)) = resolve(&ctx, &tenant) else { return unknown_tenant(&ctx, &headers, &tenant) };
    let issuer = ctx.shared.issuer_v2(&iss_tenant);
    let keys: Vec<Value> = ctx.shared.keys().published().map(|k| k.jwk(Some(&issuer))).collect();
    public_json(json!({ "keys": keys }))
}

/// `GET /{tenant}/discovery/keys` (v1: same keys, no `issuer` unless
/// `server.v1_keys_carry_v2_issuer` asks for the v2 template).
pub async fn keys_v1(State(ctx): State<Ctx>, Path(tenant): Path<String>, headers: HeaderMap) -> Response {
    if resolve(&ctx, &tenant).is_none() {
        return unknown_tenant(&ctx, &headers, &tenant);
    }
    let template = ctx.shared.config.v1_keys_carry_v2_issuer.then(|| ctx.shared.issuer_v2("{tenantid}"));
    let keys: Vec<Value> = ctx.shared.keys().published().map(|k| k.jwk(template.as_deref())).collect();
    public_json(json!({ "keys": keys }))
}

/// Query of MSAL's instance discovery.
#[derive(Debug, serde::Deserialize)]
pub struct InstanceQuery {
    /// The authorize endpoint being validated.
    #[serde(default)]
    authorization_endpoint: Option<String>,
}

/// `GET /common/discovery/instance` — what MSAL.NET / msal-node ask to validate an authority:
/// this host is its own only alias.
pub async fn instance_discovery(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Query(q): Query<InstanceQuery>,
) -> Response {
    let base = ctx.base(&headers);
    let host = base.split("://").nth(1).unwrap_or_default().to_owned();
    let tenant = q
        .authorization_endpoint
        .as_deref()
        .and_then(|a| url::Url::parse(a).ok())
        .and_then(|u| u.path_segments().and_then(|mut s| s.next().map(str::to_owned)))
        .unwrap_or_else(|| "common".to_owned());
    public_json(json!({
        "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{ "preferred_network": host, "preferred_cache": host, "aliases": [host] }],
    }))
}
