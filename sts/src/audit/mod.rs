//! Audit records, written off the request path in batches, never lost to a database outage.
//!
//! Requests hand a record to a bounded channel and move on (never blocking a token); a successful
//! cache hit, most exchanges under load, is instead counted in its row of a [`tally`] (who asked
//! for what), with no record of its own. A writer task takes the channel's records and the tally's
//! rows at most once per pace under load (at once when idle) and hands them as one batch to one
//! database job at a time, with repeated cache hits folded into one row ([`coalesce`]). Each
//! database write is bounded in time (`audit.db_timeout_ms`); when it fails or times out, the
//! batch goes to a durable local [`spool`] (fsynced before it counts as written) and later
//! batches follow it there, without touching the database, until a background probe finds the
//! database answering again; then the spool is replayed, oldest first, one segment per
//! transaction, and each segment is deleted only after its commit. Inserts are idempotent by
//! record id, so a segment replayed twice (a crash between commit and delete) is stored once.
//! Only when the spool is full or cannot be written, or the channel overflows, does a record go
//! to the log at `warn` (with `tessera_audit_not_persisted` counting it).

mod coalesce;
pub mod spool;
mod tally;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use registry::{AuditRecord, Store};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::AuditConfig;
use crate::metrics::Metrics;

pub use coalesce::coalesce;
pub use spool::{Spool, SpoolError};
pub use tally::Hit;
use tally::Tally;

/// Room for one `PACE` of records at over 300k exchanges/s before the queue overflows to the log;
/// each write takes everything queued.
const CHANNEL: usize = 32 * 1024;
/// At most one write per `PACE`: at rest a record is written as soon as it arrives (the previous
/// write was long ago), under load records gather for up to this long, so that one transaction
/// carries thousands of them and repeated hits fold into one row.
const PACE: Duration = Duration::from_millis(100);
/// While the database is unavailable, how often the probe asks it, and how long it waits.
const PROBE_EVERY: Duration = Duration::from_secs(1);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<AuditRecord>,
    /// Successful cache hits, counted per row rather than queued one by one (`tally`).
    hits: Arc<Tally>,
    flushes: mpsc::Sender<oneshot::Sender<bool>>,
    metrics: Arc<Metrics>,
    writer: Arc<Writer>,
}

/// Why one database write of audit rows failed (the rows then go to the spool or the log).
#[derive(Debug, thiserror::Error)]
enum InsertError {
    /// The database answered with an error (down, or it refused a row).
    #[error(transparent)]
    Refused(registry::StoreError),
    /// No answer within `audit.db_timeout_ms`: a hung database must not stall the writer.
    #[error("no answer within {ms} ms")]
    Timeout { ms: u128 },
}

/// The writer task, and how to tell it to write what is queued and stop.
#[derive(Debug)]
struct Writer {
    stop: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl AuditSink {
    /// Opens the spool (replaying what an earlier process left there once the database answers)
    /// and starts the writer task. Fails when the spool directory cannot be used: better not to
    /// start than to promise an audit trail that an outage would lose.
    pub fn spawn(store: Store, metrics: Arc<Metrics>, config: &AuditConfig) -> Result<Self, SpoolError> {
        let spool = Spool::open(&config.spool_dir, config.spool_max_bytes)?;
        metrics.audit_spool_bytes.set(i64::try_from(spool.bytes()).unwrap_or(i64::MAX));
        let (tx, rx) = mpsc::channel(CHANNEL);
        let (flushes, flush_rx) = mpsc::channel(8);
        let writer = Arc::new(Writer { stop: Notify::new(), task: Mutex::new(None) });
        let persist = Persist {
            store,
            spool: Arc::new(Mutex::new(spool)),
            metrics: Arc::clone(&metrics),
            db_timeout: Duration::from_millis(config.db_timeout_ms.max(1)),
            db: Arc::new(DbState { up: AtomicBool::new(true), probing: AtomicBool::new(false) }),
        };
        // As many rows as the queue holds records: the same bound on what waits in memory.
        let hits = Arc::new(Tally::new(CHANNEL));
        let task = tokio::spawn(write_loop(persist, rx, Arc::clone(&hits), flush_rx, Arc::clone(&writer)));
        if let Ok(mut slot) = writer.task.lock() {
            *slot = Some(task);
        }
        Ok(Self { tx, hits, flushes, metrics, writer })
    }

    /// Writes what is queued now, without waiting for the pace, and stops the writer; records
    /// offered afterwards go to the log. Called once the server has stopped taking requests, so
    /// that a shutdown loses no record: they reach the database, or the spool.
    pub async fn close(&self) {
        self.writer.stop.notify_one();
        let task = self.writer.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Writes what is queued now and, if the database answers, replays the whole spool. Returns
    /// whether every record offered so far is in the database. The seam for tests and for
    /// operators' tooling: no waiting for the pace or the probe.
    pub async fn flush(&self) -> bool {
        let (reply, answer) = oneshot::channel();
        if self.flushes.send(reply).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// Records offered but not yet taken by the writer (a test seam, and a number for operators'
    /// tooling). Cache hits counted in the tally are not records and are not counted here.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    pub fn record(&self, record: AuditRecord) {
        if let Err(e) = self.tx.try_send(record) {
            let record = match e {
                mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => r,
            };
            log_unpersisted(&record, "audit queue full", &self.metrics);
        }
    }

    /// Records a successful cache hit: counted in its row of the tally, or, when the tally has no
    /// room for a new row (or the writer has stopped), queued as a record of its own.
    pub fn hit(&self, hit: &Hit<'_>) {
        if !self.hits.add(hit) {
            self.record(hit.to_record());
        }
    }
}

/// Whether the database takes writes, as far as the writer knows.
#[derive(Debug)]
struct DbState {
    up: AtomicBool,
    /// A probe task is running (at most one).
    probing: AtomicBool,
}

/// Everything the writer task needs to put a batch somewhere durable.
struct Persist {
    store: Store,
    spool: Arc<Mutex<Spool>>,
    metrics: Arc<Metrics>,
    db_timeout: Duration,
    db: Arc<DbState>,
}

enum Event {
    /// Records arrived in `pending` (or, with 0, every sender is gone).
    Received(usize),
    /// The tally has its first row since the last write.
    Counted,
    /// Time to hand `pending` to a write job.
    Dispatch,
    /// The write or replay job finished; `false`: a replay did not get through.
    JobDone(bool),
    Replay,
    Stop,
    Flush(oneshot::Sender<bool>),
}

/// Receives records all the time, hands what arrived to one database job at a time, at most once
/// per [`PACE`], and replays the spool while the database answers, until [`AuditSink::close`].
///
/// The database write runs as its own task, so a slow or hung database never stops the queue
/// from being drained: what arrives meanwhile waits here, and once a queue's worth waits it goes
/// to the spool directly (durable, bounded memory) instead of overflowing the queue to the log.
async fn write_loop(
    persist: Persist,
    mut rx: mpsc::Receiver<AuditRecord>,
    hits: Arc<Tally>,
    mut flushes: mpsc::Receiver<oneshot::Sender<bool>>,
    writer: Arc<Writer>,
) {
    let persist = Arc::new(persist);
    let mut pending: Vec<AuditRecord> = Vec::new();
    // The tally has rows (as far as its wake-up says) that `pending` does not hold yet.
    let mut counted = false;
    let mut job: Option<JoinHandle<bool>> = None;
    let mut next_write = Instant::now();
    let mut next_replay = Instant::now();
    loop {
        let busy = job.is_some();
        let dispatch = !busy && (counted || !pending.is_empty());
        let replay = !busy && !persist.spool_is_empty();
        // Waiting out the pace with records in hand: what arrives meanwhile stays in the channel
        // (which holds a pace's worth) and is taken at the dispatch. Receiving it now would wake
        // this task for every record — a wake-up per exchange on the cached path.
        let receive = !dispatch || Instant::now() >= next_write;
        let event = tokio::select! {
            () = writer.stop.notified() => Event::Stop,
            Some(reply) = flushes.recv() => Event::Flush(reply),
            n = rx.recv_many(&mut pending, CHANNEL), if receive => Event::Received(n),
            () = hits.arrived.notified(), if receive && !counted => Event::Counted,
            () = tokio::time::sleep_until(next_write), if dispatch => Event::Dispatch,
            done = async {
                match job.as_mut() {
                    Some(j) => j.await.unwrap_or(false),
                    None => std::future::pending().await,
                }
            }, if busy => Event::JobDone(done),
            () = tokio::time::sleep_until(next_replay), if replay => Event::Replay,
        };
        match event {
            Event::Received(0) | Event::Stop => {
                // Every sender is gone, or the server stopped: write everything, then stop.
                finish(&mut job).await;
                rx.close();
                while let Ok(r) = rx.try_recv() {
                    pending.push(r);
                }
                pending.extend(hits.close());
                persist.write(std::mem::take(&mut pending)).await;
                return;
            }
            Event::Counted => counted = true,
            Event::Received(_) => {
                if busy && pending.len() >= CHANNEL {
                    persist.spool(coalesce(std::mem::take(&mut pending))).await;
                }
            }
            Event::Dispatch => {
                while let Ok(r) = rx.try_recv() {
                    pending.push(r);
                }
                pending.extend(hits.take());
                counted = false;
                if pending.is_empty() {
                    // The tally's wake-up for rows an earlier write already took: nothing to
                    // write, and the pace is not spent.
                    continue;
                }
                next_write = Instant::now() + PACE;
                let (persist, batch) = (Arc::clone(&persist), std::mem::take(&mut pending));
                job = Some(tokio::spawn(async move {
                    persist.write(batch).await;
                    true
                }));
            }
            Event::JobDone(went_through) => {
                job = None;
                // Segment after segment while replay works; once a second while it does not.
                if !went_through {
                    next_replay = Instant::now() + PROBE_EVERY;
                }
            }
            Event::Replay => {
                if persist.db.up.load(Ordering::Relaxed) {
                    let persist = Arc::clone(&persist);
                    job = Some(tokio::spawn(async move { persist.replay_oldest().await }));
                } else {
                    next_replay = Instant::now() + PROBE_EVERY;
                }
            }
            Event::Flush(reply) => {
                finish(&mut job).await;
                while let Ok(r) = rx.try_recv() {
                    pending.push(r);
                }
                pending.extend(hits.take());
                counted = false;
                persist.write(std::mem::take(&mut pending)).await;
                if !persist.db.up.load(Ordering::Relaxed) && persist.store.ping(PROBE_TIMEOUT).await.is_ok() {
                    persist.db.up.store(true, Ordering::Relaxed);
                }
                while persist.db.up.load(Ordering::Relaxed) && !persist.spool_is_empty() {
                    if !persist.replay_oldest().await {
                        break;
                    }
                }
                let _ = reply.send(persist.db.up.load(Ordering::Relaxed) && persist.spool_is_empty());
            }
        }
    }
}

/// Waits for the running job, if any.
async fn finish(job: &mut Option<JoinHandle<bool>>) {
    if let Some(j) = job.take() {
        let _ = j.await;
    }
}

impl Persist {
    fn spool_is_empty(&self) -> bool {
        self.spool.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty()
    }

    /// Into the database if it is up and answers in time, else into the spool.
    async fn write(&self, batch: Vec<AuditRecord>) {
        let rows = coalesce(batch);
        if rows.is_empty() {
            return;
        }
        if self.db.up.load(Ordering::Relaxed) {
            match self.insert(&rows).await {
                Ok(()) => return,
                Err(reason) => self.database_failed(&reason),
            }
        }
        self.spool(rows).await;
    }

    /// One bounded database write: a hung database must not stall the writer.
    async fn insert(&self, rows: &[AuditRecord]) -> Result<(), InsertError> {
        match tokio::time::timeout(self.db_timeout, self.store.insert_audit(rows)).await {
            Ok(result) => result.map_err(InsertError::Refused),
            Err(_) => Err(InsertError::Timeout { ms: self.db_timeout.as_millis() }),
        }
    }

    /// Marks the database down (later batches go straight to the spool) and starts the probe
    /// that marks it up again.
    fn database_failed(&self, reason: &InsertError) {
        if self.db.up.swap(false, Ordering::Relaxed) {
            let dir = self.spool.lock().unwrap_or_else(std::sync::PoisonError::into_inner).dir().to_path_buf();
            tracing::warn!(reason = %reason, spool = %dir.display(),
                "audit database write failed; audit records go to the local spool until the database answers");
        }
        if self.db.probing.swap(true, Ordering::Relaxed) {
            return;
        }
        let (store, db) = (self.store.clone(), Arc::clone(&self.db));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                if store.ping(PROBE_TIMEOUT).await.is_ok() {
                    db.up.store(true, Ordering::Relaxed);
                    db.probing.store(false, Ordering::Relaxed);
                    tracing::info!("audit database answers again; replaying the spool");
                    return;
                }
            }
        });
    }

    async fn spool(&self, rows: Vec<AuditRecord>) {
        let spool = Arc::clone(&self.spool);
        let appended = tokio::task::spawn_blocking(move || {
            let mut spool = spool.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let result = spool.append(rows);
            (result, spool.bytes(), spool.is_full())
        })
        .await;
        let (result, bytes, full) = match appended {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "audit spool write panicked; the batch's records are lost");
                return;
            }
        };
        self.metrics.audit_spool_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.metrics.audit_spool_full.set(i64::from(full));
        match result {
            Ok(appended) => {
                self.metrics.audit_spooled.inc_by(hits(&appended.written));
                for r in &appended.overflow {
                    log_unpersisted(r, "audit spool full", &self.metrics);
                }
            }
            Err((e, rows)) => {
                let reason = format!("audit database unavailable and {e}");
                for r in &rows {
                    log_unpersisted(r, &reason, &self.metrics);
                }
            }
        }
    }

    /// Replays the oldest spool segment into the database and deletes it once committed.
    /// Returns whether it did (false: the database is unavailable again, or the spool failed).
    async fn replay_oldest(&self) -> bool {
        let spool = Arc::clone(&self.spool);
        let read = tokio::task::spawn_blocking(move || {
            spool.lock().unwrap_or_else(std::sync::PoisonError::into_inner).oldest()
        })
        .await;
        let replay = match read {
            Ok(Ok(Some(replay))) => replay,
            Ok(Ok(None)) => return false,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read the audit spool for replay");
                return false;
            }
            Err(e) => {
                tracing::error!(error = %e, "audit spool read panicked");
                return false;
            }
        };
        self.metrics.audit_spool_corrupt_lines.inc_by(replay.corrupt_lines);
        if let Err(reason) = self.insert(&replay.rows).await {
            // Unavailable again — or a row the database refuses, which must not block the rest.
            if self.store.ping(PROBE_TIMEOUT).await.is_err() {
                self.database_failed(&reason);
                return false;
            }
            if !self.insert_one_by_one(&replay.rows, &reason).await {
                return false;
            }
        }
        self.metrics.audit_replayed.inc_by(hits(&replay.rows));
        let spool = Arc::clone(&self.spool);
        let removed = tokio::task::spawn_blocking(move || {
            let mut spool = spool.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            spool.remove(replay.seq).map(|()| (spool.bytes(), spool.is_full()))
        })
        .await;
        match removed {
            Ok(Ok((bytes, full))) => {
                self.metrics.audit_spool_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
                self.metrics.audit_spool_full.set(i64::from(full));
                true
            }
            // The rows are in the database; replaying the segment again stores nothing twice.
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot remove a replayed audit spool segment");
                false
            }
            Err(e) => {
                tracing::error!(error = %e, "audit spool removal panicked");
                false
            }
        }
    }

    /// The database answers but refused a segment: store each row that it takes, log the ones it
    /// refuses (rather than retrying them forever). False if the database went away meanwhile.
    async fn insert_one_by_one(&self, rows: &[AuditRecord], batch_error: &InsertError) -> bool {
        tracing::warn!(
            error = %batch_error,
            rows = rows.len(),
            "the database refused a spooled audit batch; replaying it row by row"
        );
        for row in rows {
            if let Err(reason) = self.insert(std::slice::from_ref(row)).await {
                if self.store.ping(PROBE_TIMEOUT).await.is_err() {
                    self.database_failed(&reason);
                    return false;
                }
                log_unpersisted(row, &format!("the database refused the audit record: {reason}"), &self.metrics);
            }
        }
        true
    }
}

/// Exchanges a set of rows stands for.
fn hits(rows: &[AuditRecord]) -> u64 {
    rows.iter().map(|r| u64::try_from(r.hits).unwrap_or(1)).sum()
}

fn log_unpersisted(r: &AuditRecord, reason: &str, metrics: &Metrics) {
    // Counted in exchanges: a coalesced row stands for `hits` of them.
    metrics.audit_not_persisted.inc_by(u64::try_from(r.hits).unwrap_or(1));
    match serde_json::to_string(r) {
        Ok(json) => tracing::warn!(audit = %json, reason, "audit record not persisted"),
        Err(_) => tracing::warn!(correlation_id = %r.correlation_id, reason, "audit record not persisted"),
    }
}
