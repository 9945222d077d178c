//! String concatenation as one out-of-line call, and strict UTF-8 decoding.
//!
//! `String::from(a) + b + c` inlines an allocation and a grow-and-copy per `+` at every call site;
//! across the broker's URLs, keys and error messages that was several KB of wasm. `cat` measures
//! once, allocates once, and exists once.

use alloc::string::String;
use alloc::vec::Vec;

/// `parts` joined with nothing in between.
#[inline(never)]
pub fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// `bytes` as text when they are well-formed UTF-8, else `None` (no replacement characters).
/// On the host this is `String::from_utf8`; in the browser it is the browser's own strict decoder
/// (`decodeURIComponent` of the bytes percent-encoded, which throws on any ill-formed sequence,
/// overlong forms and surrogates included, exactly where `from_utf8` fails): core's UTF-8
/// validator is ~0.7 KB of wasm, this is a loop and one import.
#[cfg(not(target_arch = "wasm32"))]
pub fn utf8(bytes: Vec<u8>) -> Option<String> {
    String::from_utf8(bytes).ok()
}

/// See the host version.
#[cfg(target_arch = "wasm32")]
#[inline(never)]
pub fn utf8(bytes: Vec<u8>) -> Option<String> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(bytes.len() * 3);
    for b in bytes {
        encoded.push('%');
        encoded.push(char::from(HEX[usize::from(b >> 4)]));
        encoded.push(char::from(HEX[usize::from(b & 15)]));
    }
    js_sys::decode_uri_component(&encoded).ok().and_then(|s| s.as_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn joins_in_order() {
        assert_eq!(cat(&["a", "", "bc", "/"]), "abc/");
        assert_eq!(cat(&[]), "");
    }

    #[test]
    fn utf8_is_strict() {
        assert_eq!(utf8("Adèle €".as_bytes().to_vec()).as_deref(), Some("Adèle €"));
        assert_eq!(utf8(vec![0xC3]), None, "truncated");
        assert_eq!(utf8(vec![0xC0, 0xAF]), None, "overlong");
        assert_eq!(utf8(vec![0xED, 0xA0, 0x80]), None, "surrogate");
    }

    proptest! {
        #[test]
        fn same_as_concat(parts in proptest::collection::vec("\\PC{0,8}", 0..6)) {
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            prop_assert_eq!(cat(&refs), parts.concat());
        }
    }
}
