//! The three encodings of `claims` (spec §10.6) and the merge with client capabilities.

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
}
