//! The `/_admin/…` HTTP API: the [`crate::Admin`] operations for clients outside the process
//! (the MSAL interop test, the demo). Mounted only when `server.admin_api = true`: it can mint
//! tokens for any user.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin::{Admin, AdminError, UserTokenRequest};
use crate::config::{AppConfig, AppRoleGrantConfig, CertificateConfig, ConsentConfig, TenantConfig, UserConfig};
use crate::faults::FaultSpec;
use crate::http::Ctx;

fn admin(ctx: &Ctx) -> Admin {
    Admin::new(ctx.shared.clone())
}

fn answer<T: serde::Serialize>(result: Result<T, AdminError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            let status = if e.is_not_found() { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
            (status, Json(json!({ "error": e.to_string() }))).into_response()
        }
    }
}

/// The admin routes (nested under `/_admin`).
pub fn router() -> Router<Ctx> {
    Router::new()
        .route("/tenants", post(upsert_tenant))
        .route("/tenants/{tenant}/users", post(upsert_user))
        .route("/tenants/{tenant}/apps", post(upsert_app))
        .route("/tenants/{tenant}/apps/{client_id}/certificates", post(add_certificate))
        .route("/tenants/{tenant}/apps/{client_id}/certificates/{thumbprint}/revoke", post(revoke_certificate))
        .route("/tenants/{tenant}/consents", post(grant_consent).delete(revoke_consent))
        .route("/tenants/{tenant}/admin-consent", post(admin_consent))
        .route("/tenants/{tenant}/app-role-grants", post(grant_roles))
        .route("/keys", get(keys))
        .route("/keys/rotate", post(rotate_keys))
        .route("/keys/retire", post(retire_keys))
        .route("/faults", post(inject_fault).get(list_faults).delete(clear_faults))
        .route("/faults/{id}", delete(clear_fault))
        .route("/counters", get(counters).delete(reset_counters))
        .route("/tokens/user", post(issue_user_token))
        .route("/clock/advance", post(advance_clock))
        .route("/ca.pem", get(ca_pem))
}

async fn upsert_tenant(State(ctx): State<Ctx>, Json(t): Json<TenantConfig>) -> Response {
    answer(admin(&ctx).upsert_tenant(t))
}

async fn upsert_user(State(ctx): State<Ctx>, Path(tenant): Path<String>, Json(u): Json<UserConfig>) -> Response {
    answer(admin(&ctx).upsert_user(&tenant, u))
}

async fn upsert_app(State(ctx): State<Ctx>, Path(tenant): Path<String>, Json(a): Json<AppConfig>) -> Response {
    answer(admin(&ctx).upsert_app(&tenant, a))
}

async fn add_certificate(
    State(ctx): State<Ctx>,
    Path((tenant, client_id)): Path<(String, String)>,
    Json(c): Json<CertificateConfig>,
) -> Response {
    answer(admin(&ctx).add_certificate(&tenant, &client_id, &c).map(|x5t| json!({ "x5t": x5t })))
}

async fn revoke_certificate(
    State(ctx): State<Ctx>,
    Path((tenant, client_id, thumb)): Path<(String, String, String)>,
) -> Response {
    answer(admin(&ctx).revoke_certificate(&tenant, &client_id, &thumb))
}

async fn grant_consent(State(ctx): State<Ctx>, Path(tenant): Path<String>, Json(g): Json<ConsentConfig>) -> Response {
    answer(admin(&ctx).grant_consent(&tenant, g))
}

/// Which grants to revoke.
#[derive(Debug, Deserialize)]
struct RevokeQuery {
    client_id: String,
    #[serde(default)]
    resource: Option<String>,
}

async fn revoke_consent(State(ctx): State<Ctx>, Path(tenant): Path<String>, Query(q): Query<RevokeQuery>) -> Response {
    answer(admin(&ctx).revoke_consent(&tenant, &q.client_id, q.resource.as_deref()).map(|n| json!({ "revoked": n })))
}

/// Body of an admin-consent call.
#[derive(Debug, Deserialize)]
struct AdminConsentBody {
    client_id: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

async fn admin_consent(
    State(ctx): State<Ctx>,
    Path(tenant): Path<String>,
    Json(b): Json<AdminConsentBody>,
) -> Response {
    answer(admin(&ctx).grant_admin_consent(&tenant, &b.client_id, b.scopes.as_deref()))
}

async fn grant_roles(
    State(ctx): State<Ctx>,
    Path(tenant): Path<String>,
    Json(g): Json<AppRoleGrantConfig>,
) -> Response {
    answer(admin(&ctx).grant_app_roles(&tenant, g))
}

async fn keys(State(ctx): State<Ctx>) -> Response {
    Json(json!({ "kids": admin(&ctx).signing_key_ids() })).into_response()
}

async fn rotate_keys(State(ctx): State<Ctx>) -> Response {
    answer(admin(&ctx).rotate_signing_key().map(|kid| json!({ "kid": kid })))
}

async fn retire_keys(State(ctx): State<Ctx>) -> Response {
    Json(json!({ "retired": admin(&ctx).retire_previous_signing_keys() })).into_response()
}

async fn inject_fault(State(ctx): State<Ctx>, Json(f): Json<FaultSpec>) -> Response {
    Json(json!({ "id": admin(&ctx).inject_fault(f) })).into_response()
}

async fn list_faults(State(ctx): State<Ctx>) -> Response {
    let faults: Vec<Value> =
        admin(&ctx).faults().into_iter().map(|(id, spec)| json!({ "id": id, "fault": spec })).collect();
    Json(json!({ "faults": faults })).into_response()
}

async fn clear_faults(State(ctx): State<Ctx>) -> Response {
    admin(&ctx).clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

async fn clear_fault(State(ctx): State<Ctx>, Path(id): Path<u64>) -> Response {
    if admin(&ctx).clear_fault(id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

async fn counters(State(ctx): State<Ctx>) -> Response {
    Json(admin(&ctx).counters()).into_response()
}

async fn reset_counters(State(ctx): State<Ctx>) -> Response {
    admin(&ctx).reset_counters();
    StatusCode::NO_CONTENT.into_response()
}

async fn issue_user_token(State(ctx): State<Ctx>, Json(req): Json<UserTokenRequest>) -> Response {
    answer(admin(&ctx).issue_user_token(req).map(|t| json!({ "access_token": t })))
}

/// Body of a clock change.
#[derive(Debug, Deserialize)]
struct AdvanceBody {
    seconds: i64,
}

async fn advance_clock(State(ctx): State<Ctx>, Json(b): Json<AdvanceBody>) -> Response {
    let admin = admin(&ctx);
    admin.advance_clock(time::Duration::seconds(b.seconds));
    Json(json!({ "now": admin.now().unix_timestamp() })).into_response()
}

async fn ca_pem(State(ctx): State<Ctx>) -> Response {
    ctx.shared.ca_pem.clone().into_response()
}
