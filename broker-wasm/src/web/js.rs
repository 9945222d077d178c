//! Reading and building plain JS objects, and converting errors both ways.
//!
//! JSON is parsed by the browser (`JSON.parse`) and read field by field: serde plus
//! serde-wasm-bindgen would cost ~15 KB of wasm for the dozen fields the broker reads.
//!
//! Data (the page's options, every JSON answer, the redirect page's message) is read through
//! [`get`], **own properties only**: a polluted `Object.prototype` (say
//! `Object.prototype.interactive = "ifRequired"`) changes nothing. Platform objects (events,
//! `location`, errors, `Xrm`), whose attributes live on prototypes, are read through [`prop`].
//! `fetch`, `JSON.parse`, `Reflect`, Web Crypto and `Response.text` are the
//! loader's copies taken when the script ran (`js/loader.js`): the glue resolves these names in
//! the loader's scope, so a page script that wraps them later sees nothing.

use super::prelude::*;

use js_sys::{Array, JSON, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::errors::{BrokerError, ErrorCode};

/// `obj[key]` when `key` is an own property of the object `obj`, else `undefined`: for data.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    own(obj, key)
}

/// `obj[key]` through the prototype chain (the loader's `Reflect.get`), or `undefined` when `obj`
/// is not an object or the getter throws: for platform objects.
pub fn prop(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() && !obj.is_function() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `w.location.origin` (empty when unreadable).
pub fn origin(w: &JsValue) -> String {
    prop(&prop(w, "location"), "origin").as_string().unwrap_or_default()
}

/// A string field.
pub fn get_str(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// A number field; Entra sometimes sends numbers as strings (`"3599"`), accept both.
pub fn get_num(obj: &JsValue, key: &str) -> Option<f64> {
    let v = get(obj, key);
    v.as_f64()
        // `parseFloat` rather than `str::parse`: Rust's float parser is ~5 KB of wasm.
        .or_else(|| v.as_string().map(|s| js_sys::parse_float(&s)))
        .filter(|n| n.is_finite())
}

/// A status code as decimal text, without `core::fmt`.
pub fn number(n: u16) -> String {
    let mut digits = [0u8; 5];
    let (mut n, mut i) = (n, digits.len());
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[i..].iter().map(|d| char::from(*d)).collect()
}

/// A boolean field (`true` only when it is the boolean `true`).
pub fn get_bool(obj: &JsValue, key: &str) -> bool {
    get(obj, key).as_bool() == Some(true)
}

/// An array of strings (non-strings skipped); a lone string counts as a one-element array.
pub fn get_strs(obj: &JsValue, key: &str) -> Vec<String> {
    match get_str(obj, key) {
        Some(s) => alloc::vec![s],
        None => get_items(obj, key).iter().filter_map(JsValue::as_string).collect(),
    }
}

/// The items of an array field.
pub fn get_items(obj: &JsValue, key: &str) -> Vec<JsValue> {
    match get(obj, key).dyn_into::<Array>() {
        Ok(a) => a.iter().collect(),
        Err(_) => Vec::new(),
    }
}

/// `obj[key] = value` (ignores failures: only used on objects we just created).
pub fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// `obj[key] = value`, `null` for `None`. Out of line: the API's result, error and account
/// objects set ~20 string fields, and the conversion inlined at each was ~0.2 KB of wasm.
#[inline(never)]
pub fn set_str(obj: &Object, key: &str, value: Option<&str>) {
    set(obj, key, &str_or_null(value));
}

/// A string or `null`.
pub fn str_or_null(v: Option<&str>) -> JsValue {
    v.map_or(JsValue::NULL, JsValue::from_str)
}

/// `JSON.parse`, `None` on malformed text.
pub fn parse_json(text: &str) -> Option<JsValue> {
    JSON::parse(text).ok()
}

/// The `TokenBrokerError` the window API rejects with: an `Error` (so it has a stack and prints
/// well) whose `name` is `TokenBrokerError`, with the documented fields.
pub fn error_to_js(e: &BrokerError) -> JsValue {
    let err = js_sys::Error::new(&e.description);
    err.set_name("TokenBrokerError");
    let o: &Object = err.unchecked_ref();
    set_str(o, "code", Some(e.code.as_str()));
    set_str(o, "description", Some(&e.description));
    set_str(o, "correlationId", e.correlation_id.as_deref());
    set(o, "retryable", &JsValue::from_bool(e.retryable));
    set_str(o, "claims", e.claims.as_deref());
    set_str(o, "consentUrl", e.consent_url.as_deref());
    err.into()
}

/// Back from a rejection (e.g. of a shared sign-in promise) to a [`BrokerError`]; anything that is
/// not one of ours becomes an `sts_error` with its message.
pub fn error_from_js(v: &JsValue) -> BrokerError {
    let code = match get_str(v, "code").as_deref() {
        Some("interaction_required") => ErrorCode::InteractionRequired,
        Some("consent_required") => ErrorCode::ConsentRequired,
        Some("popup_blocked") => ErrorCode::PopupBlocked,
        Some("user_cancelled") => ErrorCode::UserCancelled,
        Some("invalid_request") => ErrorCode::InvalidRequest,
        Some("network_error") => ErrorCode::NetworkError,
        Some("timeout") => ErrorCode::Timeout,
        Some("user_signed_out") => ErrorCode::UserSignedOut,
        _ => ErrorCode::StsError,
    };
    let description = get_str(v, "description")
        .or_else(|| get_str(v, "message"))
        .unwrap_or_else(|| String::from("unexpected failure"));
    let mut e =
        BrokerError::new(code, description).retryable(get_bool(v, "retryable")).correlated(get_str(v, "correlationId"));
    e.claims = get_str(v, "claims");
    e.consent_url = get_str(v, "consentUrl");
    e
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The loader's `own(obj, key)`: `obj[key]` if `key` is an own property, else `undefined`.
    fn own(obj: &JsValue, key: &str) -> JsValue;
    /// The loader's copy of `crypto.getRandomValues`.
    #[wasm_bindgen(catch, js_name = getRandomValues)]
    pub fn random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;
    /// The loader's copy of `crypto.subtle.digest`.
    #[wasm_bindgen(catch)]
    pub fn digest(algorithm: &str, data: &[u8]) -> Result<js_sys::Promise, JsValue>;
    /// The loader's copy of `crypto.randomUUID`.
    #[wasm_bindgen(catch, js_name = randomUUID)]
    pub fn random_uuid() -> Result<JsValue, JsValue>;
    /// `setTimeout`. Bound here rather than through web-sys, whose binding types the handle as
    /// `i32`: timer libraries (and Playwright's fake clock) use handles beyond `i32`, and a
    /// truncated handle never clears its timer, which then fires into a dropped closure.
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(callback: &js_sys::Function, millis: i32) -> JsValue;
    /// `clearTimeout`.
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue);
    /// `setInterval` (same reason).
    #[wasm_bindgen(js_name = setInterval)]
    pub fn set_interval(callback: &js_sys::Function, millis: i32) -> JsValue;
    /// `clearInterval`.
    #[wasm_bindgen(js_name = clearInterval)]
    pub fn clear_interval(handle: &JsValue);
}

/// A new pending promise and its `resolve`. One out-of-line instance of the executor closure
/// instead of one per caller. The executor runs synchronously inside `new Promise` (ECMAScript
/// says so), so `resolve` is always there; a missing one would be a bug and traps.
#[inline(never)]
pub fn deferred() -> (js_sys::Promise, js_sys::Function) {
    let mut resolve = None;
    let promise = js_sys::Promise::new(&mut |res, _| resolve = Some(res));
    (promise, resolve.unwrap_or_else(|| core::arch::wasm32::unreachable()))
}

/// A fresh plain object.
pub fn object() -> Object {
    Object::new()
}
