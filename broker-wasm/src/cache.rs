//! Token caches and their keys, with the expiry arithmetic as pure functions of "now" (milliseconds
//! since the epoch, `Date.now()` in the browser) so it can be tested without waiting.

use alloc::string::String;
use alloc::vec::Vec;

use crate::vecmap::VecMap;

/// Renew this long before expiry at most: a token handed to a control must still be valid when
/// the control's request reaches the backend, across clock skew. MSAL uses the same 5 minutes.
pub const MAX_RENEW_MARGIN_MS: u64 = 5 * 60 * 1000;

/// When to stop handing out a token issued at `issued_at` that expires at `expires_at`:
/// five minutes before expiry, or half-way through its life if it lives less than ten minutes
/// (short-lived tokens, e.g. after a CAE event, would otherwise never be cached at all).
pub fn renew_at(issued_at: u64, expires_at: u64) -> u64 {
    let lifetime = expires_at.saturating_sub(issued_at);
    expires_at - (lifetime / 2).min(MAX_RENEW_MARGIN_MS)
}

/// `now + expires_in` seconds, in milliseconds. Negative, absent or absurd lifetimes yield "already
/// expired" rather than an overflow: such a token is used once and never cached.
pub fn expires_at(now: u64, expires_in_secs: f64) -> u64 {
    if !(expires_in_secs.is_finite() && expires_in_secs > 0.0) {
        return now;
    }
    // Cap at a year: no OAuth token lives longer, and it keeps the arithmetic in range.
    let secs = expires_in_secs.min(365.0 * 24.0 * 3600.0);
    now + (secs * 1000.0) as u64
}

/// A cached value with the times that decide whether it may still be handed out.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<T> {
    /// The cached value.
    pub value: T,
    /// When it was obtained (ms).
    pub issued_at: u64,
    /// When it expires (ms).
    pub expires_at: u64,
}

impl<T> Entry<T> {
    /// Whether it may be handed out at `now`.
    pub fn is_fresh(&self, now: u64) -> bool {
        now >= self.issued_at.saturating_sub(MAX_RENEW_MARGIN_MS) && now < renew_at(self.issued_at, self.expires_at)
    }
}

/// A map of fresh-or-not entries; stale ones are simply not returned and get replaced.
#[derive(Debug)]
pub struct TokenCache<T> {
    entries: VecMap<Entry<T>>,
}

impl<T> Default for TokenCache<T> {
    fn default() -> Self {
        Self { entries: VecMap::default() }
    }
}

impl<T> TokenCache<T> {
    /// The entry under `key`, if it is fresh at `now`.
    pub fn get(&self, key: &str, now: u64) -> Option<&Entry<T>> {
        self.entries.get(key).filter(|e| e.is_fresh(now))
    }

    /// Stores (or replaces) an entry, dropping stale ones on the way so the map cannot grow
    /// without bound on a page left open for days.
    pub fn insert(&mut self, key: String, entry: Entry<T>, now: u64) {
        self.entries.retain(|e| e.is_fresh(now));
        self.entries.insert(key, entry);
    }

    /// Forgets one entry.
    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Forgets everything (sign-out).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// How many entries are held (fresh or not).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Separator that cannot occur in workload names, scopes or claims JSON.
const SEP: char = '\u{1f}';

/// Key of a cached backend token: the workload and its canonical scope string. Claims are not part
/// of it: a token obtained with claims satisfies the plain request too, and replaces the entry.
pub fn backend_key(workload: &str, canonical_scopes: &str) -> String {
    let mut key = String::from(workload);
    key.push(SEP);
    key + canonical_scopes
}

/// Key that makes concurrent identical `getToken` calls share one promise. It is computed before
/// the configuration is known (so from the raw scopes, split, sorted and de-duplicated) and
/// includes every option that changes what the call does.
pub fn request_key(
    workload: &str,
    scopes: &[String],
    claims: Option<&str>,
    force_refresh: bool,
    interactive: bool,
) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in scopes.iter().flat_map(|s| s.split_whitespace()) {
        crate::vecmap::insert_sorted(&mut parts, p);
    }
    let mut key = String::from(workload);
    for p in [
        parts.join(" ").as_str(),
        claims.unwrap_or(""),
        if force_refresh { "F" } else { "" },
        if interactive { "I" } else { "" },
    ] {
        key.push(SEP);
        key.push_str(p);
    }
    key
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: u64 = 60_000;

    #[test]
    fn an_hour_token_renews_five_minutes_early() {
        assert_eq!(renew_at(0, 60 * MIN), 55 * MIN);
        let e = Entry { value: (), issued_at: 0, expires_at: 60 * MIN };
        assert!(e.is_fresh(0));
        assert!(e.is_fresh(55 * MIN - 1));
        assert!(!e.is_fresh(55 * MIN));
        assert!(!e.is_fresh(61 * MIN));
    }

    #[test]
    fn short_tokens_live_half_their_life_in_the_cache() {
        assert_eq!(renew_at(1000, 1000 + 2 * MIN), 1000 + MIN);
    }

    #[test]
    fn a_clock_set_back_far_does_not_keep_a_token_forever() {
        let e = Entry { value: (), issued_at: 100 * MIN, expires_at: 160 * MIN };
        assert!(!e.is_fresh(10 * MIN));
    }

    #[test]
    fn expires_at_handles_odd_lifetimes() {
        assert_eq!(expires_at(5, 3600.0), 5 + 3_600_000);
        assert_eq!(expires_at(5, -1.0), 5);
        assert_eq!(expires_at(5, f64::NAN), 5);
        assert_eq!(expires_at(5, 1e300), 5 + 365 * 24 * 3_600_000);
    }

    #[test]
    fn cache_returns_only_fresh_entries_and_prunes() {
        let mut c = TokenCache::default();
        c.insert("a".into(), Entry { value: 1, issued_at: 0, expires_at: 10 * MIN }, 0);
        assert_eq!(c.get("a", MIN).map(|e| e.value), Some(1));
        assert!(c.get("a", 9 * MIN).is_none());
        c.insert("b".into(), Entry { value: 2, issued_at: 9 * MIN, expires_at: 70 * MIN }, 9 * MIN);
        assert_eq!(c.len(), 1, "stale entry a was pruned");
        c.remove("b");
        assert!(c.is_empty());
    }

    #[test]
    fn request_keys() {
        let s = |x: &[&str]| x.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
        let a = request_key("w", &s(&["B A", "A"]), None, false, false);
        assert_eq!(a, request_key("w", &s(&["A", "B"]), None, false, false));
        assert_ne!(a, request_key("w", &s(&["A", "B"]), Some("{}"), false, false));
        assert_ne!(a, request_key("w", &s(&["A", "B"]), None, true, false));
        assert_ne!(a, request_key("w", &s(&["A", "B"]), None, false, true));
        assert_ne!(a, request_key("v", &s(&["A", "B"]), None, false, false));
        assert_ne!(backend_key("a", "b c"), backend_key("a b", "c"));
    }

    proptest! {
        /// The renewal point lies inside the token's life, at most 5 minutes before its end,
        /// and a token is never handed out at or after its expiry.
        #[test]
        fn renewal_is_inside_the_lifetime(issued in 0u64..1 << 45, life in 0u64..1 << 30, now in 0u64..1 << 46) {
            let expires = issued + life;
            let r = renew_at(issued, expires);
            prop_assert!(issued <= r && r <= expires);
            prop_assert!(expires - r <= MAX_RENEW_MARGIN_MS);
            let e = Entry { value: (), issued_at: issued, expires_at: expires };
            if e.is_fresh(now) {
                prop_assert!(now < expires);
            }
        }
    }
}
