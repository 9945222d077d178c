//! [`Admin`]: the in-process handle to what an Entra administrator (and a test) can do — the
//! same operations the `/_admin/…` HTTP API exposes.
//!
//! Besides directory changes, it can mint a user access token directly
//! ([`Admin::issue_user_token`]), signed by the current key exactly as the token endpoint
//! would, so STS tests need no browser flow.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::config::{AppConfig, AppRoleGrantConfig, CertificateConfig, ConsentConfig, TenantConfig, UserConfig};
use crate::counters::CounterSnapshot;
use crate::crypto::certs::{CertificateError, RegisteredCertificate};
use crate::crypto::signing_keys::SigningKey;
use crate::directory::{App, Tenant, consent};
use crate::faults::FaultSpec;
use crate::jwt::claims::ClientAcr;
use crate::state::Shared;

/// Why an admin operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No such tenant.
    #[error("unknown tenant {0}")]
    UnknownTenant(String),
    /// No such user in the tenant.
    #[error("unknown user {0}")]
    UnknownUser(String),
    /// No such app in the tenant.
    #[error("unknown app {0}")]
    UnknownApp(String),
    /// No certificate with that thumbprint.
    #[error("unknown certificate {0}")]
    UnknownCertificate(String),
    /// A certificate could not be parsed.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The request is inconsistent.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Key generation or signing failed.
    #[error("crypto failure: {0}")]
    Crypto(String),
}

impl AdminError {
    /// Whether this is a "not found" error (HTTP 404 at the admin API).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::UnknownTenant(_) | Self::UnknownUser(_) | Self::UnknownApp(_) | Self::UnknownCertificate(_)
        )
    }
}

/// A request to mint a user access token directly.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserTokenRequest {
    /// Tenant id (or domain).
    pub tenant: String,
    /// User object id or UPN.
    pub user: String,
    /// The token's audience app (the workload's client app).
    pub client_app: String,
    /// The app the token was issued to (`azp`/`appid`): the broker.
    pub broker_app: String,
    /// Scopes for `scp`: short names or fully qualified; empty = all the client app exposes.
    pub scopes: Vec<String>,
    /// Token version, 1 or 2.
    pub version: u8,
    /// Lifetime (negative for an already expired token). JSON: `lifetime_secs`.
    #[serde(rename = "lifetime_secs", with = "seconds")]
    pub lifetime: Duration,
    /// Claims added or overriding the standard ones (e.g. `acrs`, `xms_cc`, even `aud`).
    pub extra_claims: Map<String, Value>,
}

impl Default for UserTokenRequest {
    fn default() -> Self {
        Self {
            tenant: String::new(),
            user: String::new(),
            client_app: String::new(),
            broker_app: String::new(),
            scopes: Vec::new(),
            version: 2,
            lifetime: Duration::hours(1),
            extra_claims: Map::new(),
        }
    }
}

/// A request to mint a portal (Power Pages) token directly, bypassing the sign-in page: for tests
/// that need one already expired or otherwise unusual.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortalTokenRequest {
    /// The site's host.
    pub host: String,
    /// Contact id.
    pub contact: String,
    /// `aud`/`appid`; need not be registered (the endpoint would refuse it, a test may not).
    pub client_id: Option<String>,
    /// Lifetime; `None` = the site's setting. Negative for an expired token.
    pub lifetime_secs: Option<i64>,
    /// Claims added or overriding the standard ones.
    pub extra_claims: Map<String, Value>,
}

mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.whole_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<time::Duration, D::Error> {
        Ok(time::Duration::seconds(i64::deserialize(d)?))
    }
}

/// The admin handle. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Admin {
    shared: Arc<Shared>,
}

impl Admin {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn with_tenant<T>(
        &self,
        tenant: &str,
        f: impl FnOnce(&mut Tenant) -> Result<T, AdminError>,
    ) -> Result<T, AdminError> {
        let mut dir = self.shared.dir_mut();
        let t = dir.tenant_mut(tenant).ok_or_else(|| AdminError::UnknownTenant(tenant.to_owned()))?;
        f(t)
    }

    fn with_app<T>(
        &self,
        tenant: &str,
        client_id: &str,
        f: impl FnOnce(&mut App) -> Result<T, AdminError>,
    ) -> Result<T, AdminError> {
        self.with_tenant(tenant, |t| {
            let app = t.app_mut(client_id).ok_or_else(|| AdminError::UnknownApp(client_id.to_owned()))?;
            f(app)
        })
    }

    /// Adds or replaces a tenant with everything in it.
    pub fn upsert_tenant(&self, tenant: TenantConfig) -> Result<(), AdminError> {
        let t = Tenant::from_config(&tenant)?;
        self.shared.dir_mut().upsert_tenant(t);
        Ok(())
    }

    /// Adds or replaces a user.
    pub fn upsert_user(&self, tenant: &str, user: UserConfig) -> Result<(), AdminError> {
        self.with_tenant(tenant, |t| {
            t.upsert_user(user);
            Ok(())
        })
    }

    /// Adds or replaces an app registration.
    pub fn upsert_app(&self, tenant: &str, app: AppConfig) -> Result<(), AdminError> {
        self.with_tenant(tenant, |t| {
            let app = App::from_config(&app, &t.id)?;
            t.upsert_app(app);
            Ok(())
        })
    }

    /// Adds a certificate credential to an app; returns its `x5t`.
    pub fn add_certificate(
        &self,
        tenant: &str,
        client_id: &str,
        cert: &CertificateConfig,
    ) -> Result<String, AdminError> {
        let cert = RegisteredCertificate::from_config(cert)?;
        let x5t = cert.x5t();
        self.with_app(tenant, client_id, |app| {
            app.certificates.retain(|c| c.sha1 != cert.sha1);
            app.certificates.push(cert);
            Ok(x5t)
        })
    }

    /// Revokes a certificate (by `x5t`, `x5t#S256` or hex thumbprint): assertions signed with
    /// it fail with AADSTS700027 from now on.
    pub fn revoke_certificate(&self, tenant: &str, client_id: &str, thumbprint: &str) -> Result<(), AdminError> {
        self.with_app(tenant, client_id, |app| {
            let cert = app
                .certificates
                .iter_mut()
                .find(|c| c.matches_thumbprint(thumbprint))
                .ok_or_else(|| AdminError::UnknownCertificate(thumbprint.to_owned()))?;
            cert.revoked = true;
            Ok(())
        })
    }

    /// Adds a delegated permission grant (merged with an existing one).
    pub fn grant_consent(&self, tenant: &str, grant: ConsentConfig) -> Result<(), AdminError> {
        self.with_tenant(tenant, |t| {
            t.add_consent(grant);
            Ok(())
        })
    }

    /// Removes the delegated grants of `client_id` (on `resource` only, if given); returns
    /// how many grants were removed.
    pub fn revoke_consent(&self, tenant: &str, client_id: &str, resource: Option<&str>) -> Result<usize, AdminError> {
        self.with_tenant(tenant, |t| Ok(t.revoke_consent(client_id, resource)))
    }

    /// What the admin-consent page does on "Accept": grants the client's required scopes (or
    /// `scopes`) and covers its known client apps. Returns the grants created.
    pub fn grant_admin_consent(
        &self,
        tenant: &str,
        client_id: &str,
        scopes: Option<&[String]>,
    ) -> Result<Vec<ConsentConfig>, AdminError> {
        self.with_tenant(tenant, |t| {
            let client = t.app(client_id).ok_or_else(|| AdminError::UnknownApp(client_id.to_owned()))?.clone();
            let grants = consent::admin_consent_grants(t, &client, scopes);
            for g in &grants {
                t.add_consent(g.clone());
            }
            Ok(grants)
        })
    }

    /// Adds application permissions (app roles) for client credentials.
    pub fn grant_app_roles(&self, tenant: &str, grant: AppRoleGrantConfig) -> Result<(), AdminError> {
        self.with_tenant(tenant, |t| {
            t.app_role_grants.push(grant);
            Ok(())
        })
    }

    /// Publishes a new signing key and signs with it from now on; the previous key stays
    /// published until [`Admin::retire_previous_signing_keys`]. Returns the new `kid`.
    pub fn rotate_signing_key(&self) -> Result<String, AdminError> {
        let key = SigningKey::generate().map_err(|e| AdminError::Crypto(e.to_string()))?;
        let kid = key.kid.clone();
        self.shared.keys_mut().rotate(key);
        Ok(kid)
    }

    /// Stops publishing all but the current key; tokens they signed no longer verify.
    pub fn retire_previous_signing_keys(&self) -> usize {
        self.shared.keys_mut().retire_previous()
    }

    /// The published key ids, current first.
    pub fn signing_key_ids(&self) -> Vec<String> {
        self.shared.keys().published().map(|k| k.kid.clone()).collect()
    }

    /// Injects a fault; returns its id.
    pub fn inject_fault(&self, fault: FaultSpec) -> u64 {
        self.shared.faults().add(fault)
    }

    /// Clears one fault.
    pub fn clear_fault(&self, id: u64) -> bool {
        self.shared.faults().clear(id)
    }

    /// Clears all faults.
    pub fn clear_faults(&self) {
        self.shared.faults().clear_all();
    }

    /// The active faults.
    pub fn faults(&self) -> Vec<(u64, FaultSpec)> {
        self.shared.faults().list()
    }

    /// The request counters.
    pub fn counters(&self) -> CounterSnapshot {
        self.shared.counters.snapshot()
    }

    /// Zeroes the counters.
    pub fn reset_counters(&self) {
        self.shared.counters.reset();
    }

    /// Moves the emulator's clock forward (or back, if negative).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// The emulator's current time.
    pub fn now(&self) -> OffsetDateTime {
        self.shared.now()
    }

    /// The v2 issuer of `tid`.
    pub fn issuer_v2(&self, tid: &str) -> String {
        self.shared.issuer_v2(tid)
    }

    /// The v1 issuer of `tid`.
    pub fn issuer_v1(&self, tid: &str) -> String {
        self.shared.issuer_v1(tid)
    }

    /// Mints a user access token for `client_app`, issued to `broker_app`, signed by the
    /// current key. Consent is not checked: this is the test back door, not the token endpoint.
    pub fn issue_user_token(&self, req: UserTokenRequest) -> Result<String, AdminError> {
        if req.version != 1 && req.version != 2 {
            return Err(AdminError::Invalid(format!("version must be 1 or 2, not {}", req.version)));
        }
        let dir = self.shared.dir();
        let TenantLookup(tenant) = TenantLookup::find(&dir, &req.tenant)?;
        let user = tenant.user(&req.user).ok_or_else(|| AdminError::UnknownUser(req.user.clone()))?;
        let client = tenant.app(&req.client_app).ok_or_else(|| AdminError::UnknownApp(req.client_app.clone()))?;
        let broker = tenant.app(&req.broker_app).ok_or_else(|| AdminError::UnknownApp(req.broker_app.clone()))?;
        let scp: Vec<String> = if req.scopes.is_empty() {
            client.scopes.clone()
        } else {
            req.scopes.iter().map(|s| crate::directory::scopes::qualify(s).name).collect()
        };
        if scp.is_empty() {
            return Err(AdminError::Invalid("no scopes given and the client app exposes none".into()));
        }
        let requested_as = client.identifier_uris.first().cloned().unwrap_or_else(|| client.client_id.clone());
        let acrs: Vec<String> = Vec::new();
        crate::issue::delegated(
            &self.shared,
            &crate::issue::Delegated {
                tenant,
                user,
                client: broker,
                client_acr: if broker.is_confidential() { ClientAcr::Certificate } else { ClientAcr::Public },
                resource: client,
                requested_as: &requested_as,
                scp,
                version: req.version,
                acrs: &acrs,
                xms_cc: None,
                lifetime_secs: req.lifetime.whole_seconds(),
                extra: Some(&req.extra_claims),
            },
        )
        .map_err(|e| AdminError::Crypto(e.to_string()))
    }
}

impl Admin {
    /// Signs a portal token as the site `req.host` would.
    pub fn issue_portal_token(&self, req: PortalTokenRequest) -> Result<String, AdminError> {
        let now = self.shared.now().unix_timestamp();
        self.shared
            .portal
            .with_site(&req.host, |site| {
                let contact = site.contact(&req.contact).ok_or_else(|| AdminError::UnknownUser(req.contact.clone()))?;
                let t = crate::portal::PortalToken {
                    client_id: req.client_id.as_deref(),
                    nonce: None,
                    iat: now,
                    lifetime_secs: req.lifetime_secs.unwrap_or_else(|| site.lifetime_secs()),
                    extra: Some(&req.extra_claims),
                };
                site.sign(contact, &t).map_err(|e| AdminError::Crypto(e.to_string()))
            })
            .ok_or_else(|| AdminError::Invalid(format!("unknown site {}", req.host)))?
    }

    /// Replaces the site's signing key (a portal publishes one key: the old one stops verifying).
    pub fn rotate_site_key(&self, host: &str) -> Result<(), AdminError> {
        let key = crate::portal::SiteKey::generate().map_err(|e| AdminError::Crypto(e.to_string()))?;
        self.shared
            .portal
            .with_site_mut(host, |s| s.key = Arc::new(key))
            .ok_or_else(|| AdminError::Invalid(format!("unknown site {host}")))
    }

    /// The site's current public key, PEM.
    pub fn site_public_key_pem(&self, host: &str) -> Result<String, AdminError> {
        self.shared
            .portal
            .with_site(host, |s| s.key.public_pem().to_owned())
            .ok_or_else(|| AdminError::Invalid(format!("unknown site {host}")))
    }

    /// Sets (or, with `None`, removes) a site setting.
    pub fn set_site_setting(&self, host: &str, name: &str, value: Option<&str>) -> Result<(), AdminError> {
        self.shared
            .portal
            .with_site_mut(host, |s| {
                s.config.settings.retain(|k, _| !k.eq_ignore_ascii_case(name));
                if let Some(v) = value {
                    s.config.settings.insert(name.to_owned(), v.to_owned());
                }
            })
            .ok_or_else(|| AdminError::Invalid(format!("unknown site {host}")))
    }

    /// Tokens the sites' token endpoints issued.
    pub fn portal_tokens_issued(&self) -> u64 {
        self.shared.portal.issued()
    }
}

struct TenantLookup<'d>(&'d Tenant);

impl<'d> TenantLookup<'d> {
    fn find(dir: &'d crate::directory::Directory, tenant: &str) -> Result<Self, AdminError> {
        dir.tenants
            .iter()
            .find(|t| t.is_named(tenant))
            .map(Self)
            .ok_or_else(|| AdminError::UnknownTenant(tenant.to_owned()))
    }
}
