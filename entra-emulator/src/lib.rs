//! `entra-emulator`: a faithful local stand-in for Microsoft Entra ID's v2.0 endpoints, used by
//! Tessera's tests, benchmark and demo (nothing here can reach the real Entra).
//!
//! A guided tour:
//! - [`config`] — what a tenant looks like: users, app registrations (certificates, SPA
//!   redirect URIs, exposed scopes, App ID URIs, known clients, token version) and consents.
//! - [`directory`] — the same, live, with Entra's matching rules; [`directory::scopes`] and
//!   [`directory::consent`] are the pure decisions (which resource, what is granted).
//! - [`http`] — discovery, JWKS, `authorize`, the admin-consent page, the `/_admin` API.
//! - [`token`] — `POST …/oauth2/v2.0/token`, one file per grant: authorization code, refresh
//!   token, on-behalf-of, client credentials.
//! - [`jwt`] — client-assertion validation (every form MSAL sends, Entra's rejection codes),
//!   validation of the OBO user assertion, and the claims of issued tokens.
//! - [`error`] — Entra's error body and status codes.
//! - [`portal`] and [`http::portal`] — Power Pages sites: the portal's own token endpoint, its
//!   PEM public key (rotatable), a contact sign-in page.
//! - [`faults`] and [`counters`] — fault injection and per-grant / per-client counters.
//! - [`admin`] — the in-process [`Admin`] handle (including minting user tokens for tests).
//! - [`server`] — [`Emulator::start`] binds HTTP and HTTPS (locally generated CA).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let config = entra_emulator::EmulatorConfig::from_file("entra-emulator/examples/demo.toml")?;
//! let emulator = entra_emulator::Emulator::start(config).await?;
//! println!("authority host: {}", emulator.https_base());
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admin;
pub mod clock;
pub mod config;
pub mod counters;
pub mod crypto;
pub mod directory;
pub mod error;
pub mod faults;
pub mod http;
mod issue;
pub mod jwt;
pub mod portal;
pub mod server;
pub mod state;
pub mod token;

pub use admin::{Admin, AdminError, PortalTokenRequest, UserTokenRequest};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    AppConfig, AppRoleGrantConfig, CertificateConfig, ConsentConfig, ContactConfig, EmulatorConfig, ServerConfig,
    SiteConfig, TenantConfig, UserAppRoleConfig, UserConfig,
};
pub use counters::{CounterSnapshot, GrantKind};
pub use faults::{FaultDuration, FaultKind, FaultSpec};
pub use server::{Emulator, RunningEmulator};
