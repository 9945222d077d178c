//! `fetch` with a timeout, for Entra's token endpoint and the STS. CORS mode, no cookies (the
//! broker's calls carry their credentials in the body), no HTTP cache.

use super::prelude::*;

use js_sys::Promise;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Headers;

use super::js;
use crate::errors::{BrokerError, ErrorCode};

#[wasm_bindgen]
extern "C" {
    /// The loader's `send(url, form, correlationId)` (`js/loader.js`): the request, its
    /// 30 s timeout and the body read, resolving with `[status, body text, headers]` or rejecting
    /// with `"timeout"` or `"network"`. In JavaScript because there it is a third of the bytes.
    #[wasm_bindgen(js_name = send)]
    fn send_js(url: &str, form: Option<&str>, correlation_id: Option<&str>) -> Promise;
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
        js::parse_json(&self.body).unwrap_or(JsValue::UNDEFINED)
    }
}

/// The part of a URL safe to put in an error: scheme, host and path, never the query.
fn describe(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// Sends one request. `form` is an `application/x-www-form-urlencoded` body (POST), `None` a GET;
/// `correlation_id` its `x-correlation-id`. A URL that is a path (no scheme) is the page's own site — Power
/// Pages' token endpoint, which needs the portal's session cookie; everything else goes
/// cross-origin and cookie-less (always, in the Power Apps bundle).
pub fn send<'a>(
    url: &'a str,
    form: Option<&'a str>,
    correlation_id: Option<&'a str>,
) -> super::Fut<'a, Result<Reply, BrokerError>> {
    Box::pin(async move {
        match JsFuture::from(send_js(url, form, correlation_id)).await {
            Ok(v) => Ok(Reply {
                status: js::get(&v, "0").as_f64().unwrap_or(0.0) as u16,
                body: js::get_str(&v, "1").unwrap_or_default(),
                headers: js::get(&v, "2").unchecked_into(),
            }),
            Err(e) => {
                let (code, what) = match e.as_string().as_deref() {
                    Some("timeout") => (ErrorCode::Timeout, "no answer in 30 s from "),
                    _ => (ErrorCode::NetworkError, "could not reach "),
                };
                Err(BrokerError::new(code, crate::text::cat(&[what, describe(url)])))
            }
        }
    })
}
