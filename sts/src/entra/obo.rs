//! The on-behalf-of request to Entra (spec §3) and what its answers mean (§3, §4, §7, §8).
//!
//! oauth2-rs has no OBO grant and no client assertions, so this is a plain form POST; its error
//! model (server said no / network failed / could not parse) is mirrored in [`OboError`]: Entra's
//! wire protocol is read here, once, and the exchange decides what each refusal means for the broker.
//!
//! Everything one exchange does toward Entra — waiting for a request slot, connecting, each
//! attempt, each wait between attempts — fits inside one deadline (`entra.upstream_timeout_ms`):
//! a `Retry-After` that does not fit is answered at once (503 with that `Retry-After`) instead of
//! being slept through. At most `entra.max_concurrent_requests` requests are in flight, so a burst
//! of distinct misses waits for pooled keep-alive connections instead of opening (and TLS
//! handshaking) one connection each. HTTP/2 would multiplex them over one connection, but needs
//! the h2 crate in the tree for what the bound and the pool already give.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout_at};

use super::assertion::{ASSERTION_LIFETIME_SECS, client_assertion};
use super::claims::request_claims;
use super::upstream::{CauseChain, UpstreamError, failure_kind};
use crate::cache::CachedToken;
use crate::certs::{Certificate, CredentialSet};
use crate::config::EntraConfig;
use crate::metrics::Metrics;
use crate::secret::{BackendToken, ClientAssertion, SubjectToken};
use tessera_wire::aadsts;
use tessera_wire::error::{
    CONSENT_REQUIRED, INTERACTION_REQUIRED, INVALID_CLIENT, INVALID_GRANT, INVALID_SCOPE, UNAUTHORIZED_CLIENT,
};

/// Pause before retrying a connection that could not be opened; doubles per retry.
const CONNECT_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Connection failures retried per attempt (within the deadline).
const CONNECT_RETRIES: u32 = 3;

#[derive(Debug)]
pub struct OboClient {
    http: reqwest::Client,
    config: EntraConfig,
    credentials: Arc<CredentialSet>,
    metrics: Arc<Metrics>,
    /// Signed assertions per (token endpoint, client id, certificate), reused until close to expiry as
    /// msal-node and MSAL Python do (Entra does not treat `jti` as single-use, spec §2): an RSA
    /// signature is most of our own cost on a cache miss.
    assertions: Mutex<HashMap<AssertionSlot, (ClientAssertion, i64)>>,
    /// Requests to Entra in flight at once (`entra.max_concurrent_requests`).
    slots: Semaphore,
}

/// (token endpoint, client id, certificate SHA-256 thumbprint): the assertion's `aud`, `iss`/`sub`
/// and signer. One certificate may serve several client apps.
type AssertionSlot = (String, String, [u8; 32]);

/// An assertion is reused while it has at least this long left.
const ASSERTION_REUSE_MARGIN_SECS: i64 = 120;

/// One call's inputs: on behalf of a user, or (client credentials) as the client app itself.
#[derive(Debug)]
pub struct OboRequest<'a> {
    pub tenant: &'a str,
    pub client_app_id: &'a str,
    pub grant: Upstream<'a>,
    pub scopes: &'a [String],
    pub claims_challenge: Option<&'a str>,
}

/// What the client app asks Entra for.
#[derive(Debug, Clone, Copy)]
pub enum Upstream<'a> {
    /// A delegated token, on behalf of the user whose token this is (RFC 7523 JWT bearer with
    /// `requested_token_use=on_behalf_of`).
    OnBehalfOf(&'a SubjectToken),
    /// An app-only token (RFC 6749 §4.4 client credentials; the scope is `<resource>/.default`).
    AppOnly,
}

#[derive(Deserialize)]
struct Success {
    access_token: String,
    #[serde(default)]
    scope: String,
    expires_in: NumberOrString,
}

/// Entra sometimes sends numbers as strings (spec §3).
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    N(i64),
    S(String),
}

#[derive(Debug, Default, Deserialize)]
struct EntraError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
    suberror: Option<String>,
    claims: Option<String>,
}

impl EntraError {
    /// `AADSTS65001: The user or administrator has not consented…` — the first line only; the
    /// rest is trace ids and timestamps.
    fn summary(&self) -> String {
        let first = self.error_description.lines().next().unwrap_or_default();
        if first.is_empty() { self.error.clone() } else { first.to_owned() }
    }
}

/// What Entra's token endpoint refused an OBO call with, or why it gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OboError {
    /// AADSTS65001 / 700016 or `consent_required`: the tenant has not consented (first line of
    /// Entra's description).
    #[error("{0}")]
    ConsentRequired(String),
    /// Conditional Access blocked the user (`message_only`), with the claims Entra sent if any.
    #[error("{message}")]
    Blocked { message: String, claims: Option<String> },
    /// More is demanded of the user (MFA, CA, CAE): the raw JSON claims challenge.
    #[error("{message}")]
    ClaimsChallenge { message: String, claims: String },
    /// `invalid_grant` / `interaction_required`: the user's token was refused.
    #[error("{0}")]
    SubjectTokenRefused(String),
    /// `invalid_scope`.
    #[error("{0}")]
    ScopeRefused(String),
    /// `invalid_client` / `unauthorized_client` other than a certificate rejection.
    #[error("Entra rejected the client app: {0}")]
    ClientRejected(String),
    /// Every certificate tried was rejected (§7 codes); `code` is the last AADSTS code.
    #[error("Entra rejected the certificate(s) of client app {client_app_id} (AADSTS{code})")]
    CertificatesRejected { client_app_id: String, code: u32 },
    #[error("no valid certificate is configured for client app {0}")]
    NoCertificate(String),
    #[error("signing the client assertion: {0}")]
    Signing(String),
    /// Throttled, failing or silent past the deadline; `retry_after` as Entra said, or ours.
    #[error("{message}")]
    Unavailable { message: String, retry_after: Duration },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

enum Attempt {
    Done(Result<CachedToken, OboError>),
    /// `invalid_client` for this certificate: try the next one.
    BadCertificate(u32),
}

impl OboClient {
    pub fn new(
        http: reqwest::Client,
        config: EntraConfig,
        credentials: Arc<CredentialSet>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let slots = Semaphore::new(config.max_concurrent_requests.max(1));
        Self { http, config, credentials, metrics, assertions: Mutex::new(HashMap::new()), slots }
    }

    /// A valid assertion for `endpoint` signed with `cert`: the cached one, or a fresh one.
    fn assertion(&self, cert: &Certificate, client_id: &str, endpoint: &str) -> Result<ClientAssertion, OboError> {
        let now = crate::clock::unix_now();
        let slot = (endpoint.to_owned(), client_id.to_owned(), cert.thumbprint_sha256());
        let mut cached = self.assertions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((assertion, exp)) = cached.get(&slot)
            && exp - now > ASSERTION_REUSE_MARGIN_SECS
        {
            return Ok(assertion.clone());
        }
        let assertion = client_assertion(cert, self.config.assertion_alg, client_id, endpoint, now)
            .map_err(|e| OboError::Signing(e.to_string()))?;
        cached.retain(|_, (_, exp)| *exp - now > ASSERTION_REUSE_MARGIN_SECS);
        cached.insert(slot, (assertion.clone(), now + ASSERTION_LIFETIME_SECS));
        Ok(assertion)
    }

    pub fn token_endpoint(&self, tenant: &str) -> String {
        // Always the user's tenant, never /common (AADSTS9001023; guests break).
        format!("{}/{tenant}/oauth2/v2.0/token", self.config.authority.as_str())
    }

    pub async fn exchange(&self, req: &OboRequest<'_>) -> Result<CachedToken, OboError> {
        let deadline = Instant::now() + Duration::from_millis(self.config.upstream_timeout_ms);
        let now = crate::clock::unix_now();
        let candidates = self.credentials.candidates(req.client_app_id, now);
        if candidates.is_empty() {
            return Err(OboError::NoCertificate(req.client_app_id.to_owned()));
        }
        let mut last_code = 0;
        // Newest valid certificate first; on a certificate rejection, the next one, once (spec §7).
        for cert in candidates.iter().take(2) {
            match self.attempt(req, cert, deadline).await {
                Attempt::Done(result) => {
                    if result.is_ok() {
                        self.credentials.mark_good(req.client_app_id, &cert.thumbprint_sha256());
                    }
                    return result;
                }
                Attempt::BadCertificate(code) => {
                    self.credentials.mark_bad(req.client_app_id, &cert.thumbprint_sha256(), code);
                    self.metrics
                        .certificate_rejections
                        .get_or_create(&vec![
                            ("client_app".to_owned(), req.client_app_id.to_owned()),
                            ("code".to_owned(), code.to_string()),
                        ])
                        .inc();
                    last_code = code;
                }
            }
        }
        Err(OboError::CertificatesRejected { client_app_id: req.client_app_id.to_owned(), code: last_code })
    }

    async fn attempt(&self, req: &OboRequest<'_>, cert: &Certificate, deadline: Instant) -> Attempt {
        let endpoint = self.token_endpoint(req.tenant);
        let scope = req.scopes.join(" ");
        let claims = request_claims(req.claims_challenge, &self.config.client_capabilities);
        let mut retries_left = self.config.upstream_retries;
        let mut connect_retries_left = CONNECT_RETRIES;
        let mut connect_pause = CONNECT_RETRY_PAUSE;
        loop {
            let assertion = match self.assertion(cert, req.client_app_id, &endpoint) {
                Ok(a) => a,
                Err(e) => return Attempt::Done(Err(e)),
            };
            // Client credentials go through this same request, not through oauth2-rs's
            // `exchange_client_credentials().add_extra_param("client_assertion", …)`, which would
            // send the form fine but cannot read what Entra answers: its `StandardTokenResponse`
            // has `expires_in: Option<u64>`, so Entra's string `"3599"` fails to parse (a
            // `RequestTokenError::Parse` for a good token); its error type keeps `error`,
            // `error_description` and `error_uri` only, dropping the `error_codes` that tell a
            // rejected certificate (fall back to the next one) from other `invalid_client`s, and
            // the `suberror`/`claims` of a Conditional Access refusal; and it hides the status and
            // `Retry-After` of a 429/5xx, which this loop retries within one deadline. So both
            // grants share this loop, the certificate fallback and the parsers below.
            let mut form: Vec<(&str, &str)> = match req.grant {
                Upstream::OnBehalfOf(user_token) => vec![
                    ("grant_type", tessera_wire::grant_type::JWT_BEARER),
                    ("client_id", req.client_app_id),
                    ("client_assertion_type", tessera_wire::CLIENT_ASSERTION_TYPE_JWT_BEARER),
                    ("client_assertion", assertion.expose()),
                    ("assertion", user_token.expose()),
                    ("scope", &scope),
                    ("requested_token_use", tessera_wire::REQUESTED_TOKEN_USE_OBO),
                ],
                Upstream::AppOnly => vec![
                    ("grant_type", tessera_wire::grant_type::CLIENT_CREDENTIALS),
                    ("client_id", req.client_app_id),
                    ("client_assertion_type", tessera_wire::CLIENT_ASSERTION_TYPE_JWT_BEARER),
                    ("client_assertion", assertion.expose()),
                    ("scope", &scope),
                ],
            };
            if let Some(c) = &claims {
                form.push(("claims", c));
            }
            let (status, retry_after, body) = match self.post(&endpoint, &form, deadline).await {
                Ok(answer) => answer,
                Err(failure) => {
                    // Once: for a send failure the kind comes from walking the cause chain.
                    let kind = failure.kind();
                    self.metrics.upstream_error(kind);
                    tracing::warn!(kind, cause = %failure, "request to Entra failed");
                    if failure.is_connect() && connect_retries_left > 0 && Instant::now() + connect_pause < deadline {
                        connect_retries_left -= 1;
                        tokio::time::sleep(connect_pause).await;
                        connect_pause = connect_pause.saturating_mul(2);
                        continue;
                    }
                    return Attempt::Done(Err(failure.into_obo_error(kind, self.config.upstream_timeout_ms)));
                }
            };
            if status == 429 || (500..600).contains(&status) {
                self.metrics.upstream_error(if status == 429 { "status_429" } else { "status_5xx" });
                let wait = retry_after.unwrap_or(Duration::from_millis(200));
                if retries_left > 0 && Instant::now() + wait < deadline {
                    retries_left -= 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Attempt::Done(Err(OboError::Unavailable {
                    message: format!(
                        "Entra answered HTTP {status} after {} retries",
                        self.config.upstream_retries - retries_left
                    ),
                    retry_after: wait.max(Duration::from_secs(1)),
                }));
            }
            if (200..300).contains(&status) {
                return Attempt::Done(parse_success(&body));
            }
            let error: EntraError = serde_json::from_slice(&body).unwrap_or_default();
            return map_error(status, error);
        }
    }

    /// One POST to Entra within `deadline`, waiting for a request slot first: (status,
    /// `Retry-After`, body), or why there is no answer.
    async fn post(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
        deadline: Instant,
    ) -> Result<(u16, Option<Duration>, bytes::Bytes), Failure> {
        let _slot = match timeout_at(deadline, self.slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) | Err(_) => return Err(Failure::Queue),
        };
        let started = std::time::Instant::now();
        let answer = timeout_at(deadline, async {
            let response = self.http.post(endpoint).form(form).send().await.map_err(Failure::Send)?;
            let status = response.status().as_u16();
            let retry_after = parse_retry_after(response.headers().get(reqwest::header::RETRY_AFTER));
            let body = response.bytes().await.map_err(Failure::Body)?;
            Ok((status, retry_after, body))
        })
        .await;
        self.metrics.upstream_latency.observe(started.elapsed().as_secs_f64());
        answer.unwrap_or(Err(Failure::Deadline))
    }
}

/// Why a request to Entra got no answer.
#[derive(Debug)]
enum Failure {
    /// No request slot came free before the deadline.
    Queue,
    /// The deadline passed during the request.
    Deadline,
    /// Sending failed (DNS, connect, TLS, reset …).
    Send(reqwest::Error),
    /// The answer was cut off.
    Body(reqwest::Error),
}

impl Failure {
    fn is_connect(&self) -> bool {
        matches!(self, Self::Send(e) if e.is_connect())
    }

    /// The metric label: what went wrong, from the error's cause chain.
    fn kind(&self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::Deadline => "deadline",
            Self::Body(_) => "body",
            Self::Send(e) => failure_kind(e),
        }
    }

    /// `kind` is [`Self::kind`]'s, already worked out by the caller.
    fn into_obo_error(self, kind: &'static str, timeout_ms: u64) -> OboError {
        match self {
            Self::Queue | Self::Deadline => OboError::Unavailable {
                message: format!("Entra did not answer within {timeout_ms} ms (entra.upstream_timeout_ms)"),
                retry_after: Duration::from_secs(1),
            },
            Self::Body(_) => OboError::Upstream(UpstreamError::CutOff),
            Self::Send(_) => OboError::Upstream(UpstreamError::Unreachable { kind }),
        }
    }
}

/// The whole cause chain, `: `-separated (reqwest's own message says only "error sending request").
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = match self {
            Self::Queue => return f.write_str("no request slot came free before the deadline"),
            Self::Deadline => return f.write_str("the deadline passed before Entra answered"),
            Self::Send(e) | Self::Body(e) => e,
        };
        write!(f, "{}", CauseChain(e))
    }
}

/// The longest lifetime an OBO token may claim. Entra's access tokens live 60–90 minutes (up to
/// 28 hours with continuous access evaluation); a week is far beyond any of them, and keeps
/// `now + expires_in` far from overflowing.
pub const MAX_EXPIRES_IN_SECS: i64 = 7 * 24 * 3600;

/// Reads Entra's success answer (or what a man in the middle made of it): every field checked, a
/// lifetime outside `1..=MAX_EXPIRES_IN_SECS` refused as [`OboError::Upstream`].
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
fn parse_success(body: &[u8]) -> Result<CachedToken, OboError> {
    let s: Success =
        serde_json::from_slice(body).map_err(|e| OboError::Upstream(UpstreamError::NotUnderstood(e.to_string())))?;
    let expires_in = match s.expires_in {
        NumberOrString::N(n) => n,
        NumberOrString::S(s) => s.trim().parse().map_err(|_| OboError::Upstream(UpstreamError::ExpiresInNotNumber))?,
    };
    if !(1..=MAX_EXPIRES_IN_SECS).contains(&expires_in) {
        return Err(OboError::Upstream(UpstreamError::ImplausibleLifetime(expires_in)));
    }
    Ok(CachedToken {
        access_token: BackendToken::new(s.access_token),
        expires_at: crate::clock::unix_now().saturating_add(expires_in),
        scope: s.scope,
        owner: crate::cache::Owner::default(),
    })
}

/// Branches on `error` / `suberror` first, codes second (spec §3).
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
fn map_error(status: u16, e: EntraError) -> Attempt {
    let code = e.error_codes.first().copied().unwrap_or(0);
    let summary = e.summary();
    if e.error == INVALID_CLIENT && e.error_codes.iter().any(|c| aadsts::is_certificate_refusal(*c)) {
        tracing::warn!(aadsts = code, "Entra rejected the client certificate");
        return Attempt::BadCertificate(code);
    }
    let err = match (e.error.as_str(), e.suberror.as_deref(), e.claims) {
        (_, Some(CONSENT_REQUIRED), _) | (CONSENT_REQUIRED, _, _) => OboError::ConsentRequired(summary),
        _ if code == aadsts::CONSENT_MISSING || code == aadsts::APP_NOT_IN_TENANT => OboError::ConsentRequired(summary),
        (_, Some("message_only"), claims) => OboError::Blocked { message: summary, claims },
        (_, _, Some(claims)) if !claims.is_empty() => OboError::ClaimsChallenge { message: summary, claims },
        (INVALID_GRANT | INTERACTION_REQUIRED, _, _) => OboError::SubjectTokenRefused(summary),
        (INVALID_SCOPE, _, _) => OboError::ScopeRefused(summary),
        (INVALID_CLIENT | UNAUTHORIZED_CLIENT, _, _) => OboError::ClientRejected(summary),
        _ => OboError::Upstream(UpstreamError::Status { status, summary }),
    };
    Attempt::Done(Err(err))
}

/// The longest `Retry-After` passed on to the broker: a bigger number from upstream is clamped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After` in seconds (the form Entra uses), at most [`MAX_RETRY_AFTER`]; an HTTP date or
/// garbage falls back to the default.
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
fn parse_retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    value?.to_str().ok()?.trim().parse::<u64>().ok().map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn err(status: u16, json: &str) -> OboError {
        match map_error(status, serde_json::from_str(json).unwrap()) {
            Attempt::Done(Err(e)) => e,
            Attempt::Done(Ok(_)) => panic!("not an error"),
            Attempt::BadCertificate(code) => OboError::CertificatesRejected { client_app_id: String::new(), code },
        }
    }

    #[test]
    fn maps_entra_errors() {
        assert!(matches!(
            err(400, r#"{"error":"invalid_grant","suberror":"consent_required","error_codes":[65001]}"#),
            OboError::ConsentRequired(_)
        ));
        assert!(matches!(
            err(
                400,
                r#"{"error":"interaction_required","suberror":"basic_action","error_codes":[50076],"claims":"{\"access_token\":{}}"}"#
            ),
            OboError::ClaimsChallenge { .. }
        ));
        assert!(matches!(
            err(400, r#"{"error":"invalid_grant","suberror":"message_only","error_codes":[53003],"claims":"{}"}"#),
            OboError::Blocked { .. }
        ));
        assert!(
            matches!(err(400, r#"{"error":"invalid_grant","error_codes":[500133],"error_description":"AADSTS500133: expired\r\nTrace ID: x"}"#), OboError::SubjectTokenRefused(m) if m == "AADSTS500133: expired")
        );
        assert!(matches!(err(400, r#"{"error":"invalid_scope","error_codes":[700022]}"#), OboError::ScopeRefused(_)));
        assert!(matches!(
            err(401, r#"{"error":"invalid_client","error_codes":[700027]}"#),
            OboError::CertificatesRejected { code: 700027, .. }
        ));
        assert!(matches!(
            err(400, r#"{"error":"unauthorized_client","error_codes":[700016]}"#),
            OboError::ConsentRequired(_)
        ));
    }

    #[test]
    fn assertions_are_reused_per_endpoint_and_certificate() {
        crate::crypto::install_provider();
        let cert = crate::certs::generate_self_signed("reuse", 30).unwrap().certificate().unwrap();
        let client = OboClient::new(
            reqwest::Client::new(),
            EntraConfig::default(),
            Arc::new(CredentialSet::from_certs(Vec::new())),
            Arc::new(Metrics::new()),
        );
        let a = client.assertion(&cert, "c", "https://login/t1/oauth2/v2.0/token").unwrap();
        let b = client.assertion(&cert, "c", "https://login/t1/oauth2/v2.0/token").unwrap();
        let other = client.assertion(&cert, "c", "https://login/t2/oauth2/v2.0/token").unwrap();
        assert_eq!(a.expose(), b.expose(), "reused while valid");
        assert_ne!(a.expose(), other.expose(), "the audience is the endpoint: one assertion per tenant");
        let other_client = client.assertion(&cert, "c2", "https://login/t1/oauth2/v2.0/token").unwrap();
        assert_ne!(
            a.expose(),
            other_client.expose(),
            "iss/sub is the client id: one certificate may serve several apps"
        );
    }

    #[test]
    fn expires_in_may_be_a_string() {
        let t =
            parse_success(br#"{"access_token":"a","expires_in":"3599","scope":"s","token_type":"Bearer"}"#).unwrap();
        assert!(t.expires_at > crate::clock::unix_now() + 3500);
    }

    #[test]
    fn implausible_lifetimes_are_refused() {
        for body in [
            r#"{"access_token":"a","expires_in":0}"#,
            r#"{"access_token":"a","expires_in":-1}"#,
            r#"{"access_token":"a","expires_in":9223372036854775807}"#,
            r#"{"access_token":"a","expires_in":"-9223372036854775808"}"#,
            r#"{"access_token":"a","expires_in":604801}"#,
        ] {
            let e = parse_success(body.as_bytes()).err().unwrap();
            assert!(matches!(&e, OboError::Upstream(UpstreamError::ImplausibleLifetime(_))), "{body}: {e}");
        }
        for body in [
            r#"{"access_token":"a","expires_in":1e308}"#,
            r#"{"access_token":"a","expires_in":18446744073709551615}"#,
            r#"{"access_token":"a","expires_in":"NaN"}"#,
            r#"{"access_token":"a","expires_in":[3599]}"#,
            r#"{"access_token":"a","expires_in":null}"#,
            r#"{"access_token":7,"expires_in":3599}"#,
        ] {
            assert!(matches!(parse_success(body.as_bytes()), Err(OboError::Upstream(_))), "{body}");
        }
        let week = parse_success(br#"{"access_token":"a","expires_in":604800}"#).unwrap();
        assert!(week.expires_at >= crate::clock::unix_now() + 604_000);
    }

    #[test]
    fn retry_after_is_clamped() {
        let h = |v: &str| parse_retry_after(Some(&reqwest::header::HeaderValue::from_str(v).unwrap()));
        assert_eq!(h(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(h("18446744073709551615"), Some(MAX_RETRY_AFTER));
        assert_eq!(h("18446744073709551616"), None);
        assert_eq!(h("-1"), None);
        assert_eq!(h("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    /// A JSON value of any shape, nested a little, for Entra's answer bodies.
    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("JSON has no NaN", |f| f.is_finite()).prop_map(serde_json::Value::from),
            "\\PC{0,30}".prop_map(serde_json::Value::from),
            prop_oneof![
                Just("consent_required"),
                Just("message_only"),
                Just("invalid_grant"),
                Just("invalid_client"),
                Just("interaction_required"),
                Just("invalid_scope"),
                Just("3599"),
                Just("{}")
            ]
            .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("error".to_owned()),
                        Just("error_codes".to_owned()),
                        Just("suberror".to_owned()),
                        Just("claims".to_owned()),
                        Just("error_description".to_owned()),
                        Just("expires_in".to_owned()),
                        Just("access_token".to_owned()),
                        "[a-z_]{1,8}"
                    ],
                    inner,
                    0..6,
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn answer_fields() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        (
            json_value(),
            json_value(),
            prop_oneof![Just(serde_json::json!([65001])), Just(serde_json::json!([700027, 1])), json_value()],
            json_value(),
            json_value(),
            prop_oneof![
                any::<i64>().prop_map(serde_json::Value::from),
                "-?[0-9]{0,22}".prop_map(serde_json::Value::from),
                json_value()
            ],
        )
            .prop_map(|(error, suberror, codes, claims, description, expires_in)| {
                serde_json::json!({"error": error, "suberror": suberror, "error_codes": codes, "claims": claims,
                    "error_description": description, "access_token": "t", "expires_in": expires_in})
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any bytes as a token answer: a token with a plausible lifetime, or `Upstream` (502).
        #[test]
        fn any_success_body_is_a_token_or_upstream(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            match parse_success(&body) {
                Ok(t) => proptest::prop_assert!(t.expires_at > crate::clock::unix_now() - 5),
                Err(e) => proptest::prop_assert!(matches!(e, OboError::Upstream(_))),
            }
        }

        /// Answers of the right shape with hostile values: `expires_in` is accepted exactly within
        /// its bounds, whatever its form; everything else is `Upstream`.
        #[test]
        fn hostile_success_bodies(answer in answer_fields()) {
            let body = answer.to_string();
            let lifetime = match &answer["expires_in"] {
                serde_json::Value::Number(n) => n.as_i64(),
                serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            match parse_success(body.as_bytes()) {
                Ok(t) => {
                    let lifetime = lifetime.unwrap();
                    proptest::prop_assert!((1..=MAX_EXPIRES_IN_SECS).contains(&lifetime));
                    proptest::prop_assert!(t.expires_at >= crate::clock::unix_now() - 5 + lifetime - 5);
                }
                Err(e) => {
                    proptest::prop_assert!(matches!(e, OboError::Upstream(_)));
                    proptest::prop_assert!(!lifetime.is_some_and(|l| (1..=MAX_EXPIRES_IN_SECS).contains(&l)));
                }
            }
        }

        /// Any error answer, as `attempt` reads it: a typed decision, never a panic; the certificate
        /// fallback only for `invalid_client`.
        #[test]
        fn any_error_body_is_a_typed_error(status in 400_u16..600, answer in answer_fields(), raw in proptest::prelude::any::<bool>()) {
            let body = if raw { answer.to_string().into_bytes().into_iter().rev().collect() } else { answer.to_string().into_bytes() };
            let error: EntraError = serde_json::from_slice(&body).unwrap_or_default();
            let invalid_client = error.error == "invalid_client";
            match map_error(status, error) {
                Attempt::Done(Ok(_)) => proptest::prop_assert!(false, "an error answer became a token"),
                Attempt::Done(Err(_)) => {}
                Attempt::BadCertificate(_) => proptest::prop_assert!(invalid_client),
            }
        }

        /// Any header value: a wait of at most `MAX_RETRY_AFTER`, or the default.
        #[test]
        fn any_retry_after(value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..30)) {
            if let Ok(v) = reqwest::header::HeaderValue::from_bytes(&value) {
                proptest::prop_assert!(parse_retry_after(Some(&v)).is_none_or(|d| d <= MAX_RETRY_AFTER));
            }
        }
    }
}
