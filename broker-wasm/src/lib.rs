//! Tessera's browser token broker, compiled to wasm and served as `window.Tessera`.
//!
//! A model-driven app page hosts many controls from many vendors. Each needs tokens for its own
//! backend, and each doing its own sign-in means one popup per control (third-party cookies rule
//! out silent iframes). The broker signs the user in once, as the shared **broker app**, keeps the
//! refresh token, gets a user token for each workload's **client app**, and trades it at the STS
//! for a backend token (Entra on-behalf-of happens there, because it needs a certificate).
//!
//! # Tour
//! Pure logic, plain Rust, tested on the host (`cargo test -p broker-wasm`):
//! - [`config`]: the page's options and the STS's `/broker/config`, and the URL/tenant policy.
//! - [`request`] and [`scopes`]: a `getToken` call, and its scopes normalised to one resource.
//! - [`cache`]: cache keys and the expiry arithmetic (renew 5 minutes early).
//! - [`pkce`], [`authorize`], [`id_token`]: the interactive sign-in, as data.
//! - [`oauth`]: the exact bodies sent to Entra's token endpoint and to the STS.
//! - [`errors`]: the window API's error codes and the mappings from every upstream answer.
//! - `portal` (feature `power-pages`, the Power Pages bundle only): the site token and its exchange.
//! - [`session`]: the refresh token's lifetime rules and the page-visible status.
//! - [`relay`]: one sign-in shared by the origin's tabs over a `BroadcastChannel` (user tokens,
//!   never the refresh token), bound to the Dynamics user; sign-out reaches every tab.
//! - [`form`], [`b64`], [`secret`], [`vecmap`], [`text`]: small codecs, redacting secret wrappers, a
//!   small map (each hand-written to keep the wasm small; their docs say why).
//!
//! Browser glue, only on `wasm32` (`web/`): `fetch`, `crypto`, the popup and its channel, and the exported functions the loader script (`js/loader.js`) wraps into the
//! frozen `window.Tessera` object.

// No `std` in the browser build: it would link the panic and formatting machinery (~15 KB of
// wasm) that a panic handler which just traps does not need. The host build (tests) keeps std.
//
// For the same reason strings are cut with `split`, `split_once(char)`, `get` and
// `split_at_checked`, never `&s[a..b]`: a str slice that can fail links core's
// `slice_error_fail`, which formats the offending char with `Debug` (~4 KB of wasm with the
// Unicode tables), even though the panic handler only traps.
#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

pub mod authorize;
pub mod b64;
pub mod cache;
pub mod config;
pub mod errors;
pub mod form;
pub mod id_token;
pub mod oauth;
pub mod pkce;
#[cfg(feature = "power-pages")]
pub mod portal;
pub mod relay;
pub mod request;
pub mod scopes;
pub mod secret;
pub mod session;
pub mod text;
pub mod vecmap;

#[cfg(target_arch = "wasm32")]
mod web;
