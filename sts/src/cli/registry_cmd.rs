//! `sts registry show|check`: inspection, which never changes the database.
//!
//! Neither command migrates, whatever `registry.migrate_on_start` says: an operator inspecting a
//! registry must not apply the migrations that are waiting for review. Both report what is
//! pending instead, and `check` fails while anything is (or while the schema is missing, or the
//! operator folder cannot be read), so it can gate a deployment.

use std::fmt::Write as _;
use std::process::ExitCode;

use registry::{ConfiguredCertificate, MigrationStatus};

use super::RegistryCommand;
use crate::app;
use crate::certs::Certificate;
use crate::config::Config;

pub async fn run(config: &Config, command: RegistryCommand) -> anyhow::Result<ExitCode> {
    // Opening a SQLite registry creates the file when it is missing: not for an inspection.
    if let Some(path) = missing_sqlite_file(config) {
        println!("registry: there is no registry database at {} (nothing was created)", path.display());
        return Ok(ExitCode::FAILURE);
    }
    let store = app::open_store(config).await?;
    let status = store.migration_status(config.registry.operator_migrations_dir.as_deref()).await?;
    let migrations = describe_migrations(&status);
    match command {
        RegistryCommand::Show => {
            if !status.schema_present {
                eprint!("{migrations}");
                return Ok(ExitCode::FAILURE);
            }
            let snapshot = store.load_snapshot().await?;
            print!("{}", registry::render_matrix(&snapshot));
            // After the matrix, on stderr: what is shown may not be what `migrate` would leave.
            eprint!("{migrations}");
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Check => {
            print!("{migrations}");
            let mut problems = 0;
            if status.schema_present {
                let snapshot = store.load_snapshot().await?;
                let (configured, unloadable) = configured_certificates(config);
                let mut found = registry::check(&snapshot);
                found.extend(registry::check_certificates(&snapshot, &configured));
                for p in &found {
                    println!("problem: {p}");
                }
                for line in &unloadable {
                    println!("problem: {line}");
                }
                problems = found.len() + unloadable.len();
            }
            let blocked = !status.is_up_to_date();
            if problems == 0 && !blocked {
                println!("registry check: no problems");
                return Ok(ExitCode::SUCCESS);
            }
            let mut summary = format!("registry check: {problems} problem(s)");
            if blocked {
                summary.push_str("; the migrations are not up to date (see above)");
            }
            println!("{summary}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The SQLite file the configuration names, when it does not exist.
fn missing_sqlite_file(config: &Config) -> Option<std::path::PathBuf> {
    let path = match config.registry.database_url.as_deref() {
        None => config.registry.sqlite_path.clone(),
        Some(url) => {
            let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
            let file = rest.split('?').next().unwrap_or_default();
            if file.is_empty() || file == ":memory:" {
                return None;
            }
            std::path::PathBuf::from(file)
        }
    };
    (!path.exists()).then_some(path)
}

/// The migration lines both commands print: empty when everything is applied.
fn describe_migrations(status: &MigrationStatus) -> String {
    let mut s = String::new();
    if !status.schema_present {
        let _ = writeln!(s, "migrations: the registry database has no schema yet (apply it with `sts migrate`)");
    }
    if let Some(e) = &status.operator_error {
        let _ = writeln!(s, "migrations: the operator folder cannot be used: {e}");
    }
    for m in &status.pending {
        let _ = writeln!(s, "migrations: pending {m} (not applied; `sts migrate` applies it)");
    }
    for m in &status.modified {
        let _ = writeln!(s, "migrations: {m} was applied but its file has changed since (add a new migration instead)");
    }
    for v in &status.failed {
        let _ =
            writeln!(s, "migrations: version {v} failed when it was applied; fix the database by hand, then re-apply");
    }
    s
}

/// The configured certificates' public facts, and a line for each one that cannot be loaded (a
/// missing file or password is a problem to report, not a reason to stop the check).
fn configured_certificates(config: &Config) -> (Vec<ConfiguredCertificate>, Vec<String>) {
    let mut configured = Vec::new();
    let mut unloadable = Vec::new();
    for c in &config.credentials {
        let source_name =
            c.pfx.as_ref().or(c.cert_pem.as_ref()).map_or_else(|| "(no file)".to_owned(), |p| p.display().to_string());
        match Certificate::load(c) {
            Ok(cert) => configured.push(ConfiguredCertificate {
                client_app_id: c.client_app_id.clone(),
                thumbprint_sha256: cert.sha256_hex(),
                source_name,
            }),
            Err(e) => unloadable
                .push(format!("certificate {source_name} of client app {} cannot be loaded: {e}", c.client_app_id)),
        }
    }
    (configured, unloadable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::{MigrationOrigin, MigrationRef, Problem};

    #[test]
    fn pending_and_broken_migrations_are_described() {
        let status = MigrationStatus {
            schema_present: true,
            pending: vec![MigrationRef {
                version: 20_261_122_100_000,
                description: "add workload".into(),
                origin: MigrationOrigin::Operator,
            }],
            ..MigrationStatus::default()
        };
        let text = describe_migrations(&status);
        assert!(text.contains("pending operator 20261122100000 add workload"), "{text}");
        assert!(!status.is_up_to_date());
        assert_eq!(describe_migrations(&MigrationStatus { schema_present: true, ..Default::default() }), "");
        let missing = describe_migrations(&MigrationStatus::default());
        assert!(missing.contains("no schema yet"), "{missing}");
    }

    #[test]
    fn problems_name_the_certificate() {
        let p = Problem::CertificateNotReferenced {
            client_app_id: "a".into(),
            thumbprint_sha256: "ab".into(),
            source_name: "/etc/x.pfx".into(),
        };
        assert!(p.to_string().contains("ab (/etc/x.pfx)"));
    }
}
