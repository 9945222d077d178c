//! The `/token` edge under hostile input, in process on loopback (issue 16): the same properties
//! `scripts/fuzz-token.sh` checks on the real binary, as part of `cargo test`. Every answer is
//! below 500 with an OAuth JSON error and the correlation id — including for tokens the emulator
//! really signed whose `exp`/`nbf` are the values that once overflowed — and oversized bodies get
//! an OAuth JSON 413 too.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use sts::ExchangeError;
use sts::validation::{PLAUSIBLE_TIMES, PeekError, TimeClaim};

/// NumericDates as an attacker writes them: the `i64` edges, huge floats, fractions, strings.
fn time_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0_i64..7200).prop_map(|d| Value::from(i64::MAX - d)),
        (0_i64..7200).prop_map(|d| Value::from(i64::MIN + d)),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![Just(1e308), Just(-1e308), Just(9.3e18), Just(-9.3e18), Just(1_900_000_000.5)]
            .prop_map(Value::from),
        Just(Value::from(*PLAUSIBLE_TIMES.end())),
        Just(Value::from(PLAUSIBLE_TIMES.end() + 1)),
        Just(json!("1900000000")),
        Just(json!([1_900_000_000])),
        Just(json!({"$date": 1})),
    ]
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

/// Tokens the emulator signed, with a hostile `exp` or `nbf`: an implausible time is
/// `invalid_grant` naming the claim; a plausible one is judged as a time (200 or `invalid_grant`).
#[test]
fn signed_tokens_with_hostile_times() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let h = rt.block_on(Harness::start());
    runner(48)
        .run(&(prop_oneof![Just("exp"), Just("nbf")], time_value()), |(claim, value)| {
            let token = h.user_token(|r| {
                r.extra_claims.insert(claim.to_owned(), value.clone());
            });
            let a = rt.block_on(h.exchange(&token, FILES_READ, &[]));
            prop_assert!(a.status.is_success() || a.body["correlation_id"].is_string(), "{}", a.body);
            match value.as_i64().filter(|t| PLAUSIBLE_TIMES.contains(t)) {
                None => {
                    prop_assert_eq!((a.status.as_u16(), a.error()), (400, "invalid_grant"), "{}", a.body);
                    let time_claim = if claim == "exp" { TimeClaim::Exp } else { TimeClaim::Nbf };
                    let want = ExchangeError::from(PeekError::ImplausibleTime(time_claim)).public_description();
                    prop_assert_eq!(a.description(), want.as_str(), "{}", a.body);
                }
                Some(_) if a.status.as_u16() == 200 => prop_assert!(!a.access_token().is_empty()),
                Some(_) => prop_assert_eq!((a.status.as_u16(), a.error()), (400, "invalid_grant"), "{}", a.body),
            }
            Ok(())
        })
        .unwrap();
}

/// Any body, content type and correlation id: an answer below 500, echoing the correlation id in
/// `x-correlation-id`; every refusal an OAuth JSON error carrying that id (so a panic, a dropped
/// connection or a plain-text error fails this).
#[test]
fn any_request_gets_an_oauth_answer() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let h = rt.block_on(Harness::start());
    let token = h.user_token(|_| {});
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        "[a-z_]{1,20}=[%A-Za-z0-9+&=._-]{0,60}".prop_map(String::into_bytes),
        Just(vec![b'a'; 40 * 1024]),
        (0..4_usize, "[%&=+]{0,4}").prop_map(move |(at, junk)| {
            let mut form = form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange")
                .append_pair("subject_token_type", "urn:ietf:params:oauth:token-type:access_token")
                .append_pair("scope", FILES_READ)
                .finish()
                .into_bytes();
            let at = (at * form.len() / 4).min(form.len());
            form.splice(at..at, junk.into_bytes());
            form
        }),
    ];
    let content_type = prop_oneof![
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        Just(None),
        "[ -~]{0,40}".prop_map(Some),
        Just(Some("application/x-www-form-urlencoded; charset=latin1".to_owned())),
    ];
    let correlation = proptest::option::of(prop_oneof!["[A-Za-z0-9._-]{1,64}", "[ -~]{0,80}"]);
    runner(96)
        .run(&(body, content_type, correlation, any::<bool>()), |(mut body, content_type, correlation, with_token)| {
            if with_token {
                body.extend(format!("&subject_token={token}").bytes());
            }
            let mut request = h.http.post(format!("{}/token", h.base)).body(body);
            if let Some(ct) = content_type.filter(|c| reqwest::header::HeaderValue::from_str(c).is_ok()) {
                request = request.header("content-type", ct);
            }
            if let Some(id) = correlation.as_ref().filter(|c| reqwest::header::HeaderValue::from_str(c).is_ok()) {
                request = request.header("client-request-id", id);
            }
            let response = rt.block_on(request.send()).unwrap();
            let status = response.status().as_u16();
            let echoed = response.headers()["x-correlation-id"].to_str().unwrap().to_owned();
            let body: Value = rt.block_on(response.json()).unwrap();
            prop_assert!(status < 500, "{status} {body}");
            if status == 200 {
                prop_assert!(with_token && body["access_token"].is_string(), "{body}");
            } else {
                prop_assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{status} {body}");
                prop_assert_eq!(body["correlation_id"].as_str(), Some(echoed.as_str()));
            }
            if let Some(id) = correlation.filter(|c| {
                !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            }) {
                prop_assert_eq!(echoed, id, "a well-formed client-request-id is the correlation id");
            }
            Ok(())
        })
        .unwrap();
}
