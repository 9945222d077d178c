//! Keeps the registry snapshot fresh without ever making a request wait for the database.
//!
//! Requests read the current snapshot through an `ArcSwap` (no lock, no I/O). A background task
//! polls a cheap fingerprint of the applied migrations and reloads when it changes (an operator
//! applied a new registry migration), and reloads in full on a longer timer. If the database becomes
//! unreachable the last good snapshot keeps serving and readiness reports `degraded`.
//!
//! With PostgreSQL, a `LISTEN` on the registry's change channel (`sts migrate` notifies it after
//! applying) reloads at once, so a change reaches every instance within about a second; the poll
//! stays as the fallback (a lost notification, a lost connection). Every installed snapshot is
//! announced to subscribers with the one it replaced ([`Change`]); [`revocations`] says which
//! cached tokens that makes stale.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use registry::{ChangeEvent, ConsentStatus, Snapshot, Store};
use std::sync::Mutex;
use tokio::sync::broadcast;

/// A new snapshot replaced `old`.
#[derive(Debug, Clone)]
pub struct Change {
    pub old: Arc<Snapshot>,
    pub new: Arc<Snapshot>,
}

/// Cached tokens a change made stale: `client_app_id`'s in `tenant`, or in every tenant (`None`,
/// the workload was disabled or removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub tenant: Option<String>,
    pub client_app_id: String,
}

/// What `new` takes away that `old` granted: a workload no longer enabled (or gone, or moved to
/// another client app), and a tenant consent no longer granted. (Brokers and scopes taken away
/// are refused by the per-request decision before any cache lookup; only the grant of a whole
/// tenant or workload makes its tokens worthless.)
pub fn revocations(old: &Snapshot, new: &Snapshot) -> Vec<Revocation> {
    let mut out = Vec::new();
    for w in old.workloads().into_iter().filter(|w| w.enabled) {
        let still =
            new.workload(&w.name).is_some_and(|n| n.enabled && n.client_app_id.eq_ignore_ascii_case(&w.client_app_id));
        if !still {
            out.push(Revocation { tenant: None, client_app_id: w.client_app_id.clone() });
            continue;
        }
        for c in old.rows().consents.iter().filter(|c| c.workload == w.name && c.status == ConsentStatus::Granted) {
            if !new.is_consented(&c.tenant_id, &w.name) {
                out.push(Revocation { tenant: Some(c.tenant_id.clone()), client_app_id: w.client_app_id.clone() });
            }
        }
    }
    out
}

#[derive(Debug)]
pub struct RegistryWatch {
    store: Store,
    snapshot: ArcSwap<Snapshot>,
    state: Mutex<WatchState>,
    changes: broadcast::Sender<Change>,
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
            changes: broadcast::channel(16).0,
        })
    }

    /// The snapshot to decide with. Cheap: an atomic load and a reference count.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Every snapshot installed from now on, with the one it replaced.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
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
        let snapshot = Arc::new(self.store.load_snapshot().await?);
        let old = self.snapshot.swap(Arc::clone(&snapshot));
        {
            let mut state = self.lock();
            state.fingerprint = fingerprint;
            state.loaded_at = Some(Instant::now());
        }
        tracing::info!(forced = force, "registry snapshot reloaded");
        // No subscriber is fine (nothing to drop).
        let _ = self.changes.send(Change { old, new: snapshot });
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

    /// Listens for announced registry changes (PostgreSQL) and reloads on each; reconnects after
    /// a lost connection and reloads then too (announcements may have been missed). Returns at
    /// once on SQLite.
    pub fn spawn_listener(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let watch = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match watch.store.change_listener().await {
                    Ok(None) => return,
                    Ok(Some(mut listener)) => {
                        tracing::debug!("listening for registry changes");
                        watch.refresh(false).await; // whatever was announced before we listened
                        loop {
                            match listener.next().await {
                                Ok(ChangeEvent::Changed) => {
                                    watch.refresh(true).await;
                                }
                                Ok(ChangeEvent::Lost) => {
                                    tracing::warn!("registry change listener lost its connection");
                                    break;
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "registry change listener failed");
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot listen for registry changes; polling only"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        // A poisoned lock only means a panic elsewhere mid-update of plain data: keep going.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::demo;

    fn snapshot(edit: impl FnOnce(&mut registry::RegistryRows)) -> Snapshot {
        let mut rows = demo::rows();
        edit(&mut rows);
        Snapshot::from_rows(rows)
    }

    #[test]
    fn revocations_name_what_a_change_took_away() {
        let base = snapshot(|_| {});
        assert_eq!(revocations(&base, &base), vec![], "no change, nothing stale");
        let client = demo::FILE_PICKER_CLIENT_APP_ID.to_owned();

        let revoked = snapshot(|r| r.consents[0].status = registry::ConsentStatus::Revoked);
        assert_eq!(
            revocations(&base, &revoked),
            vec![Revocation { tenant: Some(demo::TENANT_ID.into()), client_app_id: client.clone() }]
        );
        let deleted = snapshot(|r| r.consents.clear());
        assert_eq!(revocations(&base, &deleted).len(), 1, "a deleted consent row revokes too");

        let disabled = snapshot(|r| r.workloads[0].enabled = false);
        assert_eq!(revocations(&base, &disabled), vec![Revocation { tenant: None, client_app_id: client }]);
        assert_eq!(revocations(&disabled, &base), vec![], "enabling takes nothing away");
        assert_eq!(revocations(&revoked, &base), vec![], "granting takes nothing away");
    }
}
