//! Reading requested scopes and resource identifiers the way Entra does.
//!
//! Hand-written rather than built on the `url` crate on purpose: Entra compares resources as
//! *strings* with a case-insensitive scheme and host and no trailing `/`, and App ID URIs such as
//! `api://<guid>` or `urn:contoso:api` are not URLs a WHATWG parser leaves alone (it would add a
//! path `/`, percent-encode, or reject them). A few lines that follow Entra exactly are safer
//! than a general parser that follows a different rule.

use std::borrow::Cow;

/// The resource a bare scope (`User.Read`, no resource) means: Entra's own convention.
pub const MICROSOFT_GRAPH_RESOURCE: &str = "https://graph.microsoft.com";

/// OIDC scopes. Entra ignores them when it picks the resource of a request, so do we.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// The scope that stands for "every permission the app was granted on this resource".
pub const DEFAULT_SCOPE: &str = ".default";

/// One requested scope, split into its resource and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRef<'a> {
    /// The resource, normalised with [`normalize_resource`].
    pub resource: Cow<'a, str>,
    /// The scope name as requested (`Files.Read`, `.default`).
    pub name: &'a str,
}

/// Why a requested scope token cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed scope {scope:?}")]
pub struct MalformedScope {
    pub scope: String,
}

/// Normalises a resource identifier for comparison: trailing `/` removed; scheme and host
/// lower-cased (`HTTPS://Graph.Microsoft.COM/` → `https://graph.microsoft.com`) while a path keeps
/// its case; an identifier without `://` (an app id GUID, `urn:…`) lower-cased whole.
pub fn normalize_resource(resource: &str) -> String {
    normalized(resource).into_owned()
}

/// [`normalize_resource`] without a copy when the identifier is already normal, as the ones in
/// tokens and requests nearly always are (this runs on every exchange).
pub fn normalized(resource: &str) -> Cow<'_, str> {
    let trimmed = resource.trim_end_matches('/');
    let (folded, path) = match trimmed.split_once("://") {
        Some((_, rest)) => {
            let end = trimmed.len() - rest.len() + rest.find('/').unwrap_or(rest.len());
            trimmed.split_at(end)
        }
        None => (trimmed, ""),
    };
    if folded.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(format!("{}{path}", folded.to_ascii_lowercase()))
    } else {
        Cow::Borrowed(trimmed)
    }
}

/// Whether a scope token is one of the OIDC scopes (compared case-insensitively).
pub fn is_oidc_scope(token: &str) -> bool {
    OIDC_SCOPES.iter().any(|s| s.eq_ignore_ascii_case(token))
}

/// Reads a space-separated `scope` parameter. OIDC scopes are dropped; every other token is split
/// at its last `/` into resource and name (`api://contoso/expenses/Read` is resource
/// `api://contoso/expenses`, name `Read`), and a token without `/` names a Microsoft Graph scope.
/// Empty tokens from repeated spaces are skipped. The result keeps the request's order and
/// duplicates.
pub fn parse_scopes(scope: &str) -> Result<Vec<ScopeRef<'_>>, MalformedScope> {
    let mut out = Vec::new();
    for token in scope.split(' ').filter(|t| !t.is_empty()) {
        if !is_scope_token(token) {
            return Err(MalformedScope { scope: token.to_owned() });
        }
        if is_oidc_scope(token) {
            continue;
        }
        let (resource, name) = token.rsplit_once('/').unwrap_or((MICROSOFT_GRAPH_RESOURCE, token));
        let resource = normalized(resource);
        if name.is_empty() || resource.is_empty() {
            return Err(MalformedScope { scope: token.to_owned() });
        }
        out.push(ScopeRef { resource, name });
    }
    Ok(out)
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )` — printable ASCII except
/// space, `"` and `\`.
fn is_scope_token(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn normalises_scheme_and_host_but_not_path() {
        assert_eq!(normalize_resource("HTTPS://Graph.Microsoft.COM/"), "https://graph.microsoft.com");
        assert_eq!(normalize_resource("api://Contoso.Example/Expenses//"), "api://contoso.example/Expenses");
        assert_eq!(normalize_resource("00000003-0000-0000-C000-000000000000"), "00000003-0000-0000-c000-000000000000");
        assert!(matches!(normalized("https://graph.microsoft.com"), Cow::Borrowed(_)), "already normal: no copy");
    }

    proptest::proptest! {
        /// The copy-free version agrees with the rule spelled out in full, and is idempotent.
        #[test]
        fn normalized_follows_the_rule(r in "([a-zA-Z]{1,5}://)?[a-zA-Z0-9.:-]{0,12}(/[a-zA-Z0-9/]{0,8})?") {
            let trimmed = r.trim_end_matches('/');
            let expected = match trimmed.split_once("://") {
                Some((scheme, rest)) => {
                    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                    format!("{}://{}{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase(), path)
                }
                None => trimmed.to_ascii_lowercase(),
            };
            let (once, twice) = (normalized(&r), normalized(&expected));
            proptest::prop_assert_eq!(once.as_ref(), expected.as_str());
            proptest::prop_assert_eq!(twice.as_ref(), expected.as_str());
        }
    }

    #[test]
    fn splits_at_the_last_slash_and_defaults_to_graph() {
        let parsed = parse_scopes("openid  api://contoso.example/expenses/Read User.Read PROFILE").unwrap();
        assert_eq!(
            parsed,
            vec![
                ScopeRef { resource: "api://contoso.example/expenses".into(), name: "Read" },
                ScopeRef { resource: MICROSOFT_GRAPH_RESOURCE.into(), name: "User.Read" },
            ]
        );
    }

    #[test]
    fn rejects_tokens_outside_rfc6749() {
        for bad in
            ["https://graph.microsoft.com/", "/Files.Read", "Files\"Read", "Files\\Read", "Files\tRead", "Fi\u{e9}"]
        {
            assert!(parse_scopes(bad).is_err(), "{bad:?} should be malformed");
        }
    }
}
