//! Property-based fuzzing of the emulator's request parsers (issue 16): the JWS parser and
//! NumericDate reader, and over HTTP the token endpoint's form (every grant), client assertions
//! and OBO user assertions signed with hostile claims, and the authorize query. Each property:
//! never a panic (a panic would drop the connection: reqwest errors), never a 5xx, and every
//! refusal is Entra's JSON error (`error` + `error_codes`) — or, for authorize, an answer.

use entra_emulator::jwt::{CompactJws, numeric_date};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::common::*;

/// JSON values of every shape with hostile numbers and strings, nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![
            any::<f64>().prop_filter("JSON has no NaN", |f| f.is_finite()),
            Just(1e308),
            Just(-1e308),
            Just(9.99e14),
            Just(1e15)
        ]
        .prop_map(Value::from),
        prop_oneof![Just("1e308"), Just("-1e308"), Just("NaN"), Just("inf"), Just("999999999999999"), Just("")]
            .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::btree_map("[a-z]{1,3}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// NumericDates as an attacker writes them: the `i64` edges, huge floats and numeric strings.
fn time_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (0_i64..600).prop_map(|d| Value::from(i64::MAX - d)),
        (0_i64..600).prop_map(|d| Value::from(i64::MIN + d)),
        prop_oneof![Just(1e308), Just(-1e308), Just(9.3e18), Just(-9.3e18), Just(1e15), Just(-1e15), Just(9.99e14)]
            .prop_map(Value::from),
        prop_oneof![Just("1e308"), Just("-1e308"), Just("9223372036854775807"), Just("NaN"), Just("1e15")]
            .prop_map(Value::from),
    ]
}

/// What every token-endpoint answer must be: 200 with a token, or a 4xx Entra error body.
fn entra_answer(reply: &Reply) -> Result<(), TestCaseError> {
    if reply.status.as_u16() == 200 {
        prop_assert!(reply.body["access_token"].is_string(), "{:#}", reply.body);
        return Ok(());
    }
    prop_assert!(reply.status.is_client_error(), "{} {:#}", reply.status, reply.body);
    prop_assert!(reply.body["error"].is_string(), "{:#}", reply.body);
    prop_assert!(reply.body["error_codes"][0].is_u64(), "{:#}", reply.body);
    Ok(())
}

proptest! {
    #![proptest_config(Config::with_cases(512))]

    #[test]
    fn jws_parser_and_numeric_dates(text in "\\PC{0,200}", value in prop_oneof![json_value(), time_value()]) {
        let _ = CompactJws::parse(&text);
        let claims = json!({"t": value}).as_object().cloned().unwrap();
        if let Ok(Some(t)) = numeric_date(&claims, "t") {
            prop_assert!(t.unsigned_abs() < 1_000_000_000_000_000, "{t}");
        }
    }
}

/// One emulator for many cases: the runner drives async requests with `block_on`.
fn with_env(cases: u32, test: impl Fn(&tokio::runtime::Runtime, &Env, &mut TestRunner)) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let env = rt.block_on(Env::start());
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    test(&rt, &env, &mut runner);
}

#[test]
fn token_endpoint_forms() {
    let grant = prop_oneof![
        Just("authorization_code".to_owned()),
        Just("refresh_token".to_owned()),
        Just("urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned()),
        Just("client_credentials".to_owned()),
        "\\PC{0,12}",
    ];
    let name = prop_oneof![
        Just("client_id"),
        Just("client_assertion_type"),
        Just("client_assertion"),
        Just("assertion"),
        Just("scope"),
        Just("requested_token_use"),
        Just("code"),
        Just("redirect_uri"),
        Just("code_verifier"),
        Just("refresh_token"),
        Just("claims"),
        Just("grant_type"),
    ];
    let value = prop_oneof![
        Just(CLIENT.to_owned()),
        Just("urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()),
        Just("https://graph.microsoft.com/.default".to_owned()),
        Just("on_behalf_of".to_owned()),
        json_value().prop_map(|v| v.to_string()),
        "\\PC{0,40}",
        "[A-Za-z0-9_-]{0,20}\\.[A-Za-z0-9_-]{0,20}\\.[A-Za-z0-9_-]{0,20}",
        Just("x".repeat(20_000)),
    ];
    // Not `.` or `..`: a client normalises those path segments away before the emulator sees them.
    let tenant = prop_oneof![Just(TENANT.to_owned()), Just("common".to_owned()), "[a-z0-9-][a-z0-9.-]{0,19}"];
    let strategy = (grant, tenant, proptest::collection::vec((name, value), 0..8));
    with_env(96, |rt, env, runner| {
        runner
            .run(&strategy, |(grant, tenant, params)| {
                let mut form: Vec<(&str, &str)> = vec![("grant_type", &grant)];
                form.extend(params.iter().map(|(n, v)| (*n, v.as_str())));
                let reply = rt.block_on(env.token(&tenant, &form));
                entra_answer(&reply)
            })
            .unwrap();
    });
}

#[test]
fn client_assertions_with_hostile_claims() {
    let claim = prop_oneof![Just("exp"), Just("nbf"), Just("iat"), Just("aud"), Just("iss"), Just("sub"), Just("jti")];
    let header = prop_oneof![
        3 => Just(None),
        1 => (prop_oneof![Just("alg"), Just("x5t#S256"), Just("x5t"), Just("kid")], json_value()).prop_map(Some),
    ];
    let value = prop_oneof![1 => json_value(), 2 => time_value()];
    let strategy = (proptest::collection::vec((claim, value), 1..4), header);
    with_env(64, |rt, env, runner| {
        let cert = registered();
        runner
            .run(&strategy, |(changes, header_change)| {
                let now = env.now();
                let mut header = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": b64url(&cert.sha256(), false)});
                if let Some((name, v)) = header_change {
                    header[name] = v;
                }
                let mut payload = json!({"aud": env.token_endpoint(TENANT), "iss": CLIENT, "sub": CLIENT,
                    "jti": "j", "exp": now + 600, "nbf": now, "iat": now});
                for (name, v) in changes {
                    payload[name] = v;
                }
                let assertion = cert.sign_jws(&header, &payload);
                let reply = rt.block_on(
                    env.token(TENANT, &client_credentials_form(&assertion, "https://graph.microsoft.com/.default")),
                );
                entra_answer(&reply)
            })
            .unwrap();
    });
}

#[test]
fn user_assertions_with_hostile_claims() {
    let claim = prop_oneof![
        Just("exp"),
        Just("nbf"),
        Just("iat"),
        Just("aud"),
        Just("iss"),
        Just("tid"),
        Just("ver"),
        Just("scp"),
        Just("idtyp"),
        Just("azp"),
        Just("appid"),
        Just("oid"),
        Just("acrs"),
        Just("xms_cc"),
    ];
    let value = prop_oneof![1 => json_value(), 1 => time_value()];
    let strategy = proptest::collection::vec((claim, value), 1..4);
    with_env(64, |rt, env, runner| {
        runner
            .run(&strategy, |changes| {
                let mut req = env.user_token_request();
                req.extra_claims = changes.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                let Ok(user_token) = env.emu.admin().issue_user_token(req) else { return Ok(()) };
                let reply = rt.block_on(env.obo(&user_token, "https://graph.microsoft.com/Files.Read"));
                entra_answer(&reply)
            })
            .unwrap();
    });
}

#[test]
fn authorize_queries() {
    let name = prop_oneof![
        Just("client_id"),
        Just("response_type"),
        Just("redirect_uri"),
        Just("scope"),
        Just("state"),
        Just("nonce"),
        Just("code_challenge"),
        Just("code_challenge_method"),
        Just("prompt"),
        Just("login_hint"),
        Just("response_mode"),
        Just("claims"),
        Just("max_age"),
    ];
    let value = prop_oneof![
        Just(BROKER.to_owned()),
        Just("code".to_owned()),
        Just(SPA_REDIRECT.to_owned()),
        Just("S256".to_owned()),
        Just("-1".to_owned()),
        Just("18446744073709551616".to_owned()),
        json_value().prop_map(|v| v.to_string()),
        "\\PC{0,30}",
    ];
    let strategy = proptest::collection::vec((name, value), 0..8);
    with_env(96, |rt, env, runner| {
        runner
            .run(&strategy, |params| {
                let url = reqwest::Url::parse_with_params(
                    &format!("{}/{TENANT}/oauth2/v2.0/authorize", env.base()),
                    params.iter().map(|(n, v)| (*n, v.as_str())),
                )
                .unwrap();
                let response = rt.block_on(env.http.get(url).send()).unwrap();
                prop_assert!(!response.status().is_server_error(), "{}", response.status());
                Ok(())
            })
            .unwrap();
    });
}
