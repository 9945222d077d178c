//! Reading one cookie of a request (the sign-in page's session, a Power Pages site's contact).

use axum::http::{HeaderMap, header};

/// The value of the cookie called `name`, from any `Cookie` header of the request.
pub fn named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}
