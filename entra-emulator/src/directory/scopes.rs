//! What a `scope` parameter asks for.
//!
//! Entra splits the space-separated list into the OpenID Connect scopes (`openid`, `profile`,
//! `email`, `offline_access`), which never pick a resource, and resource scopes of the form
//! `<resource>/<name>`; a name without a resource belongs to Microsoft Graph. A token is for one
//! resource only: scopes of two resources fail with AADSTS700022.

use crate::directory::{App, GRAPH_RESOURCE, Tenant};

/// The OpenID Connect scopes.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// One resource scope as written in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualifiedScope {
    /// The resource part as written (App ID URI or app id).
    pub resource: String,
    /// The scope name (`access_as_user`, `.default`).
    pub name: String,
}

/// A parsed `scope` parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestedScopes {
    /// OIDC scopes present (lower case).
    pub oidc: Vec<String>,
    /// Resource scopes in request order.
    pub resource_scopes: Vec<QualifiedScope>,
}

impl RequestedScopes {
    /// Whether `offline_access` was asked for (a refresh token is returned).
    pub fn offline_access(&self) -> bool {
        self.oidc.iter().any(|s| s == "offline_access")
    }

    /// Whether `openid` was asked for (an ID token is returned).
    pub fn openid(&self) -> bool {
        self.oidc.iter().any(|s| s == "openid")
    }
}

/// Splits a `scope` parameter.
pub fn parse(scope: &str) -> RequestedScopes {
    let mut out = RequestedScopes::default();
    for s in scope.split_whitespace() {
        let lower = s.to_ascii_lowercase();
        if OIDC_SCOPES.contains(&lower.as_str()) {
            if !out.oidc.contains(&lower) {
                out.oidc.push(lower);
            }
        } else {
            out.resource_scopes.push(qualify(s));
        }
    }
    out
}

/// `api://x/access_as_user` → (`api://x`, `access_as_user`); `User.Read` → (Graph, `User.Read`).
pub fn qualify(scope: &str) -> QualifiedScope {
    let (scheme_len, rest) = match scope.find("://") {
        Some(i) => (i + 3, &scope[i + 3..]),
        None => (0, scope),
    };
    match rest.rfind('/') {
        Some(i) => QualifiedScope { resource: scope[..scheme_len + i].to_owned(), name: rest[i + 1..].to_owned() },
        None if scheme_len > 0 => QualifiedScope { resource: scope.to_owned(), name: String::new() },
        None => QualifiedScope { resource: GRAPH_RESOURCE.to_owned(), name: scope.to_owned() },
    }
}

/// Why resource scopes could not be resolved against a tenant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// No resource scope at all.
    #[error("no resource scope was requested")]
    NoResource,
    /// Scopes of more than one resource (AADSTS700022).
    #[error("scopes of more than one resource")]
    MultipleResources,
    /// The resource is not in the tenant (AADSTS500011).
    #[error("resource {0} not found")]
    UnknownResource(String),
    /// The resource does not expose this scope, or `.default` is combined with others (AADSTS70011).
    #[error("scope {0} is not valid")]
    InvalidScope(String),
}

/// Resource scopes resolved to one app of the tenant.
#[derive(Debug, Clone)]
pub struct ResolvedScopes<'a> {
    /// The resource app.
    pub app: &'a App,
    /// The resource as the client wrote it (first scope); v1 tokens use it as `aud`.
    pub requested_as: String,
    /// Scope names, `.default` included as written.
    pub names: Vec<String>,
}

impl ResolvedScopes<'_> {
    /// Whether this is a `.default` request.
    pub fn is_default(&self) -> bool {
        self.names.iter().any(|n| n == ".default")
    }
}

/// Resolves resource scopes against `tenant`: one resource, every name exposed (or `.default`).
/// `delegated` selects the delegated scopes; otherwise only `.default` is meaningful.
pub fn resolve<'a>(tenant: &'a Tenant, scopes: &[QualifiedScope]) -> Result<ResolvedScopes<'a>, ScopeError> {
    let first = scopes.first().ok_or(ScopeError::NoResource)?;
    let mut app: Option<&App> = None;
    for s in scopes {
        let found = tenant.resource(&s.resource).ok_or_else(|| ScopeError::UnknownResource(s.resource.clone()))?;
        match app {
            Some(a) if a.client_id != found.client_id => return Err(ScopeError::MultipleResources),
            _ => app = Some(found),
        }
    }
    let app = app.ok_or(ScopeError::NoResource)?;
    let mut names: Vec<String> = Vec::new();
    for s in scopes {
        if s.name.is_empty() {
            return Err(ScopeError::InvalidScope(format!("{}/", s.resource)));
        }
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&s.name)) {
            names.push(s.name.clone());
        }
    }
    let has_default = names.iter().any(|n| n == ".default");
    if has_default && names.len() > 1 {
        return Err(ScopeError::InvalidScope(".default".into()));
    }
    if !has_default && let Some(bad) = names.iter().find(|n| !app.scopes.iter().any(|s| s.eq_ignore_ascii_case(n))) {
        return Err(ScopeError::InvalidScope(format!("{}/{bad}", first.resource)));
    }
    Ok(ResolvedScopes { app, requested_as: first.resource.clone(), names })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn qualifies_the_three_shapes() {
        assert_eq!(
            qualify("api://abc/access_as_user"),
            QualifiedScope { resource: "api://abc".into(), name: "access_as_user".into() }
        );
        assert_eq!(
            qualify("https://graph.microsoft.com/Files.Read"),
            QualifiedScope { resource: "https://graph.microsoft.com".into(), name: "Files.Read".into() }
        );
        assert_eq!(
            qualify("api://contoso.com/api/x"),
            QualifiedScope { resource: "api://contoso.com/api".into(), name: "x".into() }
        );
        assert_eq!(
            qualify("0000-guid/.default"),
            QualifiedScope { resource: "0000-guid".into(), name: ".default".into() }
        );
        assert_eq!(qualify("User.Read"), QualifiedScope { resource: GRAPH_RESOURCE.into(), name: "User.Read".into() });
    }

    #[test]
    fn oidc_scopes_never_pick_a_resource() {
        let parsed = parse("openid profile offline_access api://a/x");
        assert_eq!(parsed.oidc, vec!["openid", "profile", "offline_access"]);
        assert_eq!(parsed.resource_scopes.len(), 1);
        assert!(parsed.offline_access() && parsed.openid());
    }

    proptest! {
        #[test]
        fn qualify_round_trips(res in "api://[a-z0-9]{1,12}(/[a-z]{1,5})?", name in "[A-Za-z_.]{1,16}") {
            let q = qualify(&format!("{res}/{name}"));
            prop_assert_eq!(q.resource, res);
            prop_assert_eq!(q.name, name);
        }

        #[test]
        fn oidc_scopes_are_separated_whatever_the_order(
            oidc in proptest::sample::subsequence(OIDC_SCOPES.to_vec(), 0..=4),
            names in proptest::collection::vec("[a-z]{1,8}", 0..4),
        ) {
            let mut all: Vec<String> = oidc.iter().map(|s| s.to_string()).collect();
            all.extend(names.iter().map(|n| format!("api://r/{n}")));
            all.reverse();
            let parsed = parse(&all.join(" "));
            prop_assert_eq!(parsed.oidc.len(), oidc.len());
            prop_assert_eq!(parsed.resource_scopes.len(), names.len());
        }
    }
}
