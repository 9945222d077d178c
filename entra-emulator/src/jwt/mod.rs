//! JWTs: tolerant parsing of what clients send, and the claims of what the emulator issues.
//!
//! Client assertions are parsed here by hand rather than with `jsonwebtoken::decode`, on
//! purpose: real MSAL libraries send forms that strict JWT libraries reject and Entra accepts
//! (base64url *with* `=` padding in header values, `exp`/`nbf` as floats or strings, no `nbf`,
//! `x5t#S256` with PS256). The signature itself is checked with aws-lc-rs.

pub mod assertion;
pub mod claims;
pub mod incoming;

use base64::Engine as _;
use serde_json::{Map, Value};

/// Decodes base64url with or without `=` padding (MSAL Python pads its thumbprints).
pub fn b64url_decode(input: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(input.trim_end_matches('=')).ok()
}

/// A compact JWS split into its parts, with the raw signing input kept for verification.
#[derive(Debug)]
pub struct CompactJws {
    /// Decoded header.
    pub header: Map<String, Value>,
    /// Decoded payload.
    pub claims: Map<String, Value>,
    /// `base64url(header) "." base64url(payload)` exactly as received.
    pub signing_input: String,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// Why a JWT could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not three dot-separated parts.
    #[error("a JWT has three parts")]
    Parts,
    /// A part is not base64url.
    #[error("a part is not base64url")]
    Base64,
    /// The header or payload is not a JSON object.
    #[error("the header or payload is not a JSON object")]
    Json,
}

impl CompactJws {
    /// Parses without verifying anything.
    pub fn parse(token: &str) -> Result<Self, ParseError> {
        let mut parts = token.trim().split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(ParseError::Parts);
        };
        let object = |part: &str| -> Result<Map<String, Value>, ParseError> {
            let bytes = b64url_decode(part).ok_or(ParseError::Base64)?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err(ParseError::Json),
            }
        };
        Ok(Self {
            header: object(h)?,
            claims: object(p)?,
            signing_input: format!("{h}.{p}"),
            signature: b64url_decode(s).ok_or(ParseError::Base64)?,
        })
    }

    /// A string header value.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// A time claim that is present but not a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a NumericDate")]
pub struct NotANumericDate(pub String);

/// A NumericDate claim given as an integer, a float or a numeric string (MSAL.NET sends
/// strings, MSAL Python floats). Fractions are truncated. `None` if absent; `Err` if present
/// but not a number.
pub fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, NotANumericDate> {
    let Some(value) = claims.get(name) else { return Ok(None) };
    let float = match value {
        Value::Number(n) => n.as_i64().map(|i| i as f64).or_else(|| n.as_f64()),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match float {
        Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.trunc() as i64)),
        _ => Err(NotANumericDate(name.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn numeric_dates_in_every_form() {
        let claims = json!({"i": 1700000000, "f": 1700000000.75, "s": "1700000000", "sf": "1700000000.5", "b": true});
        let claims = claims.as_object().cloned().unwrap_or_default();
        assert_eq!(numeric_date(&claims, "i"), Ok(Some(1_700_000_000)));
        assert_eq!(numeric_date(&claims, "f"), Ok(Some(1_700_000_000)));
        assert_eq!(numeric_date(&claims, "s"), Ok(Some(1_700_000_000)));
        assert_eq!(numeric_date(&claims, "sf"), Ok(Some(1_700_000_000)));
        assert_eq!(numeric_date(&claims, "missing"), Ok(None));
        assert_eq!(numeric_date(&claims, "b"), Err(NotANumericDate("b".into())));
    }

    #[test]
    fn rejects_wrong_part_count() {
        assert_eq!(CompactJws::parse("a.b").err(), Some(ParseError::Parts));
        assert_eq!(CompactJws::parse("a.b.c.d").err(), Some(ParseError::Parts));
    }

    proptest! {
        #[test]
        fn padded_and_unpadded_base64url_decode_alike(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let unpadded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
            let padded = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
            prop_assert_eq!(b64url_decode(&unpadded), Some(bytes.clone()));
            prop_assert_eq!(b64url_decode(&padded), Some(bytes));
        }

        #[test]
        fn integer_times_survive_every_encoding(t in 0_i64..4_000_000_000) {
            let claims = json!({"i": t, "f": t as f64 + 0.25, "s": t.to_string()});
            let claims = claims.as_object().cloned().unwrap_or_default();
            prop_assert_eq!(numeric_date(&claims, "i"), Ok(Some(t)));
            prop_assert_eq!(numeric_date(&claims, "f"), Ok(Some(t)));
            prop_assert_eq!(numeric_date(&claims, "s"), Ok(Some(t)));
        }
    }
}
