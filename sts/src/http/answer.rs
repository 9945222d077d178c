//! The success body of `POST /token` (RFC 8693 §2.2.1), written by hand.
//!
//! Not `serde_json::to_vec` of a struct: serde checks every byte of the 1–4 KB access token for
//! characters to escape, one at a time, on every cache hit — a tenth of a cached exchange's
//! instructions. Entra's tokens never hold such characters, so [`plain`] looks for them in one
//! vectorised pass, the strings are copied as they are, and only a string that does need
//! escaping goes through serde_json. The property test below holds the output byte for byte to
//! serde_json's.

use serde::Serialize;

/// `{"access_token":…,"issued_token_type":…,"token_type":"Bearer","expires_in":…,"scope":…}`.
pub fn issued(access_token: &str, expires_in: i64, scope: &str) -> Vec<u8> {
    if !(plain(access_token) && plain(scope)) {
        return with_serde(access_token, expires_in, scope);
    }
    let mut itoa = itoa::Buffer::new();
    let expires_in = itoa.format(expires_in);
    let parts: [&str; 9] = [
        r#"{"access_token":""#,
        access_token,
        r#"","issued_token_type":""#,
        tessera_wire::token_type::ACCESS_TOKEN,
        r#"","token_type":"Bearer","expires_in":"#,
        expires_in,
        r#","scope":""#,
        scope,
        r#""}"#,
    ];
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.extend_from_slice(p.as_bytes());
    }
    out
}

/// Whether JSON needs no escape in `s`: no quote, no backslash, no control character (what
/// serde_json escapes). Written as a fold, not `any`, so that it compiles to SIMD compares without a branch
/// per byte.
fn plain(s: &str) -> bool {
    !s.bytes().fold(false, |bad, b| bad | (b < 0x20) | (b == b'"') | (b == b'\\'))
}

#[derive(Serialize)]
struct Issued<'a> {
    access_token: &'a str,
    issued_token_type: &'static str,
    token_type: &'static str,
    expires_in: i64,
    scope: &'a str,
}

fn with_serde(access_token: &str, expires_in: i64, scope: &str) -> Vec<u8> {
    let body = Issued {
        access_token,
        issued_token_type: tessera_wire::token_type::ACCESS_TOKEN,
        token_type: "Bearer",
        expires_in,
        scope,
    };
    // Serialising a struct of strings and an integer into a Vec cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_same_bytes_as_serde_json(token in "\\PC{0,40}|[A-Za-z0-9._-]{0,200}|[ -~\\x00-\\x1f\\u{80}-\\u{10ffff}]{0,30}",
                                        scope in "\\PC{0,20}|[ -~]{0,30}|[\\x00-\\x1f\\\\\"]{0,4}",
                                        expires_in in any::<i64>()) {
            prop_assert_eq!(issued(&token, expires_in, &scope), with_serde(&token, expires_in, &scope));
        }
    }

    #[test]
    fn the_fast_path_is_taken_for_jwts_and_not_for_escapes() {
        assert!(plain("eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln-_"));
        assert!(plain("https://graph.microsoft.com/Files.Read é"));
        for bad in ["a\"b", "a\\b", "a\nb", "\u{1}", "\t"] {
            assert!(!plain(bad), "{bad:?}");
        }
    }
}
