//! Entries at rest in Redis: AES-256-GCM (aws-lc-rs, already the process's crypto provider) with a
//! random 96-bit nonce per entry, the entry's Redis key as associated data (an entry copied under
//! another key does not open), and the key id in clear in front so keys can rotate.
//!
//! Layout: `1 ‖ len(kid) ‖ kid ‖ nonce(12) ‖ ciphertext ‖ tag(16)`; the plaintext is the token,
//! its expiry, scopes and owner as JSON.
//!
//! Keys come from a file or from an environment variable outside `TESSERA_*` (never configuration
//! values), one `KEY_ID BASE64_32_BYTES` per line (or `;`-separated); the first one encrypts,
//! every one decrypts. The index sets that let a revocation find a tenant's entries are named by
//! an HMAC of the tenant and client app under a key derived from each entry key, so Redis holds
//! no tenant id either.

use std::borrow::Cow;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::cache::{CachedToken, Owner};
use crate::secret::BackendToken;

const VERSION: u8 = 1;

/// Why the keys could not be loaded (never shows a key).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("reading {0}: {1}")]
    Read(String, std::io::Error),
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    #[error("no key in {0}")]
    Empty(String),
    #[error("{source_name}, key {n}: {why}")]
    Bad { source_name: String, n: usize, why: &'static str },
}

struct EntryKey {
    id: String,
    aead: RandomizedNonceKey,
    index: hmac::Key,
}

/// The entry keys: the first encrypts, all decrypt.
pub struct Keyring {
    keys: Vec<EntryKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

/// What an entry holds.
#[derive(Serialize, Deserialize)]
struct Plain<'a> {
    #[serde(borrow)]
    token: Cow<'a, str>,
    exp: i64,
    #[serde(borrow)]
    scope: Cow<'a, str>,
    #[serde(borrow)]
    tenant: Cow<'a, str>,
    #[serde(borrow)]
    client: Cow<'a, str>,
}

impl Keyring {
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::Read(path.display().to_string(), e))?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn from_env(var: &str) -> Result<Self, KeyError> {
        let text = std::env::var(var).map_err(|_| KeyError::MissingEnv(var.to_owned()))?;
        Self::parse(&text, &format!("${var}"))
    }

    /// `KEY_ID BASE64_32_BYTES` per line or `;`-separated item; `#` starts a comment line.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        let items = text.split(['\n', ';']).map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
        for (n, item) in items.enumerate() {
            let bad = |why| KeyError::Bad { source_name: source_name.to_owned(), n: n + 1, why };
            let mut parts = item.split_whitespace();
            let (Some(id), Some(b64), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad("expected `KEY_ID BASE64_KEY`"));
            };
            if id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(bad("a key id is 1-32 letters, digits, - or _"));
            }
            let bytes = STANDARD
                .decode(b64)
                .or_else(|_| URL_SAFE_NO_PAD.decode(b64))
                .map_err(|_| bad("the key is not base64"))?;
            if bytes.len() != 32 {
                return Err(bad("a key is 32 bytes (AES-256)"));
            }
            if keys.iter().any(|k: &EntryKey| k.id == id) {
                return Err(bad("duplicate key id"));
            }
            let aead = RandomizedNonceKey::new(&AES_256_GCM, &bytes).map_err(|_| bad("unusable key"))?;
            let derive = hmac::Key::new(hmac::HMAC_SHA256, &bytes);
            let index = hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&derive, b"tessera index names").as_ref());
            keys.push(EntryKey { id: id.to_owned(), aead, index });
        }
        if keys.is_empty() {
            return Err(KeyError::Empty(source_name.to_owned()));
        }
        Ok(Self { keys })
    }

    /// The id of the key that encrypts.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Encrypts `token` for the Redis key `aad`.
    pub fn seal(&self, aad: &str, token: &CachedToken) -> Option<Vec<u8>> {
        let key = &self.keys[0];
        let plain = Plain {
            token: Cow::Borrowed(token.access_token.expose()),
            exp: token.expires_at,
            scope: Cow::Borrowed(&token.scope),
            tenant: Cow::Borrowed(&token.owner.tenant),
            client: Cow::Borrowed(&token.owner.client_app_id),
        };
        let mut body = serde_json::to_vec(&plain).ok()?;
        let nonce = key.aead.seal_in_place_append_tag(Aad::from(aad.as_bytes()), &mut body).ok()?;
        let id = key.id.as_bytes();
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + body.len());
        out.push(VERSION);
        out.push(u8::try_from(id.len()).ok()?);
        out.extend_from_slice(id);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&body);
        Some(out)
    }

    /// Decrypts an entry read under the Redis key `aad`; `None` for an unknown key id, a
    /// tampered, truncated or misplaced entry.
    pub fn open(&self, aad: &str, entry: &[u8]) -> Option<CachedToken> {
        let (&version, rest) = entry.split_first()?;
        let (&id_len, rest) = rest.split_first()?;
        if version != VERSION || rest.len() < usize::from(id_len) + NONCE_LEN {
            return None;
        }
        let (id, rest) = rest.split_at(usize::from(id_len));
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let key = self.keys.iter().find(|k| k.id.as_bytes() == id)?;
        let mut body = sealed.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = key.aead.open_in_place(nonce, Aad::from(aad.as_bytes()), &mut body).ok()?;
        let p: Plain<'_> = serde_json::from_slice(plain).ok()?;
        Some(CachedToken {
            access_token: BackendToken::new(p.token),
            expires_at: p.exp,
            scope: p.scope.into_owned(),
            owner: Owner { tenant: p.tenant.into_owned(), client_app_id: p.client.into_owned() },
        })
    }

    /// The index names (one per key, newest first) of `client_app_id`'s entries in `tenant`, or
    /// in every tenant with `None`: HMACs, so they name no tenant.
    pub fn index_names(&self, tenant: Option<&str>, client_app_id: &str) -> Vec<String> {
        self.keys.iter().map(|k| Self::index_name(k, tenant, client_app_id)).collect()
    }

    /// The current key's index names an entry of `owner` is listed in.
    pub fn current_index_names(&self, owner: &Owner) -> [String; 2] {
        let k = &self.keys[0];
        [
            Self::index_name(k, Some(&owner.tenant), &owner.client_app_id),
            Self::index_name(k, None, &owner.client_app_id),
        ]
    }

    fn index_name(key: &EntryKey, tenant: Option<&str>, client_app_id: &str) -> String {
        let mut ctx = hmac::Context::with_key(&key.index);
        ctx.update(client_app_id.to_ascii_lowercase().as_bytes());
        ctx.update(&[0]);
        if let Some(t) = tenant {
            ctx.update(t.to_ascii_lowercase().as_bytes());
        }
        let tag = ctx.sign();
        format!("{}.{}", key.id, URL_SAFE_NO_PAD.encode(&tag.as_ref()[..18]))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ring(text: &str) -> Keyring {
        Keyring::parse(text, "test").unwrap()
    }

    fn token() -> CachedToken {
        CachedToken {
            access_token: BackendToken::new("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"),
            expires_at: 2_000_000_000,
            scope: "https://graph.microsoft.com/Files.Read".into(),
            owner: Owner { tenant: "tenant-1".into(), client_app_id: "client-1".into() },
        }
    }

    const K1: &str = "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2 HxoZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIBAB8eHRw=";

    #[test]
    fn round_trip_hides_the_token_and_binds_the_key() {
        let r = ring(K1);
        let sealed = r.seal("slot", &token()).unwrap();
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("eyJ") && !text.contains("tenant-1") && !text.contains("graph"), "{text}");
        let back = r.open("slot", &sealed).unwrap();
        assert_eq!(back.access_token.expose(), token().access_token.expose());
        assert_eq!(back.owner, token().owner);
        assert!(r.open("other-slot", &sealed).is_none(), "the Redis key is associated data");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(r.open("slot", &tampered).is_none());
        assert!(r.open("slot", &sealed[..10]).is_none());
    }

    #[test]
    fn rotation_new_key_encrypts_old_key_still_decrypts() {
        let old = ring(K1);
        let sealed_old = old.seal("s", &token()).unwrap();
        let rotated = ring(&format!("{K2}\n{K1}"));
        assert_eq!(rotated.current_id(), "k2");
        assert!(rotated.open("s", &sealed_old).is_some(), "entries of the previous key still open");
        let sealed_new = rotated.seal("s", &token()).unwrap();
        assert!(old.open("s", &sealed_new).is_none(), "an unknown key id does not open");
        assert_eq!(rotated.index_names(Some("t"), "c").len(), 2);
        assert!(rotated.index_names(Some("t"), "c").contains(&old.index_names(Some("t"), "c")[0]));
    }

    #[test]
    fn index_names_name_no_tenant_and_separate_scopes() {
        let r = ring(K1);
        let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let [per_tenant, per_client] =
            r.current_index_names(&Owner { tenant: tenant.into(), client_app_id: "C".into() });
        assert!(!per_tenant.contains(tenant) && !per_tenant.contains("72f988bf"));
        assert_eq!(per_tenant, r.index_names(Some(&tenant.to_uppercase()), "c")[0]);
        assert_eq!(per_client, r.index_names(None, "c")[0]);
        assert_ne!(per_tenant, per_client);
    }

    #[test]
    fn bad_key_material_is_refused_without_showing_it() {
        for bad in [
            "",
            "k1",
            "k1 notbase64!!",
            "k1 AAAA",
            "bad/id AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            &format!("{K1};{K1}"),
        ] {
            let e = Keyring::parse(bad, "test").unwrap_err().to_string();
            assert!(!e.contains("AAECAw"), "{e}");
        }
        assert_eq!(ring(&format!("# comment\n{K1}; {K2}")).current_id(), "k1");
    }
}
