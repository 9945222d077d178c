//! `fetch` with a timeout, for Entra's token endpoint and the STS. CORS mode, no cookies (the
//! broker's calls carry their credentials in the body), no HTTP cache.

use super::prelude::*;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, Headers, Request, RequestCache, RequestCredentials, RequestInit, RequestMode, Response, Window,
};

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
    &url[..url.find(['?', '#']).unwrap_or(url.len())]
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
        let init = RequestInit::new();
        init.set_mode(RequestMode::Cors);
        init.set_credentials(RequestCredentials::Omit);
        init.set_cache(RequestCache::NoStore);
        let h = Headers::new().map_err(|_| failed(ErrorCode::NetworkError, "cannot build a request to"))?;
        for (name, value) in headers {
            let _ = h.set(name, value);
        }
        match form {
            Some(body) => {
                init.set_method("POST");
                let _ = h.set("content-type", "application/x-www-form-urlencoded");
                init.set_body(&JsValue::from_str(body));
            }
            None => init.set_method("GET"),
        }
        init.set_headers(&h);
        let abort = AbortController::new().ok();
        if let Some(a) = &abort {
            init.set_signal(Some(&a.signal()));
        }
        let request =
            Request::new_with_str_and_init(url, &init).map_err(|_| failed(ErrorCode::InvalidRequest, "invalid URL"))?;

        // The timer aborts the fetch; it is cleared (and its closure dropped) once fetch settles.
        let on_timeout = abort.map(|a| Closure::<dyn FnMut()>::new(move || a.abort()));
        let timer = on_timeout.as_ref().map(|c| super::js::set_timeout(c.as_ref().unchecked_ref(), TIMEOUT_MS));
        let outcome = JsFuture::from(win.fetch_with_request(&request)).await;
        let outcome = match outcome {
            Ok(resp) => match resp.dyn_into::<Response>() {
                Ok(resp) => match resp.text() {
                    Ok(text) => JsFuture::from(text).await.map(|t| (resp, t)),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            },
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
