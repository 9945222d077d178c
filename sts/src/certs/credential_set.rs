//! Every configured certificate per client app, with the rotation state of spec §7: use the
//! newest valid one; when Entra rejects one, put it behind the others and report it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use super::references::References;
use super::{CertError, Certificate, to_hex};
use crate::clock::unix_now;
use crate::config::CredentialConfig;

/// How long a rejection keeps a certificate behind the others. Not forever: deploying a new
/// certificate before uploading it to the app registration is a common rotation slip, and once
/// the upload happens the newest certificate should win again without a restart. Retrying a
/// still-bad certificate costs one extra upstream round trip per period, never a failed request,
/// because the caller falls back to the next certificate.
pub const BAD_MARK_SECS: i64 = 15 * 60;

/// Certificates expiring within this many days are warned about at load.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

const NOT_MARKED: i64 = i64::MIN;

/// One certificate of a client app with its rejection state.
#[derive(Debug)]
struct Slot {
    cert: Arc<Certificate>,
    /// Unix seconds until which the certificate ranks behind the others; `NOT_MARKED` if never.
    bad_until: AtomicI64,
    /// How often Entra rejected it (for the metrics).
    rejections: AtomicU64,
    /// Lower-case hex SHA-256, as `client_certificates.thumbprint_sha256` holds it.
    sha256_hex: String,
    /// Whether the registry references it for this client app; unreferenced ones are never
    /// candidates. True until the set follows a registry (see [`CredentialSet::follow_registry`]).
    referenced: AtomicBool,
}

/// All configured certificates, per client app (lower-case GUID). Shared behind an `Arc`; the
/// rejection marks are atomics, so [`candidates`](Self::candidates) takes no lock.
#[derive(Debug, Default)]
pub struct CredentialSet {
    apps: BTreeMap<String, Vec<Slot>>,
    /// The registry whose `client_certificates` rows decide which of these may sign.
    references: References,
}

/// A certificate's expiry, for metrics, readiness and logs (public facts only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertExpiry {
    pub client_app_id: String,
    pub sha256_hex: String,
    pub subject: String,
    /// `notAfter`, unix seconds.
    pub not_after: i64,
    /// Whole days until `notAfter`, rounded down; negative once expired.
    pub days_left: i64,
    /// How often Entra rejected this certificate since start.
    pub rejections: u64,
}

impl CredentialSet {
    /// Loads every `[[credentials]]` entry. Fails on the first unusable one: a configured
    /// certificate that cannot be read is an operator error to fix, not to skip.
    pub fn load(configs: &[CredentialConfig]) -> Result<Self, CertError> {
        let mut certs = Vec::with_capacity(configs.len());
        for cfg in configs {
            if cfg.client_app_id.trim().is_empty() {
                return Err(CertError::Config {
                    client_app_id: String::new(),
                    reason: "`client_app_id` is empty".into(),
                });
            }
            let source_name = cfg
                .pfx
                .as_ref()
                .or(cfg.cert_pem.as_ref())
                .map_or_else(|| "(no file configured)".to_owned(), |p| p.display().to_string());
            let cert = Certificate::load(cfg).map_err(|e| CertError::Load {
                client_app_id: cfg.client_app_id.clone(),
                source_name,
                source: Box::new(e),
            })?;
            certs.push((cfg.client_app_id.clone(), cert));
        }
        Ok(Self::from_certs(certs))
    }

    /// Builds the set from certificates already in hand (tests, the demo). Logs like [`load`](Self::load).
    pub fn from_certs(certs: Vec<(String, Certificate)>) -> Self {
        let now = unix_now();
        let mut apps: BTreeMap<String, Vec<Slot>> = BTreeMap::new();
        for (app, cert) in certs {
            let app = normalise_app_id(&app).into_owned();
            let slots = apps.entry(app.clone()).or_default();
            if slots.iter().any(|s| s.cert.thumbprint_sha256() == cert.thumbprint_sha256()) {
                tracing::warn!(client_app = %app, sha256 = %cert.sha256_hex(), "certificate configured twice; using it once");
                continue;
            }
            log_loaded(&app, &cert, now);
            slots.push(Slot {
                sha256_hex: cert.sha256_hex(),
                cert: Arc::new(cert),
                bad_until: AtomicI64::new(NOT_MARKED),
                rejections: AtomicU64::new(0),
                referenced: AtomicBool::new(true),
            });
        }
        Self { apps, references: References::default() }
    }

    /// The certificates to try for `client_app_id`, in order: currently valid ones the registry
    /// references only, newest (`notBefore`) first, the ones Entra recently rejected after the
    /// others. Cheap: called on every OBO cache miss (a pointer comparison with the snapshot the
    /// references were computed from, a handful of atomic loads and a sort of a few items).
    pub fn candidates(&self, client_app_id: &str, now: i64) -> Vec<Arc<Certificate>> {
        self.references.sync(self);
        let Some(slots) = self.apps.get(normalise_app_id(client_app_id).as_ref()) else {
            return Vec::new();
        };
        let usable: Vec<&Slot> = slots.iter().filter(|s| s.referenced.load(Ordering::Relaxed)).collect();
        let inputs: Vec<RankInput> = usable
            .iter()
            .map(|s| RankInput {
                not_before: s.cert.not_before(),
                not_after: s.cert.not_after(),
                bad_until: s.bad_until.load(Ordering::Relaxed),
            })
            .collect();
        rank(&inputs, now).into_iter().map(|i| Arc::clone(&usable[i].cert)).collect()
    }

    /// From now on, sign only with the certificates `snapshot()` references for their client app
    /// (table `client_certificates`): the registry decides which certificates the STS may use.
    /// `snapshot` is called on every [`candidates`](Self::candidates); the references are
    /// recomputed only when it returns a different snapshot, and each certificate that is
    /// configured but not referenced is logged once at warn level when that is first seen, and
    /// counted in `unreferenced` (set to how many there are). The first computation happens here.
    pub fn follow_registry(
        &self,
        snapshot: impl Fn() -> Arc<registry::Snapshot> + Send + Sync + 'static,
        unreferenced: prometheus_client::metrics::gauge::Gauge,
    ) {
        self.references.bind(Box::new(snapshot), unreferenced);
        self.references.sync(self);
    }

    /// The configured certificates the registry does not reference, as (client app, SHA-256 hex),
    /// as of the last snapshot seen. Empty while the set follows no registry.
    pub fn unreferenced(&self) -> Vec<(String, String)> {
        self.references.sync(self);
        self.apps
            .iter()
            .flat_map(|(app, slots)| {
                slots
                    .iter()
                    .filter(|s| !s.referenced.load(Ordering::Relaxed))
                    .map(move |s| (app.clone(), s.sha256_hex.clone()))
            })
            .collect()
    }

    /// Sets each certificate's `referenced` flag from `snapshot`, logging the changes; returns how
    /// many are not referenced. Called by [`References::sync`] under its lock.
    pub(super) fn apply_references(&self, snapshot: &registry::Snapshot) -> i64 {
        let mut unreferenced = 0;
        for (app, slots) in &self.apps {
            let rows = snapshot.certificates(app);
            for slot in slots {
                // The schema keeps thumbprints lower-case hex; compare without case all the same.
                let referenced = rows.iter().any(|r| r.thumbprint_sha256.eq_ignore_ascii_case(&slot.sha256_hex));
                let was = slot.referenced.swap(referenced, Ordering::Relaxed);
                let (sha256, subject) = (&slot.sha256_hex, slot.cert.subject());
                if !referenced {
                    unreferenced += 1;
                    if was {
                        tracing::warn!(client_app = %app, %sha256, %subject,
                            "client certificate is configured but the registry does not reference it \
                             (no client_certificates row for this client app); it will not be used");
                    }
                } else if !was {
                    tracing::info!(client_app = %app, %sha256, %subject,
                        "client certificate is now referenced by the registry; it will be used");
                }
            }
        }
        unreferenced
    }

    /// Entra rejected this certificate (one of the codes of [`tessera_wire::aadsts::is_certificate_refusal`]):
    /// rank it behind the others for [`BAD_MARK_SECS`], count it and log it at warn level.
    pub fn mark_bad(&self, client_app_id: &str, thumbprint_sha256: &[u8; 32], aadsts_code: u32) {
        self.mark_bad_at(client_app_id, thumbprint_sha256, aadsts_code, unix_now());
    }

    /// Entra accepted this certificate: whatever rejection mark it carried is over (readiness stops
    /// reporting the app failing as soon as it works again, not 15 minutes later).
    pub fn mark_good(&self, client_app_id: &str, thumbprint_sha256: &[u8; 32]) {
        let app = normalise_app_id(client_app_id);
        let slot = self
            .apps
            .get(app.as_ref())
            .and_then(|slots| slots.iter().find(|s| &s.cert.thumbprint_sha256() == thumbprint_sha256));
        if let Some(slot) = slot
            && slot.bad_until.load(Ordering::Relaxed) != NOT_MARKED
        {
            slot.bad_until.store(NOT_MARKED, Ordering::Relaxed);
            tracing::info!(client_app = %app, sha256 = %slot.cert.sha256_hex(), "Entra accepted the client certificate again");
        }
    }

    /// [`mark_bad`](Self::mark_bad) with an explicit clock.
    pub fn mark_bad_at(&self, client_app_id: &str, thumbprint_sha256: &[u8; 32], aadsts_code: u32, now: i64) {
        let app = normalise_app_id(client_app_id);
        let slot = self
            .apps
            .get(app.as_ref())
            .and_then(|slots| slots.iter().find(|s| &s.cert.thumbprint_sha256() == thumbprint_sha256));
        let Some(slot) = slot else {
            tracing::warn!(client_app = %app, sha256 = %to_hex(thumbprint_sha256), aadsts = aadsts_code,
                "Entra rejected a certificate that is not configured (ignored)");
            return;
        };
        slot.bad_until.store(now.saturating_add(BAD_MARK_SECS), Ordering::Relaxed);
        let total = slot.rejections.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            client_app = %app,
            sha256 = %slot.cert.sha256_hex(),
            subject = %slot.cert.subject(),
            aadsts = aadsts_code,
            rejections = total,
            "Entra rejected the client certificate; it ranks behind the others for {BAD_MARK_SECS} s"
        );
    }

    /// The client apps that have at least one certificate configured.
    pub fn client_apps(&self) -> impl Iterator<Item = &str> {
        self.apps.keys().map(String::as_str)
    }

    /// One line per certificate: days left and rejections, for metrics, readiness and logs.
    pub fn expiry_report(&self, now: i64) -> Vec<CertExpiry> {
        self.apps
            .iter()
            .flat_map(|(app, slots)| {
                slots.iter().map(move |s| CertExpiry {
                    client_app_id: app.clone(),
                    sha256_hex: s.cert.sha256_hex(),
                    subject: s.cert.subject().to_owned(),
                    not_after: s.cert.not_after(),
                    days_left: days_left(s.cert.not_after(), now),
                    rejections: s.rejections.load(Ordering::Relaxed),
                })
            })
            .collect()
    }

    /// Total number of rejections of all certificates since start.
    pub fn rejections_total(&self) -> u64 {
        self.apps.values().flatten().map(|s| s.rejections.load(Ordering::Relaxed)).sum()
    }

    /// For readiness: how many of the app's certificates are valid at `now`, and how many of
    /// those Entra rejected within the last [`BAD_MARK_SECS`]. All of them rejected means the app
    /// cannot get a new token until one is fixed.
    pub fn rejection_state(&self, client_app_id: &str, now: i64) -> (usize, usize) {
        let Some(slots) = self.apps.get(normalise_app_id(client_app_id).as_ref()) else { return (0, 0) };
        let valid = slots.iter().filter(|s| s.cert.not_before() <= now && now <= s.cert.not_after());
        valid.fold((0, 0), |(n, bad), s| (n + 1, bad + usize::from(now < s.bad_until.load(Ordering::Relaxed))))
    }
}

/// Entra ids are handled lower-case (the configuration and the tokens may differ in case).
fn normalise_app_id(id: &str) -> std::borrow::Cow<'_, str> {
    let id = id.trim();
    if id.bytes().any(|b| b.is_ascii_uppercase()) { id.to_ascii_lowercase().into() } else { id.into() }
}

fn days_left(not_after: i64, now: i64) -> i64 {
    not_after.saturating_sub(now).div_euclid(86_400)
}

fn log_loaded(app: &str, cert: &Certificate, now: i64) {
    let days = days_left(cert.not_after(), now);
    let (sha256, subject) = (cert.sha256_hex(), cert.subject());
    if now > cert.not_after() {
        tracing::error!(client_app = %app, %sha256, %subject, days_left = days, "client certificate has EXPIRED; it will not be used");
    } else if now < cert.not_before() {
        tracing::warn!(client_app = %app, %sha256, %subject, not_before = cert.not_before(), "client certificate is not valid yet; it will be used from notBefore on");
    } else if days < EXPIRY_WARNING_DAYS {
        tracing::warn!(client_app = %app, %sha256, %subject, days_left = days, "client certificate expires soon; add its successor to the app registration and the configuration");
    } else {
        tracing::info!(client_app = %app, %sha256, %subject, days_left = days, "client certificate loaded");
    }
}

/// What the ranking decision needs to know of one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RankInput {
    not_before: i64,
    not_after: i64,
    /// Ranks behind the unmarked ones while `now < bad_until`.
    bad_until: i64,
}

/// The ranking decision, pure: indices of the certificates valid at `now`, unmarked before
/// marked, each group newest `notBefore` first (ties keep configuration order).
fn rank(items: &[RankInput], now: i64) -> Vec<usize> {
    let mut order: Vec<usize> =
        (0..items.len()).filter(|&i| items[i].not_before <= now && now <= items[i].not_after).collect();
    order.sort_by_key(|&i| (now < items[i].bad_until, std::cmp::Reverse(items[i].not_before), i));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input() -> impl Strategy<Value = RankInput> {
        (0i64..100, 0i64..100, prop_oneof![Just(NOT_MARKED), 0i64..200]).prop_map(|(nb, len, bad_until)| RankInput {
            not_before: nb,
            not_after: nb + len,
            bad_until,
        })
    }

    proptest! {
        /// Exactly the valid certificates, each once.
        #[test]
        fn rank_keeps_exactly_the_valid(items in prop::collection::vec(input(), 0..8), now in 0i64..200) {
            let order = rank(&items, now);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), order.len());
            let valid: Vec<usize> =
                (0..items.len()).filter(|&i| items[i].not_before <= now && now <= items[i].not_after).collect();
            prop_assert_eq!(sorted, valid);
        }

        /// Unmarked before marked; within each group newest first.
        #[test]
        fn rank_orders_unmarked_newest_first(items in prop::collection::vec(input(), 0..8), now in 0i64..200) {
            let order = rank(&items, now);
            for pair in order.windows(2) {
                let (a, b) = (items[pair[0]], items[pair[1]]);
                let (a_bad, b_bad) = (now < a.bad_until, now < b.bad_until);
                prop_assert!(!a_bad || b_bad, "a marked certificate ranks before an unmarked one");
                if a_bad == b_bad {
                    prop_assert!(a.not_before >= b.not_before);
                }
            }
        }
    }

    #[test]
    fn rank_examples() {
        let c = |not_before, not_after, bad_until| RankInput { not_before, not_after, bad_until };
        let items = [
            c(10, 100, NOT_MARKED), // old
            c(50, 100, NOT_MARKED), // newest
            c(30, 100, 70),         // marked until 70
            c(0, 20, NOT_MARKED),   // expired at 60
            c(80, 200, NOT_MARKED), // not yet valid at 60
        ];
        assert_eq!(rank(&items, 60), vec![1, 0, 2]);
        // The mark lapses: back in notBefore order.
        assert_eq!(rank(&items, 70), vec![1, 2, 0]);
        assert_eq!(rank(&items, 90), vec![4, 1, 2, 0]);
    }

    #[test]
    fn days_left_rounds_down_and_goes_negative() {
        assert_eq!(days_left(86_400 * 3, 0), 3);
        assert_eq!(days_left(86_400 * 3 - 1, 0), 2);
        assert_eq!(days_left(0, 1), -1);
    }

    #[test]
    fn app_ids_are_normalised() {
        assert_eq!(normalise_app_id(" ABCD-ef "), "abcd-ef");
        assert!(matches!(normalise_app_id("abcd"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn an_accepted_certificate_loses_its_rejection_mark() {
        crate::crypto::install_provider();
        let cert = crate::certs::generate_self_signed("mark", 30).unwrap().certificate().unwrap();
        let thumbprint = cert.thumbprint_sha256();
        let now = unix_now();
        let set = CredentialSet::from_certs(vec![("app".to_owned(), cert)]);
        set.mark_bad("app", &thumbprint, 700027);
        assert_eq!(set.rejection_state("app", now), (1, 1), "rejected: the app is failing");
        set.mark_good("APP", &thumbprint);
        assert_eq!(set.rejection_state("app", now), (1, 0), "accepted again: no longer failing");
    }
}
