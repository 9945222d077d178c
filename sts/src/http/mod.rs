//! The HTTP edge: routes, CORS, body limits, correlation ids. Handlers stay thin; decisions live
//! in `exchange` and `registry`.

mod answer;
mod broker_config;
mod correlation;
pub mod cors;
mod error;
mod health;
mod index;
pub mod openapi;
pub mod server;
mod shape;
mod token;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let origins = state.config.server.cors_origins.clone();
    let max_body = state.config.server.max_body_bytes;
    let browser = Router::new()
        .route("/token", post(token::token))
        .route("/broker/config", get(broker_config::broker_config))
        .layer(cors::layer(origins));
    Router::new()
        .merge(browser)
        .route("/", get(index::index))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi::openapi))
        // Enforced where a body is read (`/token`), so an oversized body is refused with an OAuth
        // JSON 413 like every other error, not tower-http's plain-text one.
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            correlation::Edge::new(Arc::clone(&state.metrics), &state.config.server),
            correlation::middleware,
        ))
        .with_state(state)
}

/// The operators' router (`server.metrics_listen`): `/metrics`, shaped like the public one (OAuth
/// JSON errors, correlation ids).
pub fn metrics_router(metrics: Arc<Metrics>, config: &ServerConfig) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .layer(middleware::from_fn_with_state(
            correlation::Edge::new(Arc::clone(&metrics), config),
            correlation::middleware,
        ))
        .with_state(metrics)
}

async fn render_metrics(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], metrics.render())
}
