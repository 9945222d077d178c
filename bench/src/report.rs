//! The results of one run: the targets as pure verdicts, and the Markdown that goes to
//! the terminal, `target/bench/report.md` and `BENCHMARKS.md`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::load::LoadResult;
use crate::memory::MemoryResult;
use crate::miss::MissResult;
use crate::single_flight::FlightResult;

/// The targets of issue 6.
pub const MIN_TIMES_PEER: f64 = 10.0;
pub const MIN_SHARE_OF_CEILING: f64 = 0.5;
pub const MAX_MISS_OVERHEAD_US: f64 = 1000.0;
/// Issue 12: the cached path's p99 at most this many times its p50, at 64 connections.
pub const MAX_TAIL_RATIO: f64 = 2.0;
pub const TAIL_CONNECTIONS: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    Tessera,
    Peer,
    Ceiling,
}

impl System {
    pub const ALL: [Self; 3] = [Self::Tessera, Self::Peer, Self::Ceiling];

    pub fn label(self) -> &'static str {
        match self {
            Self::Tessera => "Tessera (release sts)",
            Self::Peer => "peer (msal-node)",
            Self::Ceiling => "bare axum (ceiling)",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct CachedRow {
    pub system: System,
    pub connections: u32,
    pub load: LoadResult,
    /// CPU time (user + system, all threads) the server process used per request — unlike
    /// throughput, hardly moved by whatever else the machine runs at the same time.
    pub server_cpu_us: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Bundle {
    pub raw: u64,
    pub gzip: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub smoke: bool,
    pub seconds_per_load: u64,
    /// Runs per system and connection count; the table shows the median-throughput one.
    pub rounds: u32,
    pub cached: Vec<CachedRow>,
    pub miss: MissResult,
    pub flight: FlightResult,
    pub peer_flight: FlightResult,
    pub memory: Vec<MemoryResult>,
    pub bundle: Option<Bundle>,
    /// `tessera_audit_not_persisted_total` after the run: audit records that overflowed to the log.
    pub audit_not_persisted: Option<u64>,
    /// Three `sts serve` on one Redis (issue 15); `None` when no Redis was running.
    pub scale: Option<crate::scale::ScaleResult>,
    /// p99 / p50 at [`TAIL_CONNECTIONS`], every round's and their median, per system.
    pub tails: Vec<Tail>,
}

/// The tail of one system at [`TAIL_CONNECTIONS`] over the interleaved rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Tail {
    pub system: System,
    /// p99 / p50 of each round, in round order.
    pub rounds: Vec<f64>,
    pub median: f64,
}

/// Each system's p99 / p50 at `connections`, round by round, and the median of those: the tail
/// criterion's figure. A cell's table row is its median-throughput round, and one disturbed round
/// (another process on the servers' CPU for a few milliseconds) can be that round; the median of
/// the rounds' own tails is what the interleaving is for.
pub fn tails(runs: &[CachedRow], connections: u32) -> Vec<Tail> {
    first_seen(runs.iter().filter(|r| r.connections == connections).map(|r| r.system))
        .into_iter()
        .map(|system| {
            #[allow(clippy::cast_precision_loss)]
            let rounds: Vec<f64> = runs
                .iter()
                .filter(|r| r.system == system && r.connections == connections)
                .map(|r| r.load.p99_us as f64 / r.load.p50_us.max(1) as f64)
                .collect();
            let mut sorted = rounds.clone();
            sorted.sort_by(f64::total_cmp);
            let median = sorted.get(sorted.len().saturating_sub(1) / 2).copied().unwrap_or(f64::NAN);
            Tail { system, rounds, median }
        })
        .collect()
}

/// Tessera / peer and Tessera / ceiling throughput at one connection count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratios {
    pub connections: u32,
    pub times_peer: f64,
    pub share_of_ceiling: f64,
    /// Server CPU per request, Tessera / ceiling (how many ceilings' worth of work one exchange is).
    pub cpu_vs_ceiling: f64,
}

/// For each (system, connections), the run with the median throughput (the lower middle of an
/// even count) — one slow or lucky round on a shared machine does not set the result.
pub fn median_runs(runs: &[CachedRow]) -> Vec<CachedRow> {
    first_seen(runs.iter().map(|r| (r.system, r.connections)))
        .into_iter()
        .filter_map(|(system, connections)| {
            let mut cell: Vec<&CachedRow> =
                runs.iter().filter(|r| r.system == system && r.connections == connections).collect();
            cell.sort_by(|a, b| a.load.rps().total_cmp(&b.load.rps()));
            cell.get((cell.len() - 1) / 2).map(|r| **r)
        })
        .collect()
}

/// Each distinct item once, in the order first seen (the runs' order, which the report keeps).
fn first_seen<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

fn row(rows: &[CachedRow], system: System, connections: u32) -> Option<&CachedRow> {
    rows.iter().find(|r| r.system == system && r.connections == connections)
}

/// The ratios at every connection count measured for all three systems.
pub fn ratios(rows: &[CachedRow]) -> Vec<Ratios> {
    let mut levels: Vec<u32> = rows.iter().map(|r| r.connections).collect();
    levels.sort_unstable();
    levels.dedup();
    levels
        .into_iter()
        .filter_map(|c| {
            let (t, p, b) =
                (row(rows, System::Tessera, c)?, row(rows, System::Peer, c)?, row(rows, System::Ceiling, c)?);
            let (tr, pr, br) = (t.load.rps(), p.load.rps(), b.load.rps());
            (pr > 0.0 && br > 0.0).then(|| Ratios {
                connections: c,
                times_peer: tr / pr,
                share_of_ceiling: tr / br,
                cpu_vs_ceiling: if b.server_cpu_us > 0.0 { t.server_cpu_us / b.server_cpu_us } else { f64::NAN },
            })
        })
        .collect()
}

/// A target and whether this run met it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

pub fn verdicts(report: &Report) -> Vec<Verdict> {
    let mut out = Vec::new();
    for r in ratios(&report.cached) {
        out.push(Verdict {
            target: format!("cached throughput ≥ {MIN_TIMES_PEER}× peer, {} conn", r.connections),
            measured: format!("{:.1}×", r.times_peer),
            met: r.times_peer >= MIN_TIMES_PEER,
        });
        out.push(Verdict {
            target: format!(
                "cached throughput ≥ {:.0}% of bare axum, {} conn",
                MIN_SHARE_OF_CEILING * 100.0,
                r.connections
            ),
            measured: format!("{:.0}%", r.share_of_ceiling * 100.0),
            met: r.share_of_ceiling >= MIN_SHARE_OF_CEILING,
        });
    }
    let tail = |system: System| report.tails.iter().find(|t| t.system == system);
    if let Some(t) = tail(System::Tessera) {
        let rounds = |t: &Tail| t.rounds.iter().map(|r| format!("{r:.1}")).collect::<Vec<_>>().join(", ");
        let ceiling =
            tail(System::Ceiling).map(|c| format!("; bare axum {:.1}× ({})", c.median, rounds(c))).unwrap_or_default();
        out.push(Verdict {
            target: format!("cached p99 ≤ {MAX_TAIL_RATIO}× p50, {TAIL_CONNECTIONS} conn (median of the rounds)"),
            measured: format!("{:.1}× ({}){ceiling}", t.median, rounds(t)),
            met: t.median <= MAX_TAIL_RATIO,
        });
    }
    out.push(Verdict {
        target: format!("miss overhead ≤ {MAX_MISS_OVERHEAD_US:.0} µs median"),
        measured: format!("{:.0} µs", report.miss.overhead_p50_us),
        met: report.miss.overhead_p50_us <= MAX_MISS_OVERHEAD_US,
    });
    if let Some(scale) = &report.scale {
        let total = report.miss.overhead_p50_us + scale.miss_redis_overhead_p50_us;
        out.push(Verdict {
            target: format!("miss overhead with the shared cache ≤ {MAX_MISS_OVERHEAD_US:.0} µs median"),
            measured: format!("{total:.0} µs"),
            met: total <= MAX_MISS_OVERHEAD_US,
        });
        out.push(Verdict {
            target: "three instances, round robin: one upstream call per token".into(),
            measured: format!("{} calls for {} tokens", scale.rr_upstream, scale.rr_tokens),
            met: scale.rr_upstream == scale.rr_tokens,
        });
    }
    out.push(Verdict {
        target: format!("single-flight: {} concurrent misses → 1 upstream call", report.flight.concurrent),
        measured: format!("{}", report.flight.upstream_calls),
        met: single_flight_holds(&report.flight),
    });
    out
}

/// Exactly one upstream call, and every request got that one token.
pub fn single_flight_holds(f: &FlightResult) -> bool {
    f.upstream_calls == 1 && f.same_token_answers == f.concurrent
}

fn ms(us: f64) -> String {
    if us >= 1000.0 { format!("{:.2} ms", us / 1000.0) } else { format!("{us:.0} µs") }
}

#[allow(clippy::cast_precision_loss)]
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub fn markdown(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### Cached exchanges (same token every request; median of {} interleaved {} s runs)\n",
        report.rounds, report.seconds_per_load
    );
    let _ = writeln!(s, "| system | connections | requests/s | p50 | p99 | server CPU / request |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for system in System::ALL {
        for row in report.cached.iter().filter(|r| r.system == system) {
            #[allow(clippy::cast_precision_loss)]
            let (p50, p99) = (row.load.p50_us as f64, row.load.p99_us as f64);
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {} | {} | {:.0} µs |",
                system.label(),
                row.connections,
                row.load.rps(),
                ms(p50),
                ms(p99),
                row.server_cpu_us
            );
        }
    }
    let _ = writeln!(s, "\n### Ratios (throughput)\n");
    let _ = writeln!(
        s,
        "| connections | Tessera / peer | Tessera / bare axum | server CPU per request, Tessera / bare axum |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|");
    for r in ratios(&report.cached) {
        let _ = writeln!(
            s,
            "| {} | {:.1}× | {:.0}% | {:.1}× |",
            r.connections,
            r.times_peer,
            r.share_of_ceiling * 100.0,
            r.cpu_vs_ceiling
        );
    }
    let m = &report.miss;
    let _ = writeln!(s, "\n### Miss path ({} sequential misses, one connection)\n", m.rounds);
    let _ = writeln!(s, "| | p50 | p90 |");
    let _ = writeln!(s, "|---|---:|---:|");
    let _ = writeln!(s, "| Tessera `/token`, cache miss | {} | {} |", ms(m.sts_p50_us), ms(m.sts_p90_us));
    let _ = writeln!(
        s,
        "| same OBO request straight to the emulator | {} | {} |",
        ms(m.direct_p50_us),
        ms(m.direct_p90_us)
    );
    let _ = writeln!(s, "| **Tessera overhead** (difference of medians) | **{}** | |", ms(m.overhead_p50_us));
    let _ = writeln!(
        s,
        "| of which: signing the client assertion (RSA-2048 PS256, the STS's code) | {} | |",
        ms(m.sign_p50_us)
    );
    if let Some(inside) = m.inside_mean_us {
        let _ =
            writeln!(s, "| cross-check: mean(Tessera) − mean(upstream, from `/metrics`) | {} (mean) | |", ms(inside));
    }
    let (f, p) = (&report.flight, &report.peer_flight);
    let _ = writeln!(s, "\n### Single-flight ({} concurrent identical misses, upstream delayed)\n", f.concurrent);
    let _ = writeln!(s, "| system | upstream OBO calls | answers with the same token |");
    let _ = writeln!(s, "|---|---:|---:|");
    let _ = writeln!(s, "| Tessera | {} | {}/{} |", f.upstream_calls, f.same_token_answers, f.concurrent);
    let _ = writeln!(s, "| peer (msal-node) | {} | {}/{} |", p.upstream_calls, p.same_token_answers, p.concurrent);
    let _ = writeln!(s, "\n### Resident memory per cached token (in-process `sts::MemoryCache`)\n");
    let _ = writeln!(s, "| entries | held | token size | RSS growth | per entry |");
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|");
    for r in &report.memory {
        let _ = writeln!(
            s,
            "| {} | {} | {} B | {:.1} MiB | {:.0} B |",
            r.inserted,
            r.held,
            r.token_bytes,
            mib(r.rss_after.saturating_sub(r.rss_before)),
            r.bytes_per_entry()
        );
    }
    let _ = writeln!(s, "\n### Broker bundle (`dist/tessera-broker.js`)\n");
    match &report.bundle {
        Some(b) => {
            let _ =
                writeln!(s, "raw {} B ({:.1} KiB), gzip -9 {} B ({:.1} KiB)", b.raw, kib(b.raw), b.gzip, kib(b.gzip));
        }
        None => {
            let _ = writeln!(s, "not built (run `bash scripts/build-broker.sh`)");
        }
    }
    if let Some(x) = &report.scale {
        let _ = writeln!(
            s,
            "\n### Three instances on one Redis (`sts serve` × 3 + one without Redis; {} interleaved rounds)\n",
            x.rounds
        );
        let _ = writeln!(s, "| exchange | p50 | p99 |");
        let _ = writeln!(s, "|---|---:|---:|");
        let _ = writeln!(s, "| memory (L1) hit | {} | {} |", ms(x.l1_hit_p50_us), ms(x.l1_hit_p99_us));
        let _ = writeln!(
            s,
            "| Redis (L2) hit, token fetched by another instance | {} | {} |",
            ms(x.l2_hit_p50_us),
            ms(x.l2_hit_p99_us)
        );
        let _ = writeln!(
            s,
            "| miss, shared cache on (Redis miss, lock, Entra, entry written) | {} | |",
            ms(x.miss_redis_p50_us)
        );
        let _ = writeln!(s, "| miss, memory only | {} | |", ms(x.miss_memory_p50_us));
        let _ = writeln!(
            s,
            "\nThe shared cache adds {} to a miss (median difference). Round robin over three instances, \
             each of {} fresh tokens asked 6 times: {} requests, {} upstream calls, {} hits of which {} \
             ({:.0}%) served from Redis.",
            ms(x.miss_redis_overhead_p50_us),
            x.rr_tokens,
            x.rr_requests,
            x.rr_upstream,
            x.rr_hits,
            x.rr_shared_hits,
            share(x.rr_shared_hits, x.rr_hits)
        );
    }
    if let Some(n) = report.audit_not_persisted {
        let _ = writeln!(s, "\nAudit records that overflowed to the log during the run: {n}");
    }
    let _ = writeln!(s, "\n### Targets\n");
    let _ = writeln!(s, "| target | measured | met |");
    let _ = writeln!(s, "|---|---:|:---:|");
    for v in verdicts(report) {
        let _ = writeln!(s, "| {} | {} | {} |", v.target, v.measured, if v.met { "yes" } else { "**no**" });
    }
    s
}

#[allow(clippy::cast_precision_loss)]
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

#[allow(clippy::cast_precision_loss)]
fn kib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn load(requests: u64) -> LoadResult {
        LoadResult {
            requests,
            duration_us: 1_000_000,
            bytes: 0,
            connect_errors: 0,
            read_errors: 0,
            write_errors: 0,
            timeouts: 0,
            non_2xx: 0,
            p50_us: 100,
            p90_us: 200,
            p99_us: 300,
            max_us: 400,
            mean_us: 120.0,
        }
    }

    fn cached(system: System, connections: u32, requests: u64, server_cpu_us: f64) -> CachedRow {
        CachedRow { system, connections, load: load(requests), server_cpu_us }
    }

    #[test]
    fn tails_are_the_median_of_each_rounds_own_ratio() {
        let round = |system, p50_us, p99_us| {
            let mut r = cached(system, TAIL_CONNECTIONS, 1_000, 10.0);
            r.load.p50_us = p50_us;
            r.load.p99_us = p99_us;
            r
        };
        let runs = [
            round(System::Tessera, 800, 1_360),
            round(System::Ceiling, 400, 800),
            round(System::Tessera, 800, 4_560),
            round(System::Ceiling, 400, 1_000),
            round(System::Tessera, 1_000, 1_800),
            round(System::Ceiling, 400, 840),
            cached(System::Tessera, 16, 1_000, 10.0),
        ];
        let t = tails(&runs, TAIL_CONNECTIONS);
        assert_eq!(t.len(), 2, "one per system measured at that count");
        assert_eq!((t[0].system, t[0].rounds.clone(), t[0].median), (System::Tessera, vec![1.7, 5.7, 1.8], 1.8));
        assert_eq!((t[1].system, t[1].median), (System::Ceiling, 2.1));
        assert!(tails(&runs, 1).is_empty());
    }

    #[test]
    fn ratios_pair_rows_by_connections() {
        let rows = vec![
            cached(System::Tessera, 16, 30_000, 40.0),
            cached(System::Peer, 16, 2_000, 500.0),
            cached(System::Ceiling, 16, 50_000, 16.0),
            cached(System::Tessera, 64, 10, 1.0),
            cached(System::Peer, 64, 10, 1.0),
        ];
        let r = ratios(&rows);
        assert_eq!(r.len(), 1, "64 has no ceiling row: no ratio");
        assert_eq!(r[0].connections, 16);
        assert!((r[0].times_peer - 15.0).abs() < 1e-9);
        assert!((r[0].share_of_ceiling - 0.6).abs() < 1e-9);
        assert!((r[0].cpu_vs_ceiling - 2.5).abs() < 1e-9);
    }

    #[test]
    fn median_run_per_cell() {
        let runs = vec![
            cached(System::Tessera, 16, 300, 1.0),
            cached(System::Tessera, 16, 100, 2.0),
            cached(System::Tessera, 16, 200, 3.0),
            cached(System::Peer, 16, 50, 4.0),
            cached(System::Peer, 16, 10, 5.0),
        ];
        let m = median_runs(&runs);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].system, m[0].load.requests, m[0].server_cpu_us), (System::Tessera, 200, 3.0));
        assert_eq!((m[1].system, m[1].load.requests), (System::Peer, 10), "even count: the lower middle");
    }

    #[test]
    fn single_flight_needs_one_call_and_one_token_for_all() {
        let f = FlightResult { concurrent: 8, upstream_calls: 1, same_token_answers: 8 };
        assert!(single_flight_holds(&f));
        assert!(!single_flight_holds(&FlightResult { upstream_calls: 2, ..f }));
        assert!(!single_flight_holds(&FlightResult { upstream_calls: 0, ..f }));
        assert!(!single_flight_holds(&FlightResult { same_token_answers: 7, ..f }));
    }
}
