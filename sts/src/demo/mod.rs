//! `sts demo`: Tessera in one command, on embedded defaults.
//!
//! One process runs the entra-emulator (demo tenant and user, admin API on, loopback only), a
//! SQLite registry seeded with the demo workload, a development certificate generated on the first
//! run and reused after, the STS, and a page with three mock PCF controls using the real broker.
//! Everything lives in the state directory, so a second run picks up where the first left off.

pub mod directory;
mod page;
pub mod portal;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use registry::demo;
use tokio::net::TcpListener;

use crate::certs::{CertInfo, generate_self_signed};
use crate::config::{Config, CredentialConfig, LogConfig, LogFormat};

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where the demo keeps its certificate, registry and CA file.
    #[arg(long, default_value = ".tessera/demo")]
    pub state_dir: PathBuf,
    /// STS port (0 = any free port).
    #[arg(long, default_value_t = 8080)]
    pub sts_port: u16,
    /// Emulator HTTP port (its HTTPS port is picked freely).
    #[arg(long, default_value_t = 8082)]
    pub emulator_port: u16,
    /// Demo page port.
    #[arg(long, default_value_t = 8081)]
    pub page_port: u16,
    /// Do not serve the demo page (benchmarks, headless use).
    #[arg(long)]
    pub no_page: bool,
    /// Where the broker bundle was built (`bash scripts/build-broker.sh`).
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
    /// Write the endpoints and ids as JSON once everything listens.
    #[arg(long)]
    pub write_info: Option<PathBuf>,
    /// Log level (`tracing` filter).
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Sign the demo user in without the emulator's sign-in page (account picker, consent), for
    /// benchmarks and scripts that drive `authorize` without a person.
    #[arg(long)]
    pub auto_sign_in: bool,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    crate::telemetry::init(&LogConfig { format: LogFormat::Pretty, level: args.log_level.clone() });
    crate::crypto::install_provider();
    let dir = &args.state_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (cert_path, key_path) = ensure_certificate(dir)?;
    let cert_pem = std::fs::read_to_string(&cert_path)?;
    let migrations = ensure_registry_migrations(dir, &cert_pem)?;

    let sts_listener = bind(args.sts_port).await?;
    // The operators' listener on any free port: a second demo (or an `sts serve`) may hold 9464.
    let metrics_listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let page_listener = if args.no_page { None } else { Some(bind(args.page_port).await?) };
    let page_origins: Vec<String> = match &page_listener {
        Some(l) => {
            let port = l.local_addr()?.port();
            vec![format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}")]
        }
        None => Vec::new(),
    };
    let redirects: Vec<String> = page_origins.iter().map(|o| format!("{o}/redirect.html")).collect();

    let sts_url = format!("http://{}", sts_listener.local_addr()?);
    let mut emulator_config = directory::emulator_config(std::slice::from_ref(&cert_pem), &redirects, 1);
    // The Power Pages bundle: the Power Apps one (`tessera-broker.js`) has no Power Pages mode.
    let broker_script = page_origins.first().map(|o| format!("{o}/tessera-broker-pages.js"));
    portal::add_to_emulator(&mut emulator_config, &[cert_pem], &sts_url, broker_script.as_deref());
    emulator_config.server.http_port = args.emulator_port;
    emulator_config.server.admin_api = true;
    emulator_config.server.admin_consent_auto_accept = true;
    emulator_config.server.sign_in_page = !args.auto_sign_in;
    let emulator = entra_emulator::Emulator::start(emulator_config).await.context("starting the entra-emulator")?;
    let ca_file = dir.join("emulator-ca.pem");
    std::fs::write(&ca_file, emulator.ca_pem())?;

    let mut config = Config::default();
    config.server.listen = sts_listener.local_addr()?;
    config.server.metrics_listen = metrics_listener.local_addr()?;
    // The demo page, and the emulator's Power Pages site (its page calls /token from there).
    let emulator_port = emulator.http_base().rsplit(':').next().unwrap_or_default().to_owned();
    let site_origins = [format!("http://127.0.0.1:{emulator_port}"), format!("http://localhost:{emulator_port}")];
    config.server.cors_origins =
        page_origins.iter().chain(site_origins.iter()).map(|o| o.parse()).collect::<Result<_, _>>()?;
    config.registry.sqlite_path = dir.join("registry.db");
    config.audit.spool_dir = dir.join("audit-spool");
    config.registry.operator_migrations_dir = Some(migrations);
    config.entra.authority = emulator.http_base().parse()?;
    config.entra.broker_app_id = Some(demo::BROKER_APP_ID.into());
    config.log = LogConfig { format: LogFormat::Pretty, level: args.log_level.clone() };
    config.credentials = [demo::FILE_PICKER_CLIENT_APP_ID, portal::CLIENT_APP_ID]
        .into_iter()
        .map(|client| CredentialConfig {
            client_app_id: client.into(),
            cert_pem: Some(cert_path.clone()),
            key_pem: Some(key_path.clone()),
            ..Default::default()
        })
        .collect();
    let state = crate::app::build_state(config).await?;
    state.registry.store().execute_script(&portal::key_url_sql(&emulator.http_base())).await?;
    state.registry.refresh(true).await;
    let sts_url = format!("http://{}", sts_listener.local_addr()?);
    let metrics_url = format!("http://{}/metrics", metrics_listener.local_addr()?);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let listeners = crate::app::Listeners { public: sts_listener, metrics: metrics_listener };
    let sts_task = tokio::spawn(crate::app::serve(listeners, state, stopped(stop_rx.clone())));
    let mut page_url = None;
    let page_task = match page_listener {
        Some(listener) => {
            let url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
            let page_config = serde_json::json!({
                "stsUrl": sts_url,
                "redirectUri": format!("{url}/redirect.html"),
                "tenantId": demo::TENANT_ID,
                "loginHint": directory::USER_UPN,
                "authority": emulator.http_base(),
                "workload": demo::WORKLOAD,
            });
            page_url = Some(url);
            let router = page::router(args.dist.clone(), &page_config);
            let stop = stopped(stop_rx.clone());
            Some(tokio::spawn(async move { axum::serve(listener, router).with_graceful_shutdown(stop).await }))
        }
        None => None,
    };

    let info = serde_json::json!({
        "sts": sts_url,
        "metrics": metrics_url,
        "page": page_url,
        "emulator_http": emulator.http_base(),
        "emulator_https": emulator.https_base(),
        "ca_file": ca_file,
        "tenant": demo::TENANT_ID,
        "user": directory::USER_OID,
        "broker_app_id": demo::BROKER_APP_ID,
        "client_app_id": demo::FILE_PICKER_CLIENT_APP_ID,
        "workload": demo::WORKLOAD,
        "scope": format!("{}/Files.Read", demo::GRAPH_RESOURCE),
        "portal_site": format!("{}/_portal/{}/", emulator.http_base(), portal::SITE_HOST),
        "portal_host": portal::SITE_HOST,
        "portal_contact": portal::CONTACT_ID,
        "portal_client_id": portal::PORTAL_CLIENT_ID,
        "app_only_workload": portal::WORKLOAD,
        "app_only_scope": portal::scope(),
        "cert_pem": cert_path,
        "key_pem": key_path,
    });
    if let Some(path) = &args.write_info {
        std::fs::write(path, serde_json::to_vec_pretty(&info)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print_banner(&info, &args.dist);

    crate::app::shutdown_signal().await;
    let _ = stop_tx.send(true);
    let _ = sts_task.await;
    if let Some(t) = page_task {
        let _ = t.await;
    }
    emulator.shutdown().await;
    println!("Tessera demo stopped. State kept in {} for the next run.", dir.display());
    Ok(())
}

async fn bind(port: u16) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr} (is another demo running? choose another port)"))
}

/// The development certificate of the demo client app: made once, reused on every later run.
fn ensure_certificate(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cert_path = dir.join("file-picker.cert.pem");
    let key_path = dir.join("file-picker.key.pem");
    if !(cert_path.exists() && key_path.exists()) {
        let generated = generate_self_signed("tessera-demo-file-picker", 365)?;
        std::fs::write(&cert_path, generated.cert_pem())?;
        write_private(&key_path, generated.key_pem().expose())?;
        tracing::info!(path = %cert_path.display(), "generated a development certificate for the demo client app");
    }
    Ok((cert_path, key_path))
}

/// The operator migrations of the demo: the demo workload, and the reference to this machine's
/// certificate (written once, like any applied migration never edited afterwards).
fn ensure_registry_migrations(dir: &Path, cert_pem: &str) -> anyhow::Result<PathBuf> {
    let migrations = dir.join("operator-migrations");
    std::fs::create_dir_all(&migrations)?;
    let workload = migrations.join("20260101000000_demo_registry.sql");
    if !workload.exists() {
        std::fs::write(&workload, registry::demo::DEMO_REGISTRY_SQL)?;
    }
    let power_pages = migrations.join("20260101000200_demo_power_pages.sql");
    if !power_pages.exists() {
        std::fs::write(&power_pages, portal::registry_sql(&CertInfo::from_pem(cert_pem)?.sha256_hex()))?;
    }
    let cert_ref = migrations.join("20260101000100_demo_certificate.sql");
    if !cert_ref.exists() {
        let cert = CertInfo::from_pem(cert_pem)?;
        std::fs::write(
            &cert_ref,
            format!(
                "-- The demo's development certificate, generated on this machine by `sts demo`.\n\
                 INSERT INTO client_certificates (client_app_id, thumbprint_sha256, description, added_at)\n\
                 VALUES ('{}', '{}', 'sts demo development certificate', '2026-01-01T00:01:00Z');\n",
                demo::FILE_PICKER_CLIENT_APP_ID,
                cert.sha256_hex()
            ),
        )?;
    }
    Ok(migrations)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

fn print_banner(info: &serde_json::Value, dist: &Path) {
    let s = |k: &str| info[k].as_str().unwrap_or_default().to_owned();
    let (sts, emu) = (s("sts"), s("emulator_http"));
    println!("\nTessera demo is running.\n");
    if let Some(page) = info["page"].as_str() {
        println!("  Open the demo page:  {page}/");
        if !dist.join("tessera-broker.js").exists() {
            println!("  (the broker bundle is not built yet: run `bash scripts/build-broker.sh`)");
        }
    }
    println!("  STS:                 {sts}   ({sts}/ lists its endpoints)");
    println!("  Metrics (operators): {}", s("metrics"));
    println!("  Entra emulator:      {emu}");
    if let Some(site) = info["portal_site"].as_str() {
        println!("  Power Pages site:    {site}   (sign in as the contact, then get an app-only token: no popup)");
    }
    println!("\n  An exchange from the terminal (a user token minted by the emulator, then /token):\n");
    println!(
        "  TOKEN=$(curl -s -X POST {emu}/_admin/tokens/user -H 'content-type: application/json' \\\n    \
         -d '{{\"tenant\":\"{}\",\"user\":\"{}\",\"client_app\":\"{}\",\"broker_app\":\"{}\",\"scopes\":[\"access_as_user\"]}}' \\\n    \
         | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
        s("tenant"),
        s("user"),
        s("client_app_id"),
        s("broker_app_id")
    );
    println!(
        "  curl -s {sts}/token -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \\\n    \
         -d subject_token_type=urn:ietf:params:oauth:token-type:access_token \\\n    \
         -d \"subject_token=$TOKEN\" -d scope={}\n",
        s("scope")
    );
    println!("  Ctrl-C stops everything.\n");
}
