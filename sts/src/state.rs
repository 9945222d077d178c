//! The one application state passed to every handler.

use std::sync::Arc;

use crate::certs::CredentialSet;
use crate::config::Config;
use crate::exchange::Exchanger;
use crate::metrics::Metrics;
use crate::readiness::Readiness;
use crate::registry_watch::RegistryWatch;

#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub registry: Arc<RegistryWatch>,
    pub exchanger: Arc<Exchanger>,
    pub metrics: Arc<Metrics>,
    pub credentials: Arc<CredentialSet>,
    pub readiness: Arc<Readiness>,
}
