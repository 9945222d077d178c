//! Property-based fuzzing of the STS's parsers of untrusted input, through their public API
//! (issue 16). Each property: never panics, and every rejection is the typed error the edge maps to
//! one specific OAuth error. Case counts are bounded so the whole file runs in seconds in debug.
//!
//! Covered here:
//! - the `/token` form reader ([`sts::parse_form`]) and the request checks
//!   ([`sts::TokenForm::check`]): bytes → `invalid_request` / `unsupported_grant_type` /
//!   `invalid_scope` / `invalid_target`, all 400;
//! - [`sts::validation::peek`] and its claim handling: any text, and well-formed tokens with
//!   hostile header and claim values → `PeekError` (`invalid_grant`, 400);
//! - [`sts::validation::verify`] against a real RSA key: random signatures, re-signed and
//!   re-encoded claims → an error, never a panic (`invalid_grant`);
//! - the configuration loader ([`sts::Config::load`]): random TOML text and environment
//!   values → `ConfigError`.
//!
//! Covered by the modules' own tests (private parsers): Entra's token and error answers and
//! `Retry-After` (`entra::obo`), JWKS and metadata documents (`entra::keys`), the claims-challenge
//! codec (`entra::claims`). The HTTP edge in process: `fuzz_http.rs`; the real binary:
//! `scripts/fuzz-token.sh`.
#![allow(clippy::unwrap_used, clippy::result_large_err)] // figment's Jail closure returns figment::Error

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Value, json};
use sts::validation::SigningKey;
use sts::validation::{PLAUSIBLE_TIMES, PeekError, peek, verify};
use sts::{Config, ConfigError};
use sts::{ExchangeError, parse_form};
use tessera_wire::{grant_type, token_type};

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const NOW: i64 = 1_800_000_000;

/// JSON values of every shape, hostile numbers and strings included, nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![
            any::<f64>().prop_filter("JSON has no NaN or infinities", |f| f.is_finite()),
            Just(1e308),
            Just(-1e308),
            Just(f64::MIN_POSITIVE),
            Just(1_900_000_000.5),
        ]
        .prop_map(Value::from),
        prop_oneof![Just(NOW - 100), Just(NOW + 100), Just(0), Just(*PLAUSIBLE_TIMES.end())].prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
        prop_oneof![Just("RS256"), Just("none"), Just("HS256"), Just("1.0"), Just("2.0"), Just(TID), Just("app")]
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A NumericDate as an attacker writes it: edges of `i64`, huge floats, fractions, strings, arrays.
fn time_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (0_i64..7200).prop_map(|d| Value::from(i64::MAX - d)),
        (0_i64..7200).prop_map(|d| Value::from(i64::MIN + d)),
        (NOW - 7200..NOW + 7200).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![Just(1e308), Just(-1e308), Just(9.3e18), Just(-9.3e18), Just(1_800_000_000.5)]
            .prop_map(Value::from),
        Just(Value::from(*PLAUSIBLE_TIMES.end())),
        Just(Value::from(PLAUSIBLE_TIMES.end() + 1)),
        Just(json!("1800000000")),
        Just(json!([1_800_000_000])),
        Just(Value::Null),
        Just(json!(true)),
    ]
}

fn good_claims() -> Value {
    json!({"ver":"2.0","iss":format!("https://login.microsoftonline.com/{TID}/v2.0"),"tid":TID,
           "aud":"22222222-2222-4222-8222-222222222222","azp":"11111111-1111-4111-8111-111111111111",
           "oid":"o","scp":"access_as_user","exp":NOW + 3600,"nbf":NOW - 60})
}

/// The good claims with up to three members replaced (or removed) by hostile values.
fn hostile_claims() -> impl Strategy<Value = Value> {
    let names = prop_oneof![
        Just("ver"),
        Just("iss"),
        Just("tid"),
        Just("aud"),
        Just("azp"),
        Just("appid"),
        Just("oid"),
        Just("scp"),
        Just("idtyp"),
        Just("exp"),
        Just("nbf"),
    ];
    proptest::collection::vec((names, proptest::option::of(json_value())), 1..4).prop_map(|changes| {
        let mut c = good_claims();
        for (name, value) in changes {
            match value {
                Some(v) => c[name] = v,
                None => {
                    c.as_object_mut().unwrap().remove(name);
                }
            }
        }
        c
    })
}

fn hostile_header() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(json!({"alg":"RS256","kid":"k1","typ":"JWT"})),
        1 => (json_value(), json_value()).prop_map(|(alg, kid)| json!({"alg": alg, "kid": kid})),
        1 => json_value(),
    ]
}

fn encode(header: &Value, claims: &Value, sig: &str) -> String {
    format!("{}.{}.{sig}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// What the edge answers for a refused subject token.
fn edge(e: &PeekError) -> ExchangeError {
    ExchangeError::from(e.clone())
}

/// One real RSA key for the whole file (generating one takes a while in debug).
fn key() -> &'static (entra_emulator::crypto::signing_keys::SigningKey, SigningKey) {
    static KEY: std::sync::OnceLock<(entra_emulator::crypto::signing_keys::SigningKey, SigningKey)> =
        std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let signer = entra_emulator::crypto::signing_keys::SigningKey::generate().unwrap();
        let key = SigningKey { key: signer.decoding_key().clone(), issuer: None, issuer_acceptable: true };
        (signer, key)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes as a `/token` body: a form, or `invalid_request`; any form that parses is then
    /// accepted or refused with one of the four 400 errors the request checks have.
    #[test]
    fn any_body_is_a_form_or_a_400(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_form_bytes(&body)?;
    }

    /// Forms made of the fields `/token` reads, with hostile values, sometimes repeated, and
    /// percent-encoded or not: the same two outcomes.
    #[test]
    fn hostile_forms_are_a_form_or_a_400(
        pairs in proptest::collection::vec(
            (
                prop_oneof![
                    Just("grant_type".to_owned()), Just("subject_token".to_owned()),
                    Just("subject_token_type".to_owned()), Just("scope".to_owned()), Just("resource".to_owned()),
                    Just("audience".to_owned()), Just("requested_token_type".to_owned()),
                    Just("claims".to_owned()), "\\PC{0,8}",
                ],
                prop_oneof![
                    Just(grant_type::TOKEN_EXCHANGE.to_owned()), Just(token_type::ACCESS_TOKEN.to_owned()),
                    json_value().prop_map(|v| v.to_string()), "\\PC{0,40}", "[%+=&]{0,6}",
                    Just("x".repeat(17 * 1024)),
                ],
                any::<bool>(),
            ),
            0..8,
        )
    ) {
        let mut body = Vec::new();
        for (i, (name, value, escaped)) in pairs.iter().enumerate() {
            if i > 0 {
                body.push(b'&');
            }
            if *escaped {
                body.extend(form_urlencoded::Serializer::new(String::new()).append_pair(name, value).finish().bytes());
            } else {
                body.extend(format!("{name}={value}").bytes());
            }
        }
        check_form_bytes(&body)?;
    }

    /// Any text as a subject token: claims or a `PeekError`, whose message stays short.
    #[test]
    fn peek_any_text(token in prop_oneof!["\\PC{0,200}", "[A-Za-z0-9_.=-]{0,300}"], now in any::<i64>(), leeway in any::<i64>()) {
        if let Err(e) = peek(&token, now, leeway) {
            prop_assert!(e.to_string().len() < 400);
            prop_assert_eq!(edge(&e).oauth_code(), "invalid_grant");
        }
    }

    /// The time claims alone, hostile and at the `i64` edges, at any `now` and `leeway`: the checks
    /// never overflow, and a token is accepted only with integer times in the plausible range that
    /// the leeway-widened window contains.
    #[test]
    fn peek_hostile_times(
        exp in time_value(), nbf in proptest::option::of(time_value()),
        now in prop_oneof![Just(NOW), any::<i64>(), Just(i64::MAX), Just(i64::MIN)],
        leeway in prop_oneof![Just(60_i64), any::<i64>(), Just(i64::MAX), Just(i64::MIN)],
    ) {
        let mut claims = good_claims();
        claims["exp"] = exp;
        match nbf {
            Some(nbf) => claims["nbf"] = nbf,
            None => {
                claims.as_object_mut().unwrap().remove("nbf");
            }
        }
        match peek(&encode(&json!({"alg":"RS256","kid":"k1"}), &claims, "c2ln"), now, leeway) {
            Ok(_) => {
                let exp = claims["exp"].as_i64().unwrap();
                prop_assert!(PLAUSIBLE_TIMES.contains(&exp));
                prop_assert!(i128::from(exp) + i128::from(leeway) >= i128::from(now));
                if let Some(nbf) = claims.get("nbf").filter(|v| !v.is_null()) {
                    let nbf = nbf.as_i64().unwrap();
                    prop_assert!(PLAUSIBLE_TIMES.contains(&nbf));
                    prop_assert!(i128::from(nbf) - i128::from(leeway) <= i128::from(now));
                }
            }
            Err(e) => prop_assert!(matches!(
                e,
                PeekError::ImplausibleTime(_) | PeekError::Expired | PeekError::NotYetValid | PeekError::NoExp
            ), "{e:?}"),
        }
    }

    /// Well-formed tokens with hostile header and claim values, at any `now` and `leeway`: what
    /// `peek` accepts holds a GUID tenant, scopes and integer times within the plausible range.
    #[test]
    fn peek_hostile_claims(header in hostile_header(), claims in hostile_claims(), now in prop_oneof![Just(NOW), any::<i64>()], leeway in prop_oneof![Just(60_i64), any::<i64>()]) {
        let token = encode(&header, &claims, "c2ln");
        match peek(&token, now, leeway) {
            Ok(p) => {
                prop_assert_eq!(p.tenant.len(), 36);
                prop_assert!(!p.scopes.is_empty());
                let exp = claims["exp"].as_i64().unwrap();
                prop_assert!(PLAUSIBLE_TIMES.contains(&exp));
                if let Some(nbf) = claims.get("nbf").filter(|v| !v.is_null()) {
                    prop_assert!(PLAUSIBLE_TIMES.contains(&nbf.as_i64().unwrap()));
                }
            }
            Err(e) => {
                prop_assert_eq!(edge(&e).status(), 400);
                prop_assert!(!e.to_string().contains(&token), "the token is never echoed");
            }
        }
    }
}

proptest! {
    // RSA verification is slow in debug: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// `verify` with a real key: a random signature, or a valid signature over other bytes, is an
    /// error; the key's own signature over hostile claims is checked without a panic.
    #[test]
    fn verify_never_panics(
        claims in hostile_claims(),
        sig in proptest::collection::vec(any::<u8>(), 0..300),
        how in 0_u8..4,
    ) {
        let (signer, key) = key();
        let issuer = format!("https://login.microsoftonline.com/{TID}/v2.0");
        let signed = signer.sign(&claims).unwrap();
        let (signed_part, signature) = signed.rsplit_once('.').unwrap();
        let token = match how {
            0 => format!("{signed_part}.{}", URL_SAFE_NO_PAD.encode(&sig)),
            1 => format!("{}.{signature}", encode(&json!({"alg":"RS256","kid":signer.kid}), &good_claims(), "").trim_end_matches('.')),
            2 => format!("{signed_part}.{}", &signature[..signature.len() / 2]),
            _ => signed.clone(),
        };
        let forged = how < 3 && token != signed;
        let Ok(peeked) = peek(&token, NOW, 60) else { return Ok(()) };
        let verified = verify(&token, &peeked, key, &issuer, 60);
        if forged {
            prop_assert!(verified.is_err(), "a token not signed by the key verified");
        }
        if let Err(e) = verified {
            prop_assert_eq!(ExchangeError::from(e).oauth_code(), "invalid_grant");
        }
    }
}

/// Parses `body` as `/token` does, then checks the request; every refusal is one of the 400s.
fn check_form_bytes(body: &[u8]) -> Result<(), TestCaseError> {
    let form = match parse_form(body) {
        Ok(form) => form,
        Err(e) => {
            prop_assert!(matches!(e, ExchangeError::InvalidRequest(_)), "{e:?}");
            return Ok(());
        }
    };
    if let Err(e) = form.check() {
        prop_assert_eq!(e.status(), 400, "{:?}", e);
        prop_assert!(
            matches!(e.oauth_code(), "invalid_request" | "unsupported_grant_type" | "invalid_scope" | "invalid_target"),
            "{e:?}"
        );
    }
    Ok(())
}

/// A TOML value of any type, for a configuration key.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        Just("18446744073709551615".to_owned()),
        Just("-1".to_owned()),
        Just("1e308".to_owned()),
        Just("inf".to_owned()),
        Just("nan".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        "\\PC{0,20}".prop_map(|s| format!("{s:?}")),
        Just("[]".to_owned()),
        Just("[1, \"a\"]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        Just("\"127.0.0.1:0\"".to_owned()),
        Just("\"http://127.0.0.1:1\"".to_owned()),
        Just("\"PS256\"".to_owned()),
        Just("\"pretty\"".to_owned()),
    ]
}

fn config_key() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop_oneof![
        Just(("server", "listen")),
        Just(("server", "cors_origins")),
        Just(("server", "max_body_bytes")),
        Just(("registry", "database_url")),
        Just(("registry", "poll_interval_secs")),
        Just(("registry", "migrate_on_start")),
        Just(("entra", "authority")),
        Just(("entra", "assertion_alg")),
        Just(("entra", "client_capabilities")),
        Just(("entra", "upstream_timeout_ms")),
        Just(("entra", "upstream_retries")),
        Just(("entra", "leeway_secs")),
        Just(("entra", "key_refresh_interval_secs")),
        Just(("cache", "max_entries")),
        Just(("cache", "expiry_margin_secs")),
        Just(("log", "format")),
        Just(("log", "level")),
        Just(("entra", "no_such_key")),
    ]
}

proptest! {
    // figment's Jail serialises tests on a lock and writes files: few cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random TOML (of the right keys with values of any type, or any text at all) and random
    /// environment values: a configuration or a `ConfigError`, never a panic; a configuration that
    /// loads passes its own validation.
    #[test]
    fn any_configuration_loads_or_is_refused(
        entries in proptest::collection::vec((config_key(), toml_value()), 0..5),
        garbage in proptest::option::of("\\PC{0,60}"),
        env in proptest::option::of((config_key(), "\\PC{0,20}")),
    ) {
        let mut text = String::new();
        for ((table, key), value) in &entries {
            text.push_str(&format!("[{table}]\n{key} = {value}\n"));
        }
        if let Some(g) = &garbage {
            text.push_str(g);
        }
        let mut outcome = None;
        figment::Jail::expect_with(|jail| {
            jail.create_file("tessera.toml", &text)?;
            if let Some(((table, key), value)) = &env {
                jail.set_env(format!("TESSERA_{}__{}", table.to_uppercase(), key.to_uppercase()), value);
            }
            outcome = Some(Config::load(Some(std::path::Path::new("tessera.toml"))).map(|c| c.validate().is_ok()));
            Ok(())
        });
        match outcome.unwrap() {
            Ok(valid) => prop_assert!(valid),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

/// A leeway beyond an hour is refused at start-up: it is not clock skew, and `now ± leeway` in the
/// signature library's time checks must stay far from overflowing.
#[test]
fn leeway_is_bounded() {
    let mut config = Config::default();
    config.entra.leeway_secs = sts::MAX_LEEWAY_SECS;
    assert!(config.validate().is_ok());
    config.entra.leeway_secs = sts::MAX_LEEWAY_SECS + 1;
    let too_large = config.validate().unwrap_err();
    assert!(matches!(too_large, ConfigError::LeewayTooLarge(n) if n == sts::MAX_LEEWAY_SECS + 1));
    assert!(too_large.to_string().contains("entra.leeway_secs"), "the key is named for the operator: {too_large}");
    config.entra.leeway_secs = u64::MAX;
    assert!(matches!(config.validate(), Err(ConfigError::LeewayTooLarge(u64::MAX))));
}
