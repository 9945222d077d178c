//! Optional `sessionStorage` persistence of the session (refresh token + account), so a reload in
//! the same tab does not ask the user to sign in again. Never `localStorage`: a refresh token there
//! outlives the tab and is readable by every script of the origin for days.

use super::prelude::*;

use wasm_bindgen::JsValue;
use web_sys::{Storage, Window};

use super::js;
use crate::secret::RefreshToken;
use crate::session::{Account, Session};

/// One key per broker app and tenant, versioned with the window API.
fn key(broker_app_id: &str, tenant: &str) -> String {
    crate::text::cat(&["tessera.broker.v1:", broker_app_id, ":", tenant])
}

fn storage(win: &Window) -> Option<Storage> {
    win.session_storage().ok().flatten()
}

/// Writes the session.
pub fn save(win: &Window, broker_app_id: &str, tenant: &str, s: &Session) {
    let Some(store) = storage(win) else { return };
    let o = js::object();
    js::set_str(&o, "rt", Some(s.refresh_token.expose()));
    js::set(&o, "exp", &JsValue::from_f64(s.refresh_expires_at as f64));
    js::set_str(&o, "username", Some(&s.account.username));
    js::set_str(&o, "name", s.account.name.as_deref());
    js::set_str(&o, "tid", s.account.tenant_id.as_deref());
    js::set_str(&o, "oid", s.account.object_id.as_deref());
    if let Some(text) = js::stringify(&o) {
        let _ = store.set_item(&key(broker_app_id, tenant), &text);
    }
}

/// Reads a saved session, if there is a well-formed one.
pub fn load(win: &Window, broker_app_id: &str, tenant: &str) -> Option<Session> {
    let text = storage(win)?.get_item(&key(broker_app_id, tenant)).ok().flatten()?;
    let v = js::parse_json(&text)?;
    let rt = js::get_str(&v, "rt").filter(|s| !s.is_empty())?;
    let exp = js::get_num(&v, "exp")?;
    Some(Session {
        refresh_token: RefreshToken::new(rt),
        refresh_expires_at: exp as u64,
        account: Account {
            username: js::get_str(&v, "username").unwrap_or_default(),
            name: js::get_str(&v, "name"),
            tenant_id: js::get_str(&v, "tid"),
            object_id: js::get_str(&v, "oid"),
        },
    })
}

/// Forgets the saved session.
pub fn clear(win: &Window, broker_app_id: &str, tenant: &str) {
    if let Some(store) = storage(win) {
        let _ = store.remove_item(&key(broker_app_id, tenant));
    }
}
