//! Audit records, written off the request path in batches.
//!
//! Requests hand a record to a bounded channel and move on (never blocking a token). A writer task
//! inserts batches, with repeated cache hits of one token folded into one row ([`coalesce`]); when
//! the database fails, or the channel is full, each record goes to the log at `warn` and
//! `tessera_audit_not_persisted` rises — never silently lost.

mod coalesce;

use std::sync::Arc;
use std::time::Duration;

use registry::{AuditRecord, Store};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::metrics::Metrics;

pub use coalesce::coalesce;

/// Most records taken into one write.
const BATCH: usize = 8 * 1024;
/// Room for ~`PACE` of records at well over 100k exchanges/s before the queue overflows to the log.
const CHANNEL: usize = 32 * 1024;
/// At most one write per `PACE`: at rest a record is written as soon as it arrives (the previous
/// write was long ago), under load records gather for up to this long, so that one transaction
/// carries thousands of them and repeated hits fold into one row.
const PACE: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<AuditRecord>,
    metrics: Arc<Metrics>,
}

impl AuditSink {
    /// Starts the writer task.
    pub fn spawn(store: Store, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL);
        tokio::spawn(writer(store, rx, Arc::clone(&metrics)));
        Self { tx, metrics }
    }

    pub fn record(&self, record: AuditRecord) {
        if let Err(e) = self.tx.try_send(record) {
            let record = match e {
                mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => r,
            };
            log_unpersisted(&record, "audit queue full", &self.metrics);
        }
    }
}

/// Takes whatever is queued (up to a batch) in one insert, at most once per [`PACE`].
async fn writer(store: Store, mut rx: mpsc::Receiver<AuditRecord>, metrics: Arc<Metrics>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut next_write = Instant::now();
    loop {
        tokio::time::sleep_until(next_write).await;
        if rx.recv_many(&mut batch, BATCH).await == 0 {
            return; // every sender is gone: the server is shutting down
        }
        next_write = Instant::now() + PACE;
        let rows = coalesce(std::mem::take(&mut batch));
        if let Err(e) = store.insert_audit(&rows).await {
            let reason = format!("audit database write failed: {e}");
            for r in &rows {
                log_unpersisted(r, &reason, &metrics);
            }
        }
    }
}

fn log_unpersisted(r: &AuditRecord, reason: &str, metrics: &Metrics) {
    // Counted in exchanges: a coalesced row stands for `hits` of them.
    metrics.audit_not_persisted.inc_by(u64::try_from(r.hits).unwrap_or(1));
    match serde_json::to_string(r) {
        Ok(json) => tracing::warn!(audit = %json, reason, "audit record not persisted"),
        Err(_) => tracing::warn!(correlation_id = %r.correlation_id, reason, "audit record not persisted"),
    }
}
