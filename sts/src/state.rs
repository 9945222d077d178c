//! The one application state passed to every handler.

use std::sync::Arc;

use crate::certs::CredentialSet;
use crate::config::Config;
use crate::exchange::Exchanger;
use crate::metrics::Metrics;
use crate::readiness::Readiness;
use crate::registry_watch::RegistryWatch;

/// Cloned for every request (axum's `State`), so it is one reference count rather than six: six
/// atomic increments and decrements on cache lines both worker threads touch were measurable on
/// the cached path.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    pub config: Arc<Config>,
    pub registry: Arc<RegistryWatch>,
    pub exchanger: Arc<Exchanger>,
    pub metrics: Arc<Metrics>,
    pub credentials: Arc<CredentialSet>,
    pub readiness: Arc<Readiness>,
}
