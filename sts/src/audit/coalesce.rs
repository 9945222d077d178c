//! Folding repeated cache hits into one audit row.
//!
//! Under load one token is handed out from the cache thousands of times a second (every control on
//! every page of a user asks again), and writing each of those hits as its own row made the audit
//! writer the most expensive part of a cached exchange. A hit changes nothing — the token was
//! issued, and recorded, by the miss that cached it — so, within one batch, hits by the same user
//! in the same tenant, through the same broker and client app, for the same workload, backend and
//! scopes (who asked and for what; not "the same token" — the key holds no token) become one row
//! with a count, the first and last time, the first correlation id and the slowest latency, the way
//! Entra's sign-in logs aggregate repeated non-interactive sign-ins. Everything that is not a
//! successful cache hit (issued tokens, refusals, errors) keeps a row of its own.

use std::collections::HashMap;

use registry::AuditRecord;

/// What makes two cache hits "the same": who asked, through which apps, for what. In this order:
/// tenant, user, site, broker, client app, workload, backend, scopes.
pub type HitKey<'a> = [Option<&'a str>; 8];

pub(super) fn hit_key(r: &AuditRecord) -> Option<HitKey<'_>> {
    (r.cache_hit && r.error.is_none()).then(|| {
        [&r.tenant_id, &r.user_oid, &r.site, &r.broker_app_id, &r.client_app_id, &r.workload, &r.backend, &r.scopes]
            .map(|f| f.as_deref())
    })
}

/// Coalesces the cache hits of a batch (in arrival order); other records pass through unchanged.
/// The result keeps the order of each row's first record, and its `hits` add up to the input's.
pub fn coalesce(batch: Vec<AuditRecord>) -> Vec<AuditRecord> {
    // First pass, borrowing: which output row each record goes to (no string is copied).
    // Under load most hits in a row are of the same token: comparing with the previous hit's key
    // first skips hashing seven strings for each of them.
    let mut rows: HashMap<HitKey<'_>, usize> = HashMap::new();
    let mut previous: Option<(HitKey<'_>, usize)> = None;
    let mut next_row = 0;
    let row_of: Vec<usize> = batch
        .iter()
        .map(|record| {
            let fresh = next_row;
            let row = match hit_key(record) {
                Some(key) => match previous {
                    Some((p, row)) if p == key => row,
                    _ => {
                        let row = *rows.entry(key).or_insert(fresh);
                        previous = Some((key, row));
                        row
                    }
                },
                None => fresh,
            };
            if row == fresh {
                next_row += 1;
            }
            row
        })
        .collect();
    drop(rows);

    // Second pass: move each record into its row, or fold it into the row's first record.
    let mut out: Vec<AuditRecord> = Vec::with_capacity(next_row);
    for (record, row) in batch.into_iter().zip(row_of) {
        if row == out.len() {
            out.push(record);
            continue;
        }
        fold(&mut out[row], &record);
    }
    out
}

/// Folds `record` into `row`, the first record of its key: the hits add up, the times widen to
/// the first and the last, the latency is the slowest; the row keeps its id and correlation id.
fn fold(row: &mut AuditRecord, record: &AuditRecord) {
    fold_parts(row, record.hits, record.at_ms, record.last_at_ms.unwrap_or(record.at_ms), record.latency_us);
}

/// [`fold`], from the parts of what is folded in (`first_ms..=last_ms`).
pub(super) fn fold_parts(row: &mut AuditRecord, hits: i64, first_ms: i64, last_ms: i64, latency_us: i64) {
    row.hits += hits;
    row.last_at_ms = Some(row.last_at_ms.unwrap_or(row.at_ms).max(last_ms));
    row.at_ms = row.at_ms.min(first_ms);
    row.latency_us = row.latency_us.max(latency_us);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(user: u8, hit: bool, error: bool, at_ms: i64, latency_us: i64) -> AuditRecord {
        AuditRecord {
            id: uuid::Uuid::now_v7(),
            at_ms,
            correlation_id: format!("c-{at_ms}"),
            tenant_id: Some("t".into()),
            user_oid: Some(format!("user-{user}")),
            broker_app_id: Some("b".into()),
            client_app_id: Some("c".into()),
            workload: Some("w".into()),
            backend: Some("g".into()),
            scopes: Some("https://graph.microsoft.com/Files.Read".into()),
            outcome: if error { "invalid_scope".into() } else { "ok".into() },
            error: error.then(|| "no".into()),
            cache_hit: hit,
            latency_us,
            hits: 1,
            last_at_ms: None,
            site: None,
        }
    }

    fn batch() -> impl Strategy<Value = Vec<AuditRecord>> {
        proptest::collection::vec((0u8..3, any::<bool>(), any::<bool>(), 0i64..1_000, 1i64..5_000), 0..60)
            .prop_map(|v| v.into_iter().map(|(u, h, e, at, l)| record(u, h, e, 1_000_000 + at, l)).collect())
    }

    proptest! {
        /// No exchange is lost or counted twice, per user and per kind of outcome.
        #[test]
        fn hits_add_up(b in batch()) {
            let count = |rs: &[AuditRecord], user: &str, hit: bool| -> i64 {
                rs.iter().filter(|r| r.user_oid.as_deref() == Some(user) && r.cache_hit == hit).map(|r| r.hits).sum()
            };
            let out = coalesce(b.clone());
            for u in 0..3 {
                let user = format!("user-{u}");
                prop_assert_eq!(count(&out, &user, true), count(&b, &user, true));
                prop_assert_eq!(count(&out, &user, false), count(&b, &user, false));
            }
        }

        /// Misses and errors are never merged: each keeps its own row, unchanged.
        #[test]
        fn only_successful_hits_are_merged(b in batch()) {
            let out = coalesce(b.clone());
            let kept: Vec<&AuditRecord> = b.iter().filter(|r| !r.cache_hit || r.error.is_some()).collect();
            let passed: Vec<&AuditRecord> = out.iter().filter(|r| !r.cache_hit || r.error.is_some()).collect();
            prop_assert_eq!(kept, passed);
            // At most one hit row per user.
            for u in 0..3 {
                let user = format!("user-{u}");
                let rows = out.iter().filter(|r| r.cache_hit && r.error.is_none() && r.user_oid.as_deref() == Some(&user)).count();
                prop_assert!(rows <= 1);
            }
        }

        /// A merged row spans exactly its hits' times and shows the slowest one.
        #[test]
        fn merged_rows_span_their_hits(b in batch()) {
            for row in coalesce(b.clone()).iter().filter(|r| r.hits > 1) {
                let hits: Vec<&AuditRecord> =
                    b.iter().filter(|r| r.cache_hit && r.error.is_none() && r.user_oid == row.user_oid).collect();
                prop_assert_eq!(row.at_ms, hits.iter().map(|r| r.at_ms).min().unwrap());
                prop_assert_eq!(row.last_at_ms, hits.iter().map(|r| r.at_ms).max());
                prop_assert_eq!(row.latency_us, hits.iter().map(|r| r.latency_us).max().unwrap());
                prop_assert_eq!(&row.correlation_id, &hits[0].correlation_id);
            }
        }
    }

    #[test]
    fn different_scopes_or_brokers_stay_apart() {
        let a = record(0, true, false, 1, 10);
        let b = AuditRecord {
            scopes: Some("https://graph.microsoft.com/User.Read".into()),
            ..record(0, true, false, 2, 10)
        };
        let c = AuditRecord { broker_app_id: Some("other".into()), ..record(0, true, false, 3, 10) };
        let d = record(0, true, false, 4, 10);
        let out = coalesce(vec![a, b, c, d]);
        assert_eq!(out.iter().map(|r| r.hits).collect::<Vec<_>>(), vec![2, 1, 1]);
        assert_eq!(out[0].last_at_ms, Some(4));
        assert_eq!(out[1].last_at_ms, None, "a lone hit is an ordinary row");
    }
}
