//! `GET /{tenant}/oauth2/v2.0/authorize`: the authorization-code request, answered without a
//! UI by signing in a configured user (the `login_hint`, or the tenant's first user).
//!
//! As at Entra: an unknown client or an unregistered redirect URI gets an error *page* (never
//! a redirect to an unverified URI); every later problem is redirected back with `error`,
//! `error_description` and `state` in the requested `response_mode`. SPA redirect URIs need
//! PKCE with S256. A `claims` request is remembered: tokens from this sign-in carry the
//! satisfied policies in `acrs` (which is what clears an injected MFA step-up) and `xms_cc`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use crate::directory::{Directory, Tenant, TenantRef, consent};
use crate::http::{Ctx, html_escape, redirect_with};
use crate::state::{CodeRecord, Session};

/// Authorization codes live ten minutes.
const CODE_LIFETIME_SECS: i64 = 600;

/// Query parameters of an authorize request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuthorizeQuery {
    client_id: Option<String>,
    response_type: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    response_mode: Option<String>,
    prompt: Option<String>,
    login_hint: Option<String>,
    claims: Option<String>,
}

fn error_page(status: StatusCode, code: u32, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><title>Sign in error</title></head><body><h1>Sorry, but we’re having trouble signing you in.</h1><p id=\"error\">AADSTS{code}: {}</p></body></html>",
        html_escape(message)
    );
    (status, Html(body)).into_response()
}

/// Where and how to send the answer.
struct Reply<'a> {
    redirect_uri: &'a str,
    mode: &'a str,
    state: Option<&'a str>,
}

impl Reply<'_> {
    fn send(&self, mut params: Vec<(&str, String)>) -> Response {
        if let Some(state) = self.state {
            params.push(("state", state.to_owned()));
        }
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        match self.mode {
            "form_post" => {
                let inputs: String = pairs
                    .iter()
                    .map(|(k, v)| {
                        format!("<input type=\"hidden\" name=\"{}\" value=\"{}\"/>", html_escape(k), html_escape(v))
                    })
                    .collect();
                Html(format!(
                    "<!doctype html><html><body onload=\"document.forms[0].submit()\"><form method=\"POST\" action=\"{}\">{inputs}</form></body></html>",
                    html_escape(self.redirect_uri)
                ))
                .into_response()
            }
            mode => crate::http::found(&redirect_with(self.redirect_uri, &pairs, mode == "fragment")),
        }
    }

    fn error(&self, error: &str, code: u32, message: &str) -> Response {
        self.send(vec![("error", error.to_owned()), ("error_description", format!("AADSTS{code}: {message}"))])
    }
}

/// Picks the tenant and user: the `login_hint`'s, else the first user of the tenant (or, for
/// `common`/`organizations`, of the first tenant where the client is registered).
fn sign_in<'d>(
    dir: &'d Directory,
    tref: TenantRef<'d>,
    client_id: &str,
    hint: Option<&str>,
) -> Result<(&'d Tenant, String), String> {
    let tenant = match (tref, hint) {
        (TenantRef::Specific(t), _) => t,
        (_, Some(h)) => {
            dir.tenant_of_upn(h).ok_or_else(|| format!("The user account {h} does not exist in any directory."))?
        }
        (_, None) => dir
            .tenants
            .iter()
            .find(|t| t.app(client_id).is_some() && !t.users.is_empty())
            .ok_or_else(|| "No tenant has this application and a user.".to_owned())?,
    };
    let user = match hint {
        Some(h) => tenant
            .user(h)
            .ok_or_else(|| format!("The user account {h} does not exist in the {} directory.", tenant.id))?,
        None => tenant.users.first().ok_or_else(|| format!("The {} directory has no users.", tenant.id))?,
    };
    Ok((tenant, user.oid.clone()))
}

/// Values under `access_token.capolids` / `access_token.acrs` in a claims request.
fn satisfied_policies(claims: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["capolids", "acrs"] {
        if let Some(entry) = claims.pointer(&format!("/access_token/{key}")) {
            if let Some(values) = entry.get("values").and_then(Value::as_array) {
                out.extend(values.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            if let Some(v) = entry.get("value").and_then(Value::as_str) {
                out.push(v.to_owned());
            }
        }
    }
    out
}

/// `GET /{tenant}/oauth2/v2.0/authorize`.
pub async fn authorize(
    State(ctx): State<Ctx>,
    Path(tenant): Path<String>,
    Query(q): Query<AuthorizeQuery>,
) -> Response {
    let shared = &ctx.shared;
    let dir = shared.dir();
    let Some(tref) = dir.resolve(&tenant) else {
        return error_page(StatusCode::BAD_REQUEST, 90002, &format!("Tenant '{tenant}' not found."));
    };
    let Some(client_id) = q.client_id.as_deref().map(str::to_ascii_lowercase) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let known_somewhere = match tref {
        TenantRef::Specific(t) => t.app(&client_id),
        _ => dir.tenants.iter().find_map(|t| t.app(&client_id)),
    };
    let Some(any_registration) = known_somewhere else {
        return error_page(
            StatusCode::BAD_REQUEST,
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'."),
        );
    };
    let redirect_uri = q.redirect_uri.clone().unwrap_or_default();
    if !any_registration.is_registered_redirect(&redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            50011,
            &format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal."
            ),
        );
    }
    let spa = any_registration.is_spa_redirect(&redirect_uri);
    let reply = Reply {
        redirect_uri: &redirect_uri,
        mode: q.response_mode.as_deref().unwrap_or("query"),
        state: q.state.as_deref(),
    };

    if q.response_type.as_deref() != Some("code") {
        return reply.error(
            "unsupported_response_type",
            700054,
            &format!(
                "response_type '{}' is not enabled for the application.",
                q.response_type.as_deref().unwrap_or("")
            ),
        );
    }
    let method = q.code_challenge_method.clone().or_else(|| q.code_challenge.as_ref().map(|_| "plain".to_owned()));
    if spa {
        if q.code_challenge.is_none() {
            return reply.error(
                "invalid_request",
                9002325,
                "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
            );
        }
        if method.as_deref() != Some("S256") {
            return reply.error(
                "invalid_request",
                90023,
                "Invalid request. Single-page applications must use code_challenge_method 'S256'.",
            );
        }
    } else if method.as_deref().is_some_and(|m| m != "S256" && m != "plain") {
        return reply.error(
            "invalid_request",
            90023,
            "Invalid request. code_challenge_method must be 'S256' or 'plain'.",
        );
    }

    let claims_request = match q.claims.as_deref().map(serde_json::from_str::<Value>) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => return reply.error("invalid_request", 90014, "The 'claims' parameter is not valid JSON."),
    };

    let (tenant, oid) = match sign_in(&dir, tref, &client_id, q.login_hint.as_deref()) {
        Ok(found) => found,
        Err(message) => return reply.error("invalid_request", 50034, &message),
    };
    let Some(client) = tenant.app(&client_id) else {
        return reply.error(
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory '{}'.", tenant.id),
        );
    };
    let scope = q.scope.clone().unwrap_or_default();
    let resolved = match crate::token::delegated::resolve_scopes(tenant, &scope) {
        Ok(r) => r,
        Err(e) => return reply.error(e.error.as_str(), e.code, &e.message),
    };
    if consent::decide_delegated(tenant, client, resolved.app, &resolved.names).is_err() {
        let e = crate::error::EntraError::consent_required(&client.client_id, &client.display_name);
        return reply.error("consent_required", e.code, &e.message);
    }

    let now = shared.now().unix_timestamp();
    let client_info = crate::jwt::claims::client_info(&oid, &tenant.id);
    let code = shared.store_code(CodeRecord {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        spa,
        scope,
        code_challenge: q.code_challenge.clone(),
        code_challenge_method: method,
        nonce: q.nonce.clone(),
        xms_cc: claims_request
            .as_ref()
            .and_then(|c| c.pointer("/access_token/xms_cc/values"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
        session: Session {
            tid: tenant.id.clone(),
            oid,
            auth_time: now,
            acrs: claims_request.as_ref().map(satisfied_policies).unwrap_or_default(),
        },
        expires_at: now + CODE_LIFETIME_SECS,
        redeemed: false,
    });
    // Every `prompt` value (none, login, consent, select_account) signs the configured user in
    // without a UI, so `q.prompt` changes nothing.
    let _ = &q.prompt;
    reply.send(vec![("code", code), ("client_info", client_info), ("session_state", uuid::Uuid::new_v4().to_string())])
}

/// Query of the logout endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogoutQuery {
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// `GET /{tenant}/oauth2/v2.0/logout`: nothing to clear (no browser session); redirects back.
pub async fn logout(Query(q): Query<LogoutQuery>) -> Response {
    match q.post_logout_redirect_uri {
        Some(uri) => {
            let params: Vec<(&str, &str)> = q.state.as_deref().map(|s| vec![("state", s)]).unwrap_or_default();
            crate::http::found(&redirect_with(&uri, &params, false))
        }
        None => Html("<!doctype html><html><body><p>You have signed out.</p></body></html>").into_response(),
    }
}
