//! Keeps the registry snapshot fresh without ever making a request wait for the database.
//!
//! Requests read the current snapshot through an `ArcSwap` (no lock, no I/O). A background task
//! polls a cheap fingerprint of the applied migrations and reloads when it changes (an operator
//! applied a new registry migration), and reloads in full on a longer timer. If the database becomes
//! unreachable the last good snapshot keeps serving and readiness reports `degraded`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use registry::{Snapshot, Store};
use std::sync::Mutex;

#[derive(Debug)]
pub struct RegistryWatch {
    store: Store,
    snapshot: ArcSwap<Snapshot>,
    state: Mutex<WatchState>,
}

#[derive(Debug, Default)]
struct WatchState {
    fingerprint: String,
    /// The last failure to reach the database, cleared by the next success.
    last_error: Option<String>,
    loaded_at: Option<Instant>,
}

/// What `/readyz` says about the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryHealth {
    Ready,
    /// Serving the last good snapshot; the database could not be read.
    Degraded(String),
}

impl RegistryWatch {
    /// Loads the first snapshot; start-up fails if it cannot (there is nothing to serve from).
    pub async fn load(store: Store) -> Result<Self, registry::StoreError> {
        let fingerprint = store.migrations_fingerprint().await?;
        let snapshot = store.load_snapshot().await?;
        Ok(Self {
            store,
            snapshot: ArcSwap::from_pointee(snapshot),
            state: Mutex::new(WatchState { fingerprint, last_error: None, loaded_at: Some(Instant::now()) }),
        })
    }

    /// The snapshot to decide with. Cheap: an atomic load and a reference count.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn health(&self) -> RegistryHealth {
        match &self.lock().last_error {
            None => RegistryHealth::Ready,
            Some(e) => RegistryHealth::Degraded(e.clone()),
        }
    }

    /// Reloads when the migrations changed, or unconditionally with `force`. Returns whether a new
    /// snapshot was installed. A failure keeps the current snapshot and marks the registry degraded.
    pub async fn refresh(&self, force: bool) -> bool {
        match self.try_refresh(force).await {
            Ok(reloaded) => {
                self.lock().last_error = None;
                reloaded
            }
            Err(e) => {
                tracing::warn!(error = %e, "registry unreachable; serving the last good snapshot");
                self.lock().last_error = Some(e.to_string());
                false
            }
        }
    }

    async fn try_refresh(&self, force: bool) -> Result<bool, registry::StoreError> {
        let fingerprint = self.store.migrations_fingerprint().await?;
        if !force && fingerprint == self.lock().fingerprint {
            return Ok(false);
        }
        let snapshot = self.store.load_snapshot().await?;
        self.snapshot.store(Arc::new(snapshot));
        let mut state = self.lock();
        state.fingerprint = fingerprint;
        state.loaded_at = Some(Instant::now());
        tracing::info!(forced = force, "registry snapshot reloaded");
        Ok(true)
    }

    /// Polls every `poll`, and forces a full reload every `reload`.
    pub fn spawn(self: &Arc<Self>, poll: Duration, reload: Duration) -> tokio::task::JoinHandle<()> {
        let watch = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let stale = watch.lock().loaded_at.is_none_or(|t| t.elapsed() >= reload);
                watch.refresh(stale).await;
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        // A poisoned lock only means a panic elsewhere mid-update of plain data: keep going.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
