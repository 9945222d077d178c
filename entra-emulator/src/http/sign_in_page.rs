//! The pages a person meets at `authorize` when `server.sign_in_page` is on — an account picker
//! and a consent prompt — and the emulator's browser session (a cookie), as Entra has.
//!
//! The pages are forms that POST back to `authorize` with the original request as hidden fields
//! plus the person's choice, so `authorize` checks the whole request again on every step (a
//! tampered hidden field meets the same checks as a query parameter).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use crate::directory::{Tenant, User};
use crate::http::html_escape;

/// Name of the browser-session cookie (Entra's is `ESTSAUTH`).
pub const COOKIE: &str = "tessera_emulator_session";

/// A person signed in to the emulator in one browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    /// The emulator instance it belongs to (its HTTP base): cookies are per host, not per port,
    /// so two emulators on one loopback address see each other's cookie.
    pub emulator: String,
    /// Tenant.
    pub tid: String,
    /// User object id.
    pub oid: String,
    /// When the person signed in (unix seconds): the tokens' `auth_time`.
    pub auth_time: i64,
}

/// At most this many sessions are kept; beyond it the store starts over (everyone signs in
/// again), which bounds the memory a client creating sessions in a loop can take.
const MAX_SESSIONS: usize = 10_000;

/// Browser sessions by cookie value. A process-wide map keyed by random ids rather than a field
/// of the emulator's state: the sessions belong to the sign-in pages alone, and each records its
/// emulator, so a session is honoured only by the instance that made it.
fn store() -> &'static Mutex<HashMap<String, BrowserSession>> {
    static STORE: OnceLock<Mutex<HashMap<String, BrowserSession>>> = OnceLock::new();
    STORE.get_or_init(Mutex::default)
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<String, BrowserSession>> {
    store().lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts a session; the value is the `Set-Cookie` header that carries it.
pub fn start(session: BrowserSession) -> HeaderValue {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut sessions = lock();
    if sessions.len() >= MAX_SESSIONS {
        sessions.clear();
    }
    sessions.insert(id.clone(), session);
    // A valid header value: the id is hex.
    HeaderValue::from_str(&format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` header that ends the session named in `headers`, which is forgotten.
pub fn end(headers: &HeaderMap) -> HeaderValue {
    if let Some(id) = super::cookie::named(headers, COOKIE) {
        lock().remove(&id);
    }
    HeaderValue::from_static("tessera_emulator_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The session the request's cookie names, if this emulator made it.
pub fn current(headers: &HeaderMap, emulator: &str) -> Option<BrowserSession> {
    let id = super::cookie::named(headers, COOKIE)?;
    lock().get(&id).filter(|s| s.emulator == emulator).cloned()
}

/// What the account picker is for (its heading and which accounts it offers first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerKind {
    /// No session (or `prompt=login`): sign in.
    SignIn,
    /// A session exists: continue with it in one click, or use another account.
    Continue,
    /// `prompt=select_account`: every account, none preferred.
    SelectAccount,
}

/// The account picker: a button per user of the tenant; `first` (the session's or the
/// `login_hint`'s user) on top.
pub fn picker(
    action: &str,
    hidden: &[(String, String)],
    tenant: &Tenant,
    app_name: &str,
    kind: PickerKind,
    first: Option<&User>,
) -> Response {
    let (title, lead) = match kind {
        PickerKind::SignIn => ("Sign in", "Pick the account to sign in with."),
        PickerKind::Continue => ("Continue", "You are signed in. Continue with this account, or pick another one."),
        PickerKind::SelectAccount => ("Pick an account", "Which account do you want to use?"),
    };
    let mut users: Vec<&User> = tenant.users.iter().collect();
    if let Some(f) = first {
        users.retain(|u| u.oid != f.oid);
        users.insert(0, f);
    }
    let buttons: String = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let badge = match (i, kind, first.is_some()) {
                (0, PickerKind::Continue, true) => " <span class=\"badge\">signed in</span>",
                (0, PickerKind::SignIn, true) => " <span class=\"badge\">suggested</span>",
                _ => "",
            };
            format!(
                "<button type=\"submit\" name=\"ui_account\" value=\"{oid}\" class=\"account\"><b>{name}</b>{badge}<br><span>{upn}</span></button>",
                oid = html_escape(&u.oid),
                name = html_escape(&u.name),
                upn = html_escape(&u.upn),
            )
        })
        .collect();
    let body = format!(
        "<p class=\"lead\">{lead}</p><p>to continue to <b>{app}</b> ({tenant})</p>\
         <form method=\"post\" action=\"{action}\">{hidden}<input type=\"hidden\" name=\"ui_step\" value=\"signin\">{buttons}</form>\
         <p class=\"note\">Entra emulator: no password is asked.</p>",
        app = html_escape(app_name),
        tenant = html_escape(&tenant.display_name),
        action = html_escape(action),
        hidden = hidden_inputs(hidden),
    );
    page(title, &body)
}

/// The consent prompt: what `app_name` asks to do as `user`; Accept or Cancel.
pub fn consent(
    action: &str,
    hidden: &[(String, String)],
    app_name: &str,
    user: &User,
    scopes: &[String],
    set_cookie: Option<HeaderValue>,
) -> Response {
    let items: String = scopes.iter().map(|s| format!("<li><code>{}</code></li>", html_escape(s))).collect();
    let body = format!(
        "<p class=\"lead\"><b>{app}</b> wants to act as <b>{name}</b> ({upn}) with these permissions:</p><ul>{items}</ul>\
         <form method=\"post\" action=\"{action}\">{hidden}<input type=\"hidden\" name=\"ui_step\" value=\"consent\">\
         <button type=\"submit\" name=\"ui_decision\" value=\"accept\" class=\"primary\">Accept</button> \
         <button type=\"submit\" name=\"ui_decision\" value=\"cancel\">Cancel</button></form>",
        app = html_escape(app_name),
        name = html_escape(&user.name),
        upn = html_escape(&user.upn),
        action = html_escape(action),
        hidden = hidden_inputs(hidden),
    );
    let mut res = page("Permissions requested", &body);
    if let Some(cookie) = set_cookie {
        res.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    res
}

fn hidden_inputs(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", html_escape(k), html_escape(v)))
        .collect()
}

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t} — Entra emulator</title>\
         <link rel=\"icon\" href=\"data:,\"><style>\
         body{{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f2f2f2;color:#1b1b1b}}\
         main{{max-width:26rem;margin:2rem auto;background:#fff;padding:1.5rem 1.8rem;box-shadow:0 2px 6px rgba(0,0,0,.2)}}\
         h1{{font-size:1.4rem;margin:.2rem 0 .8rem}} .brand{{color:#666;font-size:13px}}\
         .account{{display:block;width:100%;text-align:left;font:inherit;padding:.6rem .8rem;margin:.4rem 0;background:#fff;border:1px solid #ccc;cursor:pointer}}\
         .account:hover{{background:#f0f6ff}} .account span{{color:#555;font-size:13px}}\
         .badge{{font-size:11px;background:#deecf9;color:#0f548c;padding:0 .3rem;border-radius:3px}}\
         button{{font:inherit;padding:.4rem 1rem}} .primary{{background:#0f6cbd;color:#fff;border:1px solid #0f6cbd}}\
         .note{{color:#666;font-size:12px}}</style></head>\
         <body><main><div class=\"brand\">Entra emulator</div><h1>{t}</h1>{body}</main></body></html>",
        t = html_escape(title),
    );
    let mut res = Html(html).into_response();
    // Entra's pages must not be framed or cached either.
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert("x-frame-options", HeaderValue::from_static("DENY"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(emulator: &str) -> BrowserSession {
        BrowserSession { emulator: emulator.into(), tid: "t".into(), oid: "o".into(), auth_time: 1 }
    }

    fn with_cookie(set_cookie: &HeaderValue) -> HeaderMap {
        let pair = set_cookie.to_str().unwrap().split(';').next().unwrap().to_owned();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(&format!("other=1; {pair}")).unwrap());
        h
    }

    #[test]
    fn a_session_is_found_by_its_cookie_only_at_its_own_emulator_and_ends() {
        let cookie = start(session("http://127.0.0.1:1"));
        assert!(cookie.to_str().unwrap().contains("HttpOnly"));
        let headers = with_cookie(&cookie);
        assert_eq!(current(&headers, "http://127.0.0.1:1"), Some(session("http://127.0.0.1:1")));
        assert_eq!(current(&headers, "http://127.0.0.1:2"), None);
        assert!(end(&headers).to_str().unwrap().contains("Max-Age=0"));
        assert_eq!(current(&headers, "http://127.0.0.1:1"), None);
        assert_eq!(current(&HeaderMap::new(), "http://127.0.0.1:1"), None);
    }
}
