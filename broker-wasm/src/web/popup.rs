//! The sign-in popup: opened on `about:blank` inside the user's gesture (browsers only allow
//! `window.open` then), navigated to the authorize URL once PKCE is ready, and watched until the
//! redirect page hands the response back over a `BroadcastChannel` (or `postMessage` to the
//! opener), the user closes it, or it times out.

use super::prelude::*;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;
use web_sys::Window;

use super::js;
use crate::errors::{BrokerError, ErrorCode};

#[wasm_bindgen]
extern "C" {
    /// The loader's `popupWait(popup, state)`: the promise of the redirect page's parameters.
    #[wasm_bindgen(js_name = popupWait)]
    fn popup_wait(popup: &Window, state: &str) -> js_sys::Promise;
}

/// Opens the popup on `about:blank` in `host` (the window the user's click activated), as a new
/// unnamed window: with one fixed name, two related tabs signing in at once navigated each
/// other's popup. (An instance has at most one popup: a second sign-in joins the running one.)
/// `None` means the browser blocked it.
pub fn open(host: &Window) -> Option<Window> {
    host.open_with_url_and_target_and_features("about:blank", "_blank", "popup=yes,width=500,height=640").ok().flatten()
}

/// Whether the popup is gone (also when its `closed` cannot be read).
pub fn is_closed(popup: &Window) -> bool {
    js::prop(popup, "closed").as_bool().unwrap_or(true)
}

/// Best effort: close the popup (it may already be gone).
pub fn close(popup: &Window) {
    let _ = popup.close();
}

/// Waits for the redirect page's response that carries `state` (`js/loader.js`, `popupWait`:
/// the channel, the opener message, the closed-popup polls and the 10-minute timeout); returns its
/// raw parameters (fragment or query). The popup is closed when this returns.
pub async fn wait_for_response(popup: &Window, state: &str) -> Result<String, BrokerError> {
    match JsFuture::from(popup_wait(popup, state)).await {
        Ok(params) => Ok(params.as_string().unwrap_or_default()),
        Err(e) if e.as_string().as_deref() == Some("timeout") => {
            Err(BrokerError::new(ErrorCode::Timeout, "the sign-in was not completed within 10 minutes"))
        }
        Err(_) => {
            Err(BrokerError::new(ErrorCode::UserCancelled, "the sign-in window was closed before sign-in completed"))
        }
    }
}
