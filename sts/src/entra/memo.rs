//! The peek memo: what [`validate::peek`] read from a subject token whose signature has since been
//! verified, keyed by the SHA-256 of the token's bytes, so that a cached exchange of the same
//! token skips base64url and JSON (about a quarter of its instructions, BENCHMARKS.md).
//!
//! What it may and may not do:
//! - **Only verified tokens.** [`PeekMemo::remember`] is called after [`validate::verify`] passed,
//!   so an attacker filling it needs validly signed tokens, not junk: millions of distinct made-up
//!   tokens are each peeked afresh and never stored. It is bounded in bytes and entries anyway
//!   (a quarter of the cache's byte bound, the cache's entry bound), and an entry leaves when its
//!   token expires (plus the leeway: after that every peek of it fails).
//! - **Digests only.** It holds the 32-byte digest and the claims `peek` returned, never the token.
//! - **The whole digest.** Keys are all 32 bytes of SHA-256 over all of the token's bytes: a token
//!   that differs by one bit has another key, so it never gets another token's claims.
//! - **Time is checked on every hit** ([`Peeked::check_times`], with the current `now` and leeway):
//!   a memoised token that has expired is refused exactly as a fresh `peek` refuses it. The
//!   registry decision and the scope checks that follow `peek` run on every request as before; the
//!   memo only replaces the parsing.
//!
//! A cache entry dropped by a revocation leaves the memo alone: the memo holds claims, not grants,
//! and the registry decides again on the next request.

use std::sync::Arc;
use std::time::Duration;

use moka::Expiry;
use moka::sync::Cache;

use super::validate::{self, PeekError, Peeked};
use crate::cache::{TokenDigest, TokenHash};
use crate::config::CacheConfig;

#[derive(Debug, Clone)]
pub struct PeekMemo {
    /// foldhash rather than moka's default SipHash: the keys are SHA-256 digests, which no caller
    /// can choose to collide, and SipHash was a tenth of the lookup.
    inner: Cache<TokenDigest, Arc<Peeked>, foldhash::fast::RandomState>,
}

/// An entry lives until its token's `exp` plus the leeway, by `clock` (Unix seconds: the wall
/// clock, or a test's).
struct UntilExpiry {
    leeway: i64,
    clock: fn() -> i64,
}

impl Expiry<TokenDigest, Arc<Peeked>> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &TokenDigest,
        value: &Arc<Peeked>,
        _now: std::time::Instant,
    ) -> Option<Duration> {
        let left = value.exp.saturating_add(self.leeway).saturating_sub((self.clock)());
        Some(Duration::from_secs(u64::try_from(left).unwrap_or(0)))
    }
}

impl PeekMemo {
    /// Bounded like the cache it serves (`cache.max_entries` entries) in a quarter of its bytes
    /// (`cache.max_bytes / 4`): a memoised peek weighs ~0.5 KB against a cache entry's ~2 KB.
    pub fn new(config: &CacheConfig, leeway_secs: u64) -> Self {
        Self::with_clock(config, leeway_secs, crate::clock::unix_now)
    }

    /// [`Self::new`] with entries expiring by `clock` instead of the wall clock.
    pub fn with_clock(config: &CacheConfig, leeway_secs: u64, clock: fn() -> i64) -> Self {
        let bytes = (config.max_bytes / 4).max(1);
        let floor = u32::try_from((bytes / config.max_entries.max(1)).max(1)).unwrap_or(u32::MAX);
        let inner = Cache::builder()
            .max_capacity(bytes)
            .weigher(move |_k: &TokenDigest, v: &Arc<Peeked>| u32::try_from(v.weight()).unwrap_or(u32::MAX).max(floor))
            .expire_after(UntilExpiry { leeway: i64::try_from(leeway_secs).unwrap_or(i64::MAX), clock })
            .build_with_hasher(foldhash::fast::RandomState::default());
        Self { inner }
    }

    /// [`validate::peek`] of `token`, whose digest is `digest`, at `now`: the memoised claims when
    /// this exact token was verified before (its times checked again), a fresh peek otherwise.
    pub fn peek(&self, digest: &TokenDigest, token: &str, now: i64, leeway: i64) -> Result<Arc<Peeked>, PeekError> {
        if let Some(peeked) = self.inner.get(digest) {
            peeked.check_times(now, leeway)?;
            return Ok(peeked);
        }
        validate::peek(token, now, leeway).map(Arc::new)
    }

    /// Remembers `peeked` for the token whose digest is `digest`. Call only once that token's
    /// signature and issuer have been verified ([`validate::verify`]).
    pub fn remember(&self, digest: TokenDigest, peeked: &Arc<Peeked>) {
        if !self.inner.contains_key(&digest) {
            self.inner.insert(digest, Arc::clone(peeked));
        }
    }

    /// Whether the claims of exactly this token are remembered (diagnostics and tests: unlike
    /// [`Self::entry_count`], exact at once).
    pub fn holds(&self, token: &str) -> bool {
        self.inner.contains_key(&TokenHash::new(token).digest())
    }

    pub fn entry_count(&self) -> u64 {
        self.inner.entry_count()
    }

    #[cfg(test)]
    fn run_pending_tasks(&self) {
        self.inner.run_pending_tasks();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    /// A memo whose entries expire by a clock stopped at the epoch: the tests' tokens carry
    /// small times (`exp` 2000) and the memo must keep them while `now` is an argument.
    fn memo() -> PeekMemo {
        PeekMemo::with_clock(&CacheConfig { max_entries: 1000, max_bytes: 4 << 20, ..Default::default() }, 60, || 0)
    }

    fn token(claims: &serde_json::Value) -> String {
        let header = json!({"alg":"RS256","kid":"k1","typ":"JWT"});
        format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    fn claims(oid: &str, exp: i64, nbf: Option<i64>) -> serde_json::Value {
        let mut c = json!({"ver":"2.0","iss":format!("https://login.microsoftonline.com/{TID}/v2.0"),"tid":TID,
            "aud":"22222222-2222-4222-8222-222222222222","azp":"11111111-1111-4111-8111-111111111111",
            "oid":oid,"scp":"access_as_user","exp":exp});
        if let Some(nbf) = nbf {
            c["nbf"] = json!(nbf);
        }
        c
    }

    /// What the exchange does: peek through the memo, and remember once "verified".
    fn peek_and_remember(m: &PeekMemo, token: &str, now: i64) -> Result<Arc<Peeked>, PeekError> {
        let digest = TokenHash::new(token).digest();
        let p = m.peek(&digest, token, now, 60)?;
        m.remember(digest, &p);
        Ok(p)
    }

    fn same(a: &Result<Arc<Peeked>, PeekError>, b: &Result<Peeked, PeekError>) -> bool {
        match (a, b) {
            (Ok(a), Ok(b)) => format!("{a:?}") == format!("{b:?}"),
            (Err(a), Err(b)) => a == b,
            _ => false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// A memoised peek equals a fresh peek of the same token at the same time, whatever the
        /// time: before `nbf`, inside the window, at each boundary (± leeway, ± 1 s) and after `exp`.
        #[test]
        fn a_memoised_peek_equals_a_fresh_peek_at_any_time(
            exp in 1_000i64..2_000_000_000,
            nbf_before in proptest::option::of(0i64..1_000_000),
            offset in prop_oneof![
                -200i64..200,
                Just(-61i64), Just(-60), Just(-59), Just(59), Just(60), Just(61),
                any::<i32>().prop_map(i64::from)
            ],
            at_nbf in any::<bool>(),
        ) {
            let m = memo();
            let nbf = nbf_before.map(|b| (exp - b).max(0));
            let t = token(&claims("o", exp, nbf));
            // Remembered (as after its signature check) at `exp`, when it peeks fine.
            peek_and_remember(&m, &t, exp).unwrap();
            let digest = TokenHash::new(&t).digest();
            prop_assert!(m.inner.contains_key(&digest), "not vacuous: the memo holds the token");
            let anchor = if at_nbf { nbf.unwrap_or(exp) } else { exp };
            let now = anchor.saturating_add(offset);
            let memoised = m.peek(&digest, &t, now, 60);
            let fresh = validate::peek(&t, now, 60);
            prop_assert!(same(&memoised, &fresh), "at {}: memo {:?}, fresh {:?}", now, memoised, fresh);
        }
    }

    /// The memo answers from its entry, not from a fresh parse: a hit is the very `Arc` remembered.
    /// Then the expiry boundary, on that hit: `exp + leeway` is the last accepted second.
    #[test]
    fn a_hit_is_the_remembered_claims_and_still_expires() {
        let m = memo();
        let t = token(&claims("o", 2_000, Some(1_000)));
        let digest = TokenHash::new(&t).digest();
        let first = peek_and_remember(&m, &t, 1_500).unwrap();
        let hit = m.peek(&digest, &t, 1_500, 60).unwrap();
        assert!(Arc::ptr_eq(&first, &hit), "served from the memo");
        assert!(Arc::ptr_eq(&m.peek(&digest, &t, 2_060, 60).unwrap(), &first), "exp + leeway: still valid");
        assert_eq!(m.peek(&digest, &t, 2_061, 60).unwrap_err(), PeekError::Expired);
        assert!(Arc::ptr_eq(&m.peek(&digest, &t, 2_000, 0).unwrap(), &first), "the leeway is the caller's, now");
        assert_eq!(m.peek(&digest, &t, 2_001, 0).unwrap_err(), PeekError::Expired);
        assert_eq!(m.peek(&digest, &t, 939, 60).unwrap_err(), PeekError::NotYetValid);
        assert!(m.peek(&digest, &t, 940, 60).is_ok());
    }

    /// A token one bit away from a remembered one (here: its `oid`, so another user) is peeked
    /// afresh, never served the remembered claims — and so is a lookup under any digest that
    /// differs from the remembered one in any single bit, the last byte's included.
    #[test]
    fn one_bit_elsewhere_never_gets_another_tokens_claims() {
        let m = memo();
        let a = token(&claims("user-a", 2_000, None));
        let b = token(&claims("user-c", 2_000, None)); // 'a' ^ 0x02 = 'c': one bit in the claims
        assert_eq!(a.len(), b.len());
        let remembered = peek_and_remember(&m, &a, 1_500).unwrap();
        assert_eq!(remembered.oid, "user-a");
        let digest_b = TokenHash::new(&b).digest();
        assert_eq!(m.peek(&digest_b, &b, 1_500, 60).unwrap().oid, "user-c");

        let digest_a = TokenHash::new(&a).digest();
        for byte in 0..32 {
            for bit in 0..8 {
                let mut other = digest_a;
                other.0[byte] ^= 1 << bit;
                let got = m.peek(&other, &b, 1_500, 60).unwrap();
                assert!(!Arc::ptr_eq(&got, &remembered), "digest differing in byte {byte}, bit {bit} got a's claims");
                assert_eq!(got.oid, "user-c");
            }
        }
    }

    /// Nothing is remembered unless `remember` is called (the exchange calls it after the
    /// signature check only): a flood of distinct unverified tokens leaves the memo empty.
    #[test]
    fn only_remembered_tokens_are_kept() {
        let m = memo();
        for i in 0..200 {
            let t = token(&claims(&format!("junk-{i}"), 2_000, None));
            m.peek(&TokenHash::new(&t).digest(), &t, 1_500, 60).unwrap();
        }
        m.run_pending_tasks();
        assert_eq!(m.entry_count(), 0);
    }

    /// By the wall clock, an entry leaves once its token has expired (plus the leeway): the memo
    /// does not keep what every peek would refuse anyway.
    #[test]
    fn entries_leave_when_their_token_expires() {
        let m = PeekMemo::new(&CacheConfig { max_entries: 1000, max_bytes: 4 << 20, ..Default::default() }, 60);
        let now = crate::clock::unix_now();
        let (live, dead) = (token(&claims("live", now + 3600, None)), token(&claims("dead", now - 61, None)));
        for t in [&live, &dead] {
            let digest = TokenHash::new(t).digest();
            let p = Arc::new(validate::peek(t, now - 100, 60).unwrap());
            m.remember(digest, &p);
        }
        m.run_pending_tasks();
        assert!(m.inner.contains_key(&TokenHash::new(&live).digest()));
        assert!(!m.inner.contains_key(&TokenHash::new(&dead).digest()));
    }

    /// The entry bound holds with many verified tokens.
    #[test]
    fn the_memo_is_bounded() {
        let m = PeekMemo::new(&CacheConfig { max_entries: 10, max_bytes: 1 << 20, ..Default::default() }, 60);
        let far = crate::clock::unix_now() + 3600;
        for i in 0..100 {
            let t = token(&claims(&format!("u{i}"), far, None));
            peek_and_remember(&m, &t, far - 100).unwrap();
        }
        m.run_pending_tasks();
        assert!(m.entry_count() <= 10, "{}", m.entry_count());
    }
}
