//! Power Pages (portal) tokens as subject tokens: a site's own JWT for its signed-in contact.
//!
//! A portal token is not Entra's: it is signed with the site's key, published as one PEM public
//! key (no JWKS, no `kid`), `iss` is the site's host name without scheme, `aud`/`appid` a client id
//! the site registered for its implicit grant, `sub` the contact id (`../shared/spec/power-platform.md`).
//! It can never be the assertion of an OBO request, so a contact only ever gets an app-only token.
//!
//! - [`validate`]: the unverified claims ([`validate::peek`]) and the signature
//!   ([`validate::verify`]); both read untrusted input, under the arithmetic lints.
//! - [`keys`]: each site's key, fetched as PEM, cached, refetched after a signature failure at
//!   most once per `entra.key_refetch_interval_secs`, so junk tokens cannot turn the STS into a
//!   load generator against the site.

pub mod keys;
pub mod validate;
