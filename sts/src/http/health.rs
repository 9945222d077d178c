//! Liveness and readiness.
//!
//! `/healthz` answers while the process can serve HTTP at all. `/readyz` reports each dependency:
//! 200 while tokens can be issued (also when `degraded`: the last good registry snapshot is still
//! serving), 503 when an enabled workload has no usable certificate.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::registry_watch::RegistryHealth;
use crate::state::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut degraded = false;
    let backend = state.registry.store().backend_name();
    let registry = match state.registry.health() {
        RegistryHealth::Ready => json!({ "status": "ready", "backend": backend }),
        RegistryHealth::Degraded(error) => {
            degraded = true;
            json!({ "status": "degraded", "backend": backend, "error": error })
        }
    };
    // Every enabled workload needs at least one currently valid certificate for its client app.
    let now = crate::clock::unix_now();
    let missing: Vec<String> = state
        .registry
        .snapshot()
        .workloads()
        .into_iter()
        .filter(|w| w.enabled && state.credentials.candidates(&w.client_app_id, now).is_empty())
        .map(|w| w.name.clone())
        .collect();
    let credentials = if missing.is_empty() {
        json!({ "status": "ready" })
    } else {
        json!({ "status": "not_ready", "workloads_without_certificate": missing })
    };
    let keys = json!({ "status": "ready", "tenants_loaded": state.exchanger.keys.loaded_tenants() });
    let (code, status) = match (missing.is_empty(), degraded) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
        (true, true) => (StatusCode::OK, "degraded"),
        (true, false) => (StatusCode::OK, "ready"),
    };
    (
        code,
        Json(
            json!({ "status": status, "checks": { "registry": registry, "credentials": credentials, "signing_keys": keys } }),
        ),
    )
}
