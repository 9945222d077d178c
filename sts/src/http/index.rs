//! `GET /`: what this server answers, so that someone who opens the STS's address in a browser
//! (or curls it) finds the endpoints instead of an empty 404. JSON by default; a small HTML page
//! when the client prefers HTML (a browser).

use axum::Json;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

/// Method, path and purpose of every public endpoint (`/metrics` is on the operators' listener,
/// `server.metrics_listen`, not here).
const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("POST", "/token", "RFC 8693 token exchange: a user token for a workload's backend token"),
    ("GET", "/broker/config", "the browser broker's configuration (authority, broker app, workloads)"),
    ("GET", "/healthz", "liveness"),
    ("GET", "/readyz", "readiness, with each dependency's state"),
    ("GET", "/openapi.json", "the OpenAPI description of these endpoints"),
];

pub async fn index(headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if prefers_html(accept) {
        let rows: String = ENDPOINTS
            .iter()
            .map(|(m, p, what)| {
                let link = if *m == "GET" { format!("<a href=\"{p}\">{p}</a>") } else { (*p).to_owned() };
                format!("<tr><td>{m}</td><td><code>{link}</code></td><td>{what}</td></tr>")
            })
            .collect();
        return Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Tessera STS</title>\
             <link rel=\"icon\" href=\"data:,\"></head><body style=\"font:14px system-ui,sans-serif;margin:2rem\">\
             <h1>Tessera STS</h1><p>A security token service: it trades a user's token for a backend token \
             (Entra on-behalf-of). Endpoints:</p><table cellpadding=\"4\">{rows}</table></body></html>"
        ))
        .into_response();
    }
    let endpoints: Vec<_> =
        ENDPOINTS.iter().map(|(m, p, what)| json!({ "method": m, "path": p, "description": what })).collect();
    Json(json!({ "service": "tessera-sts", "version": env!("CARGO_PKG_VERSION"), "endpoints": endpoints }))
        .into_response()
}

/// A browser's `Accept` lists `text/html` before any JSON; API clients send `application/json`,
/// `*/*` or nothing.
fn prefers_html(accept: &str) -> bool {
    let position = |needle: &str| accept.find(needle);
    match (position("text/html"), position("application/json")) {
        (Some(h), Some(j)) => h < j,
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::prefers_html;

    #[test]
    fn browsers_get_html_and_everyone_else_json() {
        assert!(prefers_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
        assert!(!prefers_html("application/json"));
        assert!(!prefers_html("*/*"));
        assert!(!prefers_html(""));
        assert!(!prefers_html("application/json, text/html"));
    }
}
