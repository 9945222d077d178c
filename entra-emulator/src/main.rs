//! `entra-emulator serve --config FILE [--write-ca FILE] [--write-info FILE]`
//!
//! Starts the emulator, prints one JSON line with the base URLs, optionally writes the CA PEM
//! (for clients to trust) and the same JSON to files, and runs until SIGINT/SIGTERM.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use entra_emulator::{Emulator, EmulatorConfig};

#[derive(Debug, Parser)]
#[command(name = "entra-emulator", about = "A local stand-in for Microsoft Entra ID v2.0")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP and HTTPS.
    Serve {
        /// TOML or JSON configuration.
        #[arg(long)]
        config: PathBuf,
        /// Write the CA certificate (PEM) that the HTTPS certificate chains to.
        #[arg(long)]
        write_ca: Option<PathBuf>,
        /// Write `{"http_base": …, "https_base": …}` once listening.
        #[arg(long)]
        write_info: Option<PathBuf>,
        /// Override `server.http_port`.
        #[arg(long)]
        http_port: Option<u16>,
        /// Override `server.https_port`.
        #[arg(long)]
        https_port: Option<u16>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let Command::Serve { config, write_ca, write_info, http_port, https_port } = Cli::parse().command;
    let mut config = EmulatorConfig::from_file(&config)?;
    if let Some(p) = http_port {
        config.server.http_port = p;
    }
    if let Some(p) = https_port {
        config.server.https_port = p;
    }
    let emulator = Emulator::start(config).await?;
    if let Some(path) = write_ca {
        std::fs::write(&path, emulator.ca_pem()).with_context(|| format!("writing {}", path.display()))?;
    }
    let info =
        serde_json::json!({ "http_base": emulator.http_base(), "https_base": emulator.https_base() }).to_string();
    if let Some(path) = write_info {
        std::fs::write(&path, &info).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{info}");
    shutdown_signal().await;
    emulator.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
