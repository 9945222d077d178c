//! Cache hits counted where they happen, one row per who-asked-for-what and write.
//!
//! A successful cache hit changes nothing (see [`super::coalesce`]): the audit trail needs a count
//! per user, apps, workload, backend and scopes, with the first and last time, the first
//! correlation id and the slowest latency. Sent through the queue as a full record, every hit
//! allocated a dozen strings that lived until the next write and were then folded and freed
//! together: under load, thousands of records per [`super::PACE`], a burst of work every pace that
//! held up every connection of its worker, and a heap that grew and shrank by megabytes each time
//! (BENCHMARKS.md, "the tail at 64 connections"). Here a hit finds its row by the borrowed key and
//! adds to it; a row is allocated once per key per write, and the writer takes the rows whole.
//!
//! The rows are bounded ([`Tally::new`]'s `cap` keys); a hit for a new key beyond it is handed
//! back, and goes through the queue as a record of its own, as every hit did before.

use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};

use hashbrown::HashTable;
use registry::AuditRecord;
use tokio::sync::Notify;

use super::coalesce::{HitKey, fold_parts, hit_key};

/// One successful cache hit, borrowed from the exchange that served it.
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    pub key: HitKey<'a>,
    pub correlation_id: &'a str,
    pub at_ms: i64,
    pub latency_us: i64,
}

impl Hit<'_> {
    /// The record this hit is on its own (`hits` 1): what the queue carries when the tally is full.
    pub fn to_record(&self) -> AuditRecord {
        let [tenant_id, user_oid, site, broker_app_id, client_app_id, workload, backend, scopes] =
            self.key.map(|f| f.map(str::to_owned));
        AuditRecord {
            id: uuid::Uuid::now_v7(),
            at_ms: self.at_ms,
            correlation_id: self.correlation_id.to_owned(),
            tenant_id,
            user_oid,
            broker_app_id,
            client_app_id,
            workload,
            backend,
            scopes,
            outcome: "ok".to_owned(),
            error: None,
            cache_hit: true,
            latency_us: self.latency_us,
            hits: 1,
            last_at_ms: None,
            site,
        }
    }
}

/// The rows counted since the writer last took them.
#[derive(Debug)]
pub(super) struct Tally {
    rows: Mutex<Rows>,
    hasher: foldhash::fast::RandomState,
    cap: usize,
    /// Told when the first row of a write arrives, so that the writer, at rest, writes it at once.
    pub(super) arrived: Notify,
}

#[derive(Debug, Default)]
struct Rows {
    /// Indexes into `records`, by the hash of their key: found with the borrowed key, no string
    /// allocated to look one up.
    index: HashTable<usize>,
    records: Vec<AuditRecord>,
    /// The writer has taken its last rows and stopped: every hit is handed back (to the queue,
    /// which is closed too, so to the log).
    closed: bool,
}

impl Tally {
    pub(super) fn new(cap: usize) -> Self {
        Self { rows: Mutex::default(), hasher: foldhash::fast::RandomState::default(), cap, arrived: Notify::new() }
    }

    /// Counts `hit` in its row. Returns `false`, counting nothing, when it would need a new row
    /// and `cap` rows are taken.
    pub(super) fn add(&self, hit: &Hit<'_>) -> bool {
        let hash = self.hash(&hit.key);
        let mut rows = self.lock();
        let Rows { index, records, closed } = &mut *rows;
        if *closed {
            return false;
        }
        if let Some(&i) = index.find(hash, |&i| row_key(&records[i]) == hit.key) {
            fold_parts(&mut records[i], 1, hit.at_ms, hit.at_ms, hit.latency_us);
            return true;
        }
        if records.len() >= self.cap {
            return false;
        }
        let first = records.is_empty();
        records.push(hit.to_record());
        index.insert_unique(hash, records.len() - 1, |&i| self.hash(&row_key(&records[i])));
        drop(rows);
        if first {
            self.arrived.notify_one();
        }
        true
    }

    /// The user and the scopes only: rows that share them (one user through two brokers, say)
    /// are told apart by the whole key when found, and hashing all eight fields cost half of a
    /// hit's count.
    fn hash(&self, key: &HitKey<'_>) -> u64 {
        self.hasher.hash_one((key[1], key[7]))
    }

    /// Takes every row counted so far, in the order of their first hit.
    pub(super) fn take(&self) -> Vec<AuditRecord> {
        self.lock().take()
    }

    /// Takes the last rows: from now on every hit is handed back.
    pub(super) fn close(&self) -> Vec<AuditRecord> {
        let mut rows = self.lock();
        rows.closed = true;
        rows.take()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rows> {
        // A panic mid-update leaves at worst one row's counts partly folded: keep counting.
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Rows {
    fn take(&mut self) -> Vec<AuditRecord> {
        self.index.clear();
        std::mem::take(&mut self.records)
    }
}

/// The key of a row of the tally (every one of them a hit, so it has one).
fn row_key(r: &AuditRecord) -> HitKey<'_> {
    hit_key(r).unwrap_or([None; 8])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::future::Future;

    use super::*;
    use crate::audit::coalesce;
    use proptest::prelude::*;

    const USERS: [&str; 3] = ["user-0", "user-1", "user-2"];

    fn hit(user: usize, scopes: &'static str, at_ms: i64, latency_us: i64) -> Hit<'static> {
        via("b", user, scopes, at_ms, latency_us)
    }

    /// A hit through `broker`: rows of one user and scopes through two brokers hash alike
    /// (`Tally::hash`) and must stay apart.
    fn via(broker: &'static str, user: usize, scopes: &'static str, at_ms: i64, latency_us: i64) -> Hit<'static> {
        Hit {
            key: [Some("t"), Some(USERS[user]), None, Some(broker), Some("c"), Some("w"), Some("g"), Some(scopes)],
            correlation_id: "c-1",
            at_ms,
            latency_us,
        }
    }

    fn hits() -> impl Strategy<Value = Vec<Hit<'static>>> {
        proptest::collection::vec(
            (
                prop_oneof![Just("b"), Just("b2")],
                0usize..3,
                prop_oneof![Just("Files.Read"), Just("Mail.Read")],
                0i64..1_000,
                1i64..5_000,
            ),
            0..80,
        )
        .prop_map(|v| v.into_iter().map(|(b, u, s, at, l)| via(b, u, s, 1_000_000 + at, l)).collect())
    }

    /// What the writer stores, whichever way the hits went: rows compared without their ids and
    /// correlation ids (made per row).
    /// A row as compared: key, hits, first, last, slowest.
    type Shape = (Vec<Option<String>>, i64, i64, Option<i64>, i64);

    fn shape(rows: Vec<AuditRecord>) -> Vec<Shape> {
        let mut v: Vec<_> = rows
            .into_iter()
            .map(|r| {
                let key = hit_key(&r).unwrap().map(|f| f.map(str::to_owned)).to_vec();
                (key, r.hits, r.at_ms, r.last_at_ms, r.latency_us)
            })
            .collect();
        v.sort();
        v
    }

    proptest! {
        /// Counting hits in the tally gives the rows that sending each hit as a record and
        /// coalescing the batch gives (the writer's way before the tally).
        #[test]
        fn the_tally_gives_what_coalescing_the_records_gives(hits in hits()) {
            let tally = Tally::new(usize::MAX);
            for h in &hits {
                prop_assert!(tally.add(h));
            }
            let records: Vec<AuditRecord> = hits.iter().map(Hit::to_record).collect();
            prop_assert_eq!(shape(tally.take()), shape(coalesce(records)));
            prop_assert!(tally.take().is_empty(), "taking empties the tally");
        }

        /// At the cap, a hit of a new key is handed back uncounted; hits of keys already there
        /// are still counted. Nothing is counted twice or lost between the two.
        #[test]
        fn at_the_cap_new_keys_are_handed_back(hits in hits(), cap in 0usize..4) {
            let tally = Tally::new(cap);
            let handed_back = hits.iter().filter(|h| !tally.add(h)).count();
            let rows = tally.take();
            prop_assert!(rows.len() <= cap);
            let counted: i64 = rows.iter().map(|r| r.hits).sum();
            prop_assert_eq!(usize::try_from(counted).unwrap() + handed_back, hits.len());
        }
    }

    #[tokio::test]
    async fn the_first_row_of_a_write_wakes_the_writer_and_later_hits_do_not() {
        let tally = Tally::new(10);
        assert!(tally.add(&hit(0, "Files.Read", 1, 1)));
        // The permit stored by the first row: `notified` completes at once.
        tally.arrived.notified().await;
        assert!(tally.add(&hit(0, "Files.Read", 2, 1)) && tally.add(&hit(1, "Files.Read", 2, 1)));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut again = std::pin::pin!(tally.arrived.notified());
        assert!(again.as_mut().poll(&mut cx).is_pending(), "hits after the first do not wake the writer");
        let rows = tally.take();
        assert_eq!(rows.iter().map(|r| r.hits).collect::<Vec<_>>(), [2, 1]);
        assert!(tally.add(&hit(0, "Files.Read", 3, 1)));
        assert!(again.as_mut().poll(&mut cx).is_ready(), "the first row after a take wakes it again");
        assert_eq!(tally.close().len(), 1);
        assert!(!tally.add(&hit(0, "Files.Read", 4, 1)), "after the last take, hits are handed back");
        assert!(tally.take().is_empty());
    }
}
