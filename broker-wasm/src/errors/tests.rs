use super::*;
use proptest::prelude::*;

const CLAIMS: &str = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
const CLAIMS_B64: &str = "eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19";

fn body(error: &str) -> StsErrorBody {
    StsErrorBody {
        error: Some(error.to_owned()),
        error_description: Some("detail".to_owned()),
        correlation_id: Some("corr-1".to_owned()),
        ..Default::default()
    }
}

fn failed(f: StsFailure) -> BrokerError {
    match f {
        StsFailure::Failed(e) => e,
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[test]
fn claims_challenge_from_body() {
    let mut b = body("insufficient_claims");
    b.claims = Some(CLAIMS_B64.to_owned());
    let f = from_sts(401, &b, None, None, "mine", AUTHORITY);
    assert_eq!(f, StsFailure::Challenge { claims: CLAIMS.to_owned(), correlation_id: Some("corr-1".to_owned()) });
}

#[test]
fn claims_challenge_from_header_when_body_lacks_it() {
    let header = String::from(r#"Bearer realm="", error="insufficient_claims", claims=""#) + CLAIMS_B64 + "\"";
    let mut b = body("insufficient_claims");
    b.correlation_id = None;
    match from_sts(401, &b, Some(&header), None, "mine", AUTHORITY) {
        StsFailure::Challenge { claims, correlation_id } => {
            assert_eq!(claims, CLAIMS);
            assert_eq!(correlation_id.as_deref(), Some("mine"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unreadable_challenge_is_an_sts_error() {
    let mut b = body("insufficient_claims");
    b.claims = Some("bm90IGpzb24".to_owned()); // "not json"
    let e = failed(from_sts(401, &b, None, None, "mine", AUTHORITY));
    assert_eq!(e.code, ErrorCode::StsError);
    assert!(!e.retryable);
}

#[test]
fn consent_required_carries_the_url() {
    let mut b = body("consent_required");
    b.consent_url = Some("https://login.microsoftonline.com/t/adminconsent?client_id=c".into());
    let e = failed(from_sts(403, &b, None, None, "mine", AUTHORITY));
    assert_eq!(e.code, ErrorCode::ConsentRequired);
    assert_eq!(e.consent_url, b.consent_url);
    assert_eq!(e.correlation_id.as_deref(), Some("corr-1"));
    assert!(!e.retryable);
}

const AUTHORITY: &str = "https://login.microsoftonline.com";

#[test]
fn consent_url_off_the_pinned_authority_is_dropped() {
    for url in [
        "javascript:alert(1)",
        "https://evil.example/t/adminconsent",
        "https://login.microsoftonline.com.evil.example/t/adminconsent",
        "http://login.microsoftonline.com/t/adminconsent",
    ] {
        let mut b = body("consent_required");
        b.consent_url = Some(url.into());
        let e = failed(from_sts(403, &b, None, None, "mine", AUTHORITY));
        assert_eq!(e.consent_url, None, "{url}");
    }
}

#[test]
fn status_mapping() {
    let cases: [(u16, &str, ErrorCode, bool); 7] = [
        (400, "invalid_request", ErrorCode::InvalidRequest, false),
        (400, "invalid_scope", ErrorCode::InvalidRequest, false),
        (400, "invalid_target", ErrorCode::InvalidRequest, false),
        (503, "temporarily_unavailable", ErrorCode::StsError, true),
        (502, "server_error", ErrorCode::StsError, true),
        (429, "slow_down", ErrorCode::StsError, true),
        (404, "", ErrorCode::StsError, false),
    ];
    for (status, error, code, retryable) in cases {
        let e = failed(from_sts(status, &body(error), None, Some("7"), "mine", AUTHORITY));
        assert_eq!((e.code, e.retryable), (code, retryable), "{status} {error}");
    }
}

#[test]
fn retry_after_is_reported() {
    let e = failed(from_sts(503, &body("temporarily_unavailable"), None, Some("7"), "x", AUTHORITY));
    assert!(e.description.contains("retry after 7 s"), "{}", e.description);
}

#[test]
fn invalid_grant_means_the_subject_token_was_refused() {
    assert!(matches!(
        from_sts(400, &body("invalid_grant"), None, None, "x", AUTHORITY),
        StsFailure::SubjectRejected(_)
    ));
}

#[test]
fn entra_errors() {
    let e = from_entra_token_error(
        400,
        "invalid_grant",
        Some("basic_action"),
        Some("AADSTS50076: MFA.\r\nTrace ID: 1"),
        Some(CLAIMS),
        None,
    );
    assert_eq!(e.code, ErrorCode::InteractionRequired);
    assert_eq!(e.claims.as_deref(), Some(CLAIMS));
    assert_eq!(e.description, "Entra: invalid_grant: AADSTS50076: MFA.");
    let e = from_entra_token_error(400, "invalid_grant", Some("consent_required"), None, None, None);
    assert_eq!(e.code, ErrorCode::ConsentRequired);
    let e = from_entra_token_error(503, "temporarily_unavailable", None, None, None, None);
    assert!(e.retryable);
    let e = from_entra_token_error(400, "invalid_request", None, None, Some(""), None);
    assert_eq!((e.code, e.retryable, e.claims), (ErrorCode::StsError, false, None));
}

#[test]
fn authorize_errors() {
    let cancel = from_authorize_error("access_denied", Some("cancel"), None);
    assert_eq!(cancel.code, ErrorCode::UserCancelled);
    assert_eq!(from_authorize_error("consent_required", None, None).code, ErrorCode::ConsentRequired);
    assert_eq!(from_authorize_error("login_required", None, None).code, ErrorCode::InteractionRequired);
    assert!(from_authorize_error("server_error", None, None).retryable);
}

#[test]
fn auth_params() {
    let h = r#"Bearer error="insufficient_claims", claims="a\"b", x=tok, y="" "#;
    assert_eq!(auth_param(h, "error").as_deref(), Some("insufficient_claims"));
    assert_eq!(auth_param(h, "claims").as_deref(), Some("a\"b"));
    assert_eq!(auth_param(h, "x").as_deref(), Some("tok"));
    assert_eq!(auth_param(h, "y").as_deref(), Some(""));
    assert_eq!(auth_param(h, "z"), None);
}

#[test]
fn codes_have_their_wire_names() {
    let all = [
        (ErrorCode::InteractionRequired, "interaction_required"),
        (ErrorCode::ConsentRequired, "consent_required"),
        (ErrorCode::PopupBlocked, "popup_blocked"),
        (ErrorCode::UserCancelled, "user_cancelled"),
        (ErrorCode::InvalidRequest, "invalid_request"),
        (ErrorCode::StsError, "sts_error"),
        (ErrorCode::NetworkError, "network_error"),
        (ErrorCode::Timeout, "timeout"),
        (ErrorCode::UserSignedOut, "user_signed_out"),
    ];
    for (code, name) in all {
        assert_eq!(code.as_str(), name);
    }
}

proptest! {
    /// Whatever the STS answers, the mapping never panics, always correlates, and only a 401
    /// `insufficient_claims` can start an interactive step-up.
    #[test]
    fn sts_mapping_is_total(
        status in 400u16..600,
        error in proptest::option::of("[a-z_]{0,24}"),
        claims in proptest::option::of("[A-Za-z0-9+/=_-]{0,40}"),
        header in proptest::option::of("\\PC{0,60}"),
    ) {
        let b = StsErrorBody { error: error.clone(), claims, ..Default::default() };
        match from_sts(status, &b, header.as_deref(), None, "mine", AUTHORITY) {
            StsFailure::Challenge { correlation_id, .. } => {
                prop_assert_eq!(status, 401);
                prop_assert_eq!(error.as_deref(), Some("insufficient_claims"));
                prop_assert_eq!(correlation_id.as_deref(), Some("mine"));
            }
            StsFailure::SubjectRejected(e) | StsFailure::Failed(e) => {
                prop_assert_eq!(e.correlation_id.as_deref(), Some("mine"));
                prop_assert!(e.code != ErrorCode::PopupBlocked && e.code != ErrorCode::UserCancelled);
            }
        }
    }
}
