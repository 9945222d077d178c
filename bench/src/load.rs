//! Closed-loop HTTP load with `wrk` (Debian's package; `bench/run.sh` installs it): every
//! connection sends the same token exchange as fast as answers come back. wrk is written in C
//! with an event loop per thread, so on a 2-core machine it takes less CPU from the server under
//! test than any load generator we could write; `bench/wrk/exchange.lua` builds the form and
//! prints the numbers as one JSON line this module parses.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sts::SubjectToken;

use crate::cpus::Cpus;

/// What wrk measured in one run.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
pub struct LoadResult {
    pub requests: u64,
    pub duration_us: u64,
    pub bytes: u64,
    pub connect_errors: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    pub timeouts: u64,
    /// Answers that were not 2xx/3xx.
    pub non_2xx: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

impl LoadResult {
    /// Completed requests per second.
    pub fn rps(&self) -> f64 {
        if self.duration_us == 0 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let rps = self.requests as f64 * 1e6 / self.duration_us as f64;
        rps
    }

    /// Why this run cannot be trusted: an error answer or a broken connection. A benchmark of
    /// failing requests measures the error path, not the exchange.
    pub fn problem(&self) -> Option<String> {
        let errors = self.connect_errors + self.read_errors + self.write_errors + self.timeouts;
        if self.requests == 0 {
            Some("no request completed".into())
        } else if self.non_2xx > 0 {
            Some(format!("{} of {} answers were not 2xx", self.non_2xx, self.requests))
        } else if errors > 0 {
            Some(format!(
                "socket errors: connect {}, read {}, write {}, timeout {}",
                self.connect_errors, self.read_errors, self.write_errors, self.timeouts
            ))
        } else {
            None
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("could not run wrk (is it installed? bench/run.sh installs it): {0}")]
    Spawn(#[from] std::io::Error),
    #[error("wrk failed ({status}): {stderr}")]
    Failed { status: String, stderr: String },
    #[error("wrk printed no BENCH_JSON line; its output was:\n{0}")]
    NoSummary(String),
    #[error("wrk's BENCH_JSON line does not parse: {0}")]
    BadSummary(#[from] serde_json::Error),
}

/// Reads the `BENCH_JSON {...}` line the Lua script's `done` prints.
pub fn parse_summary(stdout: &str) -> Result<LoadResult, LoadError> {
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("BENCH_JSON "))
        .ok_or_else(|| LoadError::NoSummary(stdout.to_owned()))?;
    Ok(serde_json::from_str(line)?)
}

/// One wrk run's shape.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub connections: u32,
    pub duration: Duration,
}

/// wrk threads for `connections`: one event loop per core it may use at most, never more than
/// connections.
/// On the 2-core benchmark machine two threads drove the bare axum ceiling a little harder than
/// one (83–104k against 80–90k requests/s at 16 and 64 connections), so wrk is not what limits
/// the fastest system; every system gets the same setting.
pub fn threads_for(connections: u32, cores: u32) -> u32 {
    connections.clamp(1, cores.max(1))
}

/// Runs wrk against `url` (`…/token`) with the exchange script, on the load generator's CPUs.
pub async fn run(
    script: &Path,
    url: &str,
    subject_token: &SubjectToken,
    scope: &str,
    shape: Shape,
    cpus: &Cpus,
) -> Result<LoadResult, LoadError> {
    let secs = shape.duration.as_secs().max(1);
    let output = cpus
        .load("wrk")
        .arg(format!("--threads={}", threads_for(shape.connections, cpus.load_cores)))
        .arg(format!("--connections={}", shape.connections))
        .arg(format!("--duration={secs}s"))
        .arg("--timeout=10s")
        .arg("--script")
        .arg(script)
        .arg(url)
        // The token goes through the environment, never a file or the command line (ps shows that).
        .env("BENCH_SUBJECT_TOKEN", subject_token.expose())
        .env("BENCH_SCOPE", scope)
        .kill_on_drop(true)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(LoadError::Failed {
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    parse_summary(&stdout)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const OUTPUT: &str = "Running 1s test @ http://127.0.0.1:1/token\n  2 threads and 16 connections\n\
        BENCH_JSON {\"requests\":1000,\"duration_us\":500000,\"bytes\":99,\"connect_errors\":0,\"read_errors\":0,\
        \"write_errors\":0,\"timeouts\":0,\"non_2xx\":0,\"p50_us\":100,\"p90_us\":150,\"p99_us\":300,\"max_us\":900,\"mean_us\":110.5}\n";

    #[test]
    fn parses_the_summary_line_and_computes_rps() {
        let r = parse_summary(OUTPUT).unwrap();
        assert_eq!((r.requests, r.p50_us, r.p99_us), (1000, 100, 300));
        assert!((r.rps() - 2000.0).abs() < 1e-9);
        assert_eq!(r.problem(), None);
    }

    #[test]
    fn missing_or_broken_summary_is_an_error() {
        assert!(matches!(parse_summary("Running 1s test\n"), Err(LoadError::NoSummary(_))));
        assert!(matches!(parse_summary("BENCH_JSON {\"requests\":"), Err(LoadError::BadSummary(_))));
    }

    #[test]
    fn error_answers_and_socket_errors_are_problems() {
        let ok = parse_summary(OUTPUT).unwrap();
        assert!(LoadResult { non_2xx: 1, ..ok }.problem().unwrap().contains("not 2xx"));
        assert!(LoadResult { timeouts: 2, ..ok }.problem().unwrap().contains("timeout 2"));
        assert!(LoadResult { requests: 0, ..ok }.problem().is_some());
    }

    #[test]
    fn threads_never_exceed_connections_or_cores() {
        assert_eq!(threads_for(1, 2), 1);
        assert_eq!(threads_for(16, 2), 2);
        assert_eq!(threads_for(64, 8), 8);
        assert_eq!(threads_for(0, 0), 1);
    }
}
