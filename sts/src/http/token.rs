//! `POST /token`: the RFC 8693 token exchange.

use axum::Extension;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde_json::json;

use super::correlation::CorrelationId;
use super::error::OAuthError;
use crate::exchange::{ExchangeError, TOKEN_TYPE_ACCESS_TOKEN, TokenForm};
use crate::state::AppState;

pub async fn token(
    State(state): State<AppState>,
    Extension(CorrelationId(correlation_id)): Extension<CorrelationId>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(f)) => f,
        Err(rejection) => {
            let e = ExchangeError::InvalidRequest(format!(
                "the body must be application/x-www-form-urlencoded: {}",
                rejection.body_text()
            ));
            return OAuthError { error: e, correlation_id }.into_response();
        }
    };
    match state.exchanger.exchange(form, &correlation_id).await {
        Ok(issued) => {
            let now = crate::clock::unix_now();
            let body = json!({
                "access_token": issued.token.access_token.expose(),
                "issued_token_type": TOKEN_TYPE_ACCESS_TOKEN,
                "token_type": "Bearer",
                "expires_in": (issued.token.expires_at - now).max(0),
                "scope": issued.token.scope,
            });
            let mut response = (StatusCode::OK, Json(body)).into_response();
            no_store(&mut response);
            response
        }
        Err(error) => OAuthError { error, correlation_id }.into_response(),
    }
}

/// Token responses must never be cached by browsers or proxies (RFC 6749 §5.1).
pub fn no_store(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
