//! Wiring: from a [`Config`] to a running server.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::audit::AuditSink;
use crate::cache::MemoryCache;
use crate::certs::CredentialSet;
use crate::config::Config;
use crate::entra::keys::KeyStore;
use crate::entra::obo::OboClient;
use crate::exchange::Exchanger;
use crate::metrics::Metrics;
use crate::registry_watch::RegistryWatch;
use crate::shared_cache::SharedCache;
use crate::state::AppState;

/// Opens the registry store named by the configuration (PostgreSQL, or the embedded SQLite file).
pub async fn open_store(config: &Config) -> anyhow::Result<registry::Store> {
    let store = registry::Store::connect(config.registry.database_url.as_deref(), &config.registry.sqlite_path)
        .await
        .with_context(|| match &config.registry.database_url {
        Some(url) => format!("cannot open the registry at {}", crate::config::redact_url_password(url)),
        None => format!("cannot open the embedded registry at {}", config.registry.sqlite_path.display()),
    })?;
    Ok(store)
}

/// Applies Tessera's schema migrations, then the operator's own.
pub async fn migrate(config: &Config, store: &registry::Store) -> anyhow::Result<()> {
    let report = store
        .migrate(config.registry.operator_migrations_dir.as_deref())
        .await
        .context("applying registry migrations")?;
    tracing::info!(?report, "registry migrations applied");
    // Every serving instance listening reloads now instead of at its next poll.
    if let Err(e) = store.notify_changed().await {
        tracing::warn!(error = %e, "could not announce the registry change; instances will see it at their next poll");
    }
    Ok(())
}

/// The HTTP client for Entra: system roots, plus the configured extra CA (e.g. the emulator's).
pub fn http_client(config: &Config) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("tessera-sts/", env!("CARGO_PKG_VERSION")))
        // No client-wide `.timeout()`: the OBO call runs under its exchange's one deadline, and a
        // client timeout of the same length would race it (and answer 502 instead of 503); key
        // documents have a timeout of their own.
        .connect_timeout(Duration::from_millis(config.entra.connect_timeout_ms.max(1)))
        // Every connection the request bound allows may stay pooled for the next burst.
        .pool_max_idle_per_host(config.entra.max_concurrent_requests.max(1));
    if let Some(path) = &config.entra.extra_ca_file {
        let pem = std::fs::read(path).with_context(|| format!("reading entra.extra_ca_file {}", path.display()))?;
        for cert in
            reqwest::Certificate::from_pem_bundle(&pem).with_context(|| format!("parsing {}", path.display()))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().context("building the HTTP client")
}

/// Builds the application state: registry loaded (and migrated when configured), credentials
/// loaded, background tasks (registry reload, key refresh, audit writer) started.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let store = open_store(&config).await?;
    if config.registry.migrate_on_start {
        migrate(&config, &store).await?;
    }
    let registry = Arc::new(RegistryWatch::load(store.clone()).await.context("loading the registry")?);
    registry.spawn(
        Duration::from_secs(config.registry.poll_interval_secs.max(1)),
        Duration::from_secs(config.registry.reload_interval_secs.max(1)),
    );
    registry.spawn_listener();
    let metrics = Arc::new(Metrics::new());
    let shared = SharedCache::from_config(&config.cache, Arc::clone(&metrics))
        .context("setting up the shared cache")?
        .map(Arc::new);
    if let Some(shared) = &shared {
        tracing::info!(key_id = shared.key_id(), "shared token cache on redis");
        shared.spawn_retries();
    }
    let credentials = Arc::new(CredentialSet::load(&config.credentials).context("loading client certificates")?);
    let watched = Arc::clone(&registry);
    credentials.follow_registry(move || watched.snapshot(), metrics.certificates_unreferenced.clone());
    for c in credentials.expiry_report(crate::clock::unix_now()) {
        metrics
            .certificate_days_left
            .get_or_create(&vec![
                ("client_app".to_owned(), c.client_app_id.clone()),
                ("thumbprint".to_owned(), c.sha256_hex.clone()),
            ])
            .set(c.days_left);
    }
    let http = http_client(&config)?;
    let refresh = Duration::from_secs(config.entra.key_refresh_interval_secs.max(60));
    let keys = Arc::new(
        KeyStore::new(http.clone(), config.entra.authority.as_str(), refresh, Arc::clone(&metrics))
            .with_min_forced_interval(Duration::from_secs(config.entra.key_refetch_interval_secs.max(1)))
            .with_fetch_timeout(Duration::from_millis(config.entra.upstream_timeout_ms.max(1))),
    );
    {
        let keys = Arc::clone(&keys);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(refresh);
            tick.tick().await;
            loop {
                tick.tick().await;
                keys.refresh_all().await;
            }
        });
        // Days-left gauges move with the calendar; an hourly update is plenty.
        let (credentials, metrics) = (Arc::clone(&credentials), Arc::clone(&metrics));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            tick.tick().await;
            loop {
                tick.tick().await;
                report_certificate_expiry(&credentials, &metrics);
            }
        });
    }
    let readiness = Arc::new(crate::readiness::Readiness::new(http.clone(), config.entra.authority.as_str()));
    let exchanger = Arc::new(Exchanger {
        registry: Arc::clone(&registry),
        keys,
        site_keys: crate::portal::keys::SiteKeys::new(
            http.clone(),
            Arc::clone(&metrics),
            refresh,
            Duration::from_secs(config.entra.key_refetch_interval_secs.max(1)),
            Duration::from_millis(config.entra.upstream_timeout_ms.max(1)),
        ),
        obo: OboClient::new(http, config.entra.clone(), Arc::clone(&credentials), Arc::clone(&metrics)),
        cache: MemoryCache::new(&config.cache),
        peeks: crate::entra::memo::PeekMemo::new(&config.cache, config.entra.leeway_secs),
        shared,
        audit: AuditSink::spawn(store, Arc::clone(&metrics), &config.audit).context("opening the audit spool")?,
        metrics: Arc::clone(&metrics),
        entra: config.entra.clone(),
    });
    spawn_revocation_drops(&registry, &exchanger);
    Ok(AppState::new(crate::state::Shared {
        config: Arc::new(config),
        registry,
        exchanger,
        metrics,
        credentials,
        readiness,
    }))
}

/// On every new registry snapshot, drops the cached tokens of revoked consents and disabled
/// workloads (memory and Redis).
fn spawn_revocation_drops(registry: &RegistryWatch, exchanger: &Arc<Exchanger>) {
    let mut changes = registry.subscribe();
    let exchanger = Arc::downgrade(exchanger);
    tokio::spawn(async move {
        loop {
            let change = match changes.recv().await {
                Ok(change) => change,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let Some(exchanger) = exchanger.upgrade() else { return };
            let revoked = crate::registry_watch::revocations(&change.old, &change.new);
            if !revoked.is_empty() {
                exchanger.drop_revoked(&revoked).await;
            }
        }
    });
}

/// Sets `tessera_certificate_days_left` per certificate, and warns well before expiry.
fn report_certificate_expiry(credentials: &CredentialSet, metrics: &Metrics) {
    for c in credentials.expiry_report(crate::clock::unix_now()) {
        let labels =
            vec![("client_app".to_owned(), c.client_app_id.clone()), ("thumbprint".to_owned(), c.sha256_hex.clone())];
        metrics.certificate_days_left.get_or_create(&labels).set(c.days_left);
        if c.days_left <= crate::certs::EXPIRY_WARNING_DAYS {
            tracing::warn!(client_app = %c.client_app_id, sha256 = %c.sha256_hex, days_left = c.days_left, "client certificate expires soon: rotate it");
        }
    }
}

/// The two sockets an STS serves: the public one (`server.listen`: `/token` and the rest) and the
/// operators' one (`server.metrics_listen`: `/metrics`).
#[derive(Debug)]
pub struct Listeners {
    pub public: TcpListener,
    pub metrics: TcpListener,
}

impl Listeners {
    /// Binds both addresses of the configuration.
    pub async fn bind(config: &crate::config::ServerConfig) -> anyhow::Result<Self> {
        let bind = |addr| async move { TcpListener::bind(addr).await.with_context(|| format!("binding {addr}")) };
        Ok(Self { public: bind(config.listen).await?, metrics: bind(config.metrics_listen).await? })
    }
}

/// Serves until `shutdown` resolves, then drains in-flight requests (within
/// `server.shutdown_grace_secs`) and writes the audit records still queued.
pub async fn serve(
    listeners: Listeners,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use futures_util::FutureExt;
    let shutdown = shutdown.shared();
    let audit = state.exchanger.audit.clone();
    let limits = crate::http::server::Limits::from_config(&state.config.server);
    let metrics = Arc::clone(&state.metrics);
    let operators = crate::http::metrics_router(Arc::clone(&metrics), &state.config.server);
    let router = crate::http::router(state);
    tokio::join!(
        crate::http::server::serve(listeners.public, router, limits, Arc::clone(&metrics), shutdown.clone()),
        crate::http::server::serve(listeners.metrics, operators, limits, metrics, shutdown),
    );
    audit.close().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
