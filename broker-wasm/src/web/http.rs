//! `fetch` with a timeout, for Entra's token endpoint and the STS. CORS mode, no cookies (the
//! broker's calls carry their credentials in the body), no HTTP cache.

use super::prelude::*;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestInit, Response, Window};

use crate::errors::{BrokerError, ErrorCode};

/// How long one request may take before it fails with `timeout`.
const TIMEOUT_MS: i32 = 30_000;

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
pub fn send<'a>(
    win: &'a Window,
    url: &'a str,
    form: Option<&'a str>,
    headers: &'a [(&'a str, &'a str)],
) -> super::Fut<'a, Result<Reply, BrokerError>> {
    Box::pin(async move {
        let failed =
            |code: ErrorCode, what: &str| BrokerError::new(code, crate::text::cat(&[what, " ", describe(url)]));
        // `RequestInit` and the headers as plain objects through one generic setter: web-sys's
        // typed setters are one wasm import (and JS wrapper) each.
        let init = super::js::object();
        let set = |key: &str, value: &JsValue| super::js::set(&init, key, value);
        // A path (no scheme) is the page's own site — Power Pages' token endpoint, which needs the
        // portal's session cookie; everything else is cross-origin and carries no cookie.
        let own_site = url.starts_with('/');
        set("mode", &JsValue::from_str(if own_site { "same-origin" } else { "cors" }));
        set("credentials", &JsValue::from_str(if own_site { "same-origin" } else { "omit" }));
        set("cache", &JsValue::from_str("no-store"));
        let h = super::js::object();
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
        let abort = AbortController::new().ok();
        if let Some(a) = &abort {
            set("signal", &super::js::get(a, "signal"));
        }

        // The timer aborts the fetch; it is cleared (and its closure dropped) once fetch settles.
        let on_timeout = abort.map(|a| Closure::<dyn FnMut()>::new(move || a.abort()));
        let timer = on_timeout.as_ref().map(|c| super::js::set_timeout(c.as_ref().unchecked_ref(), TIMEOUT_MS));
        // An invalid URL rejects the fetch with a TypeError: reported as `network_error` below.
        let outcome = JsFuture::from(win.fetch_with_str_and_init(url, init.unchecked_ref::<RequestInit>())).await;
        // `fetch` resolves with a `Response` and nothing else (Fetch standard), so no
        // `instanceof` check (an import and its glue) before reading it.
        let outcome = match outcome {
            Ok(resp) => {
                let resp = resp.unchecked_into::<Response>();
                match resp.text() {
                    Ok(text) => JsFuture::from(text).await.map(|t| (resp, t)),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        if let Some(t) = &timer {
            super::js::clear_timeout(t);
        }
        drop(on_timeout);
        match outcome {
            Ok((resp, text)) => {
                Ok(Reply { status: resp.status(), body: text.as_string().unwrap_or_default(), headers: resp.headers() })
            }
            Err(e) if super::js::get_str(&e, "name").as_deref() == Some("AbortError") => {
                Err(failed(ErrorCode::Timeout, "no answer in 30 s from"))
            }
            Err(_) => Err(failed(ErrorCode::NetworkError, "could not reach")),
        }
    })
}
