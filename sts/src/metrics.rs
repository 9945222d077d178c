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
    /// Seconds per upstream (Entra) token request.
    pub upstream_latency: Histogram,
    /// Signing-key fetches by reason (`first`, `expired`, `unknown_kid`, `timer`).
    pub key_refreshes: Family<Labels, Counter>,
    /// Days until each certificate's `notAfter`, by client app and SHA-256 thumbprint.
    pub certificate_days_left: Family<Labels, Gauge>,
    /// Certificates Entra rejected (rotation fallbacks).
    pub certificate_rejections: Family<Labels, Counter>,
    /// Audit records that could not be written to the database (they went to the log instead).
    pub audit_not_persisted: Counter,
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
            upstream_latency: Histogram::new(exponential_buckets(0.005, 2.0, 12)),
            key_refreshes: Family::default(),
            certificate_days_left: Family::default(),
            certificate_rejections: Family::default(),
            audit_not_persisted: Counter::default(),
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
            "audit_not_persisted",
            "Audit records logged because neither the database nor the spool could take them",
            m.audit_not_persisted.clone(),
        );
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
