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
    /// The monotonic clock the intervals are measured with (a test advances its own).
    clock: Arc<dyn Fn() -> Instant + Send + Sync>,
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
        Self {
            http,
            metrics,
            refresh_every,
            min_forced_interval,
            fetch_timeout,
            entries: Mutex::default(),
            clock: Arc::new(Instant::now),
        }
    }

    fn entry(&self, key_url: &str) -> Arc<tokio::sync::Mutex<Entry>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(entries.entry(key_url.to_owned()).or_default())
    }

    /// The site's key: the cached one while fresh, else fetched (one fetch per site at a time).
    pub async fn key(&self, site: &str, key_url: &str) -> Result<Arc<DecodingKey>, SiteKeyError> {
        let entry = self.entry(key_url);
        let mut e = entry.lock().await;
        let now = (self.clock)();
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
                match self.fetch_into(&mut e, site, key_url, reason).await {
                    Ok(key) => Ok(key),
                    // A site that is down for a moment does not revoke the key it published: keep
                    // using it, and try again after the refetch interval rather than per request.
                    Err(err) => match e.key.clone() {
                        Some(old) => {
                            tracing::warn!(site, error = %err, "keeping the site's cached key");
                            e.fetched_at = now.checked_sub(self.refresh_every.saturating_sub(self.min_forced_interval));
                            Ok(old)
                        }
                        None => Err(err),
                    },
                }
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
        let now = (self.clock)();
        if e.forced_at.is_some_and(|t| now.duration_since(t) < self.min_forced_interval) {
            e.due = true;
            return Ok(Refetched::Nothing);
        }
        e.forced_at = Some(now);
        e.due = false;
        let before = e.pem.clone();
        match self.fetch_into(&mut e, site, key_url, "signature_failure").await {
            Ok(key) if e.pem != before => Ok(Refetched::NewKey(key)),
            Ok(_) => Ok(Refetched::Nothing),
            // The token's signature failed with the key we have; that it cannot be fetched again
            // just now does not make the token good (nor the caller's request a 502).
            Err(err) => {
                tracing::warn!(site, error = %err, "refetching the site's key after a signature failure");
                Ok(Refetched::Nothing)
            }
        }
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
        e.fetched_at = Some((self.clock)());
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// A site serving whatever PEM the test sets, counting the fetches.
    struct Site {
        url: String,
        pem: Arc<Mutex<String>>,
        fetches: Arc<AtomicU64>,
    }

    async fn site() -> Site {
        let pem = Arc::new(Mutex::new(new_pem()));
        let fetches = Arc::new(AtomicU64::new(0));
        let (p, f) = (Arc::clone(&pem), Arc::clone(&fetches));
        let app = axum::Router::new().route(
            "/_services/auth/publickey",
            axum::routing::get(move || {
                let (p, f) = (Arc::clone(&p), Arc::clone(&f));
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    p.lock().unwrap().clone()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/_services/auth/publickey", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Site { url, pem, fetches }
    }

    fn new_pem() -> String {
        rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap().public_key_pem()
    }

    /// The site keys on a clock the test moves by hand, with a 30 s refetch interval.
    fn keys() -> (SiteKeys, Arc<AtomicU64>) {
        let offset = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let o = Arc::clone(&offset);
        let mut keys = SiteKeys::new(
            reqwest::Client::new(),
            Arc::new(Metrics::new()),
            Duration::from_secs(3600),
            Duration::from_secs(30),
            Duration::from_secs(5),
        );
        keys.clock = Arc::new(move || start + Duration::from_secs(o.load(Ordering::SeqCst)));
        (keys, offset)
    }

    #[tokio::test]
    async fn a_rotation_is_fetched_once_per_interval_and_a_refused_one_is_fetched_after_it() {
        crate::crypto::install_provider();
        let site = site().await;
        let (keys, clock) = keys();
        let a = keys.key("s", &site.url).await.unwrap();
        assert_eq!(site.fetches.load(Ordering::SeqCst), 1);
        assert!(Arc::ptr_eq(&a, &keys.key("s", &site.url).await.unwrap()), "cached");

        // Rotation: the first signature failure fetches and finds the new key.
        *site.pem.lock().unwrap() = new_pem();
        let Refetched::NewKey(b) = keys.refetch("s", &site.url, &a).await.unwrap() else { panic!("no new key") };
        assert_eq!(site.fetches.load(Ordering::SeqCst), 2);

        // A second rotation inside the interval: junk and genuine failures alike fetch nothing...
        *site.pem.lock().unwrap() = new_pem();
        for _ in 0..100 {
            assert!(matches!(keys.refetch("s", &site.url, &b).await.unwrap(), Refetched::Nothing));
        }
        assert!(Arc::ptr_eq(&b, &keys.key("s", &site.url).await.unwrap()));
        assert_eq!(site.fetches.load(Ordering::SeqCst), 2, "one forced fetch per interval");

        // ...and the first request after the interval fetches the key that was refused.
        clock.store(31, Ordering::SeqCst);
        let c = keys.key("s", &site.url).await.unwrap();
        assert!(!Arc::ptr_eq(&b, &c));
        assert_eq!(site.fetches.load(Ordering::SeqCst), 3);
        assert!(Arc::ptr_eq(&c, &keys.key("s", &site.url).await.unwrap()), "then cached again");
        assert_eq!(site.fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_site_that_stops_answering_keeps_its_cached_key() {
        crate::crypto::install_provider();
        let site = site().await;
        let (keys, clock) = keys();
        let a = keys.key("s", &site.url).await.unwrap();
        *site.pem.lock().unwrap() = "down for maintenance".into();
        clock.store(3601, Ordering::SeqCst);
        assert!(Arc::ptr_eq(&a, &keys.key("s", &site.url).await.unwrap()), "the old key, not an error");
        assert_eq!(site.fetches.load(Ordering::SeqCst), 2);
        assert!(Arc::ptr_eq(&a, &keys.key("s", &site.url).await.unwrap()));
        assert_eq!(site.fetches.load(Ordering::SeqCst), 2, "not retried on every request");
        assert!(matches!(keys.refetch("s", &site.url, &a).await.unwrap(), Refetched::Nothing));
        clock.store(3601 + 31, Ordering::SeqCst);
        *site.pem.lock().unwrap() = new_pem();
        assert!(!Arc::ptr_eq(&a, &keys.key("s", &site.url).await.unwrap()), "retried after the interval");
    }

    #[tokio::test]
    async fn what_is_not_a_pem_public_key_is_a_fetch_error() {
        crate::crypto::install_provider();
        let site = site().await;
        let (keys, _) = keys();
        *site.pem.lock().unwrap() = "<html>sign in</html>".into();
        let e = keys.key("s", &site.url).await.unwrap_err();
        assert!(e.to_string().contains("not a PEM public key"), "{e}");
        let e = keys.key("s", "http://127.0.0.1:1/none").await.unwrap_err();
        assert!(e.to_string().contains("cannot fetch the public key of site s"), "{e}");
    }
}
