//! The practical ceiling: a bare axum endpoint answering `POST /token` with a fixed body as
//! large as Tessera's real answer. Same stack as the STS (axum 0.8 on hyper, tokio's default
//! multi-threaded runtime, HTTP/1.1) with none of its work: no form parsing, validation, cache,
//! audit or middleware. Tessera's throughput over this one is the share of the machine left to
//! Tessera's own code.

use std::path::PathBuf;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::post;

#[derive(Debug, Clone, clap::Args)]
pub struct CeilingArgs {
    /// Length of the answer in bytes (the run passes the length of Tessera's answer).
    #[arg(long, default_value_t = 1600)]
    pub body_len: usize,
    /// Port (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Written as `{"url": …}` once listening.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
}

/// A token-response-shaped JSON body of exactly `len` bytes (when `len` allows the frame); the
/// "token" is filler — no real token is ever written anywhere.
pub fn fixed_body(len: usize) -> String {
    let head = r#"{"access_token":""#;
    let tail = r#"","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3599,"scope":"https://graph.microsoft.com/Files.Read"}"#;
    let filler = len.saturating_sub(head.len() + tail.len());
    format!("{head}{}{tail}", "x".repeat(filler))
}

pub async fn serve(args: CeilingArgs) -> anyhow::Result<()> {
    let body = Bytes::from(fixed_body(args.body_len));
    let router = Router::new().route(
        "/token",
        post(move || {
            let body = body.clone();
            async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::CACHE_CONTROL, "no-store"),
                        (header::PRAGMA, "no-cache"),
                    ],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await.context("binding the ceiling")?;
    let url = format!("http://{}", listener.local_addr()?);
    if let Some(path) = &args.ready_file {
        std::fs::write(path, serde_json::json!({ "url": url }).to_string())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("ceiling listening on {url}");
    axum::serve(listener, router).with_graceful_shutdown(sts::shutdown_signal()).await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn body_has_the_asked_length_and_is_json(len in 200usize..4000) {
            let b = fixed_body(len);
            prop_assert_eq!(b.len(), len);
            let v: serde_json::Value = serde_json::from_str(&b).unwrap();
            prop_assert_eq!(v["token_type"].as_str(), Some("Bearer"));
        }
    }
}
