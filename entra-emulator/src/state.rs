//! The one state object behind both listeners and the [`crate::Admin`] handle.
//!
//! Locks are `std::sync` ones, held only for short, non-async sections; a poisoned lock is
//! recovered (the data are plain maps that a panicking request cannot leave half-written in
//! a way that matters for a test tool).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use sha2::Digest as _;
use time::OffsetDateTime;

use crate::clock::EmulatorClock;
use crate::config::ServerConfig;
use crate::counters::Counters;
use crate::crypto::signing_keys::KeyRing;
use crate::directory::Directory;
use crate::faults::Faults;

/// A signed-in user's session: what an authorization code and its refresh tokens carry along.
#[derive(Debug, Clone)]
pub struct Session {
    /// Tenant id.
    pub tid: String,
    /// User object id.
    pub oid: String,
    /// When the user signed in (unix seconds).
    pub auth_time: i64,
    /// Conditional Access contexts / policies satisfied at sign-in (from the `claims` request).
    pub acrs: Vec<String>,
}

/// An issued, not yet redeemed authorization code.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    /// Client it was issued to.
    pub client_id: String,
    /// Redirect URI it was issued for (must match at redemption).
    pub redirect_uri: String,
    /// Issued to a SPA redirect URI.
    pub spa: bool,
    /// The `scope` of the authorize request.
    pub scope: String,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method (`S256` or `plain`).
    pub code_challenge_method: Option<String>,
    /// OIDC nonce for the ID token.
    pub nonce: Option<String>,
    /// Client capabilities requested (`xms_cc`).
    pub xms_cc: Option<Vec<String>>,
    /// The sign-in.
    pub session: Session,
    /// Expiry (unix seconds); Entra's codes live about 10 minutes.
    pub expires_at: i64,
    /// Already redeemed (a second redemption fails with AADSTS54005).
    pub redeemed: bool,
}

/// A live refresh token.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    /// Client it was issued to.
    pub client_id: String,
    /// Issued through a SPA redirect URI: fixed lifetime, redeemable only cross-origin.
    pub spa: bool,
    /// Issued to a confidential client: redeeming needs client authentication.
    pub confidential: bool,
    /// The sign-in.
    pub session: Session,
    /// Expiry (unix seconds). Fixed for SPA tokens across rotations.
    pub expires_at: i64,
}

/// Shared emulator state.
#[derive(Debug)]
pub struct Shared {
    /// Server settings.
    pub config: ServerConfig,
    /// `http://host:port`.
    pub http_base: String,
    /// `https://host:port`.
    pub https_base: String,
    /// Base of v2 issuers.
    pub issuer_base: String,
    /// Base of v1 issuers.
    pub v1_issuer_base: String,
    /// PEM of the CA the HTTPS certificate chains to.
    pub ca_pem: String,
    pub(crate) directory: RwLock<Directory>,
    pub(crate) keys: RwLock<KeyRing>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) counters: Counters,
    pub(crate) clock: EmulatorClock,
    /// Power Pages sites.
    pub(crate) portal: crate::portal::Portal,
    codes: Mutex<HashMap<String, CodeRecord>>,
    refresh_tokens: Mutex<HashMap<String, RefreshRecord>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Codes and refresh tokens are stored under a SHA-256 of their value, never the value.
fn storage_key(raw: &str) -> String {
    sha2::Sha256::digest(raw.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Shared {
    /// Assembles the state.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: ServerConfig,
        http_base: String,
        https_base: String,
        ca_pem: String,
        directory: Directory,
        keys: KeyRing,
        clock: EmulatorClock,
        portal: crate::portal::Portal,
    ) -> Self {
        let issuer_base = config.issuer_base.clone().unwrap_or_else(|| https_base.clone());
        let v1_issuer_base = config.v1_issuer_base.clone().unwrap_or_else(|| format!("{https_base}/sts.windows.net"));
        Self {
            config,
            http_base,
            https_base,
            issuer_base: issuer_base.trim_end_matches('/').to_owned(),
            v1_issuer_base: v1_issuer_base.trim_end_matches('/').to_owned(),
            ca_pem,
            directory: RwLock::new(directory),
            keys: RwLock::new(keys),
            faults: Mutex::new(Faults::default()),
            counters: Counters::default(),
            clock,
            portal,
            codes: Mutex::new(HashMap::new()),
            refresh_tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Now (whole seconds), through the injectable clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The v2 issuer of tenant `tid`.
    pub fn issuer_v2(&self, tid: &str) -> String {
        format!("{}/{tid}/v2.0", self.issuer_base)
    }

    /// The v1 issuer of tenant `tid` (trailing slash, as Entra's).
    pub fn issuer_v1(&self, tid: &str) -> String {
        format!("{}/{tid}/", self.v1_issuer_base)
    }

    /// Read access to the directory.
    pub fn dir(&self) -> RwLockReadGuard<'_, Directory> {
        self.directory.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Write access to the directory.
    pub fn dir_mut(&self) -> RwLockWriteGuard<'_, Directory> {
        self.directory.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Read access to the signing keys.
    pub fn keys(&self) -> RwLockReadGuard<'_, KeyRing> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Write access to the signing keys.
    pub fn keys_mut(&self) -> RwLockWriteGuard<'_, KeyRing> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault list.
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    /// Signs claims with the current key.
    pub fn sign(&self, claims: &serde_json::Value) -> anyhow::Result<String> {
        let key = self.keys().current();
        key.sign(claims)
    }

    /// Stores a new authorization code; returns its value.
    pub fn store_code(&self, record: CodeRecord) -> String {
        let code = format!("1.{}", crate::crypto::random_b64(48));
        lock(&self.codes).insert(storage_key(&code), record);
        code
    }

    /// Marks a code redeemed and returns its record as it was before (redeemed flag included).
    pub fn redeem_code(&self, code: &str) -> Option<CodeRecord> {
        let mut codes = lock(&self.codes);
        let record = codes.get_mut(&storage_key(code))?;
        let before = record.clone();
        record.redeemed = true;
        Some(before)
    }

    /// Stores a new refresh token; returns its value.
    pub fn store_refresh_token(&self, record: RefreshRecord) -> String {
        let token = format!("1.{}", crate::crypto::random_b64(96));
        lock(&self.refresh_tokens).insert(storage_key(&token), record);
        token
    }

    /// Looks up a refresh token.
    pub fn refresh_token(&self, token: &str) -> Option<RefreshRecord> {
        lock(&self.refresh_tokens).get(&storage_key(token)).cloned()
    }
}
