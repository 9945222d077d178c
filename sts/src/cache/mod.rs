//! The OBO result cache, behind a small trait so a shared (Redis) layer can sit under the
//! in-memory one when several STS instances run.

mod key;
mod memory;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use key::cache_key;
pub use memory::MemoryCache;

use crate::exchange::ExchangeError;
use crate::secret::BackendToken;

/// A backend token obtained through OBO.
#[derive(Debug)]
pub struct CachedToken {
    pub access_token: BackendToken,
    /// Unix seconds.
    pub expires_at: i64,
    /// Scopes Entra granted (space-separated).
    pub scope: String,
}

impl CachedToken {
    /// Approximate memory per entry, for the byte bound: the strings plus ~600 bytes of key,
    /// `Arc`s and moka bookkeeping (measured by the benchmark: ≈2.0 KB resident per entry with a
    /// 1.44 KB token).
    pub fn weight(&self) -> usize {
        self.access_token.expose().len() + self.scope.len() + 600
    }
}

pub type Load<'a> = Pin<Box<dyn Future<Output = Result<Arc<CachedToken>, ExchangeError>> + Send + 'a>>;
/// `(token, served from cache)`, or the load's error shared by every waiter.
pub type Lookup<'a> = Pin<Box<dyn Future<Output = Result<(Arc<CachedToken>, bool), Arc<ExchangeError>>> + Send + 'a>>;

/// What the exchange needs from a cache.
pub trait TokenCache: Send + Sync + std::fmt::Debug {
    /// Returns the cached token for `key` (and `true`), or runs `load` exactly once however many
    /// callers ask for the same key at the same time, caches a success, and returns it (and `false`).
    /// Failures are not cached: every waiter gets the same error, the next caller tries again.
    fn get_or_load<'a>(&'a self, key: String, load: Load<'a>) -> Lookup<'a>;
    /// The cached token for `key`, if any (no loading).
    fn get<'a>(&'a self, key: &'a str) -> Pin<Box<dyn Future<Output = Option<Arc<CachedToken>>> + Send + 'a>>;
    /// Replaces the entry (a claims-challenge request fetched a fresher token).
    fn put<'a>(&'a self, key: String, token: Arc<CachedToken>) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
    fn entry_count(&self) -> u64;
}
