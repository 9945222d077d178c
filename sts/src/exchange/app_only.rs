//! App-only tokens: a Power Pages contact's request (the only kind a portal token can get), and
//! the client-credentials call shared with Entra users of app-only workloads.
//!
//! Order, as for OBO: the token's claims (no I/O), the registry's decision (pure), then the
//! signature against the site's key, then the cache — per client app, backend and tenant, never
//! per user — and only then Entra.

use std::sync::Arc;

use super::error::PortalTokenError;
use super::request::ExchangeRequest;
use super::{ExchangeError, Exchanger, Issued, Trail};
use crate::cache::app_only_cache_key;
use crate::clock::unix_now;
use crate::entra::obo::{OboRequest, Upstream};
use crate::portal::keys::Refetched;
use crate::portal::validate;

impl Exchanger {
    pub(super) async fn run_portal(&self, req: ExchangeRequest, trail: &mut Trail) -> Result<Issued, ExchangeError> {
        let token = req.subject_token.expose();
        let leeway = i64::try_from(self.entra.leeway_secs).unwrap_or(60);
        let claims = validate::peek(token, unix_now(), leeway)?;
        trail.user_oid = Some(claims.contact.clone());
        trail.site = Some(claims.site.clone());

        let snapshot = self.registry.snapshot();
        let site = snapshot.site(&claims.site).ok_or_else(|| PortalTokenError::UnknownSite(claims.site.clone()))?;
        if !site.client_ids.contains(&claims.client_id) {
            return Err(PortalTokenError::UnregisteredClientId {
                site: site.host.clone(),
                client_id: claims.client_id.chars().take(36).collect(),
            }
            .into());
        }
        trail.tenant = Some(site.tenant_id.clone());
        let (grant, tenant) = registry::decide_portal(
            &snapshot,
            &registry::PortalRequest {
                host: &site.host,
                workload: req.workload.as_deref(),
                scope: &req.scope,
                authority: self.entra.authority.as_str(),
            },
        )?;
        trail.client = Some(grant.client_app_id.clone());
        trail.workload = Some(grant.workload.clone());
        trail.backend = Some(grant.backend_app_id.clone());
        trail.scopes = Some(grant.scope_string());

        // Authenticity: the site's key, refetched once (within its bound) if the site rotated it.
        let key = self.site_keys.key(&site.host, &site.key_url).await?;
        if let Err(e) = validate::verify(token, &site.host, &key) {
            match self.site_keys.refetch(&site.host, &site.key_url, &key).await? {
                Refetched::NewKey(fresh) => validate::verify(token, &site.host, &fresh)?,
                Refetched::Nothing => return Err(e.into()),
            }
        }
        self.app_only(&tenant, &grant).await
    }

    /// The client app's own token for the grant's `.default` scope, cached per client app,
    /// backend and tenant.
    pub(super) async fn app_only(&self, tenant: &str, grant: &registry::Grant) -> Result<Issued, ExchangeError> {
        let slot = app_only_cache_key(tenant, &grant.client_app_id, &grant.scopes);
        let consent_url = || registry::admin_consent_url(self.entra.authority.as_str(), tenant, &grant.client_app_id);
        let upstream = OboRequest {
            tenant,
            client_app_id: &grant.client_app_id,
            grant: Upstream::AppOnly,
            scopes: &grant.scopes,
            claims_challenge: None,
        };
        let (token, from_cache) = self
            .cache
            .get_or_load(slot, async {
                self.obo.exchange(&upstream).await.map(Arc::new).map_err(|e| ExchangeError::from_obo(e, consent_url))
            })
            .await
            .map_err(Arc::unwrap_or_clone)?;
        if from_cache {
            self.metrics.cache_hits.inc()
        } else {
            self.metrics.cache_misses.inc()
        };
        Ok(Issued { token, from_cache })
    }
}
