//! The shared second-level token cache on Redis, under the in-memory one (`cache`).
//!
//! Only a memory miss reaches it (an L1 hit never calls Redis). Then, in one process at a time per
//! key (the memory cache's single-flight), [`SharedCache::get_or_load`]:
//! 1. reads the entry (another instance may have fetched the token): a hit is decrypted and served;
//! 2. on a miss takes a short lock (`SET NX PX`) so that one instance in the whole fleet fetches
//!    the token from Entra; the others poll for its entry (reading the lock and the entry in one
//!    round trip) and are served from it; a holder that dies releases the lock by its TTL, and the
//!    first waiter to take it over fetches;
//! 3. the fetcher writes the entry (encrypted, see [`seal`]; TTL = the token's expiry minus the
//!    cache margin) and its index sets, then releases the lock.
//!
//! Keys are `{prefix}tok:{cache_key}` and `{prefix}lock:{cache_key}` (the cache key is a hash: no
//! token, user or tenant) and `{prefix}idx:{hmac}` for the index sets.
//!
//! Redis is optional at run time: every call is bounded by `cache.redis_timeout_ms`; a failure or a
//! timeout makes the exchange go on in memory only (no request fails for Redis), counts in
//! `tessera_redis_errors`, sets `tessera_redis_up` to 0 and makes `/readyz` `degraded` naming
//! Redis; for `cache.redis_retry_after_ms` Redis is then left alone, and the first call after that
//! (or a `/readyz` probe) that succeeds brings it back.

pub mod seal;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Pipeline};

use crate::cache::CachedToken;
use crate::config::CacheConfig;
use crate::metrics::Metrics;

pub use seal::{KeyError, Keyring};

/// Compare-and-delete: a holder releases only its own lock (after its TTL another may hold it).
const UNLOCK: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
/// How long a `/readyz` probe's answer is reused.
const PROBE_TTL: Duration = Duration::from_secs(1);
/// The longest pause between two looks of a waiter.
const MAX_POLL: Duration = Duration::from_millis(20);
/// Index sets outlive every entry they list (tokens live about an hour).
const INDEX_TTL_MS: u64 = 24 * 3600 * 1000;

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Another instance's fetch (or this one's earlier), read from Redis.
    Shared,
    /// Fetched from Entra by this call.
    Upstream,
}

/// What `/readyz` says about the shared cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedHealth {
    Ready,
    /// Redis does not answer (in time): running on memory only.
    Degraded(String),
}

pub struct SharedCache {
    conn: ConnectionManager,
    keys: Keyring,
    prefix: String,
    timeout: Duration,
    retry_after: Duration,
    lock_ttl: Duration,
    margin: i64,
    state: Mutex<State>,
    probed: tokio::sync::Mutex<Option<Instant>>,
    /// Drops Redis could not take (it was away): retried until it does (see [`Self::spawn_retries`]).
    pending_drops: Mutex<Vec<(Option<String>, String)>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for SharedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCache").field("keys", &self.keys).field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct State {
    /// Set by a failure: Redis is not called before then.
    retry_at: Option<Instant>,
    last_error: Option<String>,
}

/// Why the shared cache could not be set up (start-up).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cache.redis_url: {0}")]
    Url(String),
    #[error("cache entry keys: {0}")]
    Keys(#[from] KeyError),
}

enum Lookup {
    Hit(Arc<CachedToken>),
    Miss,
    Unavailable,
}

impl SharedCache {
    /// From the configuration; `None` without `cache.redis_url`. Does not connect: Redis may come
    /// later (the first call connects, and until then the STS runs on memory only).
    pub fn from_config(config: &CacheConfig, metrics: Arc<Metrics>) -> Result<Option<Self>, SetupError> {
        let Some(url) = &config.redis_url else { return Ok(None) };
        let keys = match (&config.redis_keys_file, &config.redis_keys_env) {
            (Some(file), _) => Keyring::from_file(file)?,
            (None, Some(var)) => Keyring::from_env(var)?,
            (None, None) => return Err(SetupError::Keys(KeyError::Empty("the configuration".into()))),
        };
        // The client's own error may repeat the URL (and its password): say only what is wrong.
        let client = redis::Client::open(url.as_str())
            .map_err(|e| SetupError::Url(format!("not a Redis URL ({:?})", e.kind())))?;
        let timeout = Duration::from_millis(config.redis_timeout_ms.max(1));
        let conn = ConnectionManager::new_lazy_with_config(
            client,
            ConnectionManagerConfig::new()
                .set_response_timeout(Some(timeout))
                .set_connection_timeout(Some(timeout.max(Duration::from_millis(500))))
                .set_number_of_retries(2)
                .set_min_delay(Duration::from_millis(20))
                .set_max_delay(Duration::from_millis(500)),
        )
        .map_err(|e| SetupError::Url(format!("{:?}", e.kind())))?;
        metrics.redis_up.set(1);
        Ok(Some(Self {
            conn,
            keys,
            prefix: config.redis_prefix.clone(),
            timeout,
            retry_after: Duration::from_millis(config.redis_retry_after_ms),
            lock_ttl: Duration::from_millis(config.redis_lock_ms.max(1)),
            margin: i64::try_from(config.expiry_margin_secs).unwrap_or(300),
            state: Mutex::new(State::default()),
            probed: tokio::sync::Mutex::new(None),
            pending_drops: Mutex::new(Vec::new()),
            metrics,
        }))
    }

    pub fn key_id(&self) -> &str {
        self.keys.current_id()
    }

    /// The token for `key` from Redis, or `load`'s, fetched once across every instance sharing
    /// this Redis. Without Redis (down, slow) it is simply `load`.
    pub async fn get_or_load<E, F, Fut>(self: &Arc<Self>, key: &str, load: F) -> Result<(Arc<CachedToken>, Source), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Arc<CachedToken>, E>>,
    {
        let entry = self.entry_key(key);
        match self.lookup(key, &entry, self.call("get", redis::cmd("GET").arg(&entry)).await) {
            Lookup::Hit(t) => return Ok((t, Source::Shared)),
            Lookup::Unavailable => return load().await.map(|t| (t, Source::Upstream)),
            Lookup::Miss => {}
        }
        let lock = format!("{}lock:{key}", self.prefix);
        let mine = uuid::Uuid::new_v4().simple().to_string();
        let lock_ms = u64::try_from(self.lock_ttl.as_millis()).unwrap_or(u64::MAX);
        // A waiter gives up waiting after the lock's lifetime (plus a call): the holder is gone or
        // stuck, and then fetching itself is the right thing anyway.
        let give_up = Instant::now() + self.lock_ttl + self.timeout;
        let mut pause = Duration::from_millis(2);
        let mut waited = false;
        loop {
            // Take the lock and look at the entry in one round trip: an entry written between the
            // first look and now is served, even when the lock was free again.
            let mut pipe = redis::pipe();
            pipe.cmd("SET").arg(&lock).arg(&mine).arg("NX").arg("PX").arg(lock_ms).cmd("GET").arg(&entry);
            let Some((taken, found)) = self.call_pipe::<(Option<String>, Option<Vec<u8>>)>("lock", &pipe).await else {
                return load().await.map(|t| (t, Source::Upstream));
            };
            let taken = taken.is_some();
            match self.lookup(key, &entry, Some(found)) {
                Lookup::Hit(t) => {
                    if taken {
                        self.unlock(&lock, &mine).await;
                    }
                    return Ok((t, Source::Shared));
                }
                Lookup::Unavailable => return load().await.map(|t| (t, Source::Upstream)),
                Lookup::Miss if taken => {
                    let result = load().await;
                    // Write the entry and release the lock in one round trip, off the request's
                    // path: the lock is held until the entry is there (a pipeline runs in order),
                    // so another instance asking meanwhile waits for the entry, never fetches.
                    let mut pipe = redis::pipe();
                    if let Ok(token) = &result {
                        self.put_into(&mut pipe, key, token);
                    }
                    pipe.cmd("EVAL").arg(UNLOCK).arg(1).arg(&lock).arg(&mine).ignore();
                    let this = Arc::clone(self);
                    tokio::spawn(async move {
                        let _: Option<()> = this.call_pipe("put", &pipe).await;
                    });
                    return result.map(|t| (t, Source::Upstream));
                }
                Lookup::Miss => {
                    if !waited {
                        waited = true;
                        self.metrics.cache_shared_waits.inc();
                    }
                    if Instant::now() >= give_up {
                        tracing::warn!(
                            key,
                            "the instance fetching this token did not finish in time: fetching it here"
                        );
                        return load().await.map(|t| (t, Source::Upstream));
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_POLL);
                }
            }
        }
    }

    /// Writes the token (encrypted; TTL = expiry minus the margin) and lists it in its owner's
    /// index sets. Failures only cost the other instances a fetch.
    pub async fn put(&self, key: &str, token: &CachedToken) {
        let mut pipe = redis::pipe();
        if self.put_into(&mut pipe, key, token) {
            let _: Option<()> = self.call_pipe("put", &pipe).await;
        }
    }

    /// Adds the commands of [`Self::put`] to `pipe`; `false` when there is nothing to write (a
    /// token inside the expiry margin).
    fn put_into(&self, pipe: &mut Pipeline, key: &str, token: &CachedToken) -> bool {
        let ttl_secs = token.expires_at - self.margin - crate::clock::unix_now();
        let Ok(ttl_ms) = u64::try_from(ttl_secs.saturating_mul(1000)) else { return false };
        if ttl_ms == 0 {
            return false;
        }
        let entry = self.entry_key(key);
        let Some(sealed) = self.keys.seal(&entry, token) else { return false };
        pipe.cmd("SET").arg(&entry).arg(sealed).arg("PX").arg(ttl_ms).ignore();
        for index in self.keys.current_index_names(&token.owner) {
            let index = format!("{}idx:{index}", self.prefix);
            pipe.cmd("SADD").arg(&index).arg(key).ignore();
            pipe.cmd("PEXPIRE").arg(&index).arg(INDEX_TTL_MS).ignore();
        }
        true
    }

    /// Deletes the entries of `client_app_id` in `tenant` (every tenant with `None`), found
    /// through the index sets of every key in the keyring; returns how many were deleted.
    /// When Redis does not take it, the drop is kept and retried once Redis answers.
    pub async fn drop_owned(&self, tenant: Option<&str>, client_app_id: &str) -> Option<usize> {
        let done = self.try_drop_owned(tenant, client_app_id).await;
        if done.is_none() {
            let mut pending = self.pending_drops.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            pending.push((tenant.map(str::to_owned), client_app_id.to_owned()));
        }
        done
    }

    /// Retries, every second, the drops Redis could not take; ends with the cache.
    pub fn spawn_retries(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(this) = weak.upgrade() else { return };
                let pending =
                    std::mem::take(&mut *this.pending_drops.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
                for (tenant, client) in pending {
                    if let Some(n) = this.drop_owned(tenant.as_deref(), &client).await {
                        tracing::info!(tenant = ?tenant, client_app = %client, n, "revoked tokens dropped from redis, now that it answers");
                        this.metrics
                            .cache_revoked
                            .get_or_create(&vec![("tier".to_owned(), "shared".to_owned())])
                            .inc_by(n as u64);
                    }
                }
            }
        });
    }

    async fn try_drop_owned(&self, tenant: Option<&str>, client_app_id: &str) -> Option<usize> {
        let mut dropped = 0;
        for index in self.keys.index_names(tenant, client_app_id) {
            let index = format!("{}idx:{index}", self.prefix);
            let members: Vec<String> = self.call("smembers", redis::cmd("SMEMBERS").arg(&index)).await?;
            let mut del = redis::cmd("DEL");
            del.arg(&index);
            for m in &members {
                del.arg(self.entry_key(m));
            }
            let n: usize = self.call("del", &del).await?;
            dropped += n.saturating_sub(1);
        }
        Some(dropped)
    }

    /// The shared cache's health for `/readyz`, with a fresh bounded `PING` at most once per
    /// [`PROBE_TTL`] (which also brings Redis back before the next exchange would).
    pub async fn probe(&self) -> SharedHealth {
        let mut probed = self.probed.lock().await;
        if probed.is_none_or(|t| t.elapsed() >= PROBE_TTL) {
            let ping = redis::cmd("PING");
            match tokio::time::timeout(self.timeout, ping.query_async::<String>(&mut self.conn.clone())).await {
                Ok(Ok(_)) => self.succeeded(),
                Ok(Err(e)) => self.failed("ping", &e.to_string()),
                Err(_) => self.failed("ping", &format!("no answer within {} ms", self.timeout.as_millis())),
            }
            *probed = Some(Instant::now());
        }
        self.health()
    }

    pub fn health(&self) -> SharedHealth {
        match &self.lock_state().last_error {
            None => SharedHealth::Ready,
            Some(e) => SharedHealth::Degraded(e.clone()),
        }
    }

    fn entry_key(&self, key: &str) -> String {
        format!("{}tok:{key}", self.prefix)
    }

    fn lookup(&self, key: &str, entry: &str, found: Option<Option<Vec<u8>>>) -> Lookup {
        match found {
            None => Lookup::Unavailable,
            Some(None) => Lookup::Miss,
            Some(Some(bytes)) => match self.keys.open(entry, &bytes) {
                Some(t) if t.expires_at - self.margin > crate::clock::unix_now() => Lookup::Hit(Arc::new(t)),
                Some(_) => Lookup::Miss,
                None => {
                    // Another key (rotated out), or not ours: fetch and overwrite it.
                    tracing::warn!(key, "a shared cache entry does not decrypt with any configured key");
                    self.metrics.redis_error("decrypt");
                    Lookup::Miss
                }
            },
        }
    }

    async fn unlock(&self, lock: &str, mine: &str) {
        let _: Option<i64> = self.call("unlock", redis::cmd("EVAL").arg(UNLOCK).arg(1).arg(lock).arg(mine)).await;
    }

    /// One command within the timeout; `None` when Redis failed, was slow, or is being left
    /// alone after a failure.
    async fn call<T: FromRedisValue>(&self, op: &'static str, cmd: &redis::Cmd) -> Option<T> {
        if !self.available() {
            return None;
        }
        let result = tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut self.conn.clone())).await;
        self.settle(op, result)
    }

    async fn call_pipe<T: FromRedisValue>(&self, op: &'static str, pipe: &Pipeline) -> Option<T> {
        if !self.available() {
            return None;
        }
        let result = tokio::time::timeout(self.timeout, pipe.query_async::<T>(&mut self.conn.clone())).await;
        self.settle(op, result)
    }

    fn settle<T>(
        &self,
        op: &'static str,
        result: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Option<T> {
        match result {
            Ok(Ok(v)) => {
                self.succeeded();
                Some(v)
            }
            Ok(Err(e)) => {
                self.failed(op, &e.to_string());
                None
            }
            Err(_) => {
                self.failed(op, &format!("no answer within {} ms", self.timeout.as_millis()));
                None
            }
        }
    }

    fn available(&self) -> bool {
        let state = self.lock_state();
        match state.retry_at {
            Some(at) if Instant::now() < at => {
                drop(state);
                self.metrics.redis_skipped.inc();
                false
            }
            _ => true,
        }
    }

    fn succeeded(&self) {
        let mut state = self.lock_state();
        if state.last_error.is_some() {
            tracing::info!("redis answers again: shared cache back on");
        }
        state.retry_at = None;
        state.last_error = None;
        self.metrics.redis_up.set(1);
    }

    fn failed(&self, op: &'static str, error: &str) {
        self.metrics.redis_error(op);
        self.metrics.redis_up.set(0);
        let mut state = self.lock_state();
        if state.last_error.is_none() {
            tracing::warn!(op, error, "redis unavailable: shared cache off, serving from memory");
        }
        state.retry_at = Some(Instant::now() + self.retry_after);
        state.last_error = Some(format!("redis {op}: {error}"));
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
