//! Each Power Pages site's public key: fetched as PEM from the registry's `key_url`, cached, and
//! refetched when a signature fails — a site rotated its certificate — at most once per
//! `min_forced_interval` per site. The site is named by the registry, never by the token, so a
//! token cannot make the STS fetch from anywhere it was not told to; and however many junk tokens
//! arrive, each site sees at most one forced fetch per interval. A refusal inside the interval
//! marks a refetch as due, which the next request after the interval performs, so a genuinely
//! rotated key is accepted within the bound whatever junk came first.
//!
//! The official Power Pages validation sample fetches the key once at start-up and never again, so
//! a rotation breaks it until a restart; this is the difference.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use tokio::time::Instant;

use crate::metrics::Metrics;

/// A key document larger than this is not one PEM public key.
const MAX_PEM_BYTES: usize = 16 * 1024;

/// Why a site's key could not be had (`502`: the site's trouble, not the caller's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteKeyError {
    #[error("cannot fetch the public key of site {site}: {reason}")]
    Fetch { site: String, reason: String },
}

#[derive(Default)]
struct Entry {
    key: Option<Arc<DecodingKey>>,
    /// The PEM the key came from, to tell a rotation from the same key again.
    pem: String,
    fetched_at: Option<Instant>,
    /// The last fetch forced by a signature failure.
    forced_at: Option<Instant>,
    /// A forced fetch was refused inside the interval: the next request after it fetches.
    due: bool,
}

/// Site keys by key URL.
pub struct SiteKeys {
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    refresh_every: Duration,
    min_forced_interval: Duration,
    fetch_timeout: Duration,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Entry>>>>,
}

impl std::fmt::Debug for SiteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteKeys").field("min_forced_interval", &self.min_forced_interval).finish_non_exhaustive()
    }
}

/// What [`SiteKeys::refetch`] found.
pub enum Refetched {
    /// A different key than the one that failed: try it.
    NewKey(Arc<DecodingKey>),
    /// The same key, or no fetch allowed now (inside the interval).
    Nothing,
}

impl std::fmt::Debug for Refetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NewKey(_) => "NewKey",
            Self::Nothing => "Nothing",
        })
    }
}

impl SiteKeys {
    pub fn new(
        http: reqwest::Client,
        metrics: Arc<Metrics>,
        refresh_every: Duration,
        min_forced_interval: Duration,
        fetch_timeout: Duration,
    ) -> Self {
        Self { http, metrics, refresh_every, min_forced_interval, fetch_timeout, entries: Mutex::default() }
    }

    fn entry(&self, key_url: &str) -> Arc<tokio::sync::Mutex<Entry>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(entries.entry(key_url.to_owned()).or_default())
    }

    /// The site's key: the cached one while fresh, else fetched (one fetch per site at a time).
    pub async fn key(&self, site: &str, key_url: &str) -> Result<Arc<DecodingKey>, SiteKeyError> {
        let entry = self.entry(key_url);
        let mut e = entry.lock().await;
        let now = Instant::now();
        let fresh = e.fetched_at.is_some_and(|t| now.duration_since(t) < self.refresh_every);
        let due = e.due && e.forced_at.is_none_or(|t| now.duration_since(t) >= self.min_forced_interval);
        match (&e.key, fresh, due) {
            (Some(key), true, false) => Ok(Arc::clone(key)),
            _ => {
                let reason = if e.key.is_none() {
                    "first"
                } else if due {
                    "scheduled"
                } else {
                    "expired"
                };
                if due {
                    e.forced_at = Some(now);
                    e.due = false;
                }
                self.fetch_into(&mut e, site, key_url, reason).await
            }
        }
    }

    /// After a signature failure with `failed`: fetch again, unless a forced fetch happened within
    /// the interval (then mark one as due).
    pub async fn refetch(
        &self,
        site: &str,
        key_url: &str,
        failed: &Arc<DecodingKey>,
    ) -> Result<Refetched, SiteKeyError> {
        let entry = self.entry(key_url);
        let mut e = entry.lock().await;
        // Someone else already replaced the failed key while we waited for the lock.
        if let Some(current) = &e.key
            && !Arc::ptr_eq(current, failed)
        {
            return Ok(Refetched::NewKey(Arc::clone(current)));
        }
        let now = Instant::now();
        if e.forced_at.is_some_and(|t| now.duration_since(t) < self.min_forced_interval) {
            e.due = true;
            return Ok(Refetched::Nothing);
        }
        e.forced_at = Some(now);
        e.due = false;
        let before = e.pem.clone();
        let key = self.fetch_into(&mut e, site, key_url, "signature_failure").await?;
        Ok(if e.pem == before { Refetched::Nothing } else { Refetched::NewKey(key) })
    }

    async fn fetch_into(
        &self,
        e: &mut Entry,
        site: &str,
        key_url: &str,
        reason: &'static str,
    ) -> Result<Arc<DecodingKey>, SiteKeyError> {
        self.metrics.key_refreshes.get_or_create(&vec![("reason".to_owned(), format!("site_{reason}"))]).inc();
        let fail = |reason: String| SiteKeyError::Fetch { site: site.to_owned(), reason };
        let pem = self.fetch_pem(key_url).await.map_err(fail)?;
        let key = DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| SiteKeyError::Fetch {
            site: site.to_owned(),
            reason: "the answer is not an RSA public key (PEM)".into(),
        })?;
        let key = Arc::new(key);
        e.key = Some(Arc::clone(&key));
        e.pem = pem;
        e.fetched_at = Some(Instant::now());
        tracing::info!(site, reason, "fetched the site's public key");
        Ok(key)
    }

    async fn fetch_pem(&self, key_url: &str) -> Result<String, String> {
        let response = tokio::time::timeout(self.fetch_timeout, self.http.get(key_url).send())
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|e| format!("unreachable ({})", if e.is_connect() { "connect" } else { "request" }))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(format!("HTTP {status}"));
        }
        if response.content_length().is_some_and(|l| l > MAX_PEM_BYTES as u64) {
            return Err("the key document is too large".into());
        }
        let body = tokio::time::timeout(self.fetch_timeout, response.bytes())
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|_| "the answer was cut off".to_owned())?;
        if body.len() > MAX_PEM_BYTES {
            return Err("the key document is too large".into());
        }
        let text = String::from_utf8(body.to_vec()).map_err(|_| "the key document is not text".to_owned())?;
        if !text.contains("-----BEGIN PUBLIC KEY-----") && !text.contains("-----BEGIN RSA PUBLIC KEY-----") {
            return Err("the answer is not a PEM public key".into());
        }
        Ok(text)
    }
}
