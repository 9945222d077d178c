//! The OpenAPI document's error answers for `/token` are tied to what the code can answer: every
//! `ExchangeError` variant's status (and each status a `RequestError` has of its own) is documented,
//! with the OAuth error body.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sts::{ExchangeError, RequestError, SiteKeyError, SubjectTokenError, UpstreamError};

/// One value of every variant. The `match` makes a new variant a compile error here until it is
/// added to the list (and so to the document).
fn every_variant() -> Vec<ExchangeError> {
    let all = vec![
        ExchangeError::InvalidRequest(RequestError::NoGrantType),
        ExchangeError::InvalidRequest(RequestError::NotAForm),
        ExchangeError::InvalidRequest(RequestError::BodyTooLarge { max_bytes: 1 }),
        ExchangeError::InvalidRequest(RequestError::BodyTimeout { secs: 1 }),
        ExchangeError::InvalidRequest(RequestError::HeadersTooLarge { bytes: 2, max_bytes: 1 }),
        ExchangeError::UnsupportedGrantType(String::new()),
        ExchangeError::InvalidScope(String::new()),
        ExchangeError::InvalidTarget(String::new()),
        ExchangeError::InvalidSubjectToken(SubjectTokenError::RefusedByEntra(String::new())),
        ExchangeError::UnauthorizedClient(String::new()),
        ExchangeError::ConsentRequired { message: String::new(), consent_url: String::new() },
        ExchangeError::AccessDenied { message: String::new(), claims: None },
        ExchangeError::InsufficientClaims { message: String::new(), claims: String::new() },
        ExchangeError::Unavailable { message: String::new(), retry_after: Duration::from_secs(1) },
        ExchangeError::Upstream(UpstreamError::CutOff),
        ExchangeError::SiteUnreachable(SiteKeyError::Fetch { site: String::new(), reason: String::new() }),
        ExchangeError::Internal(String::new()),
    ];
    for e in &all {
        match e {
            ExchangeError::InvalidRequest(_)
            | ExchangeError::UnsupportedGrantType(_)
            | ExchangeError::InvalidScope(_)
            | ExchangeError::InvalidTarget(_)
            | ExchangeError::InvalidSubjectToken(_)
            | ExchangeError::UnauthorizedClient(_)
            | ExchangeError::ConsentRequired { .. }
            | ExchangeError::AccessDenied { .. }
            | ExchangeError::InsufficientClaims { .. }
            | ExchangeError::Unavailable { .. }
            | ExchangeError::Upstream(_)
            | ExchangeError::SiteUnreachable(_)
            | ExchangeError::Internal(_) => {}
        }
    }
    all
}

#[test]
fn every_exchange_error_is_documented_on_token() {
    let doc = sts::openapi_document();
    let responses = &doc["paths"]["/token"]["post"]["responses"];
    assert!(responses.is_object(), "{doc:#}");
    for e in every_variant() {
        let status = e.status().to_string();
        let documented = &responses[&status];
        assert!(documented.is_object(), "{e:?} answers {status}, which /openapi.json does not list");
        assert!(
            documented["content"]["application/json"]["schema"].is_object(),
            "{status} is documented without the OAuth error body: {documented:#}"
        );
    }
}
