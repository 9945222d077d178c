//! The grants a [`Snapshot`](crate::Snapshot) has already decided, kept with that snapshot.
//!
//! [`decide`](crate::decide) is pure, so within one snapshot the same request always gets the
//! same answer; a cached exchange asks it on every request (a revoked consent or a disabled
//! workload must take effect at once, not when a cached token expires), and parsing the scopes,
//! indexing them by resource and building the grant's strings was most of the instructions of
//! the decision (BENCHMARKS.md, "the decision memoised"). The memo lives *inside* the snapshot:
//! a registry change installs a new snapshot with an empty memo, so no answer outlives the rows
//! it was decided from, and there is nothing to invalidate.
//!
//! Only grants are kept. Denials are rare, carry request-specific text (the admin-consent URL
//! names the authority) and cost nothing to recompute compared with the error path they start.
//! The memo is bounded ([`MAX_ENTRIES`]): requests may spell the same scopes in endless ways,
//! so a full memo starts over rather than grow (hot entries come back at their next request).
//!
//! Hand-written rather than a cache crate: a lookup hashes the borrowed request once and
//! compares it with the one entry under that hash, allocating nothing; no eviction policy is
//! wanted, and the entries die with the snapshot.

use std::hash::BuildHasher;
use std::sync::{Arc, PoisonError, RwLock};

use foldhash::fast::RandomState;

use crate::decision::{ConsentRequest, Grant, Target};
use crate::snapshot::HashMap;

/// How many grants one snapshot keeps: far more than the (tenant, broker, workload, scope
/// spelling) combinations a deployment sees, far less memory than matters (~0.5 KB each).
pub const MAX_ENTRIES: usize = 4096;

/// The memo. `Clone` gives an empty one: a copy of a snapshot decides afresh.
pub(crate) struct Decisions {
    /// foldhash, seeded at random: a request's fields are hashed on every cached exchange. Two
    /// requests with the same hash share one slot (the full key decides a hit), and only grants
    /// are kept, at most [`MAX_ENTRIES`], so chosen collisions cost misses, never a long chain.
    hasher: RandomState,
    grants: RwLock<HashMap<u64, Entry>>,
}

struct Entry {
    key: Key,
    grant: Arc<Grant>,
}

/// A request as it was asked, owned. The authority is left out: it only appears in denials.
#[derive(PartialEq, Eq)]
struct Key {
    tenant_id: Box<str>,
    broker_app_id: Box<str>,
    target: OwnedTarget,
    scope: Box<str>,
}

#[derive(PartialEq, Eq)]
enum OwnedTarget {
    ClientApp(Box<str>),
    Workload(Box<str>),
    WorkloadOfClient { workload: Box<str>, client_app_id: Box<str> },
}

impl Key {
    fn of(req: &ConsentRequest<'_>) -> Key {
        Key {
            tenant_id: req.tenant_id.into(),
            broker_app_id: req.broker_app_id.into(),
            target: match req.target {
                Target::ClientApp(c) => OwnedTarget::ClientApp(c.into()),
                Target::Workload(w) => OwnedTarget::Workload(w.into()),
                Target::WorkloadOfClient { workload, client_app_id } => {
                    OwnedTarget::WorkloadOfClient { workload: workload.into(), client_app_id: client_app_id.into() }
                }
            },
            scope: req.scope.into(),
        }
    }

    fn is(&self, req: &ConsentRequest<'_>) -> bool {
        let target = match (&self.target, req.target) {
            (OwnedTarget::ClientApp(a), Target::ClientApp(b)) | (OwnedTarget::Workload(a), Target::Workload(b)) => {
                **a == *b
            }
            (
                OwnedTarget::WorkloadOfClient { workload: a, client_app_id: c },
                Target::WorkloadOfClient { workload: b, client_app_id: d },
            ) => **a == *b && **c == *d,
            _ => false,
        };
        target
            && *self.tenant_id == *req.tenant_id
            && *self.broker_app_id == *req.broker_app_id
            && *self.scope == *req.scope
    }
}

impl Decisions {
    pub(crate) fn new() -> Decisions {
        Decisions { hasher: RandomState::default(), grants: RwLock::new(HashMap::default()) }
    }

    fn hash(&self, req: &ConsentRequest<'_>) -> u64 {
        self.hasher.hash_one((req.tenant_id, req.broker_app_id, req.target, req.scope))
    }

    /// The grant decided earlier for exactly this request, if any.
    pub(crate) fn get(&self, req: &ConsentRequest<'_>) -> Option<Arc<Grant>> {
        let hash = self.hash(req);
        // A poisoned lock only means another thread panicked between two plain map operations;
        // the map itself is whole.
        let grants = self.grants.read().unwrap_or_else(PoisonError::into_inner);
        grants.get(&hash).filter(|e| e.key.is(req)).map(|e| Arc::clone(&e.grant))
    }

    /// Keeps a grant for this request. Two requests whose hashes collide keep the first one
    /// (the second is decided afresh each time: correct, merely not memoised).
    pub(crate) fn put(&self, req: &ConsentRequest<'_>, grant: &Arc<Grant>) {
        let hash = self.hash(req);
        let mut grants = self.grants.write().unwrap_or_else(PoisonError::into_inner);
        if grants.len() >= MAX_ENTRIES && !grants.contains_key(&hash) {
            grants.clear();
        }
        grants.entry(hash).or_insert_with(|| Entry { key: Key::of(req), grant: Arc::clone(grant) });
    }

    pub(crate) fn len(&self) -> usize {
        self.grants.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Clone for Decisions {
    fn clone(&self) -> Decisions {
        Decisions::new()
    }
}

impl std::fmt::Debug for Decisions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decisions").field("grants", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(scope: &str) -> ConsentRequest<'_> {
        ConsentRequest {
            tenant_id: "t",
            broker_app_id: "b",
            target: Target::ClientApp("c"),
            scope,
            authority: "https://login.microsoftonline.com",
        }
    }

    fn grant(scope: &str) -> Arc<Grant> {
        Arc::new(Grant {
            workload: "w".into(),
            client_app_id: "c".into(),
            backend_app_id: "b".into(),
            resource: "https://r".into(),
            scopes: vec![format!("https://r/{scope}")],
        })
    }

    /// Endless spellings of a request cannot grow the memo: full, it starts over, and the grant
    /// just put is there.
    #[test]
    fn a_full_memo_starts_over_and_keeps_the_newest() {
        let memo = Decisions::new();
        for i in 0..MAX_ENTRIES {
            let scope = format!("s{i}");
            memo.put(&req(&scope), &grant(&scope));
        }
        assert_eq!(memo.len(), MAX_ENTRIES);
        assert_eq!(memo.get(&req("s0")).map(|g| g.scopes.clone()), Some(vec!["https://r/s0".to_owned()]));
        memo.put(&req("one more"), &grant("one more"));
        assert_eq!(memo.len(), 1);
        assert!(memo.get(&req("s0")).is_none());
        assert_eq!(memo.get(&req("one more")).map(|g| g.scopes.clone()), Some(vec!["https://r/one more".to_owned()]));
    }

    #[test]
    fn a_copy_of_a_snapshot_decides_afresh() {
        let memo = Decisions::new();
        memo.put(&req("x"), &grant("x"));
        assert_eq!(memo.clone().len(), 0);
        assert_eq!(memo.len(), 1);
    }
}
