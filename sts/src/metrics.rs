//! Prometheus metrics (`GET /metrics`), on the official `prometheus-client` crate.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;
/// `outcome="…"`: a fixed label set of static strings, so counting an exchange allocates nothing.
type OutcomeLabel = [(&'static str, &'static str); 1];

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Exchanges by outcome (`ok` or the OAuth error code).
    pub exchanges: Family<OutcomeLabel, Counter>,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    /// Hits served by the shared (Redis) cache after a memory miss (counted in `cache_hits` too).
    pub cache_shared_hits: Counter,
    /// Misses that waited for another instance's fetch of the same token (cross-instance
    /// single-flight).
    pub cache_shared_waits: Counter,
    /// Failed or timed-out Redis calls by operation; the exchange went on memory only.
    pub redis_errors: Family<Labels, Counter>,
    /// 1 while the shared cache's Redis answers, 0 while the STS runs on memory only.
    pub redis_up: Gauge,
    /// Exchanges that skipped Redis (memory only) because it had just failed.
    pub redis_skipped: Counter,
    /// Cached tokens dropped because a consent was revoked or a workload disabled (by tier).
    pub cache_revoked: Family<Labels, Counter>,
    /// Seconds per upstream (Entra) token request.
    pub upstream_latency: Histogram,
    /// Signing-key fetches by reason (`first`, `expired`, `unknown_kid`, `scheduled`, `timer`).
    pub key_refreshes: Family<Labels, Counter>,
    /// Days until each certificate's `notAfter`, by client app and SHA-256 thumbprint.
    pub certificate_days_left: Family<Labels, Gauge>,
    /// Certificates Entra rejected (rotation fallbacks).
    pub certificate_rejections: Family<Labels, Counter>,
    /// Configured certificates the registry does not reference (never used for signing).
    pub certificates_unreferenced: Gauge,
    /// Audit records that could not be written to the database (they went to the log instead).
    pub audit_not_persisted: Counter,
    /// New connections that found every connection slot taken (`server.max_connections`).
    pub connections_at_limit: Counter,
    /// Failed requests to Entra by kind (`dns`, `connect`, `tls`, `timeout`, `deadline`,
    /// `queue_full`, `body`, `status_5xx`, `status_429`, …): what went wrong, for operators.
    pub upstream_errors: Family<Labels, Counter>,
    /// Requests whose handler panicked (answered 500 by the correlation layer). Should stay 0.
    pub panics: Counter,
    /// Exchanges whose audit records went to the local spool (the database was unavailable).
    pub audit_spooled: Counter,
    /// Exchanges whose audit records were replayed from the spool into the database.
    pub audit_replayed: Counter,
    /// Bytes in the audit spool now.
    pub audit_spool_bytes: Gauge,
    /// 1 while the spool is at its size bound (records go to the log only), else 0.
    pub audit_spool_full: Gauge,
    /// Spool lines skipped at replay because they did not parse (a crash mid-write).
    pub audit_spool_corrupt_lines: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let m = Self {
            exchanges: Family::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_shared_hits: Counter::default(),
            cache_shared_waits: Counter::default(),
            redis_errors: Family::default(),
            redis_up: Gauge::default(),
            redis_skipped: Counter::default(),
            cache_revoked: Family::default(),
            upstream_latency: Histogram::new(exponential_buckets(0.005, 2.0, 12)),
            key_refreshes: Family::default(),
            certificate_days_left: Family::default(),
            certificate_rejections: Family::default(),
            certificates_unreferenced: Gauge::default(),
            audit_not_persisted: Counter::default(),
            connections_at_limit: Counter::default(),
            upstream_errors: Family::default(),
            panics: Counter::default(),
            audit_spooled: Counter::default(),
            audit_replayed: Counter::default(),
            audit_spool_bytes: Gauge::default(),
            audit_spool_full: Gauge::default(),
            audit_spool_corrupt_lines: Counter::default(),
            registry: Registry::default(),
        };
        registry.register("exchanges", "Token exchanges by outcome", m.exchanges.clone());
        registry.register("cache_hits", "Exchanges answered from the cache", m.cache_hits.clone());
        registry.register("cache_misses", "Exchanges that needed Entra", m.cache_misses.clone());
        registry.register(
            "cache_shared_hits",
            "Exchanges answered from the shared Redis cache after a memory miss",
            m.cache_shared_hits.clone(),
        );
        registry.register(
            "cache_shared_waits",
            "Misses that waited for another instance fetching the same token",
            m.cache_shared_waits.clone(),
        );
        registry.register("redis_errors", "Failed or timed-out Redis calls by operation", m.redis_errors.clone());
        registry.register("redis_up", "1 while the shared cache's Redis answers, else 0", m.redis_up.clone());
        registry.register(
            "redis_skipped",
            "Exchanges that ran on memory only because Redis had just failed",
            m.redis_skipped.clone(),
        );
        registry.register(
            "cache_revoked",
            "Cached tokens dropped after a consent revocation or a disabled workload, by tier",
            m.cache_revoked.clone(),
        );
        registry.register("upstream_latency_seconds", "Latency of token requests to Entra", m.upstream_latency.clone());
        registry.register("key_refreshes", "Signing-key fetches by reason", m.key_refreshes.clone());
        registry.register(
            "certificate_days_left",
            "Days until a client certificate expires",
            m.certificate_days_left.clone(),
        );
        registry.register(
            "certificate_rejections",
            "Client certificates rejected by Entra",
            m.certificate_rejections.clone(),
        );
        registry.register(
            "certificates_unreferenced",
            "Configured client certificates with no client_certificates row in the registry (not used)",
            m.certificates_unreferenced.clone(),
        );
        registry.register(
            "audit_not_persisted",
            "Audit records logged because neither the database nor the spool could take them",
            m.audit_not_persisted.clone(),
        );
        registry.register(
            "connections_at_limit",
            "New connections that found server.max_connections reached",
            m.connections_at_limit.clone(),
        );
        registry.register("upstream_errors", "Failed requests to Entra by kind", m.upstream_errors.clone());
        registry.register("panics", "Requests whose handler panicked (answered 500)", m.panics.clone());
        registry.register(
            "audit_spooled",
            "Exchanges whose audit records went to the local spool while the database was unavailable",
            m.audit_spooled.clone(),
        );
        registry.register(
            "audit_replayed",
            "Exchanges whose audit records were replayed from the spool into the database",
            m.audit_replayed.clone(),
        );
        registry.register("audit_spool_bytes", "Bytes in the audit spool", m.audit_spool_bytes.clone());
        registry.register(
            "audit_spool_full",
            "1 while the audit spool is full and records go to the log only",
            m.audit_spool_full.clone(),
        );
        registry.register(
            "audit_spool_corrupt_lines",
            "Unreadable audit spool lines skipped at replay",
            m.audit_spool_corrupt_lines.clone(),
        );
        Self { registry, ..m }
    }

    /// Counts one signing-key fetch for `reason`.
    pub fn key_refresh(&self, reason: &str) {
        self.key_refreshes.get_or_create(&vec![("reason".to_owned(), reason.to_owned())]).inc();
    }

    /// Counts one failed request to Entra of `kind`.
    pub fn upstream_error(&self, kind: &str) {
        self.upstream_errors.get_or_create(&vec![("kind".to_owned(), kind.to_owned())]).inc();
    }

    /// Counts one failed Redis call of `op`.
    pub fn redis_error(&self, op: &str) {
        self.redis_errors.get_or_create(&vec![("op".to_owned(), op.to_owned())]).inc();
    }

    pub fn outcome(&self, outcome: &'static str) {
        self.exchanges.get_or_create(&[("outcome", outcome)]).inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
