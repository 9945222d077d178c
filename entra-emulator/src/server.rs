//! Starting and stopping the emulator: binds the HTTP and HTTPS listeners, generates the CA
//! and the first signing key, and serves the same router on both.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::Admin;
use crate::clock::{Clock, EmulatorClock, SystemClock};
use crate::config::EmulatorConfig;
use crate::crypto::signing_keys::{KeyRing, SigningKey};
use crate::crypto::tls::LocalTls;
use crate::directory::Directory;
use crate::http::{Scheme, router};
use crate::state::Shared;

/// Entry point.
#[derive(Debug)]
pub struct Emulator;

/// A started emulator. Dropping it without [`RunningEmulator::shutdown`] leaves the listeners
/// running until the Tokio runtime ends.
#[derive(Debug)]
pub struct RunningEmulator {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Emulator {
    /// Starts with the system clock; returns once both listeners are bound.
    pub async fn start(config: EmulatorConfig) -> anyhow::Result<RunningEmulator> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Starts with an injected clock (e.g. [`crate::ManualClock`]).
    pub async fn start_with_clock(config: EmulatorConfig, clock: Arc<dyn Clock>) -> anyhow::Result<RunningEmulator> {
        let directory = Directory::from_config(&config.tenants).context("loading the directory")?;
        // Key generation is CPU work (RSA 2048): keep it off the async worker.
        let sites = config.sites.clone();
        let (key, tls, portal) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            Ok((SigningKey::generate()?, LocalTls::generate()?, crate::portal::Portal::from_config(&sites)?))
        })
        .await
        .context("key generation task")??;

        let ip: IpAddr = config.server.bind.parse().context("server.bind is not an IP address")?;
        let http = TcpListener::bind(SocketAddr::new(ip, config.server.http_port)).await.context("binding HTTP")?;
        let https = TcpListener::bind(SocketAddr::new(ip, config.server.https_port)).await.context("binding HTTPS")?;
        let base = |scheme: &str, addr: SocketAddr| {
            let ip = if addr.ip().is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { addr.ip() };
            format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))
        };
        let http_base = base("http", http.local_addr()?);
        let https_base = base("https", https.local_addr()?);

        let shared = Arc::new(Shared::new(
            config.server,
            http_base,
            https_base,
            tls.ca_pem,
            directory,
            KeyRing::new(key),
            EmulatorClock::new(clock),
            portal,
        ));
        let (shutdown, signal) = watch::channel(false);

        let http_app = router(shared.clone(), Scheme::Http);
        let mut http_signal = signal.clone();
        let http_task = tokio::spawn(async move {
            let stop = async move {
                let _ = http_signal.changed().await;
            };
            if let Err(e) = axum::serve(http, http_app).with_graceful_shutdown(stop).await {
                tracing::error!(error = %e, "HTTP listener failed");
            }
        });
        let https_task =
            tokio::spawn(serve_tls(https, tls.server_config, router(shared.clone(), Scheme::Https), signal));
        tracing::info!(http = %shared.http_base, https = %shared.https_base, "entra-emulator listening");
        Ok(RunningEmulator { shared, shutdown, tasks: vec![http_task, https_task] })
    }
}

/// Accepts TLS connections and serves each with hyper until `signal` flips.
async fn serve_tls(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    app: axum::Router,
    mut signal: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = signal.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                connections.spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT` — an authority host.
    pub fn http_base(&self) -> String {
        self.shared.http_base.clone()
    }

    /// `https://127.0.0.1:PORT` — an authority host for clients that insist on HTTPS.
    pub fn https_base(&self) -> String {
        self.shared.https_base.clone()
    }

    /// PEM of the locally generated CA; clients trust it to reach [`Self::https_base`].
    pub fn ca_pem(&self) -> &str {
        &self.shared.ca_pem
    }

    /// The in-process admin handle.
    pub fn admin(&self) -> Admin {
        Admin::new(self.shared.clone())
    }

    /// The v2 issuer of `tid` (`{issuer_base}/{tid}/v2.0`).
    pub fn issuer_v2(&self, tid: &str) -> String {
        self.shared.issuer_v2(tid)
    }

    /// The v1 issuer of `tid` (`{v1_issuer_base}/{tid}/`).
    pub fn issuer_v1(&self, tid: &str) -> String {
        self.shared.issuer_v1(tid)
    }

    /// Stops both listeners.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
