//! The OBO result cache: backend tokens keyed by a hash of the subject token and the grant,
//! bounded, expiring before the token does, loaded once however many ask at the same time.

mod key;
mod memory;

pub use key::{app_only_cache_key, cache_key};
pub use memory::MemoryCache;

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
