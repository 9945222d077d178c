//! Reading the `application/x-www-form-urlencoded` body of `POST /token` into a [`TokenForm`].
//!
//! Written here rather than taken from `serde_urlencoded` (axum's `Form`) for two reasons. Cost: the
//! subject token is 1–4 KB of base64url, which never needs decoding, and the generic path
//! percent-scans, UTF-8-repairs and copies it byte by byte through serde — a tenth of a cached
//! exchange's CPU. Here a value without `%` or `+` is checked with `str::from_utf8` and borrowed;
//! only values with escapes go through `percent_encoding` (the library `url` uses); separators and
//! escapes are found with `memchr` (SIMD) rather than byte by byte. Strictness:
//! invalid UTF-8 is refused rather than silently replaced with U+FFFD, and a repeated parameter is
//! named in the error (RFC 6749 §3.1: parameters "MUST NOT be included more than once").
//!
//! Every byte here is the caller's, so arithmetic is checked by lint: no index sum can overflow or
//! run past the body (`split_at` on a position `memchr` found, `saturating_add` for the next start).
#![deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::cast_possible_wrap)]

use std::borrow::Cow;

use super::error::{ExchangeError, RequestError};
use super::request::TokenForm;
use crate::secret::SubjectToken;

/// Parses the body. Unknown parameters are ignored (RFC 6749 §3.2); empty pairs (`a=1&&b=2`) too.
pub fn parse(body: &[u8]) -> Result<TokenForm, ExchangeError> {
    let mut form = TokenForm::default();
    for pair in pairs(body).filter(|p| !p.is_empty()) {
        let (name, value) = match memchr::memchr(b'=', pair) {
            Some(i) => {
                let (name, value) = pair.split_at(i);
                (name, value.strip_prefix(b"=").unwrap_or(value))
            }
            None => (pair, &b""[..]),
        };
        let name = decode(name)?;
        let slot = match name.as_ref() {
            "grant_type" => &mut form.grant_type,
            "subject_token" => {
                // Straight into its secret type: the decoded value is moved, not copied.
                if form.subject_token.is_some() {
                    return Err(repeated(&name));
                }
                form.subject_token = Some(SubjectToken::new(decode(value)?.into_owned()));
                continue;
            }
            "subject_token_type" => &mut form.subject_token_type,
            "scope" => &mut form.scope,
            "resource" => &mut form.resource,
            "audience" => &mut form.audience,
            "requested_token_type" => &mut form.requested_token_type,
            "claims" => &mut form.claims,
            _ => continue,
        };
        if slot.is_some() {
            return Err(repeated(&name));
        }
        *slot = Some(match known_urn(value) {
            Some(urn) => urn.to_owned(),
            None => decode(value)?.into_owned(),
        });
    }
    Ok(form)
}

fn repeated(name: &str) -> ExchangeError {
    ExchangeError::InvalidRequest(RequestError::Repeated(name.to_owned()))
}

/// The `&`-separated pairs of the body.
fn pairs(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'&', body).chain(std::iter::once(body.len())).map(move |end| {
        let pair = body.get(start..end).unwrap_or_default();
        start = end.saturating_add(1);
        pair
    })
}

/// One name or value: `+` is a space, `%XX` a byte, and the bytes must be UTF-8. A `%` not
/// followed by two hex digits stays as it is (as `percent_encoding` and browsers read it).
///
/// One pass that copies the runs between escapes whole (`memchr2` finds the next `%` or `+`): the
/// token-exchange URNs in every request are escaped several times each, and reading them byte by
/// byte through an iterator was a third of the form's instructions.
fn decode(raw: &[u8]) -> Result<Cow<'_, str>, ExchangeError> {
    let not_utf8 = |_| ExchangeError::InvalidRequest(RequestError::NotUtf8);
    let Some(first) = memchr::memchr2(b'%', b'+', raw) else {
        return std::str::from_utf8(raw).map(Cow::Borrowed).map_err(not_utf8);
    };
    let (plain, mut rest) = raw.split_at(first);
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(plain);
    while let Some((&escape, after)) = rest.split_first() {
        rest = after;
        if escape == b'+' {
            out.push(b' ');
        } else if let [h, l, after @ ..] = rest
            && let (Some(h), Some(l)) = (hex(*h), hex(*l))
        {
            out.push(h.wrapping_shl(4) | l);
            rest = after;
        } else {
            out.push(b'%');
        }
        let (plain, after) = rest.split_at(memchr::memchr2(b'%', b'+', rest).unwrap_or(rest.len()));
        out.extend_from_slice(plain);
        rest = after;
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|e| not_utf8(e.utf8_error()))
}

/// The URNs of the token exchange as clients write them (every `:` as `%3A`: what
/// `encodeURIComponent`, `URLSearchParams`, MSAL, Python and Go send), recognised by one
/// comparison, without decoding: two of them are in every request, and decoding their dozen
/// escapes was a third of reading the form. Any other spelling goes through [`decode`].
const ESCAPED_URNS: [(&str, &str); 5] = [
    ("urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange", tessera_wire::grant_type::TOKEN_EXCHANGE),
    ("urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token", tessera_wire::token_type::ACCESS_TOKEN),
    ("urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", tessera_wire::grant_type::JWT_BEARER),
    ("urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt", tessera_wire::token_type::JWT),
    ("urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token", tessera_wire::token_type::ID_TOKEN),
];

fn known_urn(raw: &[u8]) -> Option<&'static str> {
    ESCAPED_URNS.iter().find(|(escaped, _)| escaped.as_bytes() == raw).map(|(_, urn)| *urn)
}

/// The value of one hex digit.
fn hex(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(body: &[u8]) -> RequestError {
        match parse(body).unwrap_err() {
            ExchangeError::InvalidRequest(e) => e,
            other => panic!("not invalid_request: {other:?}"),
        }
    }

    #[test]
    fn reads_the_fields_and_ignores_the_rest() {
        let f = parse(b"grant_type=urn%3Aietf%3Aparams&subject_token=eyJ.a.b&scope=a+b%2Fc&x=1&&flag").unwrap();
        assert_eq!(f.grant_type.as_deref(), Some("urn:ietf:params"));
        assert_eq!(f.subject_token.as_ref().map(SubjectToken::expose), Some("eyJ.a.b"));
        assert_eq!(f.scope.as_deref(), Some("a b/c"));
        assert_eq!(f.audience, None);
        let f = parse(b"audience=&claims").unwrap();
        assert_eq!((f.audience.as_deref(), f.claims.as_deref()), (Some(""), Some("")));
        assert!(parse(b"").unwrap().grant_type.is_none());
    }

    #[test]
    fn repeated_parameters_and_bad_utf8_are_refused() {
        assert_eq!(err(b"scope=a&scope=b"), RequestError::Repeated("scope".into()));
        assert_eq!(err(b"sc%6fpe=a&scope=b"), RequestError::Repeated("scope".into()), "names are decoded too");
        assert_eq!(err(b"subject_token=a&subject_token=b"), RequestError::Repeated("subject_token".into()));
        assert_eq!(err(b"scope=%FF"), RequestError::NotUtf8);
        assert_eq!(err(b"scope=\xff"), RequestError::NotUtf8);
        // The user is told which parameter.
        assert_eq!(err(b"scope=a&scope=b").to_string(), "parameter scope is given more than once");
        // A repeated unknown parameter is ignored, as every unknown parameter is.
        assert!(parse(b"x=1&x=2").is_ok());
    }

    proptest! {
        /// Whatever a standard encoder (the `url` crate's) writes, this reads back exactly.
        #[test]
        fn reads_what_form_urlencoded_writes(
            token in "[A-Za-z0-9_.-]{0,80}", scope in "\\PC{0,40}", claims in "\\PC{0,40}"
        ) {
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("subject_token", &token)
                .append_pair("scope", &scope)
                .append_pair("claims", &claims)
                .finish();
            let f = parse(body.as_bytes()).unwrap();
            prop_assert_eq!(f.subject_token.as_ref().map(SubjectToken::expose), Some(token.as_str()));
            prop_assert_eq!(f.scope.as_deref(), Some(scope.as_str()));
            prop_assert_eq!(f.claims.as_deref(), Some(claims.as_str()));
        }

        /// Byte for byte what `percent_encoding` (the library `url` uses) decodes, `+` as a space,
        /// for any bytes: escapes valid, truncated (`%4`, `%` at the end) or not hex (`%zz`).
        #[test]
        fn decodes_as_percent_encoding_does(
            raw in proptest::collection::vec(prop_oneof![
                Just(b'%'), Just(b'+'), Just(b'4'), Just(b'a'), Just(b'F'), Just(b'z'), any::<u8>()
            ], 0..60)
        ) {
            let spaced: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
            let expected = String::from_utf8(percent_encoding::percent_decode(&spaced).collect()).ok();
            let got = decode(&raw).ok().map(Cow::into_owned);
            prop_assert_eq!(got, expected);
        }

        /// The URN shortcut answers exactly what the decoder would: for its own spellings (each
        /// of which it recognises) and for near misses (which it leaves to the decoder).
        #[test]
        fn known_urns_read_as_the_decoder_reads_them(
            pair in prop::sample::select(ESCAPED_URNS.to_vec()),
            edit in prop_oneof![
                Just(None), Just(Some(("%3A", "%3a"))), Just(Some(("%3A", ":"))), Just(Some(("%3A", "%3B"))),
                Just(Some(("oauth", "OAuth"))), Just(Some(("urn", "urn+"))),
            ],
        ) {
            let (escaped, urn) = pair;
            prop_assert_eq!(decode(escaped.as_bytes()).unwrap().into_owned(), urn);
            prop_assert_eq!(known_urn(escaped.as_bytes()), Some(urn));
            if let Some((from, to)) = edit {
                let raw = escaped.replacen(from, to, 1);
                let answer = known_urn(raw.as_bytes()).map(str::to_owned);
                prop_assert_eq!(answer.unwrap_or_else(|| decode(raw.as_bytes()).unwrap().into_owned()),
                    decode(raw.as_bytes()).unwrap().into_owned());
                prop_assert_eq!(known_urn(raw.as_bytes()), None, "only the listed spellings take the shortcut");
            }
        }

        /// Any bytes at all: an answer, never a panic.
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&body);
        }
    }
}
