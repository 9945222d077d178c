//! The admin-consent page: what `https://login.microsoftonline.com/{tid}/adminconsent?client_id=…`
//! (v1) or `/{tid}/v2.0/adminconsent?client_id=…&scope=…` (v2) opens.
//!
//! `GET` shows the app and the permissions it asks for, with Accept / Cancel buttons that
//! `POST` back to the same URL (or, with `admin_consent_auto_accept`, grants at once).
//! Accepting grants the app's required permissions (or the v2 `scope` list) and covers its
//! known client applications, then redirects to `redirect_uri` with `admin_consent=True`,
//! `tenant` and `state` as Entra does, or shows a confirmation page when there is none.

use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::admin::Admin;
use crate::directory::TenantRef;
use crate::http::{Ctx, html_escape, redirect_with};

/// Query parameters of a consent URL.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsentQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    scope: Option<String>,
}

/// The button pressed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Decision {
    decision: String,
}

fn html_page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body><h1>{t}</h1>{body}</body></html>",
            t = html_escape(title)
        )),
    )
        .into_response()
}

/// A consent URL that passed validation.
struct Checked {
    tid: String,
    client_id: String,
    name: String,
    shown: Vec<String>,
}

/// The error page for a consent URL Entra would refuse to act on.
fn refused(message: &str) -> Response {
    html_page(StatusCode::BAD_REQUEST, "Sign in error", &format!("<p>{}</p>", html_escape(message)))
}

/// Validates the consent URL: tenant, app, and (if given) a registered redirect URI.
fn check(ctx: &Ctx, tenant: &str, q: &ConsentQuery) -> Result<Checked, String> {
    let dir = ctx.shared.dir();
    let client_id = q.client_id.clone().unwrap_or_default().to_ascii_lowercase();
    let t = match dir.resolve(tenant) {
        Some(TenantRef::Specific(t)) => t,
        Some(_) => dir
            .tenants
            .iter()
            .find(|t| t.app(&client_id).is_some())
            .ok_or_else(|| format!("AADSTS700016: Application '{client_id}' was not found."))?,
        None => return Err(format!("AADSTS90002: Tenant '{tenant}' not found.")),
    };
    let app = t.app(&client_id).ok_or_else(|| {
        format!("AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{}'.", t.id)
    })?;
    if let Some(uri) = &q.redirect_uri
        && !app.is_registered_redirect(uri)
    {
        return Err(format!(
            "AADSTS50011: The redirect URI '{uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."
        ));
    }
    let shown = match &q.scope {
        Some(s) => s.split_whitespace().map(str::to_owned).collect(),
        None => app.required_scopes.clone(),
    };
    Ok(Checked { tid: t.id.clone(), client_id: app.client_id.clone(), name: app.display_name.clone(), shown })
}

fn requested_scopes(q: &ConsentQuery) -> Option<Vec<String>> {
    q.scope.as_ref().map(|s| s.split_whitespace().map(str::to_owned).collect())
}

fn finish(ctx: &Ctx, q: &ConsentQuery, tid: &str, client_id: &str, accept: bool) -> Response {
    if accept {
        let scopes = requested_scopes(q);
        if let Err(e) = Admin::new(ctx.shared.clone()).grant_admin_consent(tid, client_id, scopes.as_deref()) {
            return html_page(
                StatusCode::BAD_REQUEST,
                "Consent failed",
                &format!("<p>{}</p>", html_escape(&e.to_string())),
            );
        }
    }
    match &q.redirect_uri {
        Some(uri) => {
            let mut params: Vec<(&str, &str)> = if accept {
                vec![("admin_consent", "True"), ("tenant", tid)]
            } else {
                vec![
                    ("error", "access_denied"),
                    ("error_description", "AADSTS65004: User declined to consent to access the app."),
                ]
            };
            if let Some(scope) = &q.scope {
                params.push(("scope", scope));
            }
            if let Some(state) = &q.state {
                params.push(("state", state));
            }
            crate::http::found(&redirect_with(uri, &params, false))
        }
        None if accept => html_page(
            StatusCode::OK,
            "Permissions granted",
            "<p id=\"result\">admin_consent=True</p><p>You can close this window.</p>",
        ),
        None => html_page(StatusCode::OK, "Permissions not granted", "<p id=\"result\">access_denied</p>"),
    }
}

/// `GET /{tenant}/adminconsent` and `/{tenant}/v2.0/adminconsent`.
pub async fn show(
    State(ctx): State<Ctx>,
    Path(tenant): Path<String>,
    uri: Uri,
    Query(q): Query<ConsentQuery>,
) -> Response {
    let Checked { tid, client_id, name, shown } = match check(&ctx, &tenant, &q) {
        Ok(v) => v,
        Err(message) => return refused(&message),
    };
    if ctx.shared.config.admin_consent_auto_accept {
        return finish(&ctx, &q, &tid, &client_id, true);
    }
    let items: String = shown.iter().map(|s| format!("<li>{}</li>", html_escape(s))).collect();
    let action = html_escape(&uri.to_string());
    html_page(
        StatusCode::OK,
        "Permissions requested",
        &format!(
            "<p><b id=\"app\">{}</b> ({}) wants to access resources in your organization ({}) for all users:</p><ul id=\"permissions\">{items}</ul>\
             <p>Accepting also grants the app's known client applications access to it.</p>\
             <form method=\"POST\" action=\"{action}\"><button name=\"decision\" value=\"accept\">Accept</button> \
             <button name=\"decision\" value=\"deny\">Cancel</button></form>",
            html_escape(&name),
            html_escape(&client_id),
            html_escape(&tid),
        ),
    )
}

/// `POST` of the consent form.
pub async fn decide(
    State(ctx): State<Ctx>,
    Path(tenant): Path<String>,
    Query(q): Query<ConsentQuery>,
    Form(d): Form<Decision>,
) -> Response {
    let Checked { tid, client_id, .. } = match check(&ctx, &tenant, &q) {
        Ok(v) => v,
        Err(message) => return refused(&message),
    };
    finish(&ctx, &q, &tid, &client_id, d.decision == "accept")
}
