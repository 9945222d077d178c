//! Tessera's Security Token Service.
//!
//! A guided tour:
//! - `config`: defaults < TOML < environment, unknown keys rejected.
//! - `registry_watch`: the in-memory registry snapshot and its reload loop.
//! - `http`: the connection loop and its limits (`http::server`), routes, CORS, correlation
//!   ids, and the OAuth error edge (every refusal leaves as RFC 6749 JSON).
//! - `exchange`: one token exchange from form to backend token — the order of checks lives here.
//! - `entra`: subject-token validation, signing keys, client assertions, the OBO call (one
//!   deadline, typed `OboError`; the exchange decides what each refusal means for the broker).
//! - `portal`: Power Pages tokens as subject tokens: their claims, signature and each site's PEM
//!   key (cached, refetch bounded); a contact only ever gets an app-only token.
//! - `certs`: client-app certificates and their rotation state.
//! - `secret`: one redacting type per kind of secret (tokens, assertions, keys, passwords).
//! - `origin`: the allowed-origin patterns of `server.cors_origins`, parsed with the configuration.
//! - `cache`: OBO results keyed by a hash of the subject token; single-flight.
//! - `shared_cache`: the second level under it on Redis, shared by every instance: encrypted
//!   entries, a cross-instance single-flight lock, memory only while Redis is away.
//! - `audit`, `metrics`: what happened, off the request path (with a durable spool while the
//!   database is away).
//! - `readiness`: what `/readyz` probes, bounded in time.
//! - `crypto`, `clock`: the process-wide crypto provider and the wall clock.
//! - `app`: wiring — builds the one [`AppState`] and serves it.
//! - `cli`: the `sts` subcommands; `demo` runs everything in one process.
//!
//! The modules are private and form one-way layers (lowest first: foundation, configuration,
//! stores, audit, the Entra client, the exchange, readiness, state, the HTTP edge, wiring, CLI);
//! `tests/layers.rs` fails on an upward import and on HTTP types in the domain core. What the
//! binary, the benchmark and the integration tests use is re-exported below, and nothing else is
//! reachable from outside.

mod app;
mod audit;
mod cache;
mod certs;
mod cli;
mod clock;
mod config;
mod crypto;
#[cfg(feature = "demo")]
mod demo;
mod entra;
mod exchange;
mod http;
mod metrics;
mod origin;
mod portal;
mod readiness;
mod registry_watch;
mod secret;
mod shared_cache;
mod state;
mod telemetry;

// Running the service: the binary's entry point and the pieces a test harness assembles.
pub use app::{Listeners, build_state, serve, shutdown_signal};
pub use cli::{Cli, run};
pub use crypto::install_provider as install_crypto_provider;
pub use state::AppState;

// Configuration, as `sts.toml` and `TESSERA_*` describe it.
pub use config::{AssertionAlg, AuditConfig, CacheConfig, Config, ConfigError, CredentialConfig, MAX_LEEWAY_SECS};

// The exchange's inputs and refusals (the OAuth answers are derived from these at the edge).
pub use exchange::{
    ExchangeError, PortalTokenError, RequestError, SubjectTokenError, TokenForm, UpstreamError, parse_form,
};
pub use portal::keys::SiteKeyError;

// The parts measured or reused on their own: the token cache (bench: memory per entry), the client
// assertion (bench: the miss path's peer signs as the STS does), the audit sink and metrics (tests).
pub use audit::AuditSink;
pub use cache::{CachedToken, MemoryCache, cache_key};
pub use entra::assertion::client_assertion;
pub use metrics::Metrics;

// Client-app certificates.
pub use certs::{
    BAD_MARK_SECS, CertError, Certificate, CredentialSet, Generated, generate_self_signed,
    generate_self_signed_with_validity,
};

// One type per kind of secret, and the clock they are dated by.
pub use clock::unix_now;
pub use secret::{BackendToken, ClientAssertion, Password, PrivateKeyPem, SubjectToken};

/// Subject-token validation and signing keys, as the fuzz and property tests drive them.
pub mod validation {
    pub use crate::entra::TokenVersion;
    pub use crate::entra::keys::{FetchError, KeyError, SigningKey};
    pub use crate::entra::validate::{PLAUSIBLE_TIMES, PeekError, TimeClaim, VerifyError, peek, verify};
}

/// What `/readyz` reports.
pub use readiness::EntraProbeError;

/// The OpenAPI document `/openapi.json` serves.
pub use http::openapi::document as openapi_document;

/// The demo's directory (tenant, apps, users) that the in-process emulator is seeded with.
#[cfg(feature = "demo")]
pub use demo::directory as demo_directory;
