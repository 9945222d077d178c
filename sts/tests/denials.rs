//! Every refusal is a specific OAuth error, and none of them reaches Entra.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;
use sts::validation::{PeekError, VerifyError};
use sts::{ExchangeError, RequestError, SubjectTokenError};

async fn refused(
    h: &Harness,
    token: &str,
    scope: &str,
    extra: &[(&str, &str)],
    status: StatusCode,
    error: &str,
    needle: &str,
) {
    let a = h.exchange(token, scope, extra).await;
    assert_eq!((a.status, a.error()), (status, error), "{}", a.body);
    assert!(a.description().contains(needle), "{:?} should mention {needle:?}", a.description());
    assert!(a.body["correlation_id"].is_string());
}

/// The exchange was refused with exactly the answer of `want`: status, `error` and description.
async fn refused_as(h: &Harness, token: &str, scope: &str, want: impl Into<ExchangeError>) {
    let want = want.into();
    let a = h.exchange(token, scope, &[]).await;
    assert_eq!(
        (a.status.as_u16(), a.error(), a.description()),
        (want.status(), want.oauth_code(), want.public_description().as_str()),
        "{}",
        a.body
    );
    assert!(a.body["correlation_id"].is_string());
}

fn subject_token(e: SubjectTokenError) -> ExchangeError {
    ExchangeError::InvalidSubjectToken(e)
}

#[tokio::test]
async fn token_problems_are_invalid_grant() {
    let h = Harness::start().await;
    let bad = StatusCode::BAD_REQUEST;
    let expired = h.user_token(|r| r.lifetime = time::Duration::seconds(-600));
    refused_as(&h, &expired, FILES_READ, PeekError::Expired).await;
    let app_only = h.user_token(|r| {
        r.extra_claims.insert("idtyp".into(), json!("app"));
    });
    refused_as(&h, &app_only, FILES_READ, PeekError::AppOnly).await;
    let other_aud = h.user_token(|r| {
        r.extra_claims.insert("aud".into(), json!("11111111-2222-4333-8444-555555555555"));
    });
    let unregistered = SubjectTokenError::UnregisteredAudience("11111111-2222-4333-8444-555555555555".into());
    refused_as(&h, &other_aud, FILES_READ, subject_token(unregistered)).await;
    let no_scope = h.user_token(|r| {
        r.extra_claims.insert("scp".into(), json!("something_else"));
    });
    let missing = SubjectTokenError::MissingScope { scope: "access_as_user".into(), workload: "file-picker".into() };
    refused_as(&h, &no_scope, FILES_READ, subject_token(missing)).await;
    let wrong_iss = h.user_token(|r| {
        r.extra_claims.insert("iss".into(), json!(format!("https://login.example.com/{TENANT}/v2.0")));
    });
    let wrong = VerifyError::WrongIssuer {
        found: format!("https://login.example.com/{TENANT}/v2.0"),
        expected: h.emulator.issuer_v2(TENANT),
        tenant: TENANT.into(),
        version: sts::validation::TokenVersion::V2,
    };
    refused_as(&h, &wrong_iss, FILES_READ, wrong).await;
    // A signature that does not verify: flip a character of the signature.
    let good = h.user_token(|_| {});
    let (head, sig) = good.rsplit_once('.').unwrap();
    let flipped = format!("{head}.{}{}", if sig.starts_with('A') { 'B' } else { 'A' }, &sig[1..]);
    refused_as(&h, &flipped, FILES_READ, VerifyError::BadSignature).await;
    refused_as(&h, "not-a-jwt", FILES_READ, PeekError::NotCompact).await;
    // What the caller reads still names the problem in words.
    let a = h.exchange(&expired, FILES_READ, &[]).await;
    assert_eq!((a.status, a.error()), (bad, "invalid_grant"));
    assert!(a.description().contains("expired"), "{}", a.description());
    assert_eq!(h.obo_requests(), 0, "no refused token reached Entra");
}

/// Only a token whose signature and issuer verified fills the peek memo (the memo skips parsing
/// for tokens already proven authentic): a forged one and one of the wrong issuer are refused and
/// never remembered.
#[tokio::test]
async fn only_verified_tokens_fill_the_peek_memo() {
    let h = Harness::start().await;
    let good = h.user_token(|_| {});
    let (head, sig) = good.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}{}", if sig.starts_with('A') { 'B' } else { 'A' }, &sig[1..]);
    let wrong_iss = h.user_token(|r| {
        r.extra_claims.insert("iss".into(), json!(format!("https://login.example.com/{TENANT}/v2.0")));
    });
    for token in [&forged, &wrong_iss] {
        assert_eq!(h.exchange(token, FILES_READ, &[]).await.error(), "invalid_grant");
        assert!(!h.state.exchanger.peeks.holds(token), "an unverified token was remembered");
    }
    assert_eq!(h.exchange(&good, FILES_READ, &[]).await.status, StatusCode::OK);
    assert!(h.state.exchanger.peeks.holds(&good), "not vacuous: a verified token is remembered");
}

#[tokio::test]
async fn registry_denials_have_their_own_codes() {
    let h = Harness::start().await;
    let token = h.user_token(|_| {});
    refused(
        &h,
        &token,
        "https://graph.microsoft.com/Mail.Read",
        &[],
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        "Mail.Read",
    )
    .await;
    refused(&h, &token, &format!("{FILES_READ} api://other/x"), &[], StatusCode::BAD_REQUEST, "invalid_scope", "")
        .await;
    refused(
        &h,
        &token,
        FILES_READ,
        &[("audience", "expense-report")],
        StatusCode::BAD_REQUEST,
        "invalid_target",
        "expense-report",
    )
    .await;

    // A broker the workload does not list.
    let other_broker = h.user_token(|r| r.broker_app = OTHER_BROKER.into());
    refused(&h, &other_broker, FILES_READ, &[], StatusCode::FORBIDDEN, "unauthorized_client", OTHER_BROKER).await;

    // A tenant that never consented gets the admin-consent URL.
    let other_tenant = h.user_token(|r| r.tenant = OTHER_TENANT.into());
    let a = h.exchange(&other_tenant, FILES_READ, &[]).await;
    assert_eq!((a.status, a.error()), (StatusCode::FORBIDDEN, "consent_required"), "{}", a.body);
    let url = a.body["consent_url"].as_str().unwrap();
    assert_eq!(url, format!("{}/{OTHER_TENANT}/adminconsent?client_id={CLIENT}", h.emulator.http_base()));

    // Revoked consent, then a disabled workload.
    h.registry_sql(&format!(
        "INSERT INTO tenant_consents (tenant_id, workload, status, changed_at, reference) VALUES ('{TENANT}', 'file-picker', 'revoked', '2026-11-22T00:00:00Z', 'test') \
         ON CONFLICT (tenant_id, workload) DO UPDATE SET status = excluded.status, changed_at = excluded.changed_at"
    ))
    .await;
    refused(&h, &token, FILES_READ, &[], StatusCode::FORBIDDEN, "consent_required", "revoked").await;
    h.registry_sql(&format!(
        "UPDATE tenant_consents SET status = 'granted' WHERE tenant_id = '{TENANT}'; UPDATE workloads SET enabled = FALSE WHERE name = 'file-picker'"
    ))
    .await;
    refused(&h, &token, FILES_READ, &[], StatusCode::FORBIDDEN, "access_denied", "disabled").await;
    assert_eq!(h.obo_requests(), 0);
}

#[tokio::test]
async fn malformed_requests_are_invalid_request() {
    let h = Harness::start().await;
    let r = h
        .http
        .post(format!("{}/token", h.base))
        .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange")])
        .send()
        .await
        .unwrap();
    let a = Answer::read(r).await;
    assert_eq!((a.status, a.error()), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert_eq!(a.description(), RequestError::NoSubjectToken.to_string());
    let r = h
        .http
        .post(format!("{}/token", h.base))
        .body(vec![b'a'; 64 * 1024])
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = h.http.post(format!("{}/token", h.base)).json(&json!({"grant_type": "x"})).send().await.unwrap();
    let a = Answer::read(r).await;
    assert_eq!((a.status, a.error()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request"), "{}", a.body);
    assert_eq!(a.description(), RequestError::NotAForm.to_string(), "{}", a.body);
    // RFC 6749 §3.1: a parameter given twice is refused, and named.
    let r = h
        .http
        .post(format!("{}/token", h.base))
        .form(&[("scope", FILES_READ), ("scope", USER_READ)])
        .send()
        .await
        .unwrap();
    let a = Answer::read(r).await;
    assert_eq!((a.status, a.error()), (StatusCode::BAD_REQUEST, "invalid_request"), "{}", a.body);
    assert_eq!(a.description(), RequestError::Repeated("scope".into()).to_string(), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn made_up_kids_cause_at_most_one_forced_key_refetch() {
    use base64::Engine;
    let h = std::sync::Arc::new(Harness::start().await);
    let good = h.user_token(|_| {});
    assert_eq!(h.exchange(&good, FILES_READ, &[]).await.status, StatusCode::OK, "keys loaded once");
    let (_, rest) = good.split_once('.').unwrap();
    let header =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"made-up","typ":"JWT"}"#);
    let forged = std::sync::Arc::new(format!("{header}.{rest}"));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (h, forged) = (h.clone(), forged.clone());
        tasks.push(tokio::spawn(async move { h.exchange(&forged, USER_READ, &[]).await }));
    }
    for t in tasks {
        let a = t.await.unwrap();
        assert_eq!((a.status, a.error()), (StatusCode::BAD_REQUEST, "invalid_grant"), "{}", a.body);
        let unknown = SubjectTokenError::UnknownKey { tenant: TENANT.into(), kid: "made-up".into() };
        assert_eq!(a.description(), subject_token(unknown).public_description());
    }
    // And one more afterwards, when nothing is in flight: still within the rate limit.
    assert_eq!(h.exchange(&forged, USER_READ, &[]).await.error(), "invalid_grant");
    let metrics = h.http.get(format!("{}/metrics", h.metrics_base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tessera_key_refreshes_total{reason=\"first\"} 1"), "{metrics}");
    assert!(metrics.contains("tessera_key_refreshes_total{reason=\"unknown_kid\"} 1"), "{metrics}");
}
