use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match sts::cli::run(sts::cli::Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
