//! Randomness, SHA-256 and correlation ids from the browser's Web Crypto: no Rust crypto crate
//! (and no `getrandom` shim) in the wasm.

use super::prelude::*;

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::Window;

use super::js;
use crate::errors::{BrokerError, ErrorCode};
use crate::pkce::RANDOM_BYTES;

fn unavailable() -> BrokerError {
    BrokerError::new(ErrorCode::InvalidRequest, "Web Crypto is unavailable (not a secure context)")
}

/// 32 bytes from `crypto.getRandomValues` (the loader's copy).
pub fn random(_win: &Window) -> Result<[u8; RANDOM_BYTES], BrokerError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    js::random_values(&mut bytes).map_err(|_| unavailable())?;
    Ok(bytes)
}

/// SHA-256 via `crypto.subtle.digest` (the loader's copy). Boxed: see [`super::Fut`].
pub fn sha256<'a>(_win: &'a Window, data: &'a [u8]) -> super::Fut<'a, Result<[u8; 32], BrokerError>> {
    Box::pin(async move {
        let promise = js::digest("SHA-256", data).map_err(|_| unavailable())?;
        let buffer: JsValue = JsFuture::from(promise).await.map_err(|_| unavailable())?;
        let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
        bytes.try_into().map_err(|_| unavailable())
    })
}

/// A v4 UUID for `x-correlation-id` (`crypto.randomUUID`, the loader's copy; `configure` has
/// already checked that the page is a secure context, where it exists).
pub fn uuid(_win: &Window) -> Result<String, BrokerError> {
    js::random_uuid().ok().and_then(|u| u.as_string()).ok_or_else(unavailable)
}
