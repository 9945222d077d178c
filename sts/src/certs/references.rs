//! Which configured certificates the registry lets the STS sign with (`client_certificates`).
//!
//! The registry's references are read from its in-memory snapshot, and recomputed only when the
//! snapshot changes: the request path compares one pointer. Kept apart from the rotation state in
//! `credential_set.rs`, which only sees the per-certificate flag this sets.

use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwapOption;
use prometheus_client::metrics::gauge::Gauge;
use registry::Snapshot;

use super::CredentialSet;

/// Where the current registry snapshot comes from (in the STS: `RegistryWatch::snapshot`).
pub(super) type SnapshotSource = Box<dyn Fn() -> Arc<Snapshot> + Send + Sync>;

/// The registry a [`CredentialSet`] follows, and the snapshot its flags were computed from.
#[derive(Default)]
pub(super) struct References {
    source: OnceLock<(SnapshotSource, Gauge)>,
    /// Holding the `Arc` (not just its address) means a freed snapshot's address can never be
    /// mistaken for the current one's.
    applied: ArcSwapOption<Snapshot>,
    /// One recomputation at a time, so each change is logged once.
    update: Mutex<()>,
}

impl std::fmt::Debug for References {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("References")
            .field("follows_registry", &self.source.get().is_some())
            .field("applied", &self.applied.load().is_some())
            .finish()
    }
}

impl References {
    /// Binds the registry; a second call is ignored (one STS has one registry).
    pub(super) fn bind(&self, source: SnapshotSource, unreferenced: Gauge) {
        if self.source.set((source, unreferenced)).is_err() {
            tracing::warn!("the credential set already follows a registry; ignoring the second one");
        }
    }

    /// Recomputes `set`'s flags if the registry's snapshot changed since the last time.
    pub(super) fn sync(&self, set: &CredentialSet) {
        let Some((source, gauge)) = self.source.get() else {
            return;
        };
        let current = source();
        if self.is_applied(&current) {
            return;
        }
        let _one_at_a_time = self.update.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.is_applied(&current) {
            return; // Another caller got here first.
        }
        gauge.set(set.apply_references(&current));
        self.applied.store(Some(current));
    }

    fn is_applied(&self, current: &Arc<Snapshot>) -> bool {
        self.applied.load().as_ref().is_some_and(|applied| Arc::ptr_eq(applied, current))
    }
}
