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
    pub cached: Vec<CachedRow>,
    pub miss: MissResult,
    pub flight: FlightResult,
    pub peer_flight: FlightResult,
    pub memory: Vec<MemoryResult>,
    pub bundle: Option<Bundle>,
    /// `tessera_audit_not_persisted_total` after the run: audit records that overflowed to the log.
    pub audit_not_persisted: Option<u64>,
}

/// Tessera / peer and Tessera / ceiling throughput at one connection count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratios {
    pub connections: u32,
    pub times_peer: f64,
    pub share_of_ceiling: f64,
}

impl Ratios {
    pub fn meets_targets(&self) -> bool {
        self.times_peer >= MIN_TIMES_PEER && self.share_of_ceiling >= MIN_SHARE_OF_CEILING
    }
}

fn rps(rows: &[CachedRow], system: System, connections: u32) -> Option<f64> {
    rows.iter().find(|r| r.system == system && r.connections == connections).map(|r| r.load.rps())
}

/// The ratios at every connection count measured for all three systems.
pub fn ratios(rows: &[CachedRow]) -> Vec<Ratios> {
    let mut levels: Vec<u32> = rows.iter().map(|r| r.connections).collect();
    levels.sort_unstable();
    levels.dedup();
    levels
        .into_iter()
        .filter_map(|c| {
            let (t, p, b) = (rps(rows, System::Tessera, c)?, rps(rows, System::Peer, c)?, rps(rows, System::Ceiling, c)?);
            (p > 0.0 && b > 0.0).then(|| Ratios { connections: c, times_peer: t / p, share_of_ceiling: t / b })
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
            target: format!("cached throughput ≥ {:.0}% of bare axum, {} conn", MIN_SHARE_OF_CEILING * 100.0, r.connections),
            measured: format!("{:.0}%", r.share_of_ceiling * 100.0),
            met: r.share_of_ceiling >= MIN_SHARE_OF_CEILING,
        });
    }
    out.push(Verdict {
        target: format!("miss overhead ≤ {MAX_MISS_OVERHEAD_US:.0} µs median"),
        measured: format!("{:.0} µs", report.miss.overhead_p50_us),
        met: report.miss.overhead_p50_us <= MAX_MISS_OVERHEAD_US,
    });
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
    let _ = writeln!(s, "### Cached exchanges ({} s per run, same token every request)\n", report.seconds_per_load);
    let _ = writeln!(s, "| system | connections | requests/s | p50 | p99 |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    for system in System::ALL {
        for row in report.cached.iter().filter(|r| r.system == system) {
            #[allow(clippy::cast_precision_loss)]
            let (p50, p99) = (row.load.p50_us as f64, row.load.p99_us as f64);
            let _ =
                writeln!(s, "| {} | {} | {:.0} | {} | {} |", system.label(), row.connections, row.load.rps(), ms(p50), ms(p99));
        }
    }
    let _ = writeln!(s, "\n### Ratios (throughput)\n");
    let _ = writeln!(s, "| connections | Tessera / peer | Tessera / bare axum |");
    let _ = writeln!(s, "|---:|---:|---:|");
    for r in ratios(&report.cached) {
        let _ = writeln!(s, "| {} | {:.1}× | {:.0}% |", r.connections, r.times_peer, r.share_of_ceiling * 100.0);
    }
    let m = &report.miss;
    let _ = writeln!(s, "\n### Miss path ({} sequential misses, one connection)\n", m.rounds);
    let _ = writeln!(s, "| | p50 | p90 |");
    let _ = writeln!(s, "|---|---:|---:|");
    let _ = writeln!(s, "| Tessera `/token`, cache miss | {} | {} |", ms(m.sts_p50_us), ms(m.sts_p90_us));
    let _ = writeln!(s, "| same OBO request straight to the emulator | {} | {} |", ms(m.direct_p50_us), ms(m.direct_p90_us));
    let _ = writeln!(s, "| **Tessera overhead** (difference of medians) | **{}** | |", ms(m.overhead_p50_us));
    if let Some(inside) = m.inside_mean_us {
        let _ = writeln!(s, "| cross-check: mean(Tessera) − mean(upstream, from `/metrics`) | {} (mean) | |", ms(inside));
    }
    let (f, p) = (&report.flight, &report.peer_flight);
    let _ = writeln!(s, "\n### Single-flight ({} concurrent identical misses, upstream delayed)\n", f.concurrent);
    let _ = writeln!(s, "| system | upstream OBO calls | answers with the same token |");
    let _ = writeln!(s, "|---|---:|---:|");
    let _ = writeln!(s, "| Tessera | {} | {}/{} |", f.upstream_calls, f.same_token_answers, f.concurrent);
    let _ = writeln!(s, "| peer (msal-node) | {} | {}/{} |", p.upstream_calls, p.same_token_answers, p.concurrent);
    let _ = writeln!(s, "\n### Resident memory per cached token (in-process `sts::cache::MemoryCache`)\n");
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
            let _ = writeln!(s, "raw {} B ({:.1} KiB), gzip -9 {} B ({:.1} KiB)", b.raw, kib(b.raw), b.gzip, kib(b.gzip));
        }
        None => {
            let _ = writeln!(s, "not built (run `bash scripts/build-broker.sh`)");
        }
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

    fn row(system: System, connections: u32, requests: u64) -> CachedRow {
        CachedRow { system, connections, load: load(requests) }
    }

    #[test]
    fn ratios_pair_rows_by_connections() {
        let rows = vec![
            row(System::Tessera, 16, 30_000),
            row(System::Peer, 16, 2_000),
            row(System::Ceiling, 16, 50_000),
            row(System::Tessera, 64, 10),
            row(System::Peer, 64, 10),
        ];
        let r = ratios(&rows);
        assert_eq!(r.len(), 1, "64 has no ceiling row: no ratio");
        assert_eq!(r[0].connections, 16);
        assert!((r[0].times_peer - 15.0).abs() < 1e-9);
        assert!((r[0].share_of_ceiling - 0.6).abs() < 1e-9);
        assert!(r[0].meets_targets());
        assert!(!Ratios { connections: 1, times_peer: 9.9, share_of_ceiling: 0.9 }.meets_targets());
        assert!(!Ratios { connections: 1, times_peer: 20.0, share_of_ceiling: 0.49 }.meets_targets());
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
