//! Liveness and readiness.
//!
//! `/healthz` answers while the process can serve HTTP at all. `/readyz` reports each dependency
//! (probes bounded in time, see [`crate::readiness`]) and answers:
//! - **503 `not_ready`** when no new token can be issued for some enabled workload for a reason
//!   an operator must fix — it has no currently valid certificate configured — or when Entra
//!   rejected every certificate of every client app that has an enabled workload (nothing new
//!   can be served from this instance);
//! - **200 `degraded`** while tokens can still be served, but something is wrong: the registry
//!   database does not answer (the last good snapshot is serving; audit records go to the
//!   spool), Entra's authority is unreachable (cached tokens are still served, new exchanges fail
//!   until it is back), Entra rejected every certificate of some, but not all, client apps, or
//!   the audit spool is full (records go to the log only), or the shared cache's Redis does not
//!   answer (`checks.redis`: every instance serves from its own memory, nothing fails);
//! - **200 `ready`** otherwise.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::registry_watch::RegistryHealth;
use crate::shared_cache::SharedHealth;
use crate::state::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let shared_probe = async {
        match &state.exchanger.shared {
            Some(shared) => Some(shared.probe().await),
            None => None,
        }
    };
    let (registry_health, entra, shared) =
        tokio::join!(state.readiness.registry(&state.registry), state.readiness.entra(), shared_probe);
    let backend = state.registry.store().backend_name();
    let mut degraded = false;
    let registry = match registry_health {
        RegistryHealth::Ready => json!({ "status": "ready", "backend": backend }),
        RegistryHealth::Degraded(error) => {
            degraded = true;
            json!({ "status": "degraded", "backend": backend, "error": error })
        }
    };

    // Every enabled workload needs at least one currently valid certificate for its client app,
    // and one that Entra has not just rejected.
    let now = crate::clock::unix_now();
    let snapshot = state.registry.snapshot();
    let enabled: Vec<_> = snapshot.workloads().into_iter().filter(|w| w.enabled).collect();
    let missing: Vec<String> = enabled
        .iter()
        .filter(|w| state.credentials.candidates(&w.client_app_id, now).is_empty())
        .map(|w| w.name.clone())
        .collect();
    let mut apps = BTreeMap::new();
    let mut failing = BTreeSet::new();
    for app in state.credentials.client_apps() {
        let (valid, rejected) = state.credentials.rejection_state(app, now);
        let app_failing = valid > 0 && rejected == valid;
        if app_failing {
            failing.insert(app.to_owned());
        }
        let status = if app_failing { "failing" } else { "ready" };
        apps.insert(app.to_owned(), json!({ "status": status, "certificates": valid, "rejected_by_entra": rejected }));
    }
    let used: BTreeSet<String> = enabled.iter().map(|w| w.client_app_id.to_ascii_lowercase()).collect();
    let nothing_servable = !used.is_empty() && used.iter().all(|a| failing.contains(a));
    let credentials_status = if !missing.is_empty() {
        "not_ready"
    } else if !failing.is_empty() {
        degraded = true;
        "failing"
    } else {
        "ready"
    };
    let mut credentials = json!({ "status": credentials_status, "client_apps": apps });
    if !missing.is_empty() {
        credentials["workloads_without_certificate"] = json!(missing);
    }

    let entra = match entra {
        Ok(()) => json!({ "status": "reachable", "authority": state.config.entra.authority }),
        Err(error) => {
            degraded = true;
            json!({ "status": "unreachable", "authority": state.config.entra.authority, "error": error.to_string() })
        }
    };
    // Records waiting in the spool are safe (the database is away); a full spool is not.
    let spool_bytes = state.metrics.audit_spool_bytes.get();
    let audit = if state.metrics.audit_spool_full.get() > 0 {
        degraded = true;
        json!({ "status": "spool_full", "spool_bytes": spool_bytes })
    } else if spool_bytes > 0 {
        json!({ "status": "spooling", "spool_bytes": spool_bytes })
    } else {
        json!({ "status": "ready" })
    };
    // The shared cache only saves work: without Redis every instance serves from memory.
    let redis = match shared {
        None => json!({ "status": "off" }),
        Some(SharedHealth::Ready) => json!({ "status": "ready" }),
        Some(SharedHealth::Degraded(error)) => {
            degraded = true;
            json!({ "status": "degraded", "error": error, "serving": "memory only" })
        }
    };
    let keys = json!({ "status": "ready", "tenants_loaded": state.exchanger.keys.loaded_tenants() });
    let (code, status) = if !missing.is_empty() || nothing_servable {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    } else if degraded {
        (StatusCode::OK, "degraded")
    } else {
        (StatusCode::OK, "ready")
    };
    (
        code,
        Json(json!({
            "status": status,
            "checks": {
                "registry": registry,
                "credentials": credentials,
                "entra": entra,
                "audit": audit,
                "redis": redis,
                "signing_keys": keys,
            },
        })),
    )
}
