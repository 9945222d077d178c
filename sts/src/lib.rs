//! Tessera's Security Token Service.
//!
//! A guided tour:
//! - [`config`]: defaults < TOML < environment, unknown keys rejected.
//! - [`registry_watch`]: the in-memory registry snapshot and its reload loop.
//! - [`http`]: the connection loop and its limits ([`http::server`]), routes, CORS, correlation
//!   ids, and the OAuth error edge (every refusal leaves as RFC 6749 JSON).
//! - [`exchange`]: one token exchange from form to backend token — the order of checks lives here.
//! - [`entra`]: subject-token validation, signing keys, client assertions, the OBO call (one
//!   deadline, typed `OboError`; the exchange decides what each refusal means for the broker).
//! - [`certs`]: client-app certificates and their rotation state.
//! - [`secret`]: one redacting type per kind of secret (tokens, assertions, keys, passwords).
//! - [`origin`]: the allowed-origin patterns of `server.cors_origins`, parsed with the configuration.
//! - [`cache`]: OBO results keyed by a hash of the subject token; single-flight.
//! - [`audit`], [`metrics`]: what happened, off the request path (with a durable spool while the
//!   database is away).
//! - [`readiness`]: what `/readyz` probes, bounded in time.
//! - [`crypto`], [`clock`]: the process-wide crypto provider and the wall clock.
//! - [`app`]: wiring — builds the one [`state::AppState`] and serves it.
//! - [`cli`]: the `sts` subcommands; `demo` runs everything in one process.

pub mod app;
pub mod audit;
pub mod cache;
pub mod certs;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
#[cfg(feature = "demo")]
pub mod demo;
pub mod entra;
pub mod exchange;
pub mod http;
pub mod metrics;
pub mod origin;
pub mod readiness;
pub mod registry_watch;
pub mod secret;
pub mod state;
pub mod telemetry;
