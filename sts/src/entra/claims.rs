//! The three encodings of `claims` (spec §10.6) and the merge with client capabilities.
//!
//! The challenge comes from the caller (the `/token` form) or from Entra; a challenge that is not a
//! JSON object is dropped here, never an error (the form reader already refused it at the edge).
//! No arithmetic on it; the lint keeps it so.
#![deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::cast_possible_wrap)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// The `claims` request parameter for OBO: the challenge (if any) deep-merged with
/// `{"access_token":{"xms_cc":{"values":[capabilities]}}}`. `None` when there is nothing to send.
pub fn request_claims(challenge: Option<&str>, capabilities: &[String]) -> Option<String> {
    let mut merged = challenge
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    if !capabilities.is_empty() {
        merge(&mut merged, json!({"access_token": {"xms_cc": {"values": capabilities}}}));
    }
    match &merged {
        Value::Object(m) if m.is_empty() => None,
        v => Some(v.to_string()),
    }
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert_with(|| Value::Object(Map::new())), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// `WWW-Authenticate` form: base64 of the minified JSON.
pub fn to_header_form(claims_json: &str) -> String {
    let minified =
        serde_json::from_str::<Value>(claims_json).map_or_else(|_| claims_json.to_owned(), |v| v.to_string());
    STANDARD.encode(minified)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn capabilities_alone() {
        let c = request_claims(None, &["cp1".into()]).unwrap();
        assert_eq!(c, r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#);
        assert_eq!(request_claims(None, &[]), None);
    }

    #[test]
    fn challenge_is_merged_not_replaced() {
        let challenge = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
        let c: Value = serde_json::from_str(&request_claims(Some(challenge), &["cp1".into()]).unwrap()).unwrap();
        assert_eq!(c["access_token"]["acrs"]["value"], "c1");
        assert_eq!(c["access_token"]["xms_cc"]["values"][0], "cp1");
    }

    #[test]
    fn header_form_is_base64_of_minified_json() {
        let b = to_header_form("{ \"a\" : 1 }");
        assert_eq!(STANDARD.decode(b).unwrap(), br#"{"a":1}"#);
    }

    /// A JSON value of any shape, a few levels deep.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("JSON has no NaN", |f| f.is_finite()).prop_map(Value::from),
            "\\PC{0,20}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("access_token".to_owned()),
                        Just("xms_cc".to_owned()),
                        Just("values".to_owned()),
                        "\\PC{0,6}"
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any challenge text (JSON of any shape, or not JSON at all) with any capabilities: the
        /// request parameter is `None` or a JSON object that carries every capability, and its
        /// header form decodes back to the same minified JSON.
        #[test]
        fn any_challenge_merges_into_an_object(
            challenge in prop_oneof![json_value().prop_map(|v| v.to_string()), "\\PC{0,60}"],
            capabilities in proptest::collection::vec("[a-z0-9]{1,5}", 0..3),
        ) {
            match request_claims(Some(&challenge), &capabilities) {
                None => prop_assert!(capabilities.is_empty()),
                Some(merged) => {
                    let v: Value = serde_json::from_str(&merged).unwrap();
                    prop_assert!(v.is_object());
                    for (i, c) in capabilities.iter().enumerate() {
                        prop_assert_eq!(&v["access_token"]["xms_cc"]["values"][i], c);
                    }
                    let header = STANDARD.decode(to_header_form(&merged)).unwrap();
                    prop_assert_eq!(String::from_utf8(header).unwrap(), v.to_string());
                }
            }
        }

        /// Any text, even not JSON, has a header form (base64 of it, minified when it is JSON).
        #[test]
        fn any_text_has_a_header_form(text in "\\PC{0,80}") {
            let decoded = String::from_utf8(STANDARD.decode(to_header_form(&text)).unwrap()).unwrap();
            match serde_json::from_str::<Value>(&text) {
                Ok(v) => prop_assert_eq!(decoded, v.to_string()),
                Err(_) => prop_assert_eq!(decoded, text),
            }
        }
    }
}
