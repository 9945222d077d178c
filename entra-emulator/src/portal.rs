//! Power Pages sites: the portal's own token issuer (`../shared/spec/power-platform.md`).
//!
//! A site signs its signed-in contact's token with its own RSA key (RS256, no `kid`: the key is
//! published alone, as PEM, at `/_services/auth/publickey`), `iss` = the site's host name without
//! scheme, `sub` = the contact id, and — when the request names a registered `client_id` — `aud`
//! and `appid` = that client id. Rotating the key replaces it outright: a portal publishes one
//! key, so tokens signed with the old one stop verifying, which is what a validator that fetched
//! the PEM once at start-up gets wrong.
//!
//! Sites are addressed as `/_portal/{host}/…` on the emulator's listeners (see
//! [`crate::http::portal`]); the sessions of their sign-in pages live here, per emulator.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};
use tessera_wire::portal;

use crate::config::{ContactConfig, SiteConfig};

/// A site's signing key. Debug never shows the private part.
pub struct SiteKey {
    encoding: EncodingKey,
    public_pem: String,
}

impl std::fmt::Debug for SiteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteKey").field("private_key", &"[redacted]").finish()
    }
}

impl SiteKey {
    /// A fresh 2048-bit RSA key (CPU work: ~0.1 s).
    pub fn generate() -> anyhow::Result<Self> {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)?;
        Ok(Self {
            encoding: EncodingKey::from_rsa_pem(pair.serialize_pem().as_bytes())?,
            public_pem: pair.public_key_pem(),
        })
    }

    /// The SPKI public key, PEM.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }
}

/// One site: its configuration and current key.
#[derive(Debug)]
pub struct Site {
    pub config: SiteConfig,
    pub key: Arc<SiteKey>,
}

impl Site {
    /// A site setting by name (names compare case-insensitively, as Power Pages does).
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.config.settings.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether `client_id` is one of `ImplicitGrantFlow/RegisteredClientId`'s.
    pub fn is_registered(&self, client_id: &str) -> bool {
        self.setting(portal::SETTING_REGISTERED_CLIENT_ID)
            .is_some_and(|ids| ids.split(';').any(|id| id.trim().eq_ignore_ascii_case(client_id)))
    }

    /// The token lifetime the site's setting gives (clamped to 60–3600 s, default 900 s).
    pub fn lifetime_secs(&self) -> i64 {
        portal::lifetime_secs(self.setting(portal::SETTING_TOKEN_EXPIRATION))
    }

    /// Whether the implicit grant is on (`Connector/ImplicitGrantFlowEnabled` is not `False`).
    pub fn enabled(&self) -> bool {
        !self.setting(portal::SETTING_ENABLED).is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
    }

    /// A contact by id (any case).
    pub fn contact(&self, id: &str) -> Option<&ContactConfig> {
        self.config.contacts.iter().find(|c| c.id.eq_ignore_ascii_case(id))
    }
}

/// What one portal token says.
#[derive(Debug, Clone, Default)]
pub struct PortalToken<'a> {
    pub client_id: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub iat: i64,
    pub lifetime_secs: i64,
    /// Claims added or overriding the standard ones (tests).
    pub extra: Option<&'a Map<String, Value>>,
}

impl Site {
    /// Signs a token for `contact`.
    pub fn sign(&self, contact: &ContactConfig, t: &PortalToken<'_>) -> anyhow::Result<String> {
        let mut c = Map::new();
        c.insert("sub".into(), json!(contact.id));
        c.insert("preferred_username".into(), json!(contact.username));
        c.insert("given_name".into(), json!(contact.given_name));
        c.insert("family_name".into(), json!(contact.family_name));
        c.insert("email".into(), json!(contact.email));
        if let Some(id) = t.client_id {
            c.insert("aud".into(), json!(id));
            c.insert("appid".into(), json!(id));
        }
        if let Some(n) = t.nonce {
            c.insert("nonce".into(), json!(n));
        }
        c.insert("iat".into(), json!(t.iat));
        c.insert("nbf".into(), json!(t.iat));
        c.insert("exp".into(), json!(t.iat.saturating_add(t.lifetime_secs)));
        c.insert("iss".into(), json!(self.config.host));
        for (k, v) in t.extra.into_iter().flatten() {
            c.insert(k.clone(), v.clone());
        }
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        Ok(jsonwebtoken::encode(&header, &Value::Object(c), &self.key.encoding)?)
    }
}

/// At most this many sign-in sessions are kept (then everyone signs in again).
const MAX_SESSIONS: usize = 10_000;

/// All sites of one emulator, their sign-in sessions and how many tokens they issued.
#[derive(Debug, Default)]
pub struct Portal {
    sites: RwLock<HashMap<String, Site>>,
    /// Cookie value → (site host, contact id).
    sessions: Mutex<HashMap<String, (String, String)>>,
    issued: AtomicU64,
}

impl Portal {
    /// Generates each site's key.
    pub fn from_config(sites: &[SiteConfig]) -> anyhow::Result<Self> {
        let portal = Self::default();
        for s in sites {
            portal.add(s.clone(), SiteKey::generate()?);
        }
        Ok(portal)
    }

    /// Adds (or replaces) a site.
    pub fn add(&self, config: SiteConfig, key: SiteKey) {
        let host = config.host.to_ascii_lowercase();
        self.write().insert(host, Site { config, key: Arc::new(key) });
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Site>> {
        self.sites.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the site with this host, if there is one.
    pub fn with_site<T>(&self, host: &str, f: impl FnOnce(&Site) -> T) -> Option<T> {
        self.sites.read().unwrap_or_else(PoisonError::into_inner).get(&host.to_ascii_lowercase()).map(f)
    }

    /// Runs `f` on the site with this host, mutably.
    pub fn with_site_mut<T>(&self, host: &str, f: impl FnOnce(&mut Site) -> T) -> Option<T> {
        self.write().get_mut(&host.to_ascii_lowercase()).map(f)
    }

    /// Starts a sign-in session for `contact` on `host`; returns the cookie value.
    pub fn sign_in(&self, host: &str, contact: &str) -> String {
        let id = crate::crypto::random_b64(24);
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if sessions.len() >= MAX_SESSIONS {
            sessions.clear();
        }
        sessions.insert(id.clone(), (host.to_ascii_lowercase(), contact.to_owned()));
        id
    }

    /// The contact the cookie value signed in on `host`.
    pub fn session(&self, host: &str, cookie: &str) -> Option<String> {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.get(cookie).filter(|(h, _)| h.eq_ignore_ascii_case(host)).map(|(_, c)| c.clone())
    }

    /// Counts an issued token.
    pub fn count_issued(&self) {
        self.issued.fetch_add(1, Ordering::Relaxed);
    }

    /// Tokens the sites' token endpoints issued.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(settings: &[(&str, &str)]) -> Site {
        Site {
            config: SiteConfig {
                host: "contoso.powerappsportals.com".into(),
                settings: settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
                contacts: vec![],
            },
            key: Arc::new(SiteKey::generate().unwrap()),
        }
    }

    #[test]
    fn settings_decide_registration_lifetime_and_enablement() {
        let s = site(&[
            ("ImplicitGrantFlow/RegisteredClientId", "aaa; BBB"),
            ("implicitgrantflow/tokenexpirationtime", "30"),
        ]);
        assert!(s.is_registered("aaa") && s.is_registered("bbb"));
        assert!(!s.is_registered("ccc") && !s.is_registered(""));
        assert_eq!(s.lifetime_secs(), 60);
        assert!(s.enabled());
        let off = site(&[("Connector/ImplicitGrantFlowEnabled", "False")]);
        assert!(!off.enabled());
        assert_eq!(off.lifetime_secs(), 900);
        assert!(format!("{:?}", off.key).contains("redacted"));
    }
}
