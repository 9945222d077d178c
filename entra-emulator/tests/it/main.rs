//! Integration tests: each starts its own emulator and talks to it over HTTP(S) with reqwest.
#![allow(clippy::unwrap_used)]

mod common;

mod admin_api;
mod admin_consent;
mod assertions;
mod auth_code;
mod client_credentials;
mod config_file;
mod conformance;
mod discovery;
mod faults;
mod fuzz;
mod keys;
mod obo;
mod portal;
mod refresh;
