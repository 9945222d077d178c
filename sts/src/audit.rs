//! Audit records, written off the request path in batches.
//!
//! Requests hand a record to a bounded channel and move on (never blocking a token). A writer task
//! inserts batches; when the database fails, or the channel is full, each record goes to the log at
//! `warn` and `tessera_audit_not_persisted` rises — never silently lost.

use std::sync::Arc;

use registry::{AuditRecord, Store};
use tokio::sync::mpsc;

use crate::metrics::Metrics;

const BATCH: usize = 256;
const CHANNEL: usize = 16 * 1024;

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

/// Takes whatever is queued (up to a batch) in one insert: under load batches grow on their own,
/// at rest every record is written at once.
async fn writer(store: Store, mut rx: mpsc::Receiver<AuditRecord>, metrics: Arc<Metrics>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        if let Err(e) = store.insert_audit(&batch).await {
            let reason = format!("audit database write failed: {e}");
            for r in &batch {
                log_unpersisted(r, &reason, &metrics);
            }
        }
        batch.clear();
    }
}

fn log_unpersisted(r: &AuditRecord, reason: &str, metrics: &Metrics) {
    metrics.audit_not_persisted.inc();
    match serde_json::to_string(r) {
        Ok(json) => tracing::warn!(audit = %json, reason, "audit record not persisted"),
        Err(_) => tracing::warn!(correlation_id = %r.correlation_id, reason, "audit record not persisted"),
    }
}
