//! `GET /{tenant}/oauth2/v2.0/authorize`: the authorization-code request.
//!
//! Two modes (`server.sign_in_page`). Off (the default, for tests and benchmarks driving it
//! without a browser): a configured user is signed in without a UI (the `login_hint`, or the
//! tenant's first user) and `prompt` changes nothing. On: a person meets Entra's pages
//! ([`super::sign_in_page`]) — an account picker, a consent prompt when consent is missing or
//! `prompt=consent` — whose forms `POST` back here; a browser session cookie makes the next
//! sign-in one click, and `prompt=none` silent (or `login_required` / `interaction_required`).
//!
//! As at Entra: an unknown client or an unregistered redirect URI gets an error *page* (never
//! a redirect to an unverified URI); every later problem is redirected back with `error`,
//! `error_description` and `state` in the requested `response_mode`. SPA redirect URIs need
//! PKCE with S256. A `claims` request is remembered: tokens from this sign-in carry the
//! satisfied policies in `acrs` (which is what clears an injected MFA step-up) and `xms_cc`.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::sign_in_page::{self, BrowserSession, PickerKind};
use crate::directory::{App, Directory, Tenant, TenantRef, consent};
use crate::http::{Ctx, html_escape, redirect_with};
use crate::state::{CodeRecord, Session};
use tessera_wire::aadsts;

/// Authorization codes live ten minutes.
const CODE_LIFETIME_SECS: i64 = 600;

/// Query parameters of an authorize request (and the form fields of the sign-in pages, which
/// carry the request along).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
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
    /// Sign-in page step (`signin`, `consent`); only read from a `POST`.
    #[serde(skip_serializing)]
    ui_step: Option<String>,
    /// The account picked (object id).
    #[serde(skip_serializing)]
    ui_account: Option<String>,
    /// The consent decision (`accept`, `cancel`).
    #[serde(skip_serializing)]
    ui_decision: Option<String>,
}

impl AuthorizeQuery {
    /// The request's own parameters, as the sign-in pages' hidden fields.
    fn hidden_fields(&self) -> Vec<(String, String)> {
        let Ok(Value::Object(map)) = serde_json::to_value(self) else { return Vec::new() };
        map.into_iter().filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned()))).collect()
    }
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
    headers: HeaderMap,
    Query(mut q): Query<AuthorizeQuery>,
) -> Response {
    // The page steps come only from the pages' own forms (POST).
    q.ui_step = None;
    q.ui_account = None;
    q.ui_decision = None;
    handle(&ctx, &tenant, &headers, q)
}

/// `POST /{tenant}/oauth2/v2.0/authorize`: a sign-in page's form (the request again, plus the
/// person's choice). Without `server.sign_in_page` there are no pages, so nothing posts here.
pub async fn authorize_form(
    State(ctx): State<Ctx>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(q): Form<AuthorizeQuery>,
) -> Response {
    if !ctx.shared.config.sign_in_page {
        return error_page(StatusCode::METHOD_NOT_ALLOWED, 900561, "The endpoint only accepts GET requests.");
    }
    handle(&ctx, &tenant, &headers, q)
}

/// A checked request: where to answer, and what to put in the code.
struct Checked<'q> {
    reply: Reply<'q>,
    redirect_uri: &'q str,
    spa: bool,
    method: Option<String>,
    claims_request: Option<Value>,
}

fn handle(ctx: &Ctx, tenant: &str, headers: &HeaderMap, q: AuthorizeQuery) -> Response {
    if ctx.shared.config.sign_in_page {
        record_consent(ctx, tenant, headers, &q);
    }
    let shared = &ctx.shared;
    let dir = shared.dir();
    let Some(tref) = dir.resolve(tenant) else {
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
            aadsts::APP_NOT_IN_TENANT,
            &format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'."),
        );
    };
    let redirect_uri = q.redirect_uri.as_deref().unwrap_or_default();
    if !any_registration.is_registered_redirect(redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            50011,
            &format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal."
            ),
        );
    }
    let spa = any_registration.is_spa_redirect(redirect_uri);
    let reply = Reply { redirect_uri, mode: q.response_mode.as_deref().unwrap_or("query"), state: q.state.as_deref() };

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
    let checked = Checked { reply, redirect_uri, spa, method, claims_request };

    if shared.config.sign_in_page {
        return interactive(ctx, tenant, tref, &client_id, headers, &q, checked);
    }

    let (tenant, oid) = match sign_in(&dir, tref, &client_id, q.login_hint.as_deref()) {
        Ok(found) => found,
        Err(message) => return checked.reply.error("invalid_request", 50034, &message),
    };
    let client = match client_and_consent(tenant, &client_id, &q, &checked.reply) {
        Ok((client, None)) => client,
        Ok((client, Some(_))) => {
            let e = crate::error::EntraError::consent_required(&client.client_id, &client.display_name);
            return checked.reply.error("consent_required", e.code, &e.message);
        }
        Err(answer) => return *answer,
    };
    let now = shared.now().unix_timestamp();
    issue(ctx, &q, &checked, tenant, client, &oid, now, None)
}

/// The client in `tenant` and, when its consent for the requested scopes is missing, the
/// scopes a consent prompt would ask for (`Err`: the redirect to send instead).
fn client_and_consent<'t>(
    tenant: &'t Tenant,
    client_id: &str,
    q: &AuthorizeQuery,
    reply: &Reply<'_>,
) -> Result<(&'t App, Option<Vec<String>>), Box<Response>> {
    let Some(client) = tenant.app(client_id) else {
        return Err(Box::new(reply.error(
            "unauthorized_client",
            aadsts::APP_NOT_IN_TENANT,
            &format!("Application with identifier '{client_id}' was not found in the directory '{}'.", tenant.id),
        )));
    };
    let scope = q.scope.clone().unwrap_or_default();
    let resolved = match crate::token::delegated::resolve_scopes(tenant, &scope) {
        Ok(r) => r,
        Err(e) => return Err(Box::new(reply.error(e.error.as_str(), e.code, &e.message))),
    };
    let missing = consent::decide_delegated(tenant, client, resolved.app, &resolved.names)
        .is_err()
        .then(|| resolved.names.iter().map(|n| format!("{}/{n}", resolved.app.client_id)).collect());
    Ok((client, missing))
}

/// Stores the code and redirects back with it (and the session cookie, when one was started).
#[allow(clippy::too_many_arguments)]
fn issue(
    ctx: &Ctx,
    q: &AuthorizeQuery,
    checked: &Checked<'_>,
    tenant: &Tenant,
    client: &App,
    oid: &str,
    auth_time: i64,
    set_cookie: Option<HeaderValue>,
) -> Response {
    let shared = &ctx.shared;
    let now = shared.now().unix_timestamp();
    let client_info = crate::jwt::claims::client_info(oid, &tenant.id);
    let claims_request = checked.claims_request.as_ref();
    let code = shared.store_code(CodeRecord {
        client_id: client.client_id.clone(),
        redirect_uri: checked.redirect_uri.to_owned(),
        spa: checked.spa,
        scope: q.scope.clone().unwrap_or_default(),
        code_challenge: q.code_challenge.clone(),
        code_challenge_method: checked.method.clone(),
        nonce: q.nonce.clone(),
        xms_cc: claims_request
            .and_then(|c| c.pointer("/access_token/xms_cc/values"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
        session: Session {
            tid: tenant.id.clone(),
            oid: oid.to_owned(),
            auth_time,
            acrs: claims_request.map(satisfied_policies).unwrap_or_default(),
        },
        expires_at: now + CODE_LIFETIME_SECS,
        redeemed: false,
    });
    let mut res = checked.reply.send(vec![
        ("code", code),
        ("client_info", client_info),
        ("session_state", uuid::Uuid::new_v4().to_string()),
    ]);
    if let Some(cookie) = set_cookie {
        res.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    res
}

/// `prompt` values Entra v2.0 knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    Default,
    None,
    Login,
    Consent,
    SelectAccount,
}

/// The sign-in with pages (`server.sign_in_page`): picker → (consent) → code.
fn interactive(
    ctx: &Ctx,
    tenant_segment: &str,
    tref: TenantRef<'_>,
    client_id: &str,
    headers: &HeaderMap,
    q: &AuthorizeQuery,
    checked: Checked<'_>,
) -> Response {
    let reply = &checked.reply;
    let prompt = match q.prompt.as_deref() {
        None | Some("") => Prompt::Default,
        Some("none") => Prompt::None,
        // `create` asks for a sign-up page; the emulator's users are configured, so it signs in.
        Some("login" | "create") => Prompt::Login,
        Some("consent") => Prompt::Consent,
        Some("select_account") => Prompt::SelectAccount,
        Some(other) => {
            return reply.error(
                "invalid_request",
                90023,
                &format!("Invalid prompt value '{other}': use 'login', 'none', 'consent' or 'select_account'."),
            );
        }
    };
    let shared = &ctx.shared;
    let dir = shared.dir();
    let emulator = shared.http_base.as_str();
    let session = sign_in_page::current(headers, emulator);
    let hint = q.login_hint.as_deref().filter(|h| !h.is_empty());
    // The tenant: the URL's, else the session's, else the hint's or the first with this client.
    let tenant = match tref {
        TenantRef::Specific(t) => t,
        _ => match session.as_ref().and_then(|s| dir.tenants.iter().find(|t| t.id == s.tid)) {
            Some(t) if t.app(client_id).is_some() => t,
            _ => match sign_in(&dir, tref, client_id, hint) {
                Ok((t, _)) => t,
                Err(message) => return reply.error("invalid_request", 50034, &message),
            },
        },
    };
    let session = session.filter(|s| s.tid == tenant.id);
    let hinted = match hint {
        Some(h) => match tenant.user(h) {
            Some(u) => Some(u),
            None => {
                return reply.error(
                    "invalid_request",
                    50034,
                    &format!("The user account {h} does not exist in the {} directory.", tenant.id),
                );
            }
        },
        None => None,
    };
    let app_name = tenant.app(client_id).map_or(client_id, |a| a.display_name.as_str()).to_owned();
    let action = format!("/{tenant_segment}/oauth2/v2.0/authorize");
    let hidden = q.hidden_fields();
    let now = shared.now().unix_timestamp();

    match q.ui_step.as_deref() {
        // The person picked an account: a new browser session, then consent or the code.
        Some("signin") => {
            let Some(user) = q.ui_account.as_deref().and_then(|a| tenant.user(a)) else {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    50034,
                    "The account picked does not exist in this directory.",
                );
            };
            let cookie = sign_in_page::start(BrowserSession {
                emulator: emulator.to_owned(),
                tid: tenant.id.clone(),
                oid: user.oid.clone(),
                auth_time: now,
            });
            let (client, missing) = match client_and_consent(tenant, client_id, q, reply) {
                Ok(found) => found,
                Err(answer) => return *answer,
            };
            match missing {
                Some(scopes) => {
                    sign_in_page::consent(&action, &hidden, &client.display_name, user, &scopes, Some(cookie))
                }
                None if prompt == Prompt::Consent => {
                    sign_in_page::consent(&action, &hidden, &client.display_name, user, &requested(q), Some(cookie))
                }
                None => issue(ctx, q, &checked, tenant, client, &user.oid, now, Some(cookie)),
            }
        }
        // The consent prompt's answer, by the person of this browser's session.
        Some("consent") => {
            let Some(session) = session else {
                return sign_in_page::picker(&action, &hidden, tenant, &app_name, PickerKind::SignIn, hinted);
            };
            let (client, missing) = match client_and_consent(tenant, client_id, q, reply) {
                Ok(found) => found,
                Err(answer) => return *answer,
            };
            if q.ui_decision.as_deref() != Some("accept") {
                return reply.error("access_denied", 65004, "User declined to consent to access the app.");
            }
            if missing.is_some() {
                // `record_consent` ran before this request's directory read (see `handle`).
                return reply.error("server_error", 500, "Could not record the consent.");
            }
            issue(ctx, q, &checked, tenant, client, &session.oid, session.auth_time, None)
        }
        Some(other) => error_page(StatusCode::BAD_REQUEST, 900144, &format!("Unknown sign-in step '{other}'.")),
        None => {
            let session_user = session.as_ref().and_then(|s| tenant.user(&s.oid));
            if prompt == Prompt::None {
                let Some(user) = session_user else {
                    return reply.error(
                        "login_required",
                        50058,
                        "A silent sign-in request was sent but no user is signed in.",
                    );
                };
                if hinted.is_some_and(|h| h.oid != user.oid) {
                    return reply.error(
                        "interaction_required",
                        16000,
                        "The user signed in to this browser is not the one the login_hint names: an interactive sign-in is needed.",
                    );
                }
                let auth_time = session.as_ref().map_or(now, |s| s.auth_time);
                return match client_and_consent(tenant, client_id, q, reply) {
                    Ok((client, None)) => issue(ctx, q, &checked, tenant, client, &user.oid, auth_time, None),
                    Ok((client, Some(_))) => {
                        let e = crate::error::EntraError::consent_required(&client.client_id, &client.display_name);
                        reply.error("consent_required", e.code, &e.message)
                    }
                    Err(answer) => *answer,
                };
            }
            let (kind, first) = match (prompt, session_user) {
                (Prompt::SelectAccount, _) => (PickerKind::SelectAccount, None),
                (Prompt::Login, _) | (_, None) => (PickerKind::SignIn, hinted),
                // With a session and a hint for another account, the hinted one is offered first.
                (_, Some(u)) if hinted.is_some_and(|h| h.oid != u.oid) => (PickerKind::SignIn, hinted),
                (_, Some(u)) => (PickerKind::Continue, Some(u)),
            };
            sign_in_page::picker(&action, &hidden, tenant, &app_name, kind, first)
        }
    }
}

/// The requested scopes, as the consent prompt lists them.
fn requested(q: &AuthorizeQuery) -> Vec<String> {
    q.scope.as_deref().unwrap_or_default().split_whitespace().map(str::to_owned).collect()
}

/// Records the consent an accepted prompt asked for (the client, for the requested scopes of
/// their resource), when the person of this browser's session accepted and it is still missing.
/// Runs before `handle` reads the directory: the grant writes to it, and a write while this
/// request holds a read would deadlock. The emulator keeps delegated consent per tenant, not per
/// user, so accepting grants it for the tenant (as "consent on behalf of your organization").
fn record_consent(ctx: &Ctx, tenant_segment: &str, headers: &HeaderMap, q: &AuthorizeQuery) {
    if q.ui_step.as_deref() != Some("consent") || q.ui_decision.as_deref() != Some("accept") {
        return;
    }
    let shared = &ctx.shared;
    let Some(session) = sign_in_page::current(headers, &shared.http_base) else { return };
    let client_id = q.client_id.as_deref().unwrap_or_default();
    let grant = {
        let dir = shared.dir();
        let tenant = match dir.resolve(tenant_segment) {
            Some(TenantRef::Specific(t)) => Some(t),
            Some(_) => dir.tenants.iter().find(|t| t.id == session.tid),
            None => None,
        };
        tenant.filter(|t| t.id == session.tid).and_then(|tenant| {
            // Only for a request `handle` would then accept (known client, registered redirect).
            let redirect_uri = q.redirect_uri.as_deref()?;
            let client = tenant.app(client_id).filter(|c| c.is_registered_redirect(redirect_uri))?;
            let resolved =
                crate::token::delegated::resolve_scopes(tenant, q.scope.as_deref().unwrap_or_default()).ok()?;
            consent::decide_delegated(tenant, client, resolved.app, &resolved.names).is_err().then(|| {
                let grant = crate::config::ConsentConfig {
                    client_id: client.client_id.clone(),
                    resource: resolved.app.client_id.clone(),
                    scopes: resolved.names.clone(),
                };
                (tenant.id.clone(), grant)
            })
        })
    };
    if let Some((tid, grant)) = grant
        && let Err(e) = crate::admin::Admin::new(shared.clone()).grant_consent(&tid, grant)
    {
        tracing::warn!(error = %e, "the emulator could not record an accepted consent");
    }
}

/// Query of the logout endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogoutQuery {
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// `GET /{tenant}/oauth2/v2.0/logout`: ends the browser session of the sign-in pages (if any),
/// then redirects back.
pub async fn logout(headers: HeaderMap, Query(q): Query<LogoutQuery>) -> Response {
    let mut res = match q.post_logout_redirect_uri {
        Some(uri) => {
            let params: Vec<(&str, &str)> = q.state.as_deref().map(|s| vec![("state", s)]).unwrap_or_default();
            crate::http::found(&redirect_with(&uri, &params, false))
        }
        None => Html("<!doctype html><html><body><p>You have signed out.</p></body></html>").into_response(),
    };
    res.headers_mut().insert(header::SET_COOKIE, sign_in_page::end(&headers));
    res
}
