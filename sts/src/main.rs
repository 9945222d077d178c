use clap::Parser;

/// mimalloc rather than glibc's malloc: a cached exchange makes a few dozen short-lived
/// allocations across two worker threads, and glibc's arenas (`malloc_consolidate`, `_int_free`)
/// were 15% of the STS's CPU under load (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match sts::run(sts::Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
