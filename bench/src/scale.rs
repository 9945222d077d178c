//! The three-instance run (issue 15): three `sts serve` processes sharing the machine's Redis,
//! plus a fourth without Redis for comparison, all on the demo's emulator and registry.
//!
//! Rounds interleave, so drift hits every series alike: a fresh user token's miss at A (Redis on:
//! memory miss, Redis miss, lock, Entra, entry written), the same token at B (a Redis hit), another
//! fresh token's miss at D (no Redis), and the hot token at A (a memory hit). Then a load balancer's
//! pattern: fresh tokens, each asked six times round robin over A, B, C — the share of hits that
//! Redis served, and the upstream calls (one per token).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use serde::Serialize;
use tokio::process::Command;

use crate::procs::Service;
use crate::stack::{Emulator, Info, exchange};
use crate::stats::{median, micros, quantile};

/// The Redis the run uses (database 14, a prefix of its own, deleted afterwards).
pub const REDIS_URL: &str = "redis://127.0.0.1:6379/14";

/// The numbers of the three-instance run (µs).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ScaleResult {
    pub rounds: usize,
    pub l1_hit_p50_us: f64,
    pub l1_hit_p99_us: f64,
    pub l2_hit_p50_us: f64,
    pub l2_hit_p99_us: f64,
    pub miss_redis_p50_us: f64,
    pub miss_memory_p50_us: f64,
    /// median(miss with Redis) − median(miss without).
    pub miss_redis_overhead_p50_us: f64,
    /// Round-robin pattern: tokens, requests, hits served by Redis, all hits, upstream calls.
    pub rr_tokens: u64,
    pub rr_requests: u64,
    pub rr_shared_hits: u64,
    pub rr_hits: u64,
    pub rr_upstream: u64,
}

struct Instance {
    base: String,
    /// Its operators' listener: the `/metrics` URL.
    metrics: String,
    service: Service,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn toml_str(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

/// One `sts serve` on the demo's emulator and registry (its SQLite file, read only: the demo
/// applied the migrations), with the shared cache when `redis` is given (prefix, key file).
async fn start(
    sts_bin: &Path,
    out: &Path,
    info: &Info,
    name: &'static str,
    redis: Option<(&str, &Path)>,
) -> anyhow::Result<Instance> {
    let (port, metrics_port) = (free_port()?, free_port()?);
    let mut toml = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n\
         [registry]\nsqlite_path = {}\nmigrate_on_start = false\npoll_interval_secs = 3600\n\
         [entra]\nauthority = {:?}\nbroker_app_id = {:?}\n\
         [audit]\nspool_dir = {}\n\
         [log]\nlevel = \"warn\"\n",
        toml_str(&out.join("state").join("registry.db")),
        info.emulator_http,
        info.broker_app_id,
        toml_str(&out.join(format!("spool-{name}"))),
    );
    if let Some((prefix, keys)) = redis {
        toml.push_str(&format!(
            "[cache]\nredis_url = {REDIS_URL:?}\nredis_keys_file = {}\nredis_prefix = {prefix:?}\n",
            toml_str(keys)
        ));
    }
    toml.push_str(&format!(
        "[[credentials]]\nclient_app_id = {:?}\ncert_pem = {}\nkey_pem = {}\n",
        info.client_app_id,
        toml_str(&info.cert_pem),
        toml_str(&info.key_pem)
    ));
    let file = out.join(format!("scale-{name}.toml"));
    std::fs::write(&file, toml)?;
    let mut cmd = Command::new(sts_bin);
    cmd.arg("serve").arg("--config").arg(&file);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TESSERA_") {
            cmd.env_remove(k);
        }
    }
    let mut service = Service::spawn(name, cmd, &out.join(format!("scale-{name}.log")))?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(Instance { base, metrics: format!("http://127.0.0.1:{metrics_port}/metrics"), service });
        }
        service.check_alive()?;
        if started.elapsed() > Duration::from_secs(30) {
            bail!("{name} did not listen within 30 s:\n{}", service.log_tail());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn timed(http: &reqwest::Client, base: &str, token: &sts::SubjectToken, scope: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let answer = exchange(http, base, token, scope).await?;
    let took = started.elapsed();
    answer.ensure_ok(base)?;
    Ok(took)
}

async fn counter(http: &reqwest::Client, metrics_url: &str, name: &str) -> anyhow::Result<u64> {
    let text = http.get(metrics_url).send().await?.text().await?;
    Ok(text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0))
}

/// Whether the machine's Redis answers (the run is skipped, and says so, when it does not).
pub fn redis_available() -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], 6379).into(), Duration::from_millis(300)).is_ok()
}

pub async fn measure(
    sts_bin: &Path,
    out: &Path,
    info: &Info,
    emulator: &Emulator,
    rounds: usize,
    rr_tokens: u64,
) -> anyhow::Result<ScaleResult> {
    let prefix = format!("tessera-bench-{}:", uuid::Uuid::new_v4().simple());
    let keys: PathBuf = out.join("scale-keys");
    let key: Vec<u8> = uuid::Uuid::new_v4().as_bytes().iter().chain(uuid::Uuid::new_v4().as_bytes()).copied().collect();
    std::fs::write(&keys, format!("b1 {}\n", base64::engine::general_purpose::STANDARD.encode(key)))?;
    let shared = Some((prefix.as_str(), keys.as_path()));
    let mut a = start(sts_bin, out, info, "sts-a", shared).await?;
    let mut b = start(sts_bin, out, info, "sts-b", shared).await?;
    let mut c = start(sts_bin, out, info, "sts-c", shared).await?;
    let mut d = start(sts_bin, out, info, "sts-d (no Redis)", None).await?;
    let result = run_rounds([&a, &b, &c, &d], info, emulator, rounds, rr_tokens).await;
    for i in [&mut a, &mut b, &mut c, &mut d] {
        i.service.check_alive()?;
    }
    for i in [a, b, c, d] {
        i.service.stop().await;
    }
    let _ = delete_prefix(&prefix).await;
    result
}

async fn run_rounds(
    instances: [&Instance; 4],
    info: &Info,
    emulator: &Emulator,
    rounds: usize,
    rr_tokens: u64,
) -> anyhow::Result<ScaleResult> {
    let [a, b, c, d] = instances.map(|i| &i.base);
    let [_, metrics_b, ..] = instances.map(|i| &i.metrics);
    let http = reqwest::Client::new();
    let scope = info.scope.as_str();
    let hot = emulator.user_token().await?;
    timed(&http, a, &hot, scope).await?;
    let (mut l1, mut l2, mut miss_redis, mut miss_memory) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds + 3 {
        let t1 = emulator.user_token().await?;
        let t2 = emulator.user_token().await?;
        let (m, h2, mm, h1) = (
            timed(&http, a, &t1, scope).await?,
            timed(&http, b, &t1, scope).await?,
            timed(&http, d, &t2, scope).await?,
            timed(&http, a, &hot, scope).await?,
        );
        if round >= 3 {
            // the first rounds warm connections and keys
            miss_redis.push(m);
            l2.push(h2);
            miss_memory.push(mm);
            l1.push(h1);
        }
    }
    let shared_b = counter(&http, metrics_b, "tessera_cache_shared_hits_total").await?;
    if shared_b < u64::try_from(rounds).unwrap_or(0) {
        bail!("B served {shared_b} of {rounds} second asks from Redis: the shared cache is not working");
    }

    // The load balancer's pattern.
    let before_up = emulator.obo_requests().await?;
    let sum = |name: &'static str| {
        let http = http.clone();
        async move {
            let mut n = 0;
            for i in &instances[..3] {
                n += counter(&http, &i.metrics, name).await?;
            }
            anyhow::Ok(n)
        }
    };
    let (shared0, hits0) = (sum("tessera_cache_shared_hits_total").await?, sum("tessera_cache_hits_total").await?);
    let instances = [a, b, c];
    let mut requests = 0;
    for i in 0..rr_tokens {
        let t = emulator.user_token().await?;
        for k in 0..6u64 {
            let base = instances[usize::try_from((i + k) % 3).unwrap_or(0)];
            exchange(&http, base, &t, scope).await?.ensure_ok(base)?;
            requests += 1;
        }
    }
    let rr_upstream = emulator.obo_requests().await? - before_up;
    let rr_shared_hits = sum("tessera_cache_shared_hits_total").await? - shared0;
    let rr_hits = sum("tessera_cache_hits_total").await? - hits0;

    let p = |v: &[Duration], q: f64| quantile(v, q).map_or(0.0, micros);
    let m = |v: &[Duration]| median(v).map_or(0.0, micros);
    Ok(ScaleResult {
        rounds,
        l1_hit_p50_us: m(&l1),
        l1_hit_p99_us: p(&l1, 0.99),
        l2_hit_p50_us: m(&l2),
        l2_hit_p99_us: p(&l2, 0.99),
        miss_redis_p50_us: m(&miss_redis),
        miss_memory_p50_us: m(&miss_memory),
        miss_redis_overhead_p50_us: m(&miss_redis) - m(&miss_memory),
        rr_tokens,
        rr_requests: requests,
        rr_shared_hits,
        rr_hits,
        rr_upstream,
    })
}

/// Deletes the run's keys (through `redis-cli`, which the Redis package installs).
async fn delete_prefix(prefix: &str) -> anyhow::Result<()> {
    let script = format!("redis-cli -n 14 --scan --pattern '{prefix}*' | xargs -r redis-cli -n 14 DEL >/dev/null");
    let status = Command::new("sh").arg("-c").arg(script).status().await.context("redis-cli")?;
    if !status.success() {
        bail!("deleting the benchmark's Redis keys failed");
    }
    Ok(())
}
