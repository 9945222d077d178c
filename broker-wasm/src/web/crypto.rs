//! Randomness, SHA-256 and correlation ids from the browser's Web Crypto: no Rust crypto crate
//! (and no `getrandom` shim) in the wasm.

use super::prelude::*;

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::Window;

use crate::errors::{BrokerError, ErrorCode};
use crate::pkce::RANDOM_BYTES;

fn unavailable() -> BrokerError {
    BrokerError::new(ErrorCode::InvalidRequest, "Web Crypto is unavailable (the page must be a secure context)")
}

/// 32 bytes from `crypto.getRandomValues`.
pub fn random(win: &Window) -> Result<[u8; RANDOM_BYTES], BrokerError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    win.crypto().and_then(|c| c.get_random_values_with_u8_array(&mut bytes)).map_err(|_| unavailable())?;
    Ok(bytes)
}

/// SHA-256 via `crypto.subtle.digest`. Boxed: see [`super::Fut`].
pub fn sha256<'a>(win: &'a Window, data: &'a [u8]) -> super::Fut<'a, Result<[u8; 32], BrokerError>> {
    Box::pin(async move {
        let promise = win
            .crypto()
            .map_err(|_| unavailable())?
            .subtle()
            .digest_with_str_and_u8_array("SHA-256", data)
            .map_err(|_| unavailable())?;
        let buffer: JsValue = JsFuture::from(promise).await.map_err(|_| unavailable())?;
        let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
        bytes.try_into().map_err(|_| unavailable())
    })
}

/// A v4 UUID for `x-correlation-id` (`crypto.randomUUID`; `configure` has already checked that
/// the page is a secure context, where it always exists).
pub fn uuid(win: &Window) -> Result<String, BrokerError> {
    win.crypto().map(|c| c.random_uuid()).map_err(|_| unavailable())
}
