//! Audit records, written off the request path in batches.
//!
//! Requests hand a record to a bounded channel and move on (never blocking a token). A writer task
//! inserts batches, with repeated cache hits of one token folded into one row ([`coalesce`]); when
//! the database fails, or the channel is full, each record goes to the log at `warn` and
//! `tessera_audit_not_persisted` rises — never silently lost.

mod coalesce;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use registry::{AuditRecord, Store};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::metrics::Metrics;

pub use coalesce::coalesce;

/// Room for one `PACE` of records at over 300k exchanges/s before the queue overflows to the log;
/// each write takes everything queued.
const CHANNEL: usize = 32 * 1024;
/// At most one write per `PACE`: at rest a record is written as soon as it arrives (the previous
/// write was long ago), under load records gather for up to this long, so that one transaction
/// carries thousands of them and repeated hits fold into one row.
const PACE: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<AuditRecord>,
    metrics: Arc<Metrics>,
    writer: Arc<Writer>,
}

/// The writer task, and how to tell it to write what is queued and stop.
#[derive(Debug)]
struct Writer {
    stop: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl AuditSink {
    /// Starts the writer task.
    pub fn spawn(store: Store, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let writer = Arc::new(Writer { stop: Notify::new(), task: Mutex::new(None) });
        let task = tokio::spawn(write_loop(store, rx, Arc::clone(&metrics), Arc::clone(&writer)));
        if let Ok(mut slot) = writer.task.lock() {
            *slot = Some(task);
        }
        Self { tx, metrics, writer }
    }

    /// Writes what is queued now, without waiting for the pace, and stops the writer; records
    /// offered afterwards go to the log. Called once the server has stopped taking requests, so
    /// that a shutdown loses no record.
    pub async fn close(&self) {
        self.writer.stop.notify_one();
        let task = self.writer.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
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

/// Takes whatever is queued in one insert, at most once per [`PACE`], until [`AuditSink::close`].
async fn write_loop(store: Store, mut rx: mpsc::Receiver<AuditRecord>, metrics: Arc<Metrics>, writer: Arc<Writer>) {
    let mut next_write = Instant::now();
    loop {
        let mut batch = Vec::new();
        let stopping = tokio::select! {
            () = writer.stop.notified() => true,
            () = async {
                tokio::time::sleep_until(next_write).await;
                rx.recv_many(&mut batch, CHANNEL).await;
            } => false,
        };
        if stopping {
            rx.close();
            while let Ok(r) = rx.try_recv() {
                batch.push(r);
            }
        } else if batch.is_empty() {
            return; // every sender is gone
        }
        next_write = Instant::now() + PACE;
        write(&store, batch, &metrics).await;
        if stopping {
            return;
        }
    }
}

async fn write(store: &Store, batch: Vec<AuditRecord>, metrics: &Metrics) {
    let rows = coalesce(batch);
    if let Err(e) = store.insert_audit(&rows).await {
        let reason = format!("audit database write failed: {e}");
        for r in &rows {
            log_unpersisted(r, &reason, metrics);
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
