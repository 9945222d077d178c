//! Property-based fuzzing of the broker's parsers of untrusted input, on the host (issue 16):
//! what Entra, the STS, the redirect page and the ID token hand the broker. Each property: never
//! panics (in the browser a panic traps the whole module), and every refusal is a `BrokerError`
//! with the code the window API documents.
//!
//! Covered: the ID token's payload and claim checks (`id_token`), base64 (`b64`), form and
//! redirect parameters (`form`, `authorize::parse_response`), STS error answers with their
//! `WWW-Authenticate` and `Retry-After` (`errors::from_sts`, `errors::auth_param`), Entra's token
//! and authorize errors (`errors::from_entra_token_error`, `errors::from_authorize_error`), token
//! lifetimes (`cache::expires_at`, `session::refresh_expiry`) and the STS's `/broker/config`
//! (`config::BrokerConfig::validated`). JSON itself is parsed by the browser's `JSON.parse`.
#![allow(clippy::unwrap_used)]

use broker_wasm::config::{Backend, BrokerConfig, Workload};
use broker_wasm::errors::{
    ErrorCode, StsErrorBody, StsFailure, auth_param, from_authorize_error, from_entra_token_error, from_sts,
};
use broker_wasm::id_token::{IdClaims, check, payload_json};
use broker_wasm::{authorize, b64, cache, form, session};
use proptest::prelude::*;

/// Text that looks like what the broker parses, plus anything at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,60}",
        "[A-Za-z0-9_.=%&+#?\"\\\\, -]{0,80}",
        Just(String::new()),
        Just("consent_required".to_owned()),
        Just("insufficient_claims".to_owned()),
        Just("invalid_grant".to_owned()),
        Just("https://login.microsoftonline.com/x/adminconsent".to_owned()),
        Just("eyJhY2Nlc3NfdG9rZW4iOnt9fQ==".to_owned()), // {"access_token":{}}
    ]
}

/// One year in milliseconds: the cap on any lifetime the broker computes.
const YEAR_MS: u64 = 365 * 24 * 3600 * 1000;
/// `Date.now()` is below 2^53 ms (year 287396).
const MAX_NOW: u64 = 1 << 53;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn base64_decodes_or_refuses(input in text(), bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = b64::decode(&input);
        prop_assert_eq!(b64::decode(&b64::encode_url(&bytes)).unwrap(), bytes);
    }

    #[test]
    fn id_token_payload_and_checks(
        jwt in prop_oneof![text(), "[A-Za-z0-9_-]{0,20}\\.[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,20}"],
        aud in proptest::option::of(text()), nonce in proptest::option::of(text()), tid in proptest::option::of(text()),
        tenant in text(),
    ) {
        let _ = payload_json(&jwt);
        let claims = IdClaims { aud: aud.clone(), nonce: nonce.clone(), tid };
        let broker = "11111111-1111-1111-1111-111111111111";
        match check(&claims, broker, "n1", &tenant) {
            Ok(()) => {
                prop_assert!(aud.is_some_and(|a| a.eq_ignore_ascii_case(broker)));
                prop_assert_eq!(nonce.as_deref(), Some("n1"));
            }
            Err(e) => prop_assert_eq!(e.code, ErrorCode::StsError),
        }
    }

    #[test]
    fn redirect_parameters(params in text(), state in "[a-z0-9]{1,8}", code in proptest::option::of(text()), error in proptest::option::of(text())) {
        let _ = form::parse(&params);
        prop_assert!(authorize::parse_response(&params, "not-the-state-of-random-text-0123456789").is_err());
        let mut f = form::Form::new().pair("state", &state);
        if let Some(c) = &code { f = f.pair("code", c); }
        if let Some(e) = &error { f = f.pair("error", e); }
        let query = f.finish();
        match authorize::parse_response(&query, &state) {
            Ok(authorize::AuthResponse::Error(_)) => prop_assert!(error.is_some()),
            Ok(authorize::AuthResponse::Code(_)) => {
                prop_assert!(error.is_none());
                prop_assert!(code.is_some_and(|c| !c.is_empty()));
            }
            Err(e) => prop_assert_eq!(e.code, ErrorCode::StsError),
        }
    }

    /// Any STS error answer: a decision, never a panic. A challenge only from a 401
    /// `insufficient_claims` whose claims decode to JSON; a consent URL only when allowed.
    #[test]
    fn sts_errors(
        status in prop_oneof![100_u16..600, Just(400_u16), Just(401), Just(403), Just(503)],
        error in proptest::option::of(text()), description in proptest::option::of(text()),
        correlation in proptest::option::of(text()), consent_url in proptest::option::of(text()),
        claims in proptest::option::of(text()), www in proptest::option::of(text()), retry_after in proptest::option::of(text()),
    ) {
        let body = StsErrorBody { error: error.clone(), error_description: description, correlation_id: correlation, consent_url, claims };
        match from_sts(status, &body, www.as_deref(), retry_after.as_deref(), "ours", "https://login.microsoftonline.com") {
            StsFailure::Challenge { claims, .. } => {
                prop_assert_eq!(status, 401);
                prop_assert_eq!(error.as_deref(), Some("insufficient_claims"));
                prop_assert!(claims.trim_start().starts_with('{'), "{}", claims);
            }
            StsFailure::SubjectRejected(e) => {
                prop_assert_eq!((status, error.as_deref()), (400, Some("invalid_grant")));
                prop_assert_eq!(e.code, ErrorCode::StsError);
            }
            StsFailure::Failed(e) => {
                if let Some(url) = &e.consent_url {
                    prop_assert!(url.starts_with("https://login.microsoftonline.com/"), "{}", url);
                }
                prop_assert!(e.correlation_id.is_some());
            }
        }
    }

    #[test]
    fn www_authenticate_parameters(header in text(), name in prop_oneof![Just("claims".to_owned()), text()]) {
        let _ = auth_param(&header, &name);
        let quoted = format!("Bearer error=\"insufficient_claims\", claims=\"{}\"", header.replace('\\', "\\\\").replace('"', "\\\""));
        prop_assert_eq!(auth_param(&quoted, "claims"), Some(header));
    }

    #[test]
    fn entra_and_authorize_errors(status in 0_u16..1000, error in text(), sub in proptest::option::of(text()), description in proptest::option::of(text()), claims in proptest::option::of(text())) {
        let e = from_entra_token_error(status, &error, sub.as_deref(), description.as_deref(), claims.as_deref(), None);
        if e.retryable {
            prop_assert!(status == 429 || status >= 500 || matches!(error.as_str(), "temporarily_unavailable" | "server_error"));
        }
        let _ = from_authorize_error(&error, sub.as_deref(), description.as_deref());
    }

    /// Lifetimes from the wire (`expires_in`, `refresh_token_expires_in`, possibly NaN, negative
    /// or 1e308): a deadline between now and a year ahead, never an overflow.
    #[test]
    fn lifetimes(now in 0..MAX_NOW, secs in prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(-1e308), Just(1e308), 0.0..1e7], previous in proptest::option::of(any::<u64>())) {
        let at = cache::expires_at(now, secs);
        prop_assert!(now <= at && at <= now + YEAR_MS);
        let refresh = session::refresh_expiry(now, previous, Some(secs));
        if secs.is_finite() && secs > 0.0 {
            prop_assert!(now <= refresh && refresh <= now + YEAR_MS);
        }
        let _ = session::refresh_expiry(now, previous, None);
    }

    /// The STS's `/broker/config`, field by field hostile: valid and normalised, or `sts_error`.
    #[test]
    fn broker_config(broker in text(), authority in text(), names in proptest::collection::vec((text(), text(), text(), text()), 0..3)) {
        let config = BrokerConfig {
            broker_app_id: broker,
            authority,
            workloads: names.into_iter().map(|(name, client, scope, resource)| Workload {
                name, client_app_id: client, user_scope: scope,
                backends: vec![Backend { resource, scopes: vec!["a".into()] }],
            }).collect(),
        };
        match config.validated(None) {
            Ok(c) => {
                prop_assert!(broker_wasm::config::is_guid(&c.broker_app_id));
                prop_assert!(broker_wasm::config::MICROSOFT_AUTHORITIES.contains(&c.authority.as_str()), "{}", c.authority);
                prop_assert!(!c.workloads.is_empty());
            }
            Err(e) => prop_assert_eq!(e.code, ErrorCode::StsError),
        }
    }
}
