//! `tessera-bench run`: the whole benchmark, in the order that keeps measurements apart — the
//! stack (`sts demo`), the peer and the ceiling start; cached load against each; the miss path;
//! single-flight; then, with every server stopped, cache memory and the bundle size.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use sts::SubjectToken;
use tokio::process::Command;

use crate::cpus::Cpus;
use crate::load::{self, Shape};
use crate::memory::MemoryResult;
use crate::procs::Service;
use crate::report::{self, Bundle, CachedRow, Report, System};
use crate::stack::{Emulator, Info, exchange};
use crate::{miss, scale, single_flight};

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Tiny durations and sizes: checks that everything works (CI), numbers are not meaningful.
    #[arg(long)]
    pub smoke: bool,
    /// The release `sts` binary (built with `--features sts/demo`, as bench/run.sh does).
    #[arg(long, default_value = "target/release/sts")]
    pub sts_bin: PathBuf,
    /// The peer (`npm ci` done).
    #[arg(long, default_value = "bench/peer")]
    pub peer_dir: PathBuf,
    #[arg(long, default_value = "bench/wrk/exchange.lua")]
    pub wrk_script: PathBuf,
    /// Where the broker bundle is (`bash scripts/build-broker.sh`).
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
    /// Logs, state and the report (`report.md`, `report.json`).
    #[arg(long, default_value = "target/bench")]
    pub out: PathBuf,
    /// Seconds per cached-load run (default 5, three rounds; smoke 1, one round).
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Only the three-instance run on Redis (printed as JSON; no report is written).
    #[arg(long)]
    pub scale_only: bool,
    /// Let wrk and the servers share every CPU, the placement of every run before 2026-12-03
    /// (evening). By default wrk is pinned to its own CPU(s) and every server to the others
    /// (`cpus`): shared, the bare axum endpoint's own p99 is 10–26× its p50, so the tail measures
    /// the kernel's scheduling of wrk against the server rather than any server (BENCHMARKS.md,
    /// "the tail at 64 connections").
    #[arg(long)]
    pub shared: bool,
}

/// Sizes of one run.
struct Plan {
    /// One cached-load run; `rounds` of them per system and connection count.
    load: Duration,
    rounds: u32,
    warmup: Duration,
    connections: [u32; 3],
    miss_rounds: usize,
    miss_warmup: usize,
    flight: usize,
    flight_delay_ms: u64,
    memory_entries: [u64; 2],
    /// Interleaved rounds and round-robin tokens of the three-instance run.
    scale_rounds: usize,
    scale_rr_tokens: u64,
}

impl Plan {
    fn new(args: &RunArgs) -> Self {
        let (secs, warm, rounds) = if args.smoke { (1, 1, 1) } else { (5, 3, 3) };
        let load = Duration::from_secs(args.seconds.unwrap_or(secs));
        let connections = [1, 16, 64];
        if args.smoke {
            Self {
                load,
                rounds,
                warmup: Duration::from_secs(warm),
                connections,
                miss_rounds: 10,
                miss_warmup: 2,
                flight: 16,
                flight_delay_ms: 200,
                memory_entries: [1_000, 10_000],
                scale_rounds: 10,
                scale_rr_tokens: 5,
            }
        } else {
            Self {
                load,
                rounds,
                warmup: Duration::from_secs(warm),
                connections,
                miss_rounds: 300,
                miss_warmup: 10,
                flight: 64,
                flight_delay_ms: 300,
                memory_entries: [10_000, 100_000],
                scale_rounds: 300,
                scale_rr_tokens: 100,
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct Ready {
    url: String,
}

/// `sts demo` on free ports, fresh state, no page, quiet logs.
fn start_sts(args: &RunArgs, out: &Path, cpus: &Cpus) -> anyhow::Result<Service> {
    let state = out.join("state");
    if state.exists() {
        std::fs::remove_dir_all(&state).with_context(|| format!("clearing {}", state.display()))?;
    }
    let mut cmd = cpus.server(&args.sts_bin);
    cmd.arg("demo")
        .arg("--state-dir")
        .arg(&state)
        .args(["--sts-port", "0", "--emulator-port", "0", "--page-port", "0", "--no-page", "--log-level", "warn"])
        .arg("--write-info")
        .arg(out.join("info.json"));
    Service::spawn("STS (sts demo)", cmd, &out.join("sts.log"))
}

fn start_peer(args: &RunArgs, out: &Path, info: &Info, cpus: &Cpus) -> anyhow::Result<Service> {
    let host = info.emulator_https.clone();
    let mut cmd = cpus.server("node");
    cmd.arg(args.peer_dir.join("server.js"))
        .env("NODE_EXTRA_CA_CERTS", &info.ca_file)
        .env("PEER_PORT", "0")
        .env("PEER_READY_FILE", out.join("peer-ready.json"))
        .env("PEER_AUTHORITY_HOST", host)
        .env("PEER_TENANT", &info.tenant)
        .env("PEER_CLIENT_ID", &info.client_app_id)
        .env("PEER_BROKER_APP_ID", &info.broker_app_id)
        .env("PEER_REQUIRED_SCOPE", "access_as_user")
        .env("PEER_CERT_PEM", &info.cert_pem)
        .env("PEER_KEY_PEM", &info.key_pem);
    Service::spawn("peer (node)", cmd, &out.join("peer.log"))
}

fn start_ceiling(out: &Path, body_len: usize, cpus: &Cpus) -> anyhow::Result<Service> {
    let mut cmd = cpus.server(std::env::current_exe()?);
    cmd.arg("ceiling")
        .arg("--body-len")
        .arg(body_len.to_string())
        .arg("--ready-file")
        .arg(out.join("ceiling-ready.json"));
    Service::spawn("bare axum ceiling", cmd, &out.join("ceiling.log"))
}

async fn memory(entries: u64, token_bytes: usize) -> anyhow::Result<MemoryResult> {
    let output = Command::new(std::env::current_exe()?)
        .args(["memory", "--entries", &entries.to_string(), "--token-bytes", &token_bytes.to_string()])
        .output()
        .await?;
    if !output.status.success() {
        bail!("memory measurement failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

async fn bundle(dist: &Path) -> anyhow::Result<Option<Bundle>> {
    let path = dist.join("tessera-broker.js");
    let Ok(meta) = std::fs::metadata(&path) else { return Ok(None) };
    let gz = Command::new("gzip").args(["-9", "-c"]).arg(&path).output().await.context("running gzip")?;
    if !gz.status.success() {
        bail!("gzip failed on {}", path.display());
    }
    Ok(Some(Bundle { raw: meta.len(), gzip: gz.stdout.len() as u64 }))
}

async fn metric(http: &reqwest::Client, metrics_url: &str, name: &str) -> Option<u64> {
    let text = http.get(metrics_url).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn first_three(loadavg: &str) -> String {
    loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The machine, for the report: CPU model, cores, memory.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 =
        meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")?.split_whitespace().next()?.parse().ok()).unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    let gib = mem_kb as f64 / (1024.0 * 1024.0);
    format!("{model}, {cores} cores (nproc), {gib:.1} GiB RAM, Linux")
}

/// What every cached-load run shares.
struct LoadCtx<'a> {
    script: &'a Path,
    token: &'a SubjectToken,
    scope: &'a str,
    cpus: &'a Cpus,
    tick_hz: u64,
}

/// Cached load, interleaved: each round runs every connection count against the three systems
/// back to back, so a burst of other work on the machine hits them alike. Returns every run;
/// the report keeps each cell's median-throughput round.
async fn cached_load(
    ctx: &LoadCtx<'_>,
    targets: &mut [(System, String, &mut Service)],
    plan: &Plan,
    step: &impl Fn(&str),
) -> anyhow::Result<Vec<CachedRow>> {
    for (system, base, _) in targets.iter() {
        step(&format!("cached load warm-up: {} ({:?})", system.label(), plan.warmup));
        let warm = Shape { connections: 16, duration: plan.warmup };
        load::run(ctx.script, &format!("{base}/token"), ctx.token, ctx.scope, warm, ctx.cpus).await?;
    }
    let mut runs = Vec::new();
    for round in 1..=plan.rounds {
        for &connections in &plan.connections {
            for (system, base, service) in targets.iter_mut() {
                let shape = Shape { connections, duration: plan.load };
                let ticks_before = service.cpu_ticks()?;
                let url = format!("{base}/token");
                let result = load::run(ctx.script, &url, ctx.token, ctx.scope, shape, ctx.cpus).await?;
                let ticks = service.cpu_ticks()? - ticks_before;
                service.check_alive()?;
                if let Some(problem) = result.problem() {
                    bail!("{} at {connections} connections: {problem}", system.label());
                }
                #[allow(clippy::cast_precision_loss)]
                let server_cpu_us = ticks as f64 * 1e6 / ctx.tick_hz as f64 / result.requests.max(1) as f64;
                step(&format!(
                    "  round {round}, {connections:>2} conn, {:<22} {:>7.0} req/s, p50 {:>6} µs, p99 {:>7} µs, server CPU {server_cpu_us:>4.0} µs/req",
                    system.label(),
                    result.rps(),
                    result.p50_us,
                    result.p99_us
                ));
                runs.push(CachedRow { system: *system, connections, load: result, server_cpu_us });
            }
        }
    }
    Ok(runs)
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let plan = Plan::new(&args);
    let out = args.out.clone();
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for f in ["info.json", "peer-ready.json", "ceiling-ready.json"] {
        let _ = std::fs::remove_file(out.join(f));
    }
    let cores = u32::try_from(std::thread::available_parallelism().map_or(1, std::num::NonZero::get)).unwrap_or(1);
    let tick_hz = crate::procs::clock_ticks_per_sec();
    // Pinned unless `--shared` (see `cpus` for what pinning is for). The three-instance run keeps
    // its own placement (every instance shares the CPUs, as in production on one host).
    let cpus = if args.shared || args.scale_only { Cpus::shared(cores) } else { Cpus::split(cores) };
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let step = |what: &str| eprintln!("[{:>5.1}s] {what}", started.elapsed().as_secs_f64());

    step("starting sts demo (emulator + STS, release build)");
    step(&format!("CPU placement: {}", cpus.describe()));
    let mut sts = start_sts(&args, &out, &cpus)?;
    let info: Info = sts.ready(&out.join("info.json"), Duration::from_secs(120)).await?;
    let http = reqwest::Client::new();
    let emulator = Emulator::new(http.clone(), &info);

    if args.scale_only {
        step("three instances on Redis only");
        let x = scale::measure(&args.sts_bin, &out, &info, &emulator, plan.scale_rounds, plan.scale_rr_tokens).await?;
        println!("{}", serde_json::to_string_pretty(&x)?);
        sts.stop().await;
        return Ok(());
    }

    step("starting the peer (node + msal-node)");
    let mut peer = start_peer(&args, &out, &info, &cpus)?;
    let peer_url = peer.ready::<Ready>(&out.join("peer-ready.json"), Duration::from_secs(60)).await?.url;

    // One user token for all cached runs; its first exchange at each system fills the caches.
    let hot = emulator.user_token().await?;
    let first = exchange(&http, &info.sts, &hot, &info.scope).await?;
    first.ensure_ok("Tessera")?;
    let backend_token_len = first.access_token().context("Tessera answered without access_token")?.expose().len();
    let peer_first = exchange(&http, &peer_url, &hot, &info.scope).await?;
    peer_first.ensure_ok("the peer")?;
    peer_first.access_token().context("the peer answered without access_token")?;

    step("starting the bare axum ceiling");
    let mut ceiling = start_ceiling(&out, first.body.expose().len(), &cpus)?;
    let ceiling_url = ceiling.ready::<Ready>(&out.join("ceiling-ready.json"), Duration::from_secs(30)).await?.url;

    let ctx = LoadCtx { script: &args.wrk_script, token: &hot, scope: &info.scope, cpus: &cpus, tick_hz };
    let upstream_before = emulator.obo_requests().await?;
    let mut targets = [
        (System::Tessera, info.sts.clone(), &mut sts),
        (System::Peer, peer_url.clone(), &mut peer),
        (System::Ceiling, ceiling_url.clone(), &mut ceiling),
    ];
    let runs = cached_load(&ctx, &mut targets, &plan, &step).await?;
    let upstream = emulator.obo_requests().await? - upstream_before;
    if upstream != 0 {
        bail!("the cached runs reached the emulator {upstream} times — they were not all cache hits");
    }
    let cached = report::median_runs(&runs);
    let tails = report::tails(&runs, report::TAIL_CONNECTIONS);
    ceiling.stop().await;

    step(&format!("miss path: {} rounds", plan.miss_rounds));
    let miss = miss::measure(&info, &emulator, plan.miss_rounds, plan.miss_warmup).await?;
    step(&format!("single-flight: {} concurrent identical misses", plan.flight));
    let flight = single_flight::burst(&emulator, &info.sts, &info.scope, plan.flight, plan.flight_delay_ms).await?;
    let peer_flight =
        single_flight::burst(&emulator, &peer_url, &info.scope, plan.flight, plan.flight_delay_ms).await?;
    let audit_not_persisted = metric(&http, &info.metrics, "tessera_audit_not_persisted_total").await;
    let scale = if scale::redis_available() {
        step(&format!(
            "three instances on Redis: {} interleaved rounds, {} round-robin tokens",
            plan.scale_rounds, plan.scale_rr_tokens
        ));
        Some(scale::measure(&args.sts_bin, &out, &info, &emulator, plan.scale_rounds, plan.scale_rr_tokens).await?)
    } else {
        step("three instances on Redis: skipped (no Redis on 127.0.0.1:6379; bash scripts/services.sh starts one)");
        None
    };
    sts.check_alive()?;
    peer.check_alive()?;
    peer.stop().await;
    sts.stop().await;

    step("cache memory (separate processes)");
    let mut mem = Vec::new();
    for entries in plan.memory_entries {
        mem.push(memory(entries, backend_token_len).await?);
    }
    let bundle = bundle(&args.dist).await?;

    let report = Report {
        smoke: args.smoke,
        seconds_per_load: plan.load.as_secs(),
        rounds: plan.rounds,
        cached,
        miss,
        flight,
        peer_flight,
        memory: mem,
        bundle,
        audit_not_persisted,
        scale,
        tails,
    };
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let md = format!(
        "Machine: {}\nCommand: `bash bench/run.sh{}` — total {:.0} s\nCPU placement: {}\n\
         Load average (1/5/15 min) at start: {}; at the end: {}\n\n{}",
        machine(),
        if args.smoke {
            " --smoke"
        } else if args.shared {
            " --shared"
        } else {
            ""
        },
        started.elapsed().as_secs_f64(),
        cpus.describe(),
        first_three(&load_before),
        first_three(&load_after),
        report::markdown(&report)
    );
    println!("\n{md}");
    std::fs::write(out.join("report.md"), &md)?;
    std::fs::write(out.join("report.json"), serde_json::to_vec_pretty(&report)?)?;
    eprintln!("report written to {}", out.join("report.md").display());
    if !report::single_flight_holds(&report.flight) {
        bail!(
            "single-flight broken: {} concurrent misses made {} upstream calls ({} answers with the shared token)",
            report.flight.concurrent,
            report.flight.upstream_calls,
            report.flight.same_token_answers
        );
    }
    Ok(())
}
