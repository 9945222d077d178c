//! The demo page: three mock PCF controls using the real broker bundle from `dist/`.

use std::path::PathBuf;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

#[derive(Debug, Clone)]
struct Page {
    dist: PathBuf,
    config_js: String,
}

/// `config` is the object the page reads as `window.TESSERA_DEMO`.
pub fn router(dist: PathBuf, config: &serde_json::Value) -> Router {
    let page = Page { dist, config_js: format!("window.TESSERA_DEMO = {config};\n") };
    Router::new()
        .route(
            "/",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], include_str!("index.html")) }),
        )
        .route(
            "/demo-config.js",
            get(|State(p): State<Page>| async move { ([(header::CONTENT_TYPE, "text/javascript")], p.config_js) }),
        )
        .route("/tessera-broker.js", get(|s: State<Page>| dist_file(s, "tessera-broker.js", "text/javascript")))
        .route("/redirect.html", get(|s: State<Page>| dist_file(s, "redirect.html", "text/html; charset=utf-8")))
        .route("/tessera-broker.d.ts", get(|s: State<Page>| dist_file(s, "tessera-broker.d.ts", "text/plain")))
        .with_state(page)
}

async fn dist_file(State(page): State<Page>, name: &'static str, content_type: &'static str) -> Response {
    match tokio::fs::read(page.dist.join(name)).await {
        Ok(bytes) => {
            ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], bytes).into_response()
        }
        Err(_) => (StatusCode::NOT_FOUND, format!("{name} is not built: run `bash scripts/build-broker.sh`\n"))
            .into_response(),
    }
}
