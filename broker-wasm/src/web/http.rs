//! `fetch` with a timeout, for Entra's token endpoint and the STS. CORS mode, no cookies (the
//! broker's calls carry their credentials in the body), no HTTP cache.

use super::prelude::*;

use js_sys::Promise;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Response, Window};

use crate::errors::{BrokerError, ErrorCode};

/// How long one request may take before it fails with `timeout`.
const TIMEOUT_MS: i32 = 30_000;

#[wasm_bindgen]
extern "C" {
    /// `AbortSignal.timeout(ms)`: a signal the browser aborts after `ms` with a `TimeoutError`.
    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout)]
    fn abort_after(ms: i32) -> JsValue;
}

/// A response: status, body text and the headers the broker reads.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body as text (JSON for every endpoint the broker calls).
    pub body: String,
    headers: Headers,
}

impl Reply {
    /// A response header (readable cross-origin only if the server exposes it).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }

    /// The body parsed as JSON, or `undefined`.
    pub fn json(&self) -> JsValue {
        super::js::parse_json(&self.body).unwrap_or(JsValue::UNDEFINED)
    }
}

/// The part of a URL safe to put in an error: scheme, host and path, never the query.
fn describe(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// Sends one request. `form` is an `application/x-www-form-urlencoded` body (POST), `None` a GET.
/// `started` is that request already sent by the loader (`js/loader.js` starts
/// `GET /broker/config` while the wasm compiles, with its own 30 s timeout): its answer is read
/// here as if this call had sent it.
pub fn send<'a>(
    _win: &'a Window,
    url: &'a str,
    form: Option<&'a str>,
    headers: &'a [(&'a str, &'a str)],
    started: Option<Promise>,
) -> super::Fut<'a, Result<Reply, BrokerError>> {
    Box::pin(async move {
        let failed =
            |code: ErrorCode, what: &str| BrokerError::new(code, crate::text::cat(&[what, " ", describe(url)]));
        let fetch = match started {
            Some(p) => p,
            None => {
                // `RequestInit` and the headers as plain objects through one generic setter:
                // web-sys's typed setters are one wasm import (and JS wrapper) each.
                let init = super::js::bare();
                let set = |key: &str, value: &JsValue| super::js::set(&init, key, value);
                // A path (no scheme) is the page's own site — Power Pages' token endpoint, which
                // needs the portal's session cookie; everything else is cross-origin, cookie-less
                // (always, in the Power Apps bundle, which has no Power Pages mode).
                let own_site = cfg!(feature = "power-pages") && url.starts_with('/');
                set("mode", &JsValue::from_str(if own_site { "same-origin" } else { "cors" }));
                set("credentials", &JsValue::from_str(if own_site { "same-origin" } else { "omit" }));
                set("cache", &JsValue::from_str("no-store"));
                let h = super::js::bare();
                for (name, value) in headers {
                    super::js::set(&h, name, &JsValue::from_str(value));
                }
                let method = match form {
                    Some(body) => {
                        super::js::set(&h, "content-type", &JsValue::from_str("application/x-www-form-urlencoded"));
                        set("body", &JsValue::from_str(body));
                        "POST"
                    }
                    None => "GET",
                };
                set("method", &JsValue::from_str(method));
                set("headers", &h);
                // The browser's own timer: the fetch (and the body read) rejects with a
                // `TimeoutError` after TIMEOUT_MS. No closure, no timer of ours to clear.
                set("signal", &abort_after(TIMEOUT_MS));
                // An invalid URL rejects the fetch with a TypeError: reported as `network_error`.
                super::js::fetch(url, &init)
            }
        };
        let outcome = JsFuture::from(fetch).await;
        // `fetch` resolves with a `Response` and nothing else (Fetch standard), so no
        // `instanceof` check (an import and its glue) before reading it.
        let outcome = match outcome {
            Ok(resp) => {
                let resp = resp.unchecked_into::<Response>();
                match super::js::text(&resp) {
                    Ok(text) => JsFuture::from(text).await.map(|t| (resp, t)),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok((resp, text)) => {
                Ok(Reply { status: resp.status(), body: text.as_string().unwrap_or_default(), headers: resp.headers() })
            }
            // `AbortSignal.timeout`'s (ours, or the loader's for a fetch it started).
            Err(e) if super::js::prop(&e, "name").as_string().as_deref() == Some("TimeoutError") => {
                Err(failed(ErrorCode::Timeout, "no answer in 30 s from"))
            }
            Err(_) => Err(failed(ErrorCode::NetworkError, "could not reach")),
        }
    })
}
