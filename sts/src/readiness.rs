//! The probes behind `/readyz`: bounded in time, run on demand and cached briefly.
//!
//! On demand rather than on a timer: readiness is only ever read through `/readyz`, so probing
//! when it is asked (at most once per [`DB_TTL`] / [`ENTRA_TTL`], however many load balancers
//! ask) gives an answer as fresh as the probe interval of the asker, costs nothing when nobody
//! asks, and needs no task to manage. Each probe waits at most [`PROBE_TIMEOUT`]: the pool's 10 s
//! acquire timeout (sqlx retries a refused connection until then) must not make `/readyz` wait,
//! nor lag the truth by two of them.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::registry_watch::{RegistryHealth, RegistryWatch};

/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a database probe's answer is reused.
pub const DB_TTL: Duration = Duration::from_secs(2);
/// How long an Entra probe's answer is reused (it is a request to Microsoft: fewer of them).
pub const ENTRA_TTL: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Readiness {
    http: reqwest::Client,
    /// The discovery document of the `organizations` authority: cheap, public, always there.
    entra_probe_url: String,
    /// The database's own message (it is shown as the registry's `Degraded` reason).
    db: Mutex<Cached<String>>,
    entra: Mutex<Cached<EntraProbeError>>,
}

/// Why Entra's authority counts as unreachable (`/readyz` shows it as `checks.entra.error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntraProbeError {
    #[error("HTTP {0}")]
    Status(u16),
    #[error("no answer within {ms} ms")]
    Timeout { ms: u128 },
    #[error("connection failed")]
    Connect,
    #[error("request failed")]
    Request,
}

#[derive(Debug)]
struct Cached<E> {
    at: Option<Instant>,
    /// `None`: fine. `Some(why)`: failing.
    error: Option<E>,
}

impl<E> Default for Cached<E> {
    fn default() -> Self {
        Self { at: None, error: None }
    }
}

impl<E: Clone> Cached<E> {
    fn fresh(&self, ttl: Duration) -> Option<Option<E>> {
        self.at.filter(|t| t.elapsed() < ttl).map(|_| self.error.clone())
    }

    fn set(&mut self, error: Option<E>) -> Option<E> {
        self.at = Some(Instant::now());
        self.error = error.clone();
        error
    }
}

impl Readiness {
    pub fn new(http: reqwest::Client, authority: &str) -> Self {
        Self {
            http,
            entra_probe_url: format!(
                "{}/organizations/v2.0/.well-known/openid-configuration",
                authority.trim_end_matches('/')
            ),
            db: Mutex::new(Cached::default()),
            entra: Mutex::new(Cached::default()),
        }
    }

    /// The registry's health, with a fresh bounded database probe: `Degraded` as soon as the
    /// database stops answering (not only when the next reload fails), and — once it answers
    /// again — a reload right away instead of at the next poll, so `ready` returns promptly.
    pub async fn registry(&self, registry: &RegistryWatch) -> RegistryHealth {
        let mut cached = self.db.lock().await;
        let error = match cached.fresh(DB_TTL) {
            Some(error) => error,
            None => {
                let error = registry.store().ping(PROBE_TIMEOUT).await.err().map(|e| e.to_string());
                if error.is_none() && registry.health() != RegistryHealth::Ready {
                    let _ = tokio::time::timeout(PROBE_TIMEOUT, registry.refresh(false)).await;
                }
                cached.set(error)
            }
        };
        match error {
            Some(e) => RegistryHealth::Degraded(e),
            None => registry.health(),
        }
    }

    /// Whether Entra's authority answers at all: any HTTP answer below 500 counts (the probe
    /// only asks whether the network path and the service are up), a 5xx, a timeout or a
    /// connection failure does not. `Err` says why.
    pub async fn entra(&self) -> Result<(), EntraProbeError> {
        let mut cached = self.entra.lock().await;
        if let Some(error) = cached.fresh(ENTRA_TTL) {
            return error.map_or(Ok(()), Err);
        }
        let error = match self.http.get(&self.entra_probe_url).timeout(PROBE_TIMEOUT).send().await {
            Ok(r) if r.status().is_server_error() => Some(EntraProbeError::Status(r.status().as_u16())),
            Ok(_) => None,
            Err(e) if e.is_timeout() => Some(EntraProbeError::Timeout { ms: PROBE_TIMEOUT.as_millis() }),
            Err(e) if e.is_connect() => Some(EntraProbeError::Connect),
            Err(_) => Some(EntraProbeError::Request),
        };
        cached.set(error).map_or(Ok(()), Err)
    }
}
