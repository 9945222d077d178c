//! `GET /broker/config`: what the browser broker needs to sign in and ask for tokens. Nothing secret.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

pub async fn broker_config(State(state): State<AppState>) -> Json<Value> {
    let snapshot = state.registry.snapshot();
    let workloads: Vec<Value> = snapshot
        .workloads()
        .into_iter()
        .filter(|w| w.enabled)
        .map(|w| {
            let backends: Vec<Value> = w
                .backends()
                .filter_map(|b| {
                    let resource = b.resource.as_ref()?;
                    Some(json!({ "resource": resource, "scopes": b.scopes().collect::<Vec<_>>() }))
                })
                .collect();
            json!({
                "name": w.name,
                "client_app_id": w.client_app_id,
                "user_scope": user_scope(&snapshot, &w.client_app_id, &w.required_scope),
                "backends": backends,
            })
        })
        .collect();
    Json(json!({
        "broker_app_id": state.config.entra.broker_app_id,
        "authority": state.config.entra.authority.as_str(),
        "workloads": workloads,
    }))
}

/// The scope the broker asks Entra for: the client app's first App ID URI (or `api://{id}`) and the
/// workload's required delegated scope.
fn user_scope(snapshot: &registry::Snapshot, client_app_id: &str, required_scope: &str) -> String {
    let uri = snapshot
        .rows()
        .app_id_uris
        .iter()
        .find(|u| u.app_id.eq_ignore_ascii_case(client_app_id))
        .map_or_else(|| format!("api://{client_app_id}"), |u| u.uri.trim_end_matches('/').to_owned());
    format!("{uri}/{required_scope}")
}
