//! Entra signing keys per tenant and token version (spec §5).
//!
//! Keys come from the tenant's metadata (`jwks_uri`), are cached, refreshed on a timer, and
//! refetched when a token names an unknown `kid` — at most one fetch in flight per tenant (and
//! token version) and at most one forced refetch per `entra.key_refetch_interval_secs`, so a flood
//! of tokens with made-up `kid`s cannot turn into a flood of requests to Entra.
//!
//! The rate limit must not let junk delay a genuine rotation: when an unknown `kid` is refused
//! because this window's refetch is spent, a refetch is scheduled for the window's end. A token
//! signed with a new key is therefore accepted at most one interval after it first appears,
//! whatever made-up `kid`s came before it — and junk still costs one fetch per interval at most.
//!
//! The metadata and JWKS documents are untrusted input too (what Entra, or a man in the middle,
//! sends): parsed into typed structs, odd keys skipped ([`signing_keys`]); no arithmetic on them.
#![deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::cast_possible_wrap)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use super::TokenVersion;
use crate::metrics::Metrics;

/// Why [`KeyStore::key`] has no key for a token. `Clone`: the exchange's error is shared by the
/// waiters of one single flight.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The tenant's current key set has no such `kid` (the token's fault: `400 invalid_grant`).
    /// `kid` is clipped to 64 characters.
    #[error("signing key {kid:?} is not published for tenant {tenant}")]
    UnknownKid { tenant: String, kid: String },
    /// The key set could not be fetched (Entra's or the network's fault: `502`).
    #[error("cannot fetch signing keys for tenant {tenant}: {cause}")]
    Fetch { tenant: String, cause: FetchError },
}

/// Why one metadata or JWKS document could not be had. The URL is the authority's (from the
/// configuration or the tenant's metadata), never the caller's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// No HTTP answer; `kind` is [`super::upstream::failure_kind`]'s (`connect`, `tls`, `timeout`…),
    /// the whole cause chain is in the log.
    #[error("Entra could not be reached ({kind})")]
    Unreachable { kind: &'static str },
    #[error("GET {url}: HTTP {status}")]
    Status { url: String, status: u16 },
    /// The answer is not the JSON document expected; `reason` is serde's (or reqwest's) message.
    #[error("GET {url}: the answer is not understood ({reason})")]
    NotUnderstood { url: String, reason: String },
}

/// A published signing key with the issuer it may sign for (template already substituted).
pub struct SigningKey {
    pub key: DecodingKey,
    pub issuer: Option<String>,
    /// Whether the key's issuer label (if any) names this key set's tenant, in the form of the
    /// set's token version or the v2 form ([`key_issuer_acceptable`]); decided once, at fetch.
    pub issuer_acceptable: bool,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct KeySet {
    issuer: String,
    keys: HashMap<String, Arc<SigningKey>>,
    fetched_at: Instant,
}

#[derive(Debug, Default)]
struct TenantKeys {
    current: Mutex<Option<Arc<KeySet>>>,
    /// Held while fetching: the one fetch in flight.
    fetching: tokio::sync::Mutex<()>,
    last_forced: Mutex<Option<Instant>>,
    /// A refetch is scheduled for the end of the current rate-limit window.
    refetch_scheduled: AtomicBool,
}

#[derive(Debug)]
pub struct KeyStore {
    http: reqwest::Client,
    authority: String,
    refresh_every: Duration,
    min_forced_interval: Duration,
    fetch_timeout: Duration,
    tenants: Mutex<HashMap<(String, TokenVersion), Arc<TenantKeys>>>,
    metrics: Arc<Metrics>,
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    n: Option<String>,
    e: Option<String>,
    issuer: Option<String>,
}

impl KeyStore {
    pub fn new(http: reqwest::Client, authority: &str, refresh_every: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            http,
            authority: authority.trim_end_matches('/').to_owned(),
            refresh_every,
            min_forced_interval: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(10),
            tenants: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// How long one key or metadata document may take (`entra.upstream_timeout_ms`).
    pub fn with_fetch_timeout(mut self, d: Duration) -> Self {
        self.fetch_timeout = d;
        self
    }

    /// How often an unknown `kid` may force a refetch (`entra.key_refetch_interval_secs`).
    pub fn with_min_forced_interval(mut self, d: Duration) -> Self {
        self.min_forced_interval = d;
        self
    }

    /// The issuer this tenant's tokens of `version` must carry, and the key named `kid`.
    pub async fn key(
        self: &Arc<Self>,
        tenant: &str,
        version: TokenVersion,
        kid: &str,
    ) -> Result<(String, Arc<SigningKey>), KeyError> {
        let entry = self.entry(tenant, version);
        let seen = lock(&entry.current).clone();
        if let Some(set) = seen.as_ref().filter(|s| self.is_fresh(s))
            && let Some(key) = set.keys.get(kid)
        {
            return Ok((set.issuer.clone(), Arc::clone(key)));
        }
        // Missing, stale, or an unknown kid: fetch, one at a time per tenant. Whoever waited for
        // the lock re-reads first: the fetch it waited for may have brought the key.
        let _fetching = entry.fetching.lock().await;
        let current = lock(&entry.current).clone();
        let fetched_meanwhile = current.as_ref().map(|s| s.fetched_at) != seen.as_ref().map(|s| s.fetched_at);
        let set = match current {
            Some(set) if fetched_meanwhile => set,
            // Fresh keys without this kid: refetch only if the rate limit allows; otherwise at the
            // end of the window, so that a genuine new key is not refused for longer than that.
            Some(set) if self.is_fresh(&set) && !self.may_force(&entry) => {
                self.schedule_refetch(tenant, version, &entry);
                set
            }
            current => {
                let reason = match &current {
                    None => "first",
                    Some(s) if !self.is_fresh(s) => "expired",
                    Some(_) => "unknown_kid",
                };
                let set = Arc::new(self.fetch(tenant, version).await?);
                self.metrics.key_refresh(reason);
                *lock(&entry.current) = Some(Arc::clone(&set));
                set
            }
        };
        match set.keys.get(kid) {
            Some(k) => Ok((set.issuer.clone(), Arc::clone(k))),
            None => Err(KeyError::UnknownKid { tenant: tenant.to_owned(), kid: kid.chars().take(64).collect() }),
        }
    }

    /// Refetches this tenant's keys when the current rate-limit window ends, once per window.
    fn schedule_refetch(self: &Arc<Self>, tenant: &str, version: TokenVersion, entry: &Arc<TenantKeys>) {
        if entry.refetch_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let window_ends =
            lock(&entry.last_forced).and_then(|t| t.checked_add(self.min_forced_interval)).unwrap_or_else(Instant::now);
        let (store, entry, tenant) = (Arc::clone(self), Arc::clone(entry), tenant.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep_until(window_ends.into()).await;
            let _fetching = entry.fetching.lock().await;
            *lock(&entry.last_forced) = Some(Instant::now());
            entry.refetch_scheduled.store(false, Ordering::Release);
            match store.fetch(&tenant, version).await {
                Ok(set) => {
                    *lock(&entry.current) = Some(Arc::new(set));
                    store.metrics.key_refresh("scheduled");
                }
                Err(e) => tracing::warn!(error = %e, "scheduled signing-key refetch failed; keeping the previous keys"),
            }
        });
    }

    fn is_fresh(&self, set: &KeySet) -> bool {
        set.fetched_at.elapsed() < self.refresh_every
    }

    /// Refreshes every tenant seen so far (the timer); failures keep the old keys.
    pub async fn refresh_all(&self) {
        let known: Vec<(String, TokenVersion)> = lock(&self.tenants).keys().cloned().collect();
        for (tenant, version) in known {
            match self.fetch(&tenant, version).await {
                Ok(set) => {
                    *lock(&self.entry(&tenant, version).current) = Some(Arc::new(set));
                    self.metrics.key_refresh("timer");
                }
                Err(e) => tracing::warn!(error = %e, "signing-key refresh failed; keeping the previous keys"),
            }
        }
    }

    /// Tenants whose keys are loaded (for readiness).
    pub fn loaded_tenants(&self) -> usize {
        lock(&self.tenants).values().filter(|t| lock(&t.current).is_some()).count()
    }

    fn may_force(&self, entry: &TenantKeys) -> bool {
        let mut last = lock(&entry.last_forced);
        if last.is_some_and(|t| t.elapsed() < self.min_forced_interval) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    fn entry(&self, tenant: &str, version: TokenVersion) -> Arc<TenantKeys> {
        Arc::clone(lock(&self.tenants).entry((tenant.to_owned(), version)).or_default())
    }

    fn metadata_url(&self, tenant: &str, version: TokenVersion) -> String {
        match version {
            TokenVersion::V2 => format!("{}/{tenant}/v2.0/.well-known/openid-configuration", self.authority),
            TokenVersion::V1 => format!("{}/{tenant}/.well-known/openid-configuration", self.authority),
        }
    }

    async fn fetch(&self, tenant: &str, version: TokenVersion) -> Result<KeySet, KeyError> {
        let fail = |cause: FetchError| KeyError::Fetch { tenant: tenant.to_owned(), cause };
        let metadata: Metadata = self.get_json(&self.metadata_url(tenant, version)).await.map_err(fail)?;
        // `common`/`organizations` metadata and multi-tenant keys carry `{tenantid}`: substitute.
        let issuer = metadata.issuer.replace("{tenantid}", tenant);
        let jwks: Jwks = self.get_json(&metadata.jwks_uri).await.map_err(fail)?;
        let mut keys = signing_keys(jwks, tenant);
        // A key labelled with another form of issuer than this set's (a v2 label on a v1 key
        // document) is checked against the tenant's v2 issuer, which only its v2 metadata names.
        let v2_issuer = match version {
            TokenVersion::V2 => Some(issuer.clone()),
            TokenVersion::V1 if keys.values().any(|k| k.issuer.as_ref().is_some_and(|ki| *ki != issuer)) => {
                let v2: Metadata = self.get_json(&self.metadata_url(tenant, TokenVersion::V2)).await.map_err(fail)?;
                Some(v2.issuer.replace("{tenantid}", tenant))
            }
            TokenVersion::V1 => None,
        };
        for key in keys.values_mut() {
            key.issuer_acceptable = key_issuer_acceptable(key.issuer.as_deref(), &issuer, v2_issuer.as_deref());
        }
        let keys = keys.into_iter().map(|(kid, key)| (kid, Arc::new(key))).collect();
        Ok(KeySet { issuer, keys, fetched_at: Instant::now() })
    }

    /// One document from Entra. Failures are counted by kind and logged with their whole cause
    /// chain; the caller (and so the client) learns only the kind.
    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, FetchError> {
        let failed = |e: reqwest::Error| {
            let kind = super::upstream::failure_kind(&e);
            self.metrics.upstream_error(kind);
            tracing::warn!(kind, cause = %super::upstream::CauseChain(&e), "fetching signing keys failed");
            FetchError::Unreachable { kind }
        };
        let response = self.http.get(url).timeout(self.fetch_timeout).send().await.map_err(failed)?;
        if !response.status().is_success() {
            return Err(FetchError::Status { url: url.to_owned(), status: response.status().as_u16() });
        }
        response.json().await.map_err(|e| FetchError::NotUnderstood { url: url.to_owned(), reason: e.to_string() })
    }
}

/// The usable signing keys of a JWKS document, by `kid`: RSA keys meant for signatures (or for
/// anything) with a `kid`, `n` and `e`. Whatever else Entra — or a man in the middle — puts in
/// the document is skipped, never an error: one odd key must not take the tenant's others down.
fn signing_keys(jwks: Jwks, tenant: &str) -> HashMap<String, SigningKey> {
    let mut keys = HashMap::new();
    for jwk in jwks.keys {
        let (Some(kid), Some(n), Some(e)) = (jwk.kid, jwk.n, jwk.e) else { continue };
        if jwk.kty != "RSA" || jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        match DecodingKey::from_rsa_components(&n, &e) {
            Ok(key) => {
                let issuer = jwk.issuer.map(|i| i.replace("{tenantid}", tenant));
                // Acceptable until the caller has compared the label with the tenant's issuers.
                keys.insert(kid, SigningKey { key, issuer, issuer_acceptable: true });
            }
            Err(err) => {
                tracing::warn!(kid = %kid.chars().take(64).collect::<String>(), error = %err, "ignoring an unusable signing key")
            }
        }
    }
    keys
}

/// Whether a key labelled with `key_issuer` (`{tenantid}` substituted) may sign tokens whose issuer
/// is `token_issuer`. As Microsoft's validator (Microsoft.IdentityModel.Validators' signing-key
/// issuer check): an unlabelled key may; a labelled one if the label is the token's issuer or the
/// v2 issuer of the same tenant — v1 and v2 tokens of one tenant share its keys, and a key document
/// may label them in the v2 form only. A label naming another tenant is refused.
pub fn key_issuer_acceptable(key_issuer: Option<&str>, token_issuer: &str, v2_issuer: Option<&str>) -> bool {
    match key_issuer {
        None => true,
        Some(k) => k == token_issuer || Some(k) == v2_issuer,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    /// A JWK as JSON with hostile values where strings are expected.
    fn hostile_value() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
            "[A-Za-z0-9_-]{0,400}".prop_map(serde_json::Value::from),
            "\\PC{0,40}".prop_map(serde_json::Value::from),
            Just(serde_json::json!(["RSA"])),
            Just(serde_json::json!({"kty": "RSA"})),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any bytes as a JWKS or metadata document: a typed parse error or a document, never a
        /// panic; and any parsed JWKS yields only keys with the fields Tessera needs.
        #[test]
        fn any_document_parses_or_is_refused(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = serde_json::from_slice::<Metadata>(&body);
            if let Ok(jwks) = serde_json::from_slice::<Jwks>(&body) {
                let _ = signing_keys(jwks, TENANT);
            }
        }

        /// JWKS documents of the right shape with hostile member values: a key is kept only when
        /// it is an RSA signing key with kid, n and e strings; the issuer template is filled in.
        #[test]
        fn hostile_jwks_members(
            kty in prop_oneof![Just(serde_json::json!("RSA")), hostile_value()],
            kid in prop_oneof![Just(serde_json::json!("k1")), hostile_value()],
            use_ in prop_oneof![Just(serde_json::json!("sig")), Just(serde_json::json!("enc")), hostile_value()],
            n in prop_oneof![Just(serde_json::json!("AQAB")), hostile_value()],
            e in prop_oneof![Just(serde_json::json!("AQAB")), hostile_value()],
        ) {
            let doc = serde_json::json!({"keys": [{"kty": kty, "kid": kid, "use": use_, "n": n, "e": e,
                "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}]});
            match serde_json::from_value::<Jwks>(doc) {
                Ok(jwks) => {
                    let keys = signing_keys(jwks, TENANT);
                    let usable = kty == "RSA" && kid.is_string() && n.is_string() && e.is_string()
                        && (use_.is_null() || use_ == "sig");
                    if !usable {
                        prop_assert!(keys.is_empty());
                    }
                    let issuer = format!("https://login.microsoftonline.com/{TENANT}/v2.0");
                    for key in keys.values() {
                        prop_assert_eq!(key.issuer.as_deref(), Some(issuer.as_str()));
                    }
                }
                // A member of the wrong JSON type is a parse error of the document (kept old keys).
                Err(_) => prop_assert!(!(kty.is_string() && (kid.is_string() || kid.is_null())
                    && (use_.is_string() || use_.is_null()) && (n.is_string() || n.is_null())
                    && (e.is_string() || e.is_null()))),
            }
        }
    }

    const V1: &str = "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/";
    const V2: &str = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
    const OTHER_V2: &str = "https://login.microsoftonline.com/00000000-86f1-41af-91ab-2d7cd011db47/v2.0";

    #[test]
    fn key_labels_in_either_form_of_the_same_tenant() {
        assert!(key_issuer_acceptable(None, V1, None), "unlabelled keys sign for their document's issuer");
        assert!(key_issuer_acceptable(Some(V1), V1, None));
        assert!(key_issuer_acceptable(Some(V2), V1, Some(V2)), "a v1 token, a key labelled in the v2 form");
        assert!(key_issuer_acceptable(Some(V2), V2, Some(V2)));
        assert!(!key_issuer_acceptable(Some(OTHER_V2), V1, Some(V2)), "another tenant's label");
        assert!(!key_issuer_acceptable(Some(OTHER_V2), V2, Some(V2)));
        assert!(!key_issuer_acceptable(Some(V2), V1, None), "the v2 form is unknown: no equivalence assumed");
    }
}
