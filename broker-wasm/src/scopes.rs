//! Scope normalisation: what a control asks for (`["Files.Read"]`,
//! `["https://graph.microsoft.com/Files.Read"]`, `"User.Read Files.Read"`) becomes the one canonical,
//! fully qualified, sorted set of ONE resource that the STS receives and the cache is keyed by.
//!
//! One resource per request because OBO itself allows only one (AADSTS700022).

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::config::Workload;
use crate::errors::{BrokerError, ErrorCode};
use crate::text::cat;
use crate::vecmap::insert_sorted;

/// OIDC scopes mean nothing to a backend; Entra ignores them when picking the resource, so do we.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// A checked request: one resource, fully qualified scopes, sorted and unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSet {
    /// The resource, as configured (e.g. `https://graph.microsoft.com`).
    pub resource: String,
    /// Fully qualified scopes, e.g. `https://graph.microsoft.com/Files.Read`.
    pub scopes: Vec<String>,
}

impl ScopeSet {
    /// Space-separated, the form of the `scope` parameter and of the cache key.
    pub fn joined(&self) -> String {
        self.scopes.join(" ")
    }
}

fn invalid(what: &str) -> BrokerError {
    BrokerError::new(ErrorCode::InvalidRequest, cat(&["getToken: ", what]))
}

/// Splits `<resource>/<name>` at the last `/`, when the scope is qualified at all.
/// `https://graph.microsoft.com/Files.Read` and `api://x/y/.default` are; `Files.Read` is not.
fn split_qualified(scope: &str) -> Option<(&str, &str)> {
    let (resource, name) = scope.rsplit_once('/')?;
    (!resource.is_empty() && !name.is_empty()).then_some((resource, name))
}

/// Normalises `requested` for `workload`. Short names resolve to the workload's only backend, or
/// to the one backend that lists the name; a qualified scope must name a configured backend.
pub fn normalise(workload: &Workload, requested: &[String]) -> Result<ScopeSet, BrokerError> {
    let mut resource: Option<&str> = None;
    let mut names: Vec<String> = Vec::new();
    for scope in requested.iter().flat_map(|s| s.split_whitespace()) {
        if OIDC_SCOPES.contains(&scope) {
            continue;
        }
        let (res, name) = match split_qualified(scope) {
            Some((res, name)) => {
                let res = res.trim_end_matches('/');
                let backend =
                    workload.backends.iter().find(|b| b.resource.eq_ignore_ascii_case(res)).ok_or_else(|| {
                        invalid(&cat(&["resource ", res, " is not configured for workload ", &workload.name]))
                    })?;
                (backend.resource.as_str(), name)
            }
            None => {
                let backend = match workload.backends.as_slice() {
                    [only] => only,
                    many => {
                        let mut listing =
                            many.iter().filter(|b| b.scopes.iter().any(|s| s.eq_ignore_ascii_case(scope)));
                        match (listing.next(), listing.next()) {
                            (Some(b), None) => b,
                            _ => {
                                return Err(invalid(&cat(&[
                                    "scope ",
                                    scope,
                                    " is ambiguous: qualify it with its resource",
                                ])));
                            }
                        }
                    }
                };
                (backend.resource.as_str(), scope)
            }
        };
        match resource {
            Some(r) if r != res => {
                return Err(invalid("scopes of more than one resource: ask for each resource separately"));
            }
            _ => resource = Some(res),
        }
        insert_sorted(&mut names, cat(&[res, "/", name]));
    }
    let Some(resource) = resource else {
        return Err(invalid("no scopes requested"));
    };
    Ok(ScopeSet { resource: resource.to_owned(), scopes: names })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Backend;
    use proptest::prelude::*;

    const GRAPH: &str = "https://graph.microsoft.com";
    const VENDOR: &str = "api://44444444-4444-4444-4444-444444444444";

    fn workload(backends: &[(&str, &[&str])]) -> Workload {
        Workload {
            name: "w".into(),
            client_app_id: "c".into(),
            user_scope: "api://c/access_as_user".into(),
            backends: backends
                .iter()
                .map(|(r, s)| Backend { resource: (*r).into(), scopes: s.iter().map(|x| (*x).into()).collect() })
                .collect(),
        }
    }

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn short_names_resolve_to_the_only_backend() {
        let w = workload(&[(GRAPH, &["Files.Read", "User.Read"])]);
        let set = normalise(&w, &v(&["User.Read Files.Read", "Files.Read", "openid"])).unwrap();
        assert_eq!(set.resource, GRAPH);
        assert_eq!(set.joined(), "https://graph.microsoft.com/Files.Read https://graph.microsoft.com/User.Read");
    }

    #[test]
    fn qualified_scopes_use_the_configured_spelling() {
        let w = workload(&[(GRAPH, &[]), (VENDOR, &["read"])]);
        let set = normalise(&w, &v(&["HTTPS://Graph.Microsoft.com/.default"])).unwrap();
        assert_eq!(set.scopes, v(&["https://graph.microsoft.com/.default"]));
        let set = normalise(&w, &v(&["read"])).unwrap();
        assert_eq!(set.scopes, v(&["api://44444444-4444-4444-4444-444444444444/read"]));
    }

    #[test]
    fn refusals() {
        let w = workload(&[(GRAPH, &["User.Read"]), (VENDOR, &["User.Read"])]);
        for bad in [
            v(&[]),
            v(&["openid"]),
            v(&["User.Read"]),                          // ambiguous
            v(&["https://evil.example.com/User.Read"]), // not configured
            v(&["https://graph.microsoft.com/User.Read", "api://44444444-4444-4444-4444-444444444444/x"]),
        ] {
            let e = normalise(&w, &bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{bad:?}");
        }
    }

    proptest! {
        /// Order, duplicates and splitting do not change the result: one cache entry per request.
        #[test]
        fn canonical_whatever_the_order(
            picks in proptest::collection::vec(0usize..4, 1..8),
            seed in any::<u64>(),
        ) {
            let names = ["Files.Read", "User.Read", "Mail.Send", ".default"];
            let w = workload(&[(GRAPH, &names)]);
            let requested: Vec<String> = picks.iter().map(|i| names[*i].to_owned()).collect();
            let mut shuffled = requested.clone();
            let n = shuffled.len();
            shuffled.rotate_left((seed as usize) % n);
            let joined = vec![shuffled.join(" ")];
            let a = normalise(&w, &requested).unwrap();
            let b = normalise(&w, &joined).unwrap();
            prop_assert_eq!(&a, &b);
            prop_assert!(a.scopes.windows(2).all(|p| p[0] < p[1]));
            prop_assert!(a.scopes.iter().all(|s| s.starts_with("https://graph.microsoft.com/")));
        }
    }
}
