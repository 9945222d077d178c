//! PKCE (RFC 7636) and the `state`/`nonce` values of one sign-in, from random bytes the caller
//! supplies (in the browser: `crypto.getRandomValues`), so every function here is deterministic.

use alloc::string::String;

use crate::b64;
use crate::secret::CodeVerifier;

/// Random bytes per value: 32 bytes give a 43-character base64url string, the shortest verifier
/// RFC 7636 §4.1 allows, with 256 bits of entropy.
pub const RANDOM_BYTES: usize = 32;

/// The `code_verifier`: base64url of 32 random bytes (RFC 7636 §4.1, the "recommended" way).
pub fn verifier(random: &[u8; RANDOM_BYTES]) -> CodeVerifier {
    CodeVerifier::new(b64::encode_url(random))
}

/// The S256 `code_challenge` from the SHA-256 digest of the verifier's ASCII bytes (§4.2).
/// The digest itself comes from `crypto.subtle.digest` in the browser.
pub fn challenge_s256(verifier_sha256: &[u8; 32]) -> String {
    b64::encode_url(verifier_sha256)
}

/// An opaque `state` or `nonce`: base64url of random bytes, URL-safe without further encoding.
pub fn random_token(random: &[u8; RANDOM_BYTES]) -> String {
    b64::encode_url(random)
}

/// Constant-time comparison for `state` and `nonce` checks: nothing here leaks how many leading
/// characters of a guess were right.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    /// RFC 7636 Appendix B: the octets, the verifier and the challenge.
    #[test]
    fn rfc7636_appendix_b() {
        let octets: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214, 191,
            240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let v = verifier(&octets);
        assert_eq!(v.expose(), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let digest: [u8; 32] = Sha256::digest(v.expose().as_bytes()).into();
        assert_eq!(challenge_s256(&digest), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn same_compares_exactly() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
        assert!(!same("", "a"));
    }

    proptest! {
        /// Every verifier has the length and alphabet RFC 7636 §4.1 demands.
        #[test]
        fn verifier_is_valid(bytes in any::<[u8; 32]>()) {
            let v = verifier(&bytes);
            prop_assert_eq!(v.expose().len(), 43);
            prop_assert!(v.expose().bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
        }

        /// Different randomness never gives the same state (the encoding is injective).
        #[test]
        fn tokens_differ_with_their_bytes(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
            prop_assert_eq!(random_token(&a) == random_token(&b), a == b);
        }
    }
}
