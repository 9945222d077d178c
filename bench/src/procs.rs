//! The processes under test (`sts demo`, the Node peer, the axum ceiling): started with their
//! output in a log file, awaited until they write their "ready" JSON file, stopped with SIGTERM
//! so they shut down as in production — and killed if the benchmark itself fails halfway.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// A child process that is killed when dropped.
#[derive(Debug)]
pub struct Service {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Service {
    /// Starts `command` with stdout and stderr appended to `log`.
    pub fn spawn(name: &'static str, mut command: Command, log: &Path) -> anyhow::Result<Self> {
        let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting the {name}"))?;
        Ok(Self { name, child, log: log.to_path_buf() })
    }

    /// Waits until `file` exists and parses as JSON (it is written once the service listens);
    /// fails early, with the log's tail, if the process exits first.
    pub async fn ready<T: serde::de::DeserializeOwned>(&mut self, file: &Path, timeout: Duration) -> anyhow::Result<T> {
        let started = Instant::now();
        loop {
            if let Ok(bytes) = std::fs::read(file)
                && let Ok(value) = serde_json::from_slice(&bytes)
            {
                return Ok(value);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("the {} exited before it was ready ({status}):\n{}", self.name, self.log_tail());
            }
            if started.elapsed() > timeout {
                bail!("the {} was not ready after {timeout:?}:\n{}", self.name, self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails if the process has exited (a crash under load must not pass unnoticed).
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the {} exited during the benchmark ({status}):\n{}", self.name, self.log_tail());
        }
        Ok(())
    }

    /// CPU time (user + system, all threads) the process has used so far, in clock ticks.
    pub fn cpu_ticks(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("the process has exited")?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("reading /proc/PID/stat")?;
        parse_cpu_ticks(&stat).context("unexpected /proc/PID/stat format")
    }

    /// SIGTERM (graceful shutdown), then SIGKILL after five seconds.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // std has no signal API and `unsafe` (libc) is forbidden: kill(1) sends it.
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
            if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_ok() {
                return;
            }
        }
        let _ = self.child.kill().await;
    }

    /// The last lines of the log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(30);
        format!("--- last lines of {} ---\n{}", self.log.display(), lines[from..].join("\n"))
    }
}

/// `utime + stime` from a `/proc/PID/stat` line. The command name (field 2) is in parentheses and
/// may contain spaces, so fields are counted after the last `)`: utime and stime are fields 14 and
/// 15 of the line, i.e. the 12th and 13th after it.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when that fails).
pub fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_utime_plus_stime_even_with_spaces_in_the_name() {
        let stat = "4242 (tokio rt) S 1 4242 4242 0 -1 4194560 800 0 0 0 1234 56 0 0 20 0 6 0 100 432120 13118";
        assert_eq!(parse_cpu_ticks(stat), Some(1290));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }
}
