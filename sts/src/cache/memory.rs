//! In-memory cache on moka: bounded, per-entry expiry, and single-flight through `try_get_with`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use moka::Expiry;
use moka::future::Cache;

use super::CachedToken;
use crate::config::CacheConfig;

#[derive(Debug, Clone)]
pub struct MemoryCache {
    /// foldhash rather than moka's default SipHash: the keys are SHA-256 digests (`cache::key`),
    /// which no caller can choose to collide.
    inner: Cache<String, Arc<CachedToken>, foldhash::fast::RandomState>,
}

/// Entries leave `margin` before the token expires, so nobody is handed a token about to die.
struct ExpireBeforeToken {
    margin: i64,
}

impl Expiry<String, Arc<CachedToken>> for ExpireBeforeToken {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<CachedToken>,
        _now: std::time::Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(u64::try_from(value.expires_at - self.margin - crate::clock::unix_now()).unwrap_or(0)))
    }

    fn expire_after_update(
        &self,
        key: &String,
        value: &Arc<CachedToken>,
        now: std::time::Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, value, now)
    }
}

impl MemoryCache {
    /// Bounded both in entries and in bytes with one moka capacity: each entry weighs at least
    /// `max_bytes / max_entries`, so neither bound can be exceeded.
    pub fn new(config: &CacheConfig) -> Self {
        let floor = u32::try_from((config.max_bytes / config.max_entries.max(1)).max(1)).unwrap_or(u32::MAX);
        let inner = Cache::builder()
            .max_capacity(config.max_bytes.max(1))
            .weigher(move |_k: &String, v: &Arc<CachedToken>| u32::try_from(v.weight()).unwrap_or(u32::MAX).max(floor))
            .expire_after(ExpireBeforeToken { margin: i64::try_from(config.expiry_margin_secs).unwrap_or(300) })
            .build_with_hasher(foldhash::fast::RandomState::default());
        Self { inner }
    }
}

/// Plain async methods on the one cache there is, not a trait object: no boxed future per
/// exchange on the cached path, and the load's error type stays the caller's (the cache knows
/// nothing of the exchange).
impl MemoryCache {
    /// Returns the cached token for `key` (and `true`), or runs `load` exactly once however many
    /// callers ask for the same key at the same time, caches a success, and returns it (and
    /// `false`). Failures are not cached: every waiter gets the same error, the next caller tries
    /// again.
    pub async fn get_or_load<E>(
        &self,
        key: String,
        load: impl Future<Output = Result<Arc<CachedToken>, E>>,
    ) -> Result<(Arc<CachedToken>, bool), Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        let loaded = AtomicBool::new(false);
        let token = self
            .inner
            .try_get_with(key, async {
                loaded.store(true, Ordering::Relaxed);
                load.await
            })
            .await?;
        Ok((token, !loaded.load(Ordering::Relaxed)))
    }

    /// The cached token for `key`, if any (no loading).
    pub async fn get(&self, key: &str) -> Option<Arc<CachedToken>> {
        self.inner.get(key).await
    }

    /// Replaces the entry (a claims-challenge request fetched a fresher token).
    pub async fn put(&self, key: String, token: Arc<CachedToken>) {
        self.inner.insert(key, token).await
    }

    /// Drops every entry of `client_app_id` in `tenant` (every tenant when `None`); returns how
    /// many. A walk over the whole cache: for revocations, which are rare, so the lookup path pays
    /// nothing for them.
    pub async fn drop_owned(&self, tenant: Option<&str>, client_app_id: &str) -> usize {
        let doomed: Vec<Arc<String>> =
            self.inner.iter().filter(|(_, v)| v.owner.is_covered_by(tenant, client_app_id)).map(|(k, _)| k).collect();
        for key in &doomed {
            self.inner.invalidate(key.as_str()).await;
        }
        doomed.len()
    }

    pub fn entry_count(&self) -> u64 {
        self.inner.entry_count()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::secret::BackendToken;
    use std::sync::atomic::AtomicUsize;

    /// A load's failure, as the cache sees it: any error type of the caller's.
    #[derive(Debug)]
    struct Down;

    fn cache() -> MemoryCache {
        MemoryCache::new(&CacheConfig {
            max_entries: 1000,
            max_bytes: 1 << 20,
            expiry_margin_secs: 300,
            ..Default::default()
        })
    }

    fn token(ttl: i64) -> Arc<CachedToken> {
        Arc::new(CachedToken {
            access_token: BackendToken::new("t".repeat(100)),
            expires_at: crate::clock::unix_now() + ttl,
            scope: "s".into(),
            owner: super::super::Owner { tenant: "t1".into(), client_app_id: "c1".into() },
        })
    }

    /// On the current-thread runtime each spawned task runs until it waits: by the time the test
    /// task runs again, every caller is inside `get_or_load`, and the load is still held at the
    /// gate. Then the gate opens. No sleep decides the overlap.
    #[tokio::test]
    async fn concurrent_identical_loads_run_once() {
        let c = cache();
        let calls = Arc::new(AtomicUsize::new(0));
        let (asked, all_asked, gate) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Notify::new()));
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (c, calls, asked, all_asked, gate) =
                (c.clone(), calls.clone(), asked.clone(), all_asked.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                if asked.fetch_add(1, Ordering::SeqCst) + 1 == 64 {
                    all_asked.notify_one();
                }
                c.get_or_load("k".into(), async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    gate.notified().await;
                    Ok::<_, Down>(token(3600))
                })
                .await
                .unwrap()
            }));
        }
        all_asked.notified().await;
        gate.notify_waiters(); // every load waiting at the gate: one with single-flight, 64 without
        let mut hits = 0;
        for t in tasks {
            if t.await.unwrap().1 {
                hits += 1;
            }
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(hits, 63, "all but the loader are served from the single flight");
    }

    #[tokio::test]
    async fn failures_are_not_cached_and_near_expiry_is_not_served() {
        let c = cache();
        let e = c.get_or_load("k".into(), async { Err(Down) }).await;
        assert!(e.is_err());
        let (_, hit) = c.get_or_load("k".into(), async { Ok::<_, Down>(token(3600)) }).await.unwrap();
        assert!(!hit, "the error was not cached");
        let (_, hit) = c.get_or_load("k".into(), async { Ok::<_, Down>(token(3600)) }).await.unwrap();
        assert!(hit);
        // A token inside the expiry margin is cached for zero seconds: the next call loads again.
        let (_, _) = c.get_or_load("short".into(), async { Ok::<_, Down>(token(200)) }).await.unwrap();
        c.inner.run_pending_tasks().await;
        let (_, hit) = c.get_or_load("short".into(), async { Ok::<_, Down>(token(3600)) }).await.unwrap();
        assert!(!hit);
    }

    #[tokio::test]
    async fn drop_owned_drops_only_the_owners_entries() {
        let c = cache();
        c.put("a".into(), token(3600)).await;
        let other = Arc::new(CachedToken {
            owner: super::super::Owner { tenant: "t2".into(), client_app_id: "c1".into() },
            ..Arc::unwrap_or_clone(token(3600))
        });
        c.put("b".into(), other).await;
        assert_eq!(c.drop_owned(Some("T1"), "C1").await, 1);
        assert!(c.get("a").await.is_none());
        assert!(c.get("b").await.is_some());
        assert_eq!(c.drop_owned(None, "c1").await, 1);
        assert!(c.get("b").await.is_none());
    }

    #[tokio::test]
    async fn entry_bound_holds() {
        let c = MemoryCache::new(&CacheConfig {
            max_entries: 10,
            max_bytes: 1 << 20,
            expiry_margin_secs: 0,
            ..Default::default()
        });
        for i in 0..100 {
            c.put(format!("k{i}"), token(3600)).await;
        }
        c.inner.run_pending_tasks().await;
        assert!(c.entry_count() <= 10, "{}", c.entry_count());
    }
}
