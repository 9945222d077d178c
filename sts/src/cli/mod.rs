//! The `sts` command line: one binary for serving and for operating.

mod cert_cmd;
mod registry_cmd;

pub use cert_cmd::CertCommand;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::app;
use crate::config::Config;

#[derive(Debug, Parser)]
#[command(name = "sts", version, about = "Tessera Security Token Service")]
pub struct Cli {
    /// TOML configuration file (also `$TESSERA_CONFIG`). Environment variables `TESSERA_*` override it.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the token exchange (applies migrations first unless `registry.migrate_on_start=false`).
    Serve,
    /// Apply the schema migrations and the operator's registry migrations, then exit.
    Migrate,
    /// Inspect the registry.
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// Run Tessera in one command: emulator, demo registry, dev certificate, STS and demo page.
    #[cfg(feature = "demo")]
    Demo(crate::demo::DemoArgs),
    /// Make or inspect client-app certificates.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Exit 0 when the local server's `/readyz` answers 200 (for container health checks).
    Healthcheck,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Print the consent matrix: workloads × brokers × backends × tenants. Never migrates; lists
    /// the migrations not applied yet on stderr.
    Show,
    /// Find contradictions, certificates configured but not referenced (and the reverse), and
    /// pending migrations; exits non-zero when there are any. Never migrates.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults < file < environment), secrets redacted.
    Check,
}

/// Runs the command; the returned code becomes the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    // Certificate commands work on files alone: a broken configuration must not stop them.
    // Neither needs the configuration file: the demo builds its own.
    let command = match cli.command {
        Command::Cert { command } => return cert_cmd::run(command).await,
        #[cfg(feature = "demo")]
        Command::Demo(args) => {
            crate::demo::run(args).await?;
            return Ok(std::process::ExitCode::SUCCESS);
        }
        other => other,
    };
    let config = Config::load(cli.config.as_deref())?;
    crate::telemetry::init(&config.log);
    crate::crypto::install_provider();
    match command {
        Command::Serve => {
            let state = app::build_state(config).await?;
            let listeners = app::Listeners::bind(&state.config.server).await?;
            tracing::info!(
                listen = %listeners.public.local_addr()?,
                metrics = %listeners.metrics.local_addr()?,
                "sts listening"
            );
            app::serve(listeners, state, app::shutdown_signal()).await?;
        }
        Command::Migrate => {
            let store = app::open_store(&config).await?;
            app::migrate(&config, &store).await?;
            println!("migrations applied ({})", store.backend_name());
        }
        Command::Registry { command } => return registry_cmd::run(&config, command).await,
        Command::Cert { .. } => unreachable!("handled above"),
        #[cfg(feature = "demo")]
        Command::Demo(_) => unreachable!("handled above"),
        Command::Config { command: ConfigCommand::Check } => print!("{}", config.redacted_toml()),
        Command::Healthcheck => {
            let port = config.server.listen.port();
            let url = format!("http://127.0.0.1:{port}/readyz");
            let ok = reqwest::get(&url).await.is_ok_and(|r| r.status().is_success());
            if !ok {
                eprintln!("{url} is not ready");
                return Ok(std::process::ExitCode::FAILURE);
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
