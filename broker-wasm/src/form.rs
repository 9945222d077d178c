//! `application/x-www-form-urlencoded`: request bodies for the token endpoints, authorize URL query
//! strings, and the parameters the sign-in popup brings back in its fragment or query.
//!
//! Hand-written on purpose (about 60 lines): the `url` crate drags in IDNA/Unicode tables (~100 KB
//! of wasm) and even `form_urlencoded` brings its generic percent-encoding machinery for what is one
//! byte loop here; the browser's `URLSearchParams` would work in wasm but not in host tests, and a JS
//! round trip per parameter buys nothing. The rules are the WHATWG URL standard's
//! "application/x-www-form-urlencoded serializer/parser".

use alloc::string::String;
use alloc::vec::Vec;

/// Builds a form-encoded string, `name=value` pairs joined by `&`.
#[derive(Debug, Default, Clone)]
pub struct Form {
    out: String,
}

impl Form {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one pair; both sides are encoded.
    pub fn pair(mut self, name: &str, value: &str) -> Self {
        if !self.out.is_empty() {
            self.out.push('&');
        }
        encode_into(&mut self.out, name);
        self.out.push('=');
        encode_into(&mut self.out, value);
        self
    }

    /// Appends the pair only when there is a value.
    pub fn pair_opt(self, name: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.pair(name, v),
            None => self,
        }
    }

    /// The encoded string.
    pub fn finish(self) -> String {
        self.out
    }
}

/// Percent-encodes one component: the WHATWG set leaves `*-._` and alphanumerics, maps space to `+`.
fn encode_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        match b {
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes one component: `+` is a space, `%XX` a byte; a malformed `%` stays as it is (WHATWG).
/// Bytes that are not UTF-8 make the whole value one U+FFFD, where WHATWG replaces each bad
/// sequence: Entra and the STS only send UTF-8, such a value can match no `state` or `code`
/// anyway, and `String::from_utf8_lossy` costs ~1 KB of wasm.
fn decode_component(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    crate::text::utf8(out).unwrap_or_else(|| String::from(char::REPLACEMENT_CHARACTER))
}

/// Parses `a=1&b=2` (a leading `?` or `#` is ignored). Empty pieces are skipped, a piece without
/// `=` is a name with an empty value.
pub fn parse(input: &str) -> Vec<(String, String)> {
    let input = input.strip_prefix(['?', '#']).unwrap_or(input);
    input
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (decode_component(name), decode_component(value))
        })
        .collect()
}

/// The first value of `name` in parsed pairs.
pub fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_like_url_search_params() {
        // Expected strings are what `new URLSearchParams({...}).toString()` gives in a browser.
        let body = Form::new()
            .pair("scope", "api://a/access_as_user openid")
            .pair("claims", r#"{"access_token":{"acrs":{"essential":true}}}"#)
            .pair("x", "*-._~é")
            .finish();
        assert_eq!(
            body,
            "scope=api%3A%2F%2Fa%2Faccess_as_user+openid\
             &claims=%7B%22access_token%22%3A%7B%22acrs%22%3A%7B%22essential%22%3Atrue%7D%7D%7D\
             &x=*-._%7E%C3%A9"
        );
    }

    #[test]
    fn optional_pairs_are_left_out() {
        let body = Form::new().pair("a", "1").pair_opt("b", None).pair_opt("c", Some("3")).finish();
        assert_eq!(body, "a=1&c=3");
    }

    #[test]
    fn parses_a_fragment_response() {
        let pairs = parse("#code=0.AX%2Bz&state=abc&session_state=x+y&flag");
        assert_eq!(get(&pairs, "code"), Some("0.AX+z"));
        assert_eq!(get(&pairs, "state"), Some("abc"));
        assert_eq!(get(&pairs, "session_state"), Some("x y"));
        assert_eq!(get(&pairs, "flag"), Some(""));
        assert_eq!(get(&pairs, "missing"), None);
    }

    #[test]
    fn malformed_percent_is_kept() {
        assert_eq!(get(&parse("a=%zz%4"), "a"), Some("%zz%4"));
        assert_eq!(get(&parse("a=%"), "a"), Some("%"));
        assert_eq!(get(&parse("a=%4"), "a"), Some("%4"));
    }

    #[test]
    fn invalid_utf8_is_one_replacement_character() {
        assert_eq!(get(&parse("state=%FFabc&code=%C3%A9"), "state"), Some("\u{fffd}"));
        assert_eq!(get(&parse("state=%FFabc&code=%C3%A9"), "code"), Some("é"));
    }

    proptest! {
        #[test]
        fn round_trips(name in "\\PC{0,12}", value in "\\PC{0,40}") {
            let encoded = Form::new().pair(&name, &value).finish();
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_graphic() && b != b'#'));
            let pairs = parse(&encoded);
            if name.is_empty() && value.is_empty() {
                // "=" parses to one empty pair, like URLSearchParams.
                prop_assert_eq!(pairs.len(), 1);
            } else {
                prop_assert_eq!(pairs, vec![(name, value)]);
            }
        }
    }
}
