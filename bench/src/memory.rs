//! Resident memory per cached token, measured in-process on the STS's own cache
//! ([`sts::MemoryCache`], moka) with the server's default [`CacheConfig`].
//!
//! Why in-process rather than through the server: filling the real server with 100 000 entries
//! means 100 000 OBO calls (two RSA signatures each at the emulator), minutes on 2 cores; the
//! cache structure is the same code the server runs. Each measurement runs in a fresh process
//! (`tessera-bench memory`) so earlier allocations do not blur the delta.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sts::BackendToken;
use sts::CacheConfig;
use sts::unix_now;
use sts::{CachedToken, MemoryCache, cache_key};
use sts::{ExchangeError, UpstreamError};

#[derive(Debug, Clone, clap::Args)]
pub struct MemoryArgs {
    /// Entries to insert.
    #[arg(long)]
    pub entries: u64,
    /// Length of each cached backend token (the run passes the length of a real one).
    #[arg(long, default_value_t = 1500)]
    pub token_bytes: usize,
}

/// One measurement.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct MemoryResult {
    pub inserted: u64,
    /// Entries the cache holds after its housekeeping settled.
    pub held: u64,
    pub token_bytes: usize,
    pub rss_before: u64,
    pub rss_after: u64,
}

impl MemoryResult {
    /// RSS growth per inserted entry. Every inserted entry is alive (the capacity is never
    /// reached, so nothing is evicted); `held` lags only by the writes moka has not applied yet.
    pub fn bytes_per_entry(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let per = self.rss_after.saturating_sub(self.rss_before) as f64 / self.inserted.max(1) as f64;
        per
    }
}

/// `VmRSS` of this process in bytes (Linux).
pub fn rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    parse_vm_rss(&status).context("no VmRSS line in /proc/self/status")
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A JWT-shaped string of exactly `len` bytes, distinct per `i` (a separate heap allocation, as
/// each real token is; the content does not matter to the allocator).
/// The capacity is exact, as for a token read from Entra's JSON answer (a grown `String` would
/// carry up to twice its length and inflate the measurement).
fn token_like(i: u64, len: usize) -> String {
    let mut s = String::with_capacity(len);
    s.push_str(&format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{i:020}."));
    while s.len() < len {
        s.push('A');
    }
    s.truncate(len);
    s.shrink_to_fit();
    s
}

pub async fn measure(args: &MemoryArgs) -> anyhow::Result<MemoryResult> {
    let defaults = CacheConfig::default();
    // The server's defaults, raised only if asked for more entries than they allow.
    let config = CacheConfig {
        max_entries: defaults.max_entries.max(args.entries),
        max_bytes: defaults.max_bytes.max(args.entries * 4096),
        ..defaults
    };
    let cache = MemoryCache::new(&config);
    let scopes = vec!["https://graph.microsoft.com/Files.Read".to_owned()];
    let client = "22222222-2222-4222-8222-222222222222";
    let expires_at = unix_now() + 3600;
    let rss_before = rss_bytes()?;
    for i in 0..args.entries {
        let subject = format!("subject-token-{i}");
        let key = cache_key(&subject, client, &scopes);
        let token = CachedToken {
            access_token: BackendToken::new(token_like(i, args.token_bytes)),
            expires_at,
            scope: scopes[0].clone(),
            owner: Default::default(),
        };
        cache.put(key, Arc::new(token)).await;
    }
    // moka applies writes in batches during later operations: poke it until the count settles.
    let probe = cache_key("subject-token-0", client, &scopes);
    let mut held = 0;
    for _ in 0..100 {
        let _ = cache
            .get_or_load(probe.clone(), Box::pin(async { Err(ExchangeError::Upstream(UpstreamError::CutOff)) }))
            .await;
        held = cache.entry_count();
        if held >= args.entries {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rss_after = rss_bytes()?;
    if held == 0 {
        bail!("the cache holds no entries after inserting {}", args.entries);
    }
    Ok(MemoryResult { inserted: args.entries, held, token_bytes: args.token_bytes, rss_before, rss_after })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_rss() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn tokens_have_the_length_and_differ() {
        let t = token_like(7, 1500);
        assert_eq!((t.len(), t.capacity()), (1500, 1500));
        assert_ne!(token_like(1, 100), token_like(2, 100));
    }

    #[test]
    fn per_entry_is_growth_over_inserted() {
        let r = MemoryResult { inserted: 10, held: 5, token_bytes: 1, rss_before: 1000, rss_after: 11_000 };
        assert!((r.bytes_per_entry() - 1000.0).abs() < f64::EPSILON);
    }
}
