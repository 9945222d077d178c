//! CORS for browser callers (the broker runs inside `https://<org>.crm4.dynamics.com` pages).
//!
//! The origins allowed are the configured [`OriginPattern`]s (host wildcards, parsed with the
//! configuration); the rest is a fixed policy: `GET` and `POST`, request headers `content-type`,
//! `x-correlation-id` and `client-request-id`, exposed `WWW-Authenticate`, `Retry-After` and
//! `x-correlation-id`, preflight cached 600 s, no credentials.
//!
//! # Why hand-written
//!
//! This used to be tower-http 0.6's `CorsLayer` with a predicate. It answered the same, but cost
//! ~5k of the ~60k instructions of a cached `POST /token` (callgrind, no `Origin` header): axum
//! clones a route's service on every request, and cloning tower-http's `Cors` clones the whole
//! `CorsLayer` (its `Vary` list is a `Vec<HeaderValue>`, so one allocation, plus a refcount per
//! value: ~1.6k, and ~0.7k to drop it again); then `Cors::call` builds a fresh `HeaderMap`, joins
//! the `Vary` list into a new value (`Vary::to_header`, ~1.2k) and merges that map into the
//! response. Here the policy, with every header value computed once, sits behind one `Arc`:
//! cloning the service is one refcount increment plus the inner service's clone, and a request
//! adds its headers straight to the response (a few hundred instructions).
//!
//! # Same wire behaviour as tower-http
//!
//! tower-http stays the oracle: the tests build the old `CorsLayer` and this layer around the same
//! inner service and compare status, body and every header (values and order) for generated
//! requests. What is reproduced (tower-http 0.6.11, `cors/mod.rs`):
//!
//! - Every `OPTIONS` request is a preflight, answered here without calling the inner service,
//!   whatever its `Origin` or `Access-Control-Request-*` headers: `200`, empty body, `Vary`,
//!   `Access-Control-Allow-Methods`, `-Allow-Headers`, `-Max-Age`, and `-Allow-Origin` when the
//!   origin is allowed.
//! - Any other request goes to the inner service; its response gets `Vary` *appended* after any
//!   `Vary` it already has, and `Access-Control-Allow-Origin` (when allowed) and
//!   `Access-Control-Expose-Headers` *replacing* any it already has (tower-http merges with
//!   `HeaderMap::extend`, which replaces). The allow-origin header comes first: tower-http removes
//!   `Vary` from its scratch map before the merge, and `HeaderMap::remove` swap-removes.
//! - `Vary` is sent whatever the origin. The allow-origin value is the request's first `Origin`
//!   header, echoed, when it is visible ASCII and matches a pattern; otherwise (absent, not
//!   matching, or not text) no allow-origin header is added.
//! - List values are joined the way tower-http joins them: `,` for methods and header names, `, `
//!   for `Vary`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, header};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::origin::OriginPattern;

/// tower-http's default `Vary` list (`preflight_request_headers`), joined with `", "` as its
/// `Vary::to_header` does.
const VARY: &str = "origin, access-control-request-method, access-control-request-headers";
const ALLOW_METHODS: &str = "GET,POST";
const ALLOW_HEADERS: &str = "content-type,x-correlation-id,client-request-id";
const EXPOSE_HEADERS: &str = "www-authenticate,retry-after,x-correlation-id";
/// Seconds a browser may cache a preflight answer.
const MAX_AGE: &str = "600";

/// The allowed origins and every header value, built once per layer. The values are static
/// bytes, so handing one to a response copies a pointer (no refcount).
#[derive(Debug)]
struct Policy {
    patterns: Vec<OriginPattern>,
    vary: HeaderValue,
    allow_methods: HeaderValue,
    allow_headers: HeaderValue,
    expose_headers: HeaderValue,
    max_age: HeaderValue,
}

impl Policy {
    /// The value to send as `Access-Control-Allow-Origin`: the first `Origin` header, when it is
    /// text that matches a pattern.
    fn allow_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let allowed = origin.to_str().is_ok_and(|o| self.patterns.iter().any(|p| p.matches(o)));
        allowed.then(|| origin.clone())
    }
}

/// The CORS layer for the browser-facing routes. No credentials: the broker sends tokens in the
/// body, never cookies.
pub fn layer(patterns: Vec<OriginPattern>) -> CorsLayer {
    CorsLayer {
        policy: Arc::new(Policy {
            patterns,
            vary: HeaderValue::from_static(VARY),
            allow_methods: HeaderValue::from_static(ALLOW_METHODS),
            allow_headers: HeaderValue::from_static(ALLOW_HEADERS),
            expose_headers: HeaderValue::from_static(EXPOSE_HEADERS),
            max_age: HeaderValue::from_static(MAX_AGE),
        }),
    }
}

/// See [`layer`].
#[derive(Debug, Clone)]
pub struct CorsLayer {
    policy: Arc<Policy>,
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Cors<S> {
        Cors { inner, policy: Arc::clone(&self.policy) }
    }
}

/// The service [`CorsLayer`] wraps a route in. Cloning it (axum does, per request) is the inner
/// service's clone plus one refcount increment.
#[derive(Debug, Clone)]
pub struct Cors<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let policy = &*self.policy;
        let allow_origin = policy.allow_origin(req.headers());
        let kind = if req.method() == Method::OPTIONS {
            let mut headers = HeaderMap::with_capacity(5);
            headers.insert(header::VARY, policy.vary.clone());
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, policy.allow_methods.clone());
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, policy.allow_headers.clone());
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, policy.max_age.clone());
            if let Some(origin) = allow_origin {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            }
            Kind::Preflight { headers }
        } else {
            Kind::Inner {
                future: self.inner.call(req),
                vary: policy.vary.clone(),
                expose_headers: policy.expose_headers.clone(),
                allow_origin,
            }
        };
        ResponseFuture { kind }
    }
}

pin_project! {
    /// The response future of [`Cors`]: the inner service's, with the CORS headers added, or a
    /// preflight answer.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner {
            #[pin]
            future: F,
            vary: HeaderValue,
            expose_headers: HeaderValue,
            allow_origin: Option<HeaderValue>,
        },
        Preflight {
            headers: HeaderMap,
        },
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, vary, expose_headers, allow_origin } => {
                let mut response = ready!(future.poll(cx))?;
                let headers = response.headers_mut();
                headers.append(header::VARY, vary.clone());
                if let Some(origin) = allow_origin.take() {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                }
                headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose_headers.clone());
                Poll::Ready(Ok(response))
            }
            KindProj::Preflight { headers } => {
                let mut response = Response::new(B::default());
                *response.headers_mut() = std::mem::take(headers);
                Poll::Ready(Ok(response))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::convert::Infallible;

    use axum::body::Body;
    use axum::http::{HeaderName, StatusCode};
    use bytes::Bytes;
    use futures_util::FutureExt;
    use proptest::prelude::*;
    use tower::ServiceExt;
    use tower_http::cors::AllowOrigin;

    use super::*;

    /// The layer this module replaced, as it was built: the oracle.
    fn tower_http_layer(patterns: Vec<OriginPattern>) -> tower_http::cors::CorsLayer {
        tower_http::cors::CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
                origin.to_str().is_ok_and(|o| patterns.iter().any(|p| p.matches(o)))
            }))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::CONTENT_TYPE,
                HeaderName::from_static("x-correlation-id"),
                HeaderName::from_static("client-request-id"),
            ])
            .expose_headers([
                header::WWW_AUTHENTICATE,
                header::RETRY_AFTER,
                HeaderName::from_static("x-correlation-id"),
            ])
            .max_age(std::time::Duration::from_secs(600))
    }

    fn patterns() -> Vec<OriginPattern> {
        ["https://*.crm4.dynamics.com", "http://localhost:3000"]
            .iter()
            .map(|p| OriginPattern::parse(p).unwrap())
            .collect()
    }

    /// What the inner service answers.
    #[derive(Debug, Clone)]
    struct Inner {
        /// 200 with a JSON body, or an OAuth-style JSON 4xx.
        error: Option<u16>,
        /// Its own `Vary` values.
        vary: Vec<&'static str>,
        /// Its own CORS headers (tower-http replaces these, or keeps allow-origin when the
        /// request's origin is not allowed).
        own_cors: bool,
    }

    impl Inner {
        fn respond(&self) -> Response<Body> {
            let (status, body) = match self.error {
                None => (StatusCode::OK, r#"{"access_token":"t"}"#),
                Some(code) => (StatusCode::from_u16(code).unwrap(), r#"{"error":"invalid_request"}"#),
            };
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert("x-correlation-id", HeaderValue::from_static("abc-123"));
            match self.error {
                Some(401) => {
                    headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                }
                Some(429) => {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
                }
                _ => {}
            }
            for v in &self.vary {
                headers.append(header::VARY, HeaderValue::from_static(v));
            }
            if self.own_cors {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("https://inner.example"));
                headers.append(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("x-one"));
                headers.append(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("x-two"));
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
    }

    /// A request as generated: method, `Origin` values (raw bytes), optional preflight headers.
    #[derive(Debug, Clone)]
    struct Req {
        method: Method,
        origins: Vec<Vec<u8>>,
        request_method: Option<&'static str>,
        request_headers: Option<&'static str>,
    }

    impl Req {
        fn build(&self) -> Request<Body> {
            let mut req =
                Request::builder().method(self.method.clone()).uri("/token").body(Body::from("grant_type=x")).unwrap();
            let headers = req.headers_mut();
            for o in &self.origins {
                headers.append(header::ORIGIN, HeaderValue::from_bytes(o).unwrap());
            }
            if let Some(m) = self.request_method {
                headers.insert(header::ACCESS_CONTROL_REQUEST_METHOD, HeaderValue::from_static(m));
            }
            if let Some(h) = self.request_headers {
                headers.insert(header::ACCESS_CONTROL_REQUEST_HEADERS, HeaderValue::from_static(h));
            }
            req
        }
    }

    fn method() -> impl Strategy<Value = Method> {
        prop_oneof![
            Just(Method::GET),
            Just(Method::POST),
            Just(Method::OPTIONS),
            Just(Method::PUT),
            Just(Method::DELETE)
        ]
    }

    fn origin() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            // Matching a pattern (host case does not matter to `OriginPattern::matches`).
            "[a-zA-Z0-9]{1,12}".prop_map(|l| format!("https://{l}.crm4.dynamics.com").into_bytes()),
            Just(b"http://localhost:3000".to_vec()),
            // Not matching.
            Just(b"https://a.b.crm4.dynamics.com".to_vec()),
            Just(b"https://crm4.dynamics.com".to_vec()),
            Just(b"http://contoso.crm4.dynamics.com".to_vec()),
            Just(b"https://localhost:3000".to_vec()),
            Just(b"null".to_vec()),
            "[ -~]{0,30}".prop_map(String::into_bytes),
            // Not visible ASCII: Latin-1 bytes, and UTF-8 that is still not `to_str`-able.
            "[a-z]{1,8}".prop_map(|l| format!("https://{l}\u{e9}.crm4.dynamics.com").into_bytes()),
            "[a-z]{1,8}".prop_map(|l| {
                let mut o = format!("https://{l}").into_bytes();
                o.push(0xe9);
                o.extend_from_slice(b".crm4.dynamics.com");
                o
            }),
        ]
    }

    fn request() -> impl Strategy<Value = Req> {
        (
            method(),
            prop::collection::vec(origin(), 0..=2),
            prop::option::of(prop_oneof![Just("POST"), Just("GET"), Just("PUT"), Just("")]),
            prop::option::of(prop_oneof![
                Just("content-type"),
                Just("content-type,x-correlation-id"),
                Just("authorization")
            ]),
        )
            .prop_map(|(method, origins, request_method, request_headers)| Req {
                method,
                origins,
                request_method,
                request_headers,
            })
    }

    fn inner() -> impl Strategy<Value = Inner> {
        (
            prop::option::of(prop_oneof![Just(400u16), Just(401), Just(413), Just(429)]),
            prop::collection::vec(prop_oneof![Just("accept-encoding"), Just("authorization"), Just("*")], 0..=2),
            any::<bool>(),
        )
            .prop_map(|(error, vary, own_cors)| Inner { error, vary, own_cors })
    }

    impl Service<Request<Body>> for Inner {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<Body>) -> Self::Future {
            std::future::ready(Ok(self.respond()))
        }
    }

    /// Status, headers (name, value) in map order, and body.
    type Seen = (StatusCode, Vec<(String, Bytes)>, Bytes);

    /// Sends `req` through `layer` around `inner`; everything the client sees.
    fn send<L>(layer: L, inner: &Inner, req: Request<Body>) -> Seen
    where
        L: Layer<Inner>,
        L::Service: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    {
        let response = layer.layer(inner.clone()).oneshot(req).now_or_never().expect("ready at once").unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).now_or_never().expect("ready at once").unwrap();
        // In map order: grouped by name, names in the order they go on the wire, values in order.
        let headers =
            parts.headers.iter().map(|(n, v)| (n.to_string(), Bytes::copy_from_slice(v.as_bytes()))).collect();
        (parts.status, headers, body)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Same status, body and headers (names, values and their order) as tower-http.
        #[test]
        fn answers_like_tower_http(req in request(), inner in inner()) {
            let ours = send(layer(patterns()), &inner, req.build());
            let theirs = send(tower_http_layer(patterns()), &inner, req.build());
            prop_assert_eq!(ours, theirs);
        }
    }

    /// The cases the property is about do come up, and look as intended: a preflight from an
    /// allowed origin gets every header, a request from another origin only `Vary` and the
    /// exposed list.
    #[test]
    fn preflight_and_request_headers() {
        let inner = Inner { error: None, vary: vec![], own_cors: false };
        let preflight = Req {
            method: Method::OPTIONS,
            origins: vec![b"https://contoso.crm4.dynamics.com".to_vec()],
            request_method: Some("POST"),
            request_headers: Some("content-type"),
        };
        let (status, headers, body) = send(layer(patterns()), &inner, preflight.build());
        assert_eq!((status, body), (StatusCode::OK, Bytes::new()));
        let pairs: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (n.as_str(), &v[..])).collect();
        assert_eq!(
            pairs,
            [
                ("vary", VARY.as_bytes()),
                ("access-control-allow-methods", b"GET,POST"),
                ("access-control-allow-headers", b"content-type,x-correlation-id,client-request-id"),
                ("access-control-max-age", b"600"),
                ("access-control-allow-origin", b"https://contoso.crm4.dynamics.com"),
            ]
        );

        let other = Req { method: Method::POST, origins: vec![b"https://evil.example".to_vec()], ..preflight };
        let (status, headers, _) = send(layer(patterns()), &inner, other.build());
        assert_eq!(status, StatusCode::OK);
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["content-type", "x-correlation-id", "cache-control", "vary", "access-control-expose-headers"]
        );
    }
}
