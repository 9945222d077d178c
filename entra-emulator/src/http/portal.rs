//! A Power Pages site's endpoints, under `/_portal/{host}`:
//!
//! - `POST …/_services/auth/token` (`client_id`, `redirect_uri`, `state`, `nonce`,
//!   `response_type=token`, as query or form): the signed-in contact's token as the body, `state`
//!   and `expires_in` as response headers; a `client_id` that is malformed (over 36 characters, or
//!   not alphanumeric/hyphen) or not registered in `ImplicitGrantFlow/RegisteredClientId` answers
//!   400 `{"ErrorId":"PortalSTS0001",…}`.
//! - `GET …/_services/auth/publickey`: the site's key, PEM.
//! - `GET …/SignIn` lists the contacts; `POST …/SignIn` (`contact`, `returnUrl`) signs one in with
//!   a cookie scoped to the site's path and goes back to `returnUrl` (a same-site path only).
//!
//! Not signed in, the token endpoint answers 401 with `ErrorId` [`NOT_SIGNED_IN`]: the spec
//! documents only `PortalSTS0001`, so that id is the emulator's own.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;
use tessera_wire::portal;

use crate::http::{Ctx, found, html_escape};
use crate::portal::PortalToken;

/// Cookie of a portal sign-in (Power Pages uses ASP.NET's application cookie).
pub const COOKIE: &str = "portal_session";
/// `ErrorId` when no contact is signed in (the emulator's choice, see the module docs).
pub const NOT_SIGNED_IN: &str = "PortalSTS0002";
/// `state` and `nonce` longer than this are refused (spec).
const MAX_STATE: usize = 20;

fn params(query: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
    all.extend(url::form_urlencoded::parse(body).into_owned());
    all
}

fn param<'a>(all: &'a [(String, String)], name: &str) -> Option<&'a str> {
    all.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// The portal's error body.
fn error(status: StatusCode, id: &str, message: &str) -> Response {
    let now =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let body = json!({
        "ErrorId": id,
        "ErrorMessage": message,
        "Timestamp": now,
        "CorrelationId": uuid::Uuid::new_v4().to_string(),
    });
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `POST /_portal/{host}/_services/auth/token`.
pub async fn token(
    State(ctx): State<Ctx>,
    Path(host): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let all = params(query.as_deref(), &body);
    let client_id = param(&all, "client_id");
    let state = param(&all, "state");
    let nonce = param(&all, "nonce");
    let contact = super::cookie::named(&headers, COOKIE).and_then(|c| ctx.shared.portal.session(&host, &c));
    let now = ctx.shared.now().unix_timestamp();
    let answer = ctx.shared.portal.with_site(&host, |site| {
        if !site.enabled() {
            return Err(Box::new(error(
                StatusCode::NOT_FOUND,
                portal::ERROR_INVALID_CLIENT,
                "The implicit grant flow is disabled.",
            )));
        }
        if let Some(id) = client_id {
            let well_formed = id.len() <= 36 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !well_formed || !site.is_registered(id) {
                return Err(Box::new(error(
                    StatusCode::BAD_REQUEST,
                    portal::ERROR_INVALID_CLIENT,
                    "Client Id provided in the request is not a valid registered client Id for the portal.",
                )));
            }
        }
        if state.is_some_and(|s| s.len() > MAX_STATE) || nonce.is_some_and(|n| n.len() > MAX_STATE) {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                portal::ERROR_INVALID_CLIENT,
                "state and nonce may be at most 20 characters long.",
            )));
        }
        let Some(contact) = contact.as_deref().and_then(|c| site.contact(c)) else {
            return Err(Box::new(error(
                StatusCode::UNAUTHORIZED,
                NOT_SIGNED_IN,
                "No user is signed in to the portal.",
            )));
        };
        let lifetime = site.lifetime_secs();
        let t = PortalToken { client_id, nonce, iat: now, lifetime_secs: lifetime, extra: None };
        site.sign(contact, &t).map(|token| (token, lifetime)).map_err(|e| {
            tracing::error!(error = %e, "signing a portal token");
            Box::new(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        })
    });
    let (token, lifetime) = match answer {
        None => return StatusCode::NOT_FOUND.into_response(),
        Some(Err(res)) => return *res,
        Some(Ok(ok)) => ok,
    };
    ctx.shared.portal.count_issued();
    let mut res = (StatusCode::OK, token).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(portal::EXPIRES_IN_HEADER, HeaderValue::from(lifetime));
    if let Some(v) = state.and_then(|s| HeaderValue::from_str(s).ok()) {
        h.insert(portal::STATE_HEADER, v);
    }
    res
}

/// `GET /_portal/{host}/_services/auth/publickey`.
pub async fn public_key(State(ctx): State<Ctx>, Path(host): Path<String>) -> Response {
    match ctx.shared.portal.with_site(&host, |s| s.key.public_pem().to_owned()) {
        Some(pem) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], pem).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /_portal/{host}/SignIn`: a button per contact.
pub async fn sign_in_page(State(ctx): State<Ctx>, Path(host): Path<String>, RawQuery(query): RawQuery) -> Response {
    let all = params(query.as_deref(), b"");
    let return_url = param(&all, "returnUrl").unwrap_or("");
    let Some(contacts) = ctx.shared.portal.with_site(&host, |s| s.config.contacts.clone()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let buttons: String = contacts
        .iter()
        .map(|c| {
            format!(
                "<button type=\"submit\" name=\"contact\" value=\"{}\">{} {} ({})</button><br>",
                html_escape(&c.id),
                html_escape(&c.given_name),
                html_escape(&c.family_name),
                html_escape(&c.username)
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in — {h}</title></head>\
         <body><h1>Sign in to {h}</h1><form method=\"post\"><input type=\"hidden\" name=\"returnUrl\" value=\"{r}\">{buttons}</form>\
         <p>Power Pages emulator: no password is asked.</p></body></html>",
        h = html_escape(&host),
        r = html_escape(return_url),
    ))
    .into_response()
}

/// `POST /_portal/{host}/SignIn`: signs the contact in (cookie), back to `returnUrl`.
pub async fn sign_in(State(ctx): State<Ctx>, Path(host): Path<String>, body: Bytes) -> Response {
    let all = params(None, &body);
    let Some(contact) = param(&all, "contact") else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match ctx.shared.portal.with_site(&host, |s| s.contact(contact).map(|c| c.id.clone())) {
        None => return StatusCode::NOT_FOUND.into_response(),
        Some(None) => return StatusCode::BAD_REQUEST.into_response(),
        Some(Some(_)) => {}
    }
    let site_path = format!("/_portal/{}", host.to_ascii_lowercase());
    let id = ctx.shared.portal.sign_in(&host, contact);
    let Ok(set_cookie) = HeaderValue::from_str(&format!("{COOKIE}={id}; Path={site_path}; HttpOnly; SameSite=Lax"))
    else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    // Only a path of this site: an open redirect would be a gift to a phisher.
    let back = param(&all, "returnUrl")
        .filter(|r| r.starts_with(&format!("{site_path}/")) && !r.contains("//") && !r.contains('\\'))
        .map(str::to_owned);
    let mut res = match back {
        Some(r) => found(&r),
        None => (StatusCode::OK, Html("<!doctype html><p>Signed in.</p>".to_owned())).into_response(),
    };
    res.headers_mut().insert(header::SET_COOKIE, set_cookie);
    res
}

/// `GET /_portal/{host}/`: a Power Pages-like home page. Like a real portal page that reads its
/// site settings through Liquid, it takes the STS URL, workload and scope from the site settings
/// `Tessera/StsUrl`, `Tessera/Workload` and `Tessera/Scope`, and the client id from
/// `ImplicitGrantFlow/RegisteredClientId`. Its script asks the site for the contact's token (same
/// origin, the session cookie: no popup) and exchanges it at the STS — through the Tessera broker
/// (`Tessera.configure({ identity: "powerPages", … })`) when the setting `Tessera/BrokerScriptUrl`
/// names its bundle, by hand otherwise. It shows the backend token's claims, never a token.
pub async fn home(State(ctx): State<Ctx>, Path(host): Path<String>) -> Response {
    let settings = ctx.shared.portal.with_site(&host, |s| {
        let get = |k: &str| s.setting(k).unwrap_or_default().to_owned();
        let client_id =
            get(portal::SETTING_REGISTERED_CLIENT_ID).split(';').next().unwrap_or_default().trim().to_owned();
        serde_json::json!({
            "stsUrl": get("Tessera/StsUrl"),
            "workload": get("Tessera/Workload"),
            "scope": get("Tessera/Scope"),
            "clientId": client_id,
            "signIn": format!("/_portal/{}/SignIn?returnUrl=/_portal/{}/", s.config.host, s.config.host),
            "sitePath": format!("/_portal/{}", s.config.host),
            "brokerScript": get("Tessera/BrokerScriptUrl"),
        })
    });
    let Some(settings) = settings else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let broker_script = settings["brokerScript"].as_str().unwrap_or_default().to_owned();
    // `</` cannot end the script early: JSON strings escape it.
    let json = settings.to_string().replace("</", "<\\/");
    let mut res = Html(format!("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{h}</title></head>\
<body><h1>{h}</h1><p>A Power Pages-like page: the site's own token for the signed-in contact, exchanged at Tessera for an app-only backend token. No popup.</p>\
<button id=\"get\">Get a backend token</button> <a id=\"signin\" hidden>Sign in to the site first</a><pre id=\"out\"></pre>\
<script>\nconst cfg = {json};\n{PAGE_SCRIPT}</script>{broker}</body></html>",
        h = html_escape(&host),
        broker = if broker_script.is_empty() {
            String::new()
        } else {
            format!("<script src=\"{}\"></script>", html_escape(&broker_script))
        }))
    .into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

const PAGE_SCRIPT: &str = r#"
const out = document.getElementById('out');
const claims = (jwt) => JSON.parse(atob(jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
const show = (contact, portalTokenExpiresIn, token, expiresIn, via) => {
  const c = claims(token);
  out.textContent = JSON.stringify({ via, contact, portalTokenExpiresIn,
    backend: { aud: c.aud, idtyp: c.idtyp, roles: c.roles, expires_in: expiresIn } }, null, 2);
};
const notSignedIn = () => {
  const a = document.getElementById('signin'); a.href = cfg.signIn; a.hidden = false;
  out.textContent = 'not signed in to the site';
};
document.getElementById('get').onclick = async () => {
  out.textContent = '…';
  if (window.Tessera) {
    // The broker: no popup, the site's token and the STS exchange, both cached until near expiry.
    try {
      await Tessera.configure({ identity: 'powerPages', clientId: cfg.clientId, stsUrl: cfg.stsUrl, sitePath: cfg.sitePath });
      const t = await Tessera.getToken({ workload: cfg.workload, scopes: [cfg.scope] });
      show(null, null, t.accessToken, Math.round((t.expiresOn - Date.now()) / 1000), t.fromCache ? 'broker (cached)' : 'broker');
    } catch (e) {
      if (e.code === 'interaction_required') notSignedIn(); else out.textContent = e.code + ': ' + e.message;
    }
    return;
  }
  const state = crypto.getRandomValues(new Uint32Array(2)).join('').slice(0, 20);
  const site = await fetch('./_services/auth/token', { method: 'POST', credentials: 'same-origin',
    body: new URLSearchParams({ client_id: cfg.clientId, response_type: 'token', state }) });
  if (site.status === 401) { notSignedIn(); return; }
  if (!site.ok || site.headers.get('state') !== state) { out.textContent = 'the site refused: ' + site.status; return; }
  const portalToken = await site.text();
  const sts = await fetch(cfg.stsUrl + '/token', { method: 'POST', body: new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: portalToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', audience: cfg.workload, scope: cfg.scope }) });
  const body = await sts.json();
  if (!sts.ok) { out.textContent = body.error + ': ' + body.error_description; return; }
  show(claims(portalToken).sub, site.headers.get('expires_in'), body.access_token, body.expires_in, 'page');
};
"#;
