//! Base64 as the broker meets it: base64url without padding out (PKCE, state, nonce) and a lenient
//! decoder in (JWT segments, and the `claims` of an STS challenge, which is standard base64).
//!
//! Hand-written on purpose: the `base64` crate's engine/config machinery costs several KB of wasm
//! for the two 20-line functions the broker needs, and the browser's `atob` only knows the standard
//! alphabet and works on "binary strings", which would need the same amount of glue.

use alloc::string::String;
use alloc::vec::Vec;

const URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without `=` padding (RFC 4648 §5), the form PKCE (RFC 7636 §4.2) and JWTs use.
pub fn encode_url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // A chunk of k bytes yields k + 1 characters.
        for i in 0..=chunk.len() {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(URL_ALPHABET[idx as usize]));
        }
    }
    out
}

/// Why a base64 input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError;

fn sextet(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    } as u32)
}

/// Decodes standard or URL-safe base64, padded or not: Entra and the STS are not consistent about
/// which one a `claims` value uses, and accepting both costs nothing.
pub fn decode(input: &str) -> Result<Vec<u8>, DecodeError> {
    let trimmed = input.trim().trim_end_matches('=');
    let bytes = trimmed.as_bytes();
    if bytes.len() % 4 == 1 {
        return Err(DecodeError);
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= sextet(*c).ok_or(DecodeError)? << (18 - 6 * i);
        }
        // k characters carry k - 1 whole bytes.
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc4648_vectors_in_url_form() {
        let cases = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(encode_url(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn url_alphabet_is_used_for_62_and_63() {
        assert_eq!(encode_url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn decodes_standard_alphabet_with_padding() {
        // The STS sends `claims` in standard base64: '+', '/' and '=' padding must all decode.
        assert_eq!(decode("+/8=").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode("eyJhIjoxfQ==").unwrap(), br#"{"a":1}"#.to_vec());
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(decode("a"), Err(DecodeError));
        assert_eq!(decode("ab$c"), Err(DecodeError));
        assert_eq!(decode("ab c"), Err(DecodeError));
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let encoded = encode_url(&bytes);
            prop_assert!(!encoded.contains('=') && !encoded.contains('+') && !encoded.contains('/'));
            prop_assert_eq!(decode(&encoded).unwrap(), bytes);
        }
    }
}
