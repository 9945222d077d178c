//! The exchange: subject token → validation → registry decision → cache / certificate OBO → audit.
//!
//! Order matters for safety and cost: structural checks first (no I/O), then the registry's pure
//! decision (so a token for a tenant that never consented costs nothing upstream), then the cache,
//! then the signature against the tenant's keys, and only then Entra. The cache comes before the
//! signature soundly: an entry exists only for token bytes that already passed the signature and
//! issuer checks, and everything else was checked on this request (see `run`).
//!
//! The structural checks themselves are parsed once per verified token: `entra::memo` keeps what
//! `peek` read from token bytes that passed the signature check, by their SHA-256, and a repeat of
//! those exact bytes skips base64url and JSON — never the time checks, the registry decision or
//! the scope checks, which run on every request.

mod app_only;
mod error;
mod form;
mod request;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub use error::{ExchangeError, PortalTokenError, RequestError, SubjectTokenError, UpstreamError};
pub use form::parse as parse_form;
use request::SubjectKind;
pub use request::TokenForm;

use crate::audit::{self, AuditSink};
use crate::cache::{CachedToken, MemoryCache, Owner, TokenDigest, TokenHash};
use crate::clock::{unix_now, unix_now_ms};
use crate::config::EntraConfig;
use crate::entra::keys::KeyStore;
use crate::entra::memo::PeekMemo;
use crate::entra::obo::{OboClient, OboRequest, Upstream};
use crate::entra::validate;
use crate::metrics::Metrics;
use crate::portal::keys::SiteKeys;
use crate::registry_watch::{RegistryWatch, Revocation};
use crate::shared_cache::{SharedCache, Source};

/// Everything an exchange needs; one per process, shared by all requests.
#[derive(Debug)]
pub struct Exchanger {
    pub registry: Arc<RegistryWatch>,
    pub keys: Arc<KeyStore>,
    /// Power Pages sites' public keys.
    pub site_keys: SiteKeys,
    pub obo: OboClient,
    pub cache: MemoryCache,
    /// What `peek` read from tokens already verified, by their digest (`entra::memo`).
    pub peeks: PeekMemo,
    /// The second-level cache on Redis shared by every instance (`cache.redis_url`), if any.
    pub shared: Option<Arc<SharedCache>>,
    pub audit: AuditSink,
    pub metrics: Arc<Metrics>,
    pub entra: EntraConfig,
}

/// A backend token handed to the broker.
#[derive(Debug)]
pub struct Issued {
    pub token: Arc<CachedToken>,
    pub from_cache: bool,
}

/// What the audit record needs, filled in as the exchange progresses.
/// Fields stay `None` when the exchange failed before learning them.
#[derive(Debug, Default)]
struct Trail {
    tenant: Option<String>,
    /// The Entra user's `oid`, or a portal contact's id (then `site` is set).
    user_oid: Option<String>,
    site: Option<String>,
    broker: Option<String>,
    client: Option<String>,
    workload: Option<String>,
    backend: Option<String>,
    scopes: Option<String>,
}

impl Exchanger {
    /// Runs one exchange and records its outcome (audit + metrics), whatever it is.
    pub async fn exchange(&self, form: TokenForm, correlation_id: &str) -> Result<Issued, ExchangeError> {
        let started = Instant::now();
        let mut trail = Trail::default();
        let result = self.run(form, &mut trail).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.outcome(),
        };
        self.metrics.outcome(outcome);
        let from_cache = result.as_ref().is_ok_and(|i| i.from_cache);
        if let Err(e) = &result {
            tracing::info!(correlation_id, outcome, error = %e, tenant = ?trail.tenant, workload = ?trail.workload, "exchange refused");
        } else {
            tracing::debug!(correlation_id, from_cache, tenant = ?trail.tenant, workload = ?trail.workload, "exchange ok");
        }
        let at_ms = unix_now_ms();
        let latency_us = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
        if from_cache {
            // Counted in its row, with no record of its own (`audit::tally`): most exchanges under
            // load are these.
            self.audit.hit(&audit::Hit {
                key: [
                    trail.tenant.as_deref(),
                    trail.user_oid.as_deref(),
                    trail.site.as_deref(),
                    trail.broker.as_deref(),
                    trail.client.as_deref(),
                    trail.workload.as_deref(),
                    trail.backend.as_deref(),
                    trail.scopes.as_deref(),
                ],
                correlation_id,
                at_ms,
                latency_us,
            });
            return result;
        }
        self.audit.record(registry::AuditRecord {
            id: uuid::Uuid::now_v7(),
            at_ms,
            correlation_id: correlation_id.to_owned(),
            tenant_id: trail.tenant,
            user_oid: trail.user_oid,
            broker_app_id: trail.broker,
            client_app_id: trail.client,
            workload: trail.workload,
            backend: trail.backend,
            scopes: trail.scopes,
            outcome: outcome.to_owned(),
            error: result.as_ref().err().map(|e| e.public_description()),
            cache_hit: false,
            latency_us,
            hits: 1,
            last_at_ms: None,
            site: trail.site,
        });
        result
    }

    /// Drops the cached tokens a registry change made stale, in memory and in the shared cache
    /// (every instance does this on its own change notice; deleting twice is harmless).
    pub async fn drop_revoked(&self, revocations: &[Revocation]) {
        for r in revocations {
            let memory = self.cache.drop_owned(r.tenant.as_deref(), &r.client_app_id).await;
            self.metrics
                .cache_revoked
                .get_or_create(&vec![("tier".to_owned(), "memory".to_owned())])
                .inc_by(memory as u64);
            let shared = match &self.shared {
                Some(shared) => shared.drop_owned(r.tenant.as_deref(), &r.client_app_id).await,
                None => Some(0),
            };
            if let Some(n) = shared {
                self.metrics
                    .cache_revoked
                    .get_or_create(&vec![("tier".to_owned(), "shared".to_owned())])
                    .inc_by(n as u64);
            }
            tracing::info!(tenant = ?r.tenant, client_app = %r.client_app_id, memory, shared = ?shared, "registry revoked a grant: cached tokens dropped");
        }
    }

    async fn run(&self, form: TokenForm, trail: &mut Trail) -> Result<Issued, ExchangeError> {
        let req = form.check()?;
        if req.kind == SubjectKind::PortalJwt {
            return Box::pin(self.run_portal(req, trail)).await; // boxed: see `miss`
        }
        let token = req.subject_token.expose();
        let leeway = i64::try_from(self.entra.leeway_secs).unwrap_or(60);
        // The token's bytes are hashed once: the digest keys the peek memo, and the same hash,
        // continued with the grant, is the cache key.
        let hash = TokenHash::new(token);
        let digest = hash.digest();
        let peeked = self.peeks.peek(&digest, token, unix_now(), leeway)?;
        trail.tenant = Some(peeked.tenant.clone());
        trail.user_oid = Some(peeked.oid.clone());
        trail.broker = Some(peeked.calling_app.clone());

        // The registry: which workload the token's audience is, and whether this broker, tenant
        // and these scopes are allowed. Pure and in memory.
        let snapshot = self.registry.snapshot();
        let workload = snapshot.workload_for_audience(&peeked.audience).ok_or_else(|| {
            ExchangeError::InvalidSubjectToken(SubjectTokenError::UnregisteredAudience(
                peeked.audience.chars().take(100).collect(),
            ))
        })?;
        trail.client = Some(workload.client_app_id.clone());
        trail.workload = Some(workload.name.clone());
        if let Some(asked) = &req.workload
            && !asked.eq_ignore_ascii_case(&workload.name)
        {
            return Err(ExchangeError::InvalidTarget(format!(
                "audience {asked:?} does not match the subject token, which was issued to workload {:?}",
                workload.name
            )));
        }
        // Decided once per snapshot and request, then remembered with the snapshot
        // (`registry::Snapshot::decide`): still asked on every request, so a registry change
        // (a new snapshot) takes effect at the next one.
        let grant = snapshot.decide(&registry::ConsentRequest {
            tenant_id: &peeked.tenant,
            broker_app_id: &peeked.calling_app,
            target: registry::Target::ClientApp(&workload.client_app_id),
            scope: &req.scope,
            authority: self.entra.authority.as_str(),
        })?;
        trail.backend = Some(grant.backend_app_id.clone());
        trail.scopes = Some(grant.scope_string());
        if !peeked.scopes.iter().any(|s| s.eq_ignore_ascii_case(&workload.required_scope)) {
            return Err(ExchangeError::InvalidSubjectToken(SubjectTokenError::MissingScope {
                scope: workload.required_scope.clone(),
                workload: workload.name.clone(),
            }));
        }

        if workload.app_only.is_some() {
            // The workload's own token, for users holding its role or group: checked here, then
            // the signature (an app-only cache entry is not tied to this token's bytes).
            registry::authorize_app_only_user(workload, &peeked.roles, &peeked.groups)?;
            self.authenticate(token, &peeked, digest).await?;
            return Box::pin(self.app_only(&peeked.tenant, &grant)).await; // boxed: see `miss`
        }

        // The cache is keyed by a hash of the exact token bytes, and an entry exists only after
        // those bytes passed the signature and issuer checks below; expiry, audience, broker,
        // consent and scopes were checked above on this request. So a hit skips only work already
        // done for this very token (an RSA verification: half the cost of a cached exchange).
        let cache_slot = hash.cache_key(&workload.client_app_id, &grant.scopes);
        if req.claims.is_none()
            && let Some(token) = self.cache.get(&cache_slot).await
        {
            self.metrics.cache_hits.inc();
            return Ok(Issued { token, from_cache: true });
        }

        // The miss path in a box of its own: inline, its futures (the key fetch, the OBO request
        // through reqwest, the cache's loader) would make every exchange's future — hits included
        // — kilobytes large, copied at each layer of the HTTP stack that moves it.
        Box::pin(self.miss(&req, &peeked, digest, &workload.client_app_id, &grant.scopes, cache_slot)).await
    }

    /// Authenticity: the token's signature and issuer against its tenant's published keys. Once
    /// they pass, the peek memo remembers what `peek` read from these exact bytes (their `digest`),
    /// so a repeat skips the parsing, not the checks; this is the only place that fills the memo.
    async fn authenticate(
        &self,
        token: &str,
        peeked: &Arc<validate::Peeked>,
        digest: TokenDigest,
    ) -> Result<(), ExchangeError> {
        let (issuer, key) = self.keys.key(&peeked.tenant, peeked.version, &peeked.kid).await?;
        validate::verify(token, peeked, &key, &issuer, self.entra.leeway_secs)?;
        self.peeks.remember(digest, peeked);
        Ok(())
    }

    /// A cache miss (or a claims challenge): verify the signature, then ask Entra once however
    /// many ask for the same token at the same time.
    async fn miss(
        &self,
        req: &request::ExchangeRequest,
        peeked: &Arc<validate::Peeked>,
        digest: TokenDigest,
        client_app_id: &str,
        scopes: &[String],
        cache_slot: String,
    ) -> Result<Issued, ExchangeError> {
        self.authenticate(req.subject_token.expose(), peeked, digest).await?;

        let consent_url = || registry::admin_consent_url(self.entra.authority.as_str(), &peeked.tenant, client_app_id);
        let obo = OboRequest {
            tenant: &peeked.tenant,
            client_app_id,
            grant: Upstream::OnBehalfOf(&req.subject_token),
            scopes,
            claims_challenge: req.claims.as_deref(),
        };
        let owner = Owner { tenant: peeked.tenant.clone(), client_app_id: client_app_id.to_owned() };
        let fetch = || async {
            let mut fresh = self.obo.exchange(&obo).await.map_err(|e| ExchangeError::from_obo(e, consent_url))?;
            fresh.owner = owner.clone();
            Ok::<_, ExchangeError>(Arc::new(fresh))
        };
        if req.claims.is_some() {
            // A claims challenge must reach Entra: bypass the caches, then refresh them.
            self.metrics.cache_misses.inc();
            let fresh = fetch().await?;
            if let Some(shared) = &self.shared {
                shared.put(&cache_slot, &fresh).await;
            }
            self.cache.put(cache_slot, Arc::clone(&fresh)).await;
            return Ok(Issued { token: fresh, from_cache: false });
        }
        // A memory miss: one load per key in this process, which asks the shared cache (one fetch
        // per key across the instances) when there is one.
        let from_shared = AtomicBool::new(false);
        let (token, from_memory) = self
            .cache
            .get_or_load(cache_slot.clone(), async {
                let Some(shared) = &self.shared else { return fetch().await };
                let (token, source) = shared.get_or_load(&cache_slot, fetch).await?;
                from_shared.store(source == Source::Shared, Ordering::Relaxed);
                Ok(token)
            })
            .await
            .map_err(Arc::unwrap_or_clone)?;
        let from_cache = from_memory || from_shared.load(Ordering::Relaxed);
        if from_cache {
            self.metrics.cache_hits.inc();
            if !from_memory {
                self.metrics.cache_shared_hits.inc();
            }
        } else {
            self.metrics.cache_misses.inc();
        }
        Ok(Issued { token, from_cache })
    }
}
