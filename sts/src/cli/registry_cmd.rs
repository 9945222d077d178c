//! `sts registry show|check`.

use std::process::ExitCode;

use super::RegistryCommand;
use crate::app;
use crate::config::Config;

pub async fn run(config: &Config, command: RegistryCommand) -> anyhow::Result<ExitCode> {
    let store = app::open_store(config).await?;
    if config.registry.migrate_on_start {
        app::migrate(config, &store).await?;
    }
    let snapshot = store.load_snapshot().await?;
    match command {
        RegistryCommand::Show => {
            print!("{}", registry::render_matrix(&snapshot));
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Check => {
            let problems = registry::check(&snapshot);
            if problems.is_empty() {
                println!("registry check: no problems");
                return Ok(ExitCode::SUCCESS);
            }
            for p in &problems {
                println!("problem: {p}");
            }
            println!("registry check: {} problem(s)", problems.len());
            Ok(ExitCode::FAILURE)
        }
    }
}
