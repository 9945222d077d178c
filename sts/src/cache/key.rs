//! Cache keys for OBO results (spec §6): a hash of the raw subject token, the client app and the
//! normalised scopes. Never the `oid` alone — a newer token may carry claims (MFA) an older one
//! lacked — and never the token itself: keys end up in logs and, later, in Redis.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `base64url(SHA-256(token ‖ 0 ‖ client ‖ 0 ‖ scopes))`, scopes lower-cased, sorted, deduplicated.
/// The zero bytes keep field boundaries unambiguous.
pub fn cache_key(subject_token: &str, client_app_id: &str, scopes: &[String]) -> String {
    let mut scopes: Vec<String> = scopes.iter().map(|s| s.to_ascii_lowercase()).collect();
    scopes.sort_unstable();
    scopes.dedup();
    let mut h = Sha256::new();
    h.update(subject_token.as_bytes());
    h.update([0]);
    h.update(client_app_id.to_ascii_lowercase().as_bytes());
    h.update([0]);
    h.update(scopes.join(" ").as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// The key of an app-only token: `base64url(SHA-256(1 ‖ "app-only" ‖ 0 ‖ tenant ‖ 0 ‖ client ‖ 0 ‖
/// scopes))`. Per client app, tenant and backend scopes — never per user: the token is the client
/// app's own. The leading byte 1 keeps it apart from [`cache_key`], whose input starts with a JWT.
pub fn app_only_cache_key(tenant: &str, client_app_id: &str, scopes: &[String]) -> String {
    cache_key(&format!("\u{1}app-only\0{}", tenant.to_ascii_lowercase()), client_app_id, scopes)
}

#[cfg(test)]
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

    #[test]
    fn field_boundaries_are_unambiguous() {
        let s = vec!["x".to_owned()];
        assert_ne!(cache_key("ab", "c", &s), cache_key("a", "bc", &s));
    }
}
