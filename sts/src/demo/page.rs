//! The demo page: three mock PCF controls using the real broker bundle from `dist/`.
//!
//! The bundle goes out gzipped when the browser accepts it: `scripts/build-broker.sh` writes
//! `dist/tessera-broker.js.gz` once, so serving it costs a file read, not a compression per load.
//! The Power Pages bundle (`tessera-broker-pages.js`, which the emulator's site page loads) is
//! served the same way.

use std::path::PathBuf;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

#[derive(Debug, Clone)]
struct Page {
    dist: PathBuf,
    config_js: String,
}

/// The page's icon (a tessera: a small tile).
const FAVICON_SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">\
<rect x=\"1\" y=\"1\" width=\"6\" height=\"6\" rx=\"1\" fill=\"#0f6cbd\"/>\
<rect x=\"9\" y=\"1\" width=\"6\" height=\"6\" rx=\"1\" fill=\"#5b9bd5\"/>\
<rect x=\"1\" y=\"9\" width=\"6\" height=\"6\" rx=\"1\" fill=\"#5b9bd5\"/>\
<rect x=\"9\" y=\"9\" width=\"6\" height=\"6\" rx=\"1\" fill=\"#0f6cbd\"/></svg>";

/// `config` is the object the page reads as `window.TESSERA_DEMO`.
pub fn router(dist: PathBuf, config: &serde_json::Value) -> Router {
    let page = Page { dist, config_js: format!("window.TESSERA_DEMO = {config};\n") };
    let icon = || async { ([(header::CONTENT_TYPE, "image/svg+xml")], FAVICON_SVG) };
    Router::new()
        .route(
            "/",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], include_str!("index.html")) }),
        )
        .route(
            "/demo-config.js",
            get(|State(p): State<Page>| async move { ([(header::CONTENT_TYPE, "text/javascript")], p.config_js) }),
        )
        .route("/favicon.svg", get(icon))
        .route("/favicon.ico", get(icon))
        .route("/tessera-broker.js", get(|s: State<Page>, h: HeaderMap| broker_script(s, h, "tessera-broker.js")))
        .route(
            "/tessera-broker-pages.js",
            get(|s: State<Page>, h: HeaderMap| broker_script(s, h, "tessera-broker-pages.js")),
        )
        .route("/redirect.html", get(|s: State<Page>| dist_file(s, "redirect.html", "text/html; charset=utf-8")))
        .route("/tessera-broker.d.ts", get(|s: State<Page>| dist_file(s, "tessera-broker.d.ts", "text/plain")))
        .with_state(page)
}

/// `name` (a bundle), as `dist/{name}.gz` when the client accepts gzip and that file is at least
/// as new as the script (a stale one from an older build is never sent).
async fn broker_script(State(page): State<Page>, headers: HeaderMap, name: &'static str) -> Response {
    let plain = page.dist.join(name);
    let gz = page.dist.join(format!("{name}.gz"));
    let accepts = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).is_some_and(accepts_gzip);
    if accepts
        && is_fresh(&gz, &plain).await
        && let Ok(bytes) = tokio::fs::read(&gz).await
    {
        let mut res = script_response(bytes);
        res.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return res;
    }
    match tokio::fs::read(&plain).await {
        Ok(bytes) => script_response(bytes),
        Err(_) => not_built(name),
    }
}

fn script_response(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::VARY, "accept-encoding"),
        ],
        bytes,
    )
        .into_response()
}

async fn is_fresh(gz: &std::path::Path, plain: &std::path::Path) -> bool {
    let modified = |p: &std::path::Path| {
        let p = p.to_owned();
        async move { tokio::fs::metadata(p).await.and_then(|m| m.modified()).ok() }
    };
    match (modified(gz).await, modified(plain).await) {
        (Some(g), Some(p)) => g >= p,
        _ => false,
    }
}

/// Whether an `Accept-Encoding` value accepts gzip (RFC 9110 §12.5.3: `gzip` or `*` with a
/// non-zero weight). Hand-written: the only other user would be tower-http's compression layer,
/// which would pull in a compressor to redo, per request, what the build did once.
pub fn accepts_gzip(value: &str) -> bool {
    let weight_of = |coding: &str| {
        value.split(',').find_map(|item| {
            let mut parts = item.split(';');
            let name = parts.next()?.trim();
            if !name.eq_ignore_ascii_case(coding) {
                return None;
            }
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some(q)
        })
    };
    match weight_of("gzip") {
        Some(q) => q > 0.0,
        None => weight_of("*").is_some_and(|q| q > 0.0),
    }
}

async fn dist_file(State(page): State<Page>, name: &'static str, content_type: &'static str) -> Response {
    match tokio::fs::read(page.dist.join(name)).await {
        Ok(bytes) => {
            ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], bytes).into_response()
        }
        Err(_) => not_built(name),
    }
}

fn not_built(name: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("{name} is not built: run `bash scripts/build-broker.sh`\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn gzip_is_accepted_only_with_a_non_zero_weight() {
        assert!(accepts_gzip("gzip, deflate, br, zstd"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0, *"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("*;q=0"));
        assert!(!accepts_gzip(""));
        assert!(!accepts_gzip("x-gzip"));
    }
}
