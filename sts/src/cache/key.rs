//! Cache keys for OBO results (spec §6): a hash of the raw subject token, the client app and the
//! normalised scopes. Never the `oid` alone — a newer token may carry claims (MFA) an older one
//! lacked — and never the token itself: keys end up in logs and, later, in Redis.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `base64url(SHA-256(token ‖ 0 ‖ client ‖ 0 ‖ scopes))`, scopes lower-cased, sorted, deduplicated.
/// The zero bytes keep field boundaries unambiguous.
pub fn cache_key(subject_token: &str, client_app_id: &str, scopes: &[String]) -> String {
    TokenHash::new(subject_token).cache_key(client_app_id, scopes)
}

/// SHA-256 of exactly the subject token's bytes, whole (32 bytes, never truncated): what the peek
/// memo (`PeekMemo`, in the Entra client's layer above) is keyed by. Not the token, and not the cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

/// The subject token's bytes run through SHA-256 once per exchange (a 1.4 KB token is most of the
/// hashing): finalised, they are the [`TokenDigest`]; continued with the grant, the [`cache_key`]. The
/// cache key is the same `SHA-256(token ‖ 0 ‖ client ‖ 0 ‖ scopes)` as ever — only the token's
/// part of the work is shared — so the shared Redis cache's keys (`{prefix}tok:{cache_key}`) are
/// unchanged and instances of any version on one Redis still find each other's entries.
#[derive(Clone)]
pub struct TokenHash {
    /// SHA-256's state after the token's bytes (no secret beyond what the digest reveals).
    after_token: Sha256,
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl TokenHash {
    pub fn new(subject_token: &str) -> Self {
        let mut after_token = Sha256::new();
        after_token.update(subject_token.as_bytes());
        Self { after_token }
    }

    /// `SHA-256(token)`.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest(self.after_token.clone().finalize().into())
    }

    /// The cache key of this token for `client_app_id` and `scopes` (see [`cache_key`]).
    ///
    /// Lower-cased on the fly, in the order of the lower-cased bytes, rather than by building the
    /// lower-cased strings and joining them: the same bytes reach SHA-256 (a property test holds
    /// it to that derivation), without an allocation per scope on every cached exchange.
    pub fn cache_key(&self, client_app_id: &str, scopes: &[String]) -> String {
        let mut sorted: Vec<&str> = scopes.iter().map(String::as_str).collect();
        sorted.sort_unstable_by(|a, b| lowered(a).cmp(lowered(b)));
        sorted.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        let mut h = self.after_token.clone();
        h.update([0]);
        update_lowered(&mut h, client_app_id);
        h.update([0]);
        for (i, scope) in sorted.iter().enumerate() {
            if i > 0 {
                h.update(b" ");
            }
            update_lowered(&mut h, scope);
        }
        URL_SAFE_NO_PAD.encode(h.finalize())
    }
}

/// The bytes of `s`, ASCII lower-cased (as `str::to_ascii_lowercase` does).
fn lowered(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().map(|b| b.to_ascii_lowercase())
}

/// Hashes `s` ASCII lower-cased, through a small buffer on the stack.
fn update_lowered(h: &mut Sha256, s: &str) {
    let mut buf = [0_u8; 64];
    for chunk in s.as_bytes().chunks(buf.len()) {
        let part = &mut buf[..chunk.len()];
        part.copy_from_slice(chunk);
        part.make_ascii_lowercase();
        h.update(&*part);
    }
}

/// The key of an app-only token: `base64url(SHA-256(1 ‖ "app-only" ‖ 0 ‖ tenant ‖ 0 ‖ client ‖ 0 ‖
/// scopes))`. Per client app, tenant and backend scopes — never per user: the token is the client
/// app's own. The leading byte 1 keeps it apart from [`cache_key`], whose input starts with a JWT.
pub fn app_only_cache_key(tenant: &str, client_app_id: &str, scopes: &[String]) -> String {
    cache_key(&format!("\u{1}app-only\0{}", tenant.to_ascii_lowercase()), client_app_id, scopes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scopes() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec("https://graph\\.microsoft\\.com/[A-Za-z]{1,8}\\.[A-Za-z]{1,6}", 1..5)
    }

    proptest! {
        #[test]
        fn order_and_case_of_scopes_do_not_matter(token in "[A-Za-z0-9._-]{10,60}", mut s in scopes()) {
            let a = cache_key(&token, "client", &s);
            s.reverse();
            let upper: Vec<String> = s.iter().map(|x| x.to_uppercase()).collect();
            prop_assert_eq!(&a, &cache_key(&token, "client", &s));
            prop_assert_eq!(&a, &cache_key(&token, "CLIENT", &upper));
        }

        #[test]
        fn different_tokens_clients_or_scopes_give_different_keys(
            t1 in "[A-Za-z0-9]{10,40}", t2 in "[A-Za-z0-9]{10,40}", s in scopes(), extra in "[A-Z][a-z]{1,8}\\.Write"
        ) {
            prop_assume!(t1 != t2);
            prop_assert_ne!(cache_key(&t1, "c", &s), cache_key(&t2, "c", &s));
            prop_assert_ne!(cache_key(&t1, "c1", &s), cache_key(&t1, "c2", &s));
            let mut more = s.clone();
            more.push(format!("https://graph.microsoft.com/{extra}"));
            prop_assert_ne!(cache_key(&t1, "c", &s), cache_key(&t1, "c", &more));
        }

        #[test]
        fn key_never_contains_the_token(token in "[A-Za-z0-9]{20,60}", s in scopes()) {
            prop_assert!(!cache_key(&token, "c", &s).contains(&token));
        }
    }

    /// The derivation as it was before [`TokenHash`] (one hasher over the whole input): the
    /// shared Redis cache's keys must not move.
    fn cache_key_as_before(subject_token: &str, client_app_id: &str, scopes: &[String]) -> String {
        let mut scopes: Vec<String> = scopes.iter().map(|s| s.to_ascii_lowercase()).collect();
        scopes.sort_unstable();
        scopes.dedup();
        let mut h = Sha256::new();
        h.update(format!("{subject_token}\0{}\0{}", client_app_id.to_ascii_lowercase(), scopes.join(" ")));
        URL_SAFE_NO_PAD.encode(h.finalize())
    }

    proptest! {
        #[test]
        fn the_cache_key_is_unchanged_and_the_digest_is_sha256_of_the_token(
            token in "[A-Za-z0-9._-]{0,1500}", client in "[A-Za-z0-9-]{1,80}",
            s in prop_oneof![
                scopes(),
                proptest::collection::vec("[aAbBzZé/. _-]{0,70}", 0..6),
                // The same scope in other cases (one of them kept), and case that changes the order.
                proptest::collection::vec(prop::sample::select(vec!["Files.Read", "files.read", "FILES.READ", "a", "B", "b", "_é"]), 0..6).prop_map(|v| v.into_iter().map(str::to_owned).collect()),
            ]
        ) {
            let hash = TokenHash::new(&token);
            prop_assert_eq!(hash.cache_key(&client, &s), cache_key_as_before(&token, &client, &s));
            prop_assert_eq!(cache_key(&token, &client, &s), cache_key_as_before(&token, &client, &s));
            // Finalising the digest does not disturb the state the cache key continues from.
            let d = hash.digest();
            prop_assert_eq!(d.0, <[u8; 32]>::from(Sha256::digest(token.as_bytes())));
            prop_assert_eq!(hash.cache_key(&client, &s), cache_key_as_before(&token, &client, &s));
        }

        /// Any one-character change anywhere in the token, the last included, changes the digest.
        #[test]
        fn every_byte_of_the_token_counts(token in "[A-Za-z0-9._-]{1,1500}", at in any::<prop::sample::Index>()) {
            let i = at.index(token.len());
            let mut bytes = token.clone().into_bytes();
            bytes[i] ^= 0x01;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert_ne!(TokenHash::new(&token).digest(), TokenHash::new(&changed).digest());
        }
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let s = vec!["x".to_owned()];
        assert_ne!(cache_key("ab", "c", &s), cache_key("a", "bc", &s));
    }
}
