//! What the broker is configured with: the page's options (`Tessera.configure`) and the STS's
//! `GET /broker/config`, and the checks that keep a misconfiguration from sending tokens astray.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::errors::{BrokerError, ErrorCode};
use crate::text::cat;

/// One backend resource of a workload and the scopes the STS may ask for on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// e.g. `https://graph.microsoft.com` (no trailing slash after normalisation).
    pub resource: String,
    /// Short scope names, e.g. `Files.Read`.
    pub scopes: Vec<String>,
}

/// A workload: one client app registration and the backends the STS exchanges its tokens for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// The name controls pass as `workload`, sent to the STS as `audience`.
    pub name: String,
    /// The client app the user token is for (its `aud`).
    pub client_app_id: String,
    /// The delegated scope the broker asks Entra for, e.g. `api://<client>/access_as_user`.
    pub user_scope: String,
    /// The backends this workload may get tokens for.
    pub backends: Vec<Backend>,
}

/// The STS's answer to `GET /broker/config`. Nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// The broker app (SPA public client) the user signs in to.
    pub broker_app_id: String,
    /// Authority host, e.g. `https://login.microsoftonline.com` (no trailing slash).
    pub authority: String,
    /// The workloads the broker may serve.
    pub workloads: Vec<Workload>,
}

/// The sign-in hosts the bundle trusts without being told: Microsoft Entra's, in the public cloud
/// (and its `login.microsoft.com` alias), US Government and China (21Vianet, current and legacy
/// host). Any other authority (the emulator, a test tenant's proxy) must be named by the page at
/// `Tessera.configure({ authority })`: an operator's choice, which the STS cannot make.
pub const MICROSOFT_AUTHORITIES: [&str; 5] = [
    "https://login.microsoftonline.com",
    "https://login.microsoft.com",
    "https://login.microsoftonline.us",
    "https://login.partner.microsoftonline.cn",
    "https://login.chinacloudapi.cn",
];

impl BrokerConfig {
    /// Checks and normalises a config as received: ids lower-case, no trailing slashes, unique
    /// workload names, at least one workload, and the authority pinned. `pinned` is the authority
    /// the page named at `configure` (already checked); without one the STS may only choose among
    /// [`MICROSOFT_AUTHORITIES`]. Either way the STS can narrow (pick the cloud), never redirect:
    /// a compromised STS must not be able to put its own sign-in page in the popup or receive
    /// refresh tokens.
    pub fn validated(mut self, pinned: Option<&str>) -> Result<Self, BrokerError> {
        let bad =
            |what: &str| BrokerError::new(ErrorCode::StsError, cat(&["the STS broker config is invalid: ", what]));
        self.broker_app_id = self.broker_app_id.trim().to_ascii_lowercase();
        if !is_guid(&self.broker_app_id) {
            return Err(bad("broker_app_id is not a GUID"));
        }
        let authority = self.authority.trim().trim_end_matches('/');
        let allowed = match &pinned {
            Some(p) => core::slice::from_ref(p),
            None => &MICROSOFT_AUTHORITIES[..],
        };
        // The STS may leave it out (the pinned one, or the public cloud) or choose among them.
        self.authority = match allowed.iter().find(|a| authority.is_empty() || a.eq_ignore_ascii_case(authority)) {
            Some(a) => (*a).to_owned(),
            None if pinned.is_some() => return Err(bad("authority is not configure's")),
            None => return Err(bad("authority is not Microsoft's (others: configure's authority)")),
        };
        if self.workloads.is_empty() {
            return Err(bad("no workloads"));
        }
        for i in 0..self.workloads.len() {
            let w = &mut self.workloads[i];
            w.client_app_id = w.client_app_id.trim().to_ascii_lowercase();
            if w.name.is_empty() || !is_guid(&w.client_app_id) || w.user_scope.trim().is_empty() {
                return Err(bad("a workload lacks a name, client_app_id or user_scope"));
            }
            for b in &mut w.backends {
                b.resource = b.resource.trim().trim_end_matches('/').to_owned();
            }
            let name = w.name.clone();
            if self.workloads[..i].iter().any(|o| o.name == name) {
                return Err(bad("duplicate workload name"));
            }
        }
        Ok(self)
    }

    /// The workload called `name`.
    pub fn workload(&self, name: &str) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.name == name)
    }
}

/// `Tessera.configure(options)`, before checks. `None` means "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawOptions {
    /// Base URL of the STS.
    pub sts_url: Option<String>,
    /// Absolute URL of the blank redirect page (same origin as the page).
    pub redirect_uri: Option<String>,
    /// Tenant id or verified domain; falls back to `Xrm`'s organisation settings.
    pub tenant_id: Option<String>,
    /// `login_hint` for the sign-in; falls back to `Xrm`'s user name.
    pub login_hint: Option<String>,
    /// Only `"memory"` (the default) is accepted: the refresh token is never written to storage.
    pub persistence: Option<String>,
    /// A sign-in authority other than Microsoft's (e.g. the emulator): `scheme://host[:port]`.
    pub authority: Option<String>,
}

/// What `Xrm.Utility.getGlobalContext()` says, when the page is a model-driven app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XrmContext {
    /// `organizationSettings.tenantId`.
    pub tenant_id: Option<String>,
    /// `userSettings.userName`.
    pub user_name: Option<String>,
}

/// Checked options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// STS base URL without trailing slash.
    pub sts_url: String,
    /// Redirect page URL, registered as an SPA redirect URI on the broker app.
    pub redirect_uri: String,
    /// Tenant for the tenant-specific authority (guests need it; `/common` is refused).
    pub tenant: String,
    /// Default `login_hint`.
    pub login_hint: Option<String>,
    /// The authority the page named (lower-case origin), if any; see [`BrokerConfig::validated`].
    pub authority: Option<String>,
    /// The Dynamics user (`Xrm`'s, [`crate::relay::user_key`]): other tabs' sign-in is shared only
    /// with tabs of the same user.
    pub user: String,
}

impl RawOptions {
    /// Checks the options against the page they run in. Explicit values win over `Xrm`.
    pub fn validate(self, page_origin: &str, xrm: &XrmContext) -> Result<Options, BrokerError> {
        let invalid = |what: &str| BrokerError::new(ErrorCode::InvalidRequest, cat(&["Tessera.configure: ", what]));
        let sts_url = self.sts_url.unwrap_or_default();
        let sts_url = sts_url.trim().trim_end_matches('/');
        if !is_allowed_url(sts_url, page_origin) {
            return Err(invalid("stsUrl must be an https URL (http only on loopback)"));
        }
        let redirect_uri = self.redirect_uri.unwrap_or_default().trim().to_owned();
        if !is_allowed_url(&redirect_uri, page_origin) {
            return Err(invalid("redirectUri must be an absolute https URL"));
        }
        // BroadcastChannel and postMessage only reach a same-origin page: a redirect page
        // elsewhere would swallow the sign-in response.
        if origin_of(&redirect_uri) != origin_of(page_origin) {
            return Err(invalid("redirectUri must be on the page's own origin"));
        }
        let tenant = self.tenant_id.or_else(|| xrm.tenant_id.clone()).unwrap_or_default().trim().to_ascii_lowercase();
        if !is_specific_tenant(&tenant) {
            return Err(invalid(
                "tenantId (or Xrm's) must be a tenant GUID or domain, not common/organizations/consumers",
            ));
        }
        let login_hint = self.login_hint.or_else(|| xrm.user_name.clone()).filter(|h| !h.trim().is_empty());
        // The `sessionStorage` mode is gone (issue 17): any script of the origin could read or
        // plant the refresh token there, and it outlived sign-out and user changes.
        if self.persistence.as_deref().is_some_and(|p| p != "memory") {
            return Err(invalid("persistence: memory only (sessionStorage was removed)"));
        }
        let authority = match self.authority {
            None => None,
            Some(a) => {
                let a = a.trim().trim_end_matches('/');
                let origin = origin_of(a);
                if !origin.eq_ignore_ascii_case(a) || !is_allowed_url(&origin, page_origin) {
                    return Err(invalid("authority must be an https origin"));
                }
                Some(origin)
            }
        };
        let user = crate::relay::user_key(xrm.user_name.as_deref());
        Ok(Options { sts_url: sts_url.to_owned(), redirect_uri, tenant, login_hint, authority, user })
    }
}

/// `8-4-4-4-12` hex digits.
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A tenant id (GUID) or a domain such as `contoso.onmicrosoft.com`, never a multi-tenant alias.
pub fn is_specific_tenant(t: &str) -> bool {
    if is_guid(t) {
        return true;
    }
    !matches!(t, "common" | "organizations" | "consumers")
        && t.contains('.')
        && !t.starts_with('.')
        && !t.ends_with('.')
        && t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
}

/// `https://…`, or `http://` to a loopback host when the page itself is on loopback (the emulator
/// and local STS of tests and demos). Anything else could leak a token over clear text; and a
/// production page never talks to a loopback server (whatever listens there is not the operator's).
#[inline(never)]
pub fn is_allowed_url(url: &str, page_origin: &str) -> bool {
    match host_of(url) {
        Some((true, _)) => true,
        Some((false, host)) => is_loopback(host) && host_of(page_origin).is_some_and(|(_, h)| is_loopback(h)),
        None => false,
    }
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// Whether an absolute http(s) URL is https, and its host; `None` for anything else.
#[inline(never)]
fn host_of(url: &str) -> Option<(bool, &str)> {
    let (secure, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    // `user@host` is refused outright: it is how look-alike URLs hide the real host.
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let host = match authority.find(']') {
        Some(close) if authority.starts_with('[') => authority.get(..=close).unwrap_or(authority),
        _ => authority.split(':').next().unwrap_or(authority),
    };
    Some((secure, host))
}

/// The origin (`scheme://host[:port]`, lower-case, default port dropped) of an absolute URL, as
/// `location.origin` would print it; the whole input when it is already an origin.
pub fn origin_of(url: &str) -> String {
    // `find(':')` + `strip_prefix("//")` rather than `split_once("://")`: a `&str` pattern links
    // core's two-way substring searcher (~2 KB of wasm) for this one call.
    let Some((scheme, rest)) = url.split_once(':').and_then(|(s, r)| Some((s, r.strip_prefix("//")?))) else {
        return url.to_ascii_lowercase();
    };
    let scheme = scheme.to_ascii_lowercase();
    let mut authority = rest.split(['/', '?', '#']).next().unwrap_or(rest).to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    if authority.ends_with(default_port) {
        authority.truncate(authority.len() - default_port.len());
    }
    cat(&[&scheme, "://", &authority])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
