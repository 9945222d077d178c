//! The sign-in popup: opened on `about:blank` inside the user's gesture (browsers only allow
//! `window.open` then), navigated to the authorize URL once PKCE is ready, and watched until the
//! redirect page hands the response back over a `BroadcastChannel` (or `postMessage` to the
//! opener), the user closes it, or it times out.

use super::prelude::*;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, Window};

use super::js;
use crate::authorize;
use crate::errors::{BrokerError, ErrorCode};

/// The channel the redirect page (`redirect.html`) posts to; same name there.
pub const CHANNEL: &str = "tessera-broker-v1";
/// The `type` of the redirect page's message.
const MESSAGE_TYPE: &str = "tessera:auth-response";
/// How often to check whether the user closed the popup.
const POLL_MS: i32 = 250;
/// Polls a closed popup must stay closed before it counts as cancelled: the redirect page posts
/// its message and then closes itself, and the message may arrive a little after `closed` flips.
const CLOSED_POLLS: u32 = 3;
/// A sign-in abandoned in an open popup ends after ten minutes.
const TIMEOUT_MS: i32 = 10 * 60 * 1000;

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

/// Waits for the response that carries `state`; returns its raw parameters (fragment or query).
/// Always closes the popup before returning.
pub fn wait_for_response<'a>(
    host: &'a Window,
    popup: &'a Window,
    state: &'a str,
) -> super::Fut<'a, Result<String, BrokerError>> {
    Box::pin(async move {
        let outcome: Rc<Cell<Option<Result<String, ErrorCode>>>> = Rc::new(Cell::new(None));
        let (settled, wake) = js::deferred();
        let finish = {
            let outcome = outcome.clone();
            move |result: Result<String, ErrorCode>| {
                // The first outcome wins; later ones (a message after the timeout, say) are dropped.
                let first = outcome.take();
                let wins = first.is_none();
                outcome.set(first.or(Some(result)));
                if wins {
                    let _ = wake.call0(&JsValue::UNDEFINED);
                }
            }
        };

        // A message is ours when it has our type and one of its parameter strings carries our state;
        // other tabs' sign-ins use the same channel with other states.
        let on_data = {
            let finish = finish.clone();
            let state = state.to_owned();
            move |data: JsValue| {
                if js::get_str(&data, "type").as_deref() != Some(MESSAGE_TYPE) {
                    return;
                }
                for key in ["hash", "search"] {
                    if let Some(params) = js::get_str(&data, key)
                        && authorize::state_of(&params).as_deref() == Some(state.as_str())
                    {
                        finish(Ok(params));
                        return;
                    }
                }
            }
        };

        let channel = BroadcastChannel::new(CHANNEL).ok();
        let on_channel = Closure::<dyn FnMut(JsValue)>::new({
            let on_data = on_data.clone();
            move |ev: JsValue| on_data(js::prop(&ev, "data"))
        });
        if let Some(c) = &channel {
            c.set_onmessage(Some(on_channel.as_ref().unchecked_ref()));
        }

        let origin = js::origin(host);
        let on_message = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            if js::prop(&ev, "origin").as_string() == Some(origin.clone()) {
                on_data(js::prop(&ev, "data"));
            }
        });
        let _ = host.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());

        let closed_polls = Cell::new(0u32);
        let on_poll = Closure::<dyn FnMut()>::new({
            let finish = finish.clone();
            let popup = popup.clone();
            move || {
                if is_closed(&popup) {
                    closed_polls.set(closed_polls.get() + 1);
                    if closed_polls.get() >= CLOSED_POLLS {
                        finish(Err(ErrorCode::UserCancelled));
                    }
                }
            }
        });
        let poll = js::set_interval(on_poll.as_ref().unchecked_ref(), POLL_MS);
        let on_timeout = Closure::<dyn FnMut()>::new(move || finish(Err(ErrorCode::Timeout)));
        let timer = js::set_timeout(on_timeout.as_ref().unchecked_ref(), TIMEOUT_MS);

        let _ = JsFuture::from(settled).await;

        // Unhook everything before the closures are dropped.
        if let Some(c) = &channel {
            c.set_onmessage(None);
            c.close();
        }
        let _ = host.remove_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
        js::clear_interval(&poll);
        js::clear_timeout(&timer);
        drop((on_channel, on_message, on_poll, on_timeout));
        close(popup);

        let result = outcome.take();
        match result {
            Some(Ok(params)) => Ok(params),
            Some(Err(ErrorCode::Timeout)) => {
                Err(BrokerError::new(ErrorCode::Timeout, "the sign-in was not completed within 10 minutes"))
            }
            _ => Err(BrokerError::new(
                ErrorCode::UserCancelled,
                "the sign-in window was closed before sign-in completed",
            )),
        }
    })
}
