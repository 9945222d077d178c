//! The audit trail survives a database outage: records go to the local spool while PostgreSQL is
//! down and are replayed once it is back, so `SUM(hits)` equals the exchanges served. Each test
//! stops only a PostgreSQL server it started itself.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::private_pg::PrivatePg;
use common::*;
use registry::AuditRecord;
use registry::testing::TestDb;
use sts::AuditConfig;
use sts::AuditSink;
use sts::Metrics;

/// How long PostgreSQL stays down under load (`TESSERA_OUTAGE_SECS`, default 5; the issue's
/// acceptance run uses 30).
fn outage() -> Duration {
    let secs = std::env::var("TESSERA_OUTAGE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    Duration::from_secs(secs)
}

async fn sum_hits(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let sum: i64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(hits), 0)::BIGINT FROM audit_records").fetch_one(&pool).await.unwrap();
    pool.close().await;
    sum
}

/// Flushes until every record is in the database (the seam: no waiting for the writer's pace or
/// its probe), within a generous bound.
async fn flushed(sink: &AuditSink) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !sink.flush().await {
        assert!(tokio::time::Instant::now() < deadline, "the audit spool was not replayed within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_under_load_loses_no_audit_record() {
    let pg = PrivatePg::start();
    let h = Arc::new(Harness::start_with(Options { pg_admin_url: Some(pg.admin_url()), ..Options::default() }).await);
    let (served, failed, stop) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let (progress, watch) = tokio::sync::watch::channel(0u64);
    let progress = Arc::new(progress);
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (h, served, failed, stop, progress) =
            (Arc::clone(&h), Arc::clone(&served), Arc::clone(&failed), Arc::clone(&stop), Arc::clone(&progress));
        workers.push(tokio::spawn(async move {
            let mut token = h.user_token(|_| {});
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Mostly cache hits (coalesced rows), now and then a new token (an issued row).
                if n % 40 == 39 {
                    token = h.user_token(|_| {});
                }
                n += 1;
                let a = h.exchange(&token, FILES_READ, &[]).await;
                if a.status == reqwest::StatusCode::OK {
                    let total = served.fetch_add(1, Ordering::Relaxed) + 1;
                    progress.send_replace(total);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("exchange failed: {} {}", a.status, a.body);
                }
            }
        }));
    }
    let mut watch_progress = watch.clone();
    watch_progress.wait_for(|n| *n >= 300).await.unwrap();

    pg.stop();
    let before_outage = served.load(Ordering::Relaxed);
    tokio::time::sleep(outage()).await; // the scenario: this long without a database
    let during_outage = served.load(Ordering::Relaxed) - before_outage;
    assert!(!h.state.exchanger.audit.flush().await, "nothing can be in the database while it is down");
    let spooled = h.state.metrics.audit_spooled.get();
    assert!(spooled > 0, "the outage's records went to the spool");

    pg.start_again();
    let target = served.load(Ordering::Relaxed) + 300;
    watch_progress.wait_for(|n| *n >= target).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    flushed(&h.state.exchanger.audit).await;

    let sent = served.load(Ordering::Relaxed);
    let m = &h.state.metrics;
    eprintln!(
        "served {sent} exchanges ({during_outage} during a {:?} outage); {} spooled, {} replayed",
        outage(),
        m.audit_spooled.get(),
        m.audit_replayed.get()
    );
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no exchange failed");
    assert_eq!(h.state.metrics.audit_not_persisted.get(), 0, "no record only in the log");
    assert_eq!(m.audit_replayed.get(), m.audit_spooled.get(), "everything spooled was replayed, once");
    assert_eq!(h.state.metrics.audit_spool_bytes.get(), 0, "the replayed spool is gone");
    assert_eq!(sum_hits(h.db.url()).await, i64::try_from(sent).unwrap(), "SUM(hits) = exchanges served");
    drop(watch);
}

fn record(hits: i64) -> AuditRecord {
    AuditRecord {
        id: uuid::Uuid::now_v7(),
        at_ms: 1_700_000_000_000,
        correlation_id: "corr".into(),
        tenant_id: Some(TENANT.into()),
        user_oid: Some(USER_OID.into()),
        broker_app_id: Some(BROKER.into()),
        client_app_id: Some(CLIENT.into()),
        workload: Some("file-picker".into()),
        backend: None,
        scopes: Some(FILES_READ.into()),
        outcome: "issued".into(),
        error: None,
        cache_hit: false,
        latency_us: 1,
        hits,
        last_at_ms: None,
        site: None,
    }
}

#[tokio::test]
async fn shutdown_during_an_outage_spools_and_the_next_process_replays_once() {
    let pg = PrivatePg::start();
    let db = TestDb::postgres_at(&pg.admin_url()).await;
    db.store().migrate(None).await.unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    let config = AuditConfig { spool_dir: spool_dir.path().to_owned(), ..AuditConfig::default() };

    let metrics = Arc::new(Metrics::new());
    let sink = AuditSink::spawn(db.store().clone(), Arc::clone(&metrics), &config).unwrap();
    sink.record(record(1));
    assert!(sink.flush().await, "written while the database is up");
    assert_eq!(metrics.audit_spooled.get(), 0, "nothing spooled while the database is up");

    pg.stop();
    let outage: Vec<AuditRecord> = [1, 2, 3].into_iter().map(record).collect();
    for r in &outage {
        sink.record(r.clone());
    }
    sink.close().await; // the process stops during the outage
    assert_eq!(metrics.audit_spooled.get(), 6, "every record of the outage is in the spool");
    assert_eq!(metrics.audit_not_persisted.get(), 0);
    // A crash mid-write of a later batch: half a line at the end of a segment.
    let segment = std::fs::read_dir(spool_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("a spool segment");
    let half = serde_json::to_string(&record(100)).unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(&half.as_bytes()[..half.len() / 2]);
    std::fs::write(&segment, bytes).unwrap();

    pg.start_again();
    let metrics = Arc::new(Metrics::new());
    let sink = AuditSink::spawn(db.store().clone(), Arc::clone(&metrics), &config).unwrap();
    flushed(&sink).await;
    assert_eq!(sum_hits(db.url()).await, 7, "1 before the outage + 6 replayed, the cut-off line skipped");
    assert_eq!(metrics.audit_replayed.get(), 6);
    assert_eq!(metrics.audit_spool_corrupt_lines.get(), 1);
    assert!(
        std::fs::read_dir(spool_dir.path()).unwrap().all(|e| e
            .unwrap()
            .path()
            .extension()
            .is_none_or(|e| e != "jsonl")),
        "replayed segments are deleted"
    );

    // Replaying what is already stored (a crash between commit and delete) stores nothing twice.
    db.store().insert_audit(&outage).await.unwrap();
    assert_eq!(sum_hits(db.url()).await, 7);
    sink.close().await;
}

#[tokio::test]
async fn a_hung_database_times_out_into_the_spool_instead_of_stalling_the_writer() {
    let pg = PrivatePg::start();
    let db = TestDb::postgres_at(&pg.admin_url()).await;
    db.store().migrate(None).await.unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    let config = AuditConfig { spool_dir: spool_dir.path().to_owned(), db_timeout_ms: 500, ..AuditConfig::default() };
    let metrics = Arc::new(Metrics::new());
    let sink = AuditSink::spawn(db.store().clone(), Arc::clone(&metrics), &config).unwrap();
    sink.record(record(1));
    assert!(sink.flush().await);

    let frozen = pg.freeze();
    let started = std::time::Instant::now();
    sink.record(record(4));
    let flushed_while_frozen = tokio::time::timeout(Duration::from_secs(15), sink.flush()).await;
    assert_eq!(
        flushed_while_frozen.ok(),
        Some(false),
        "a frozen database takes nothing, and does not stall the writer"
    );
    let took = started.elapsed();
    assert_eq!(metrics.audit_spooled.get(), 4, "the timed-out batch is in the spool");
    // One 0.5 s write timeout and one 2 s probe: far below the pool's 10 s acquire timeout.
    assert!(took < Duration::from_secs(8), "the writer was stalled for {took:?}");
    drop(frozen);

    flushed(&sink).await;
    assert_eq!(sum_hits(db.url()).await, 5);
    sink.close().await;
}

#[tokio::test]
async fn a_hung_write_does_not_stop_the_queue_from_draining_into_the_spool() {
    let pg = PrivatePg::start();
    let db = TestDb::postgres_at(&pg.admin_url()).await;
    db.store().migrate(None).await.unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    // A timeout far longer than it takes to offer more records than the queue holds.
    let config =
        AuditConfig { spool_dir: spool_dir.path().to_owned(), db_timeout_ms: 60_000, ..AuditConfig::default() };
    let metrics = Arc::new(Metrics::new());
    let sink = AuditSink::spawn(db.store().clone(), Arc::clone(&metrics), &config).unwrap();
    sink.record(record(1));
    assert!(sink.flush().await);

    let frozen = pg.freeze();
    const OFFERED: i64 = 80_000; // more than twice the queue's 32,768
    for chunk in 0..OFFERED / 4_000 {
        for _ in 0..4_000 {
            sink.record(record(1));
        }
        // The writer keeps taking records although its first write hangs (well within the 5 s
        // bound, which is half the pool's acquire timeout that would otherwise end the hang).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.queued() > 0 {
            assert!(std::time::Instant::now() < deadline, "the queue stopped draining after chunk {chunk}");
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(metrics.audit_not_persisted.get(), 0, "no record overflowed the queue to the log");
    assert!(metrics.audit_spooled.get() >= 32 * 1024, "a queue's worth went to the spool meanwhile");
    drop(frozen);

    flushed(&sink).await;
    assert_eq!(sum_hits(db.url()).await, 1 + OFFERED);
    assert_eq!(metrics.audit_not_persisted.get(), 0);
    sink.close().await;
}
