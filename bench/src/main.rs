//! `tessera-bench`: the reproducible benchmark of issue 6 (run it with `bash bench/run.sh`).
//!
//! - [`run`] — the whole benchmark: starts `sts demo` (emulator + release STS), the msal-node
//!   peer (`bench/peer`) and the bare axum ceiling ([`ceiling`]), then measures cached load
//!   ([`load`], wrk), the miss path ([`miss`]), single-flight ([`single_flight`]) and cache
//!   memory ([`memory`]), the three-instance run on Redis ([`scale`]), and prints the [`report`].
//! - [`stack`] — the demo's `--write-info`, the emulator's admin API, `POST /token`.
//! - [`cpus`] — wrk and the servers on separate CPUs; [`procs`] — the child processes under test; [`stats`] — medians and quantiles.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod ceiling;
mod cpus;
mod load;
mod memory;
mod miss;
mod procs;
mod report;
mod run;
mod scale;
mod single_flight;
mod stack;
mod stats;

use clap::{Parser, Subcommand};

/// The STS's allocator (sts/src/main.rs), so that the in-process cache-memory figures are the
/// server's and the ceiling differs from the STS only in the work it skips.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "tessera-bench", about = "Tessera's benchmark: Tessera vs an msal-node peer vs bare axum")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole benchmark (`bench/run.sh` builds and calls this).
    Run(run::RunArgs),
    /// Serve the bare axum ceiling (started by `run`).
    Ceiling(ceiling::CeilingArgs),
    /// Measure cache memory for N entries in this process; prints JSON (started by `run`).
    Memory(memory::MemoryArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sts::install_crypto_provider();
    let result = match Cli::parse().command {
        Command::Run(args) => run::run(args).await,
        Command::Ceiling(args) => ceiling::serve(args).await,
        Command::Memory(args) => match memory::measure(&args).await {
            Ok(r) => serde_json::to_string(&r).map(|json| println!("{json}")).map_err(Into::into),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
