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
