use clap::Parser;

/// mimalloc rather than glibc's malloc: a cached exchange makes a few dozen short-lived
/// allocations across two worker threads, and glibc's arenas (`malloc_consolidate`, `_int_free`)
/// were 15% of the STS's CPU under load (BENCHMARKS.md).
///
/// Built with `no_thp`: mimalloc 3 otherwise asks for transparent huge pages on its memory
/// (`madvise(MADV_HUGEPAGE)`), and when it later returns part of a 2 MiB page to the kernel the
/// page is split, then faulted back in. With one worker at 64 connections that stalled the whole
/// server for 16–64 ms a few times a second (BENCHMARKS.md, "the tail at 64 connections"); the
/// STS's heap is tens of megabytes, where huge pages save little.
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
