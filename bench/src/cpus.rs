//! Which CPUs the load generator and the servers under test run on during the cached load.
//!
//! Unpinned, on a 2-core machine, wrk's two event loops and the server's two tokio workers take
//! turns on the same two cores: a request is often ready at the server while its worker sits in
//! the run queue behind wrk (or the other way round), and the 99th percentile measures that
//! scheduling. The bare axum endpoint, which does almost nothing per request, showed p99 = 17×
//! p50 at 64 connections that way (BENCHMARKS.md, 2026-12-03): the tail was the scheduler's, not
//! the server's. Pinned ([`Cpus::split`]), wrk runs on its own CPU(s) with one thread per CPU and
//! every server (Tessera's `sts demo`, the msal-node peer, the bare axum ceiling — always all
//! three alike) on the others, where the server's own runtime sizes itself to them
//! (`available_parallelism` honours the affinity mask). Throughputs are then those of a server
//! with fewer cores, so only ratios compare with unpinned runs. The default since 2026-12-03
//! (evening), when pinned bare axum's p99 was 1.9–2.0× its p50 at 64 connections against 10–26×
//! unpinned (BENCHMARKS.md, "the tail at 64 connections"). Pinning cannot help when other work
//! lands on the servers' CPU (another session's browser did, in the pinned run of the morning of
//! 2026-12-03, and bare axum's tail was 14.5× then): read a run's load average with its tail.
//! `bash bench/run.sh --shared` is the earlier placement.

use std::ffi::OsStr;

use tokio::process::Command;

/// The CPU lists (`taskset -c` syntax) for the load generator and the servers; `None` = unpinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpus {
    pub load: Option<String>,
    pub servers: Option<String>,
    /// CPUs the load generator may use (its thread count).
    pub load_cores: u32,
}

impl Cpus {
    /// Unpinned: everything shares all `cores`.
    pub fn shared(cores: u32) -> Self {
        Self { load: None, servers: None, load_cores: cores.max(1) }
    }

    /// A quarter of the CPUs (at least one) for the load generator, the rest for the servers;
    /// unpinned when there is only one CPU or `taskset` is missing.
    pub fn split(cores: u32) -> Self {
        if cores < 2 || std::process::Command::new("taskset").arg("-V").output().is_err() {
            return Self::shared(cores);
        }
        let load_cores = (cores / 4).max(1);
        Self { load: Some(range(0, load_cores - 1)), servers: Some(range(load_cores, cores - 1)), load_cores }
    }

    /// `program` as a server: on the servers' CPUs when pinned (taskset sets the mask and execs
    /// the program, so the child's pid — and its `/proc` CPU time — is the server's).
    pub fn server(&self, program: impl AsRef<OsStr>) -> Command {
        pinned(self.servers.as_deref(), program)
    }

    /// `program` as the load generator.
    pub fn load(&self, program: impl AsRef<OsStr>) -> Command {
        pinned(self.load.as_deref(), program)
    }

    /// For the report.
    pub fn describe(&self) -> String {
        match (&self.load, &self.servers) {
            (Some(l), Some(s)) => format!("wrk pinned to CPU {l}, every server to CPU {s} (taskset)"),
            _ => "unpinned: wrk and the servers share every CPU".to_owned(),
        }
    }
}

fn range(first: u32, last: u32) -> String {
    if first == last { first.to_string() } else { format!("{first}-{last}") }
}

fn pinned(cpus: Option<&str>, program: impl AsRef<OsStr>) -> Command {
    match cpus {
        Some(list) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(list).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_for_the_load_at_least_one_and_the_rest_for_the_servers() {
        let two = Cpus { load: Some("0".into()), servers: Some("1".into()), load_cores: 1 };
        let eight = Cpus { load: Some("0-1".into()), servers: Some("2-7".into()), load_cores: 2 };
        if std::process::Command::new("taskset").arg("-V").output().is_ok() {
            assert_eq!(Cpus::split(2), two);
            assert_eq!(Cpus::split(8), eight);
        }
        assert_eq!(Cpus::split(1), Cpus::shared(1));
        assert_eq!(Cpus::shared(0).load_cores, 1);
    }

    #[test]
    fn pinned_commands_go_through_taskset() {
        let cpus = Cpus { load: Some("0".into()), servers: Some("1-3".into()), load_cores: 1 };
        let cmd = cpus.server("sts");
        let std = cmd.as_std();
        assert_eq!(std.get_program(), "taskset");
        assert_eq!(std.get_args().collect::<Vec<_>>(), ["-c", "1-3", "sts"]);
        assert_eq!(Cpus::shared(2).load("wrk").as_std().get_program(), "wrk");
    }
}
