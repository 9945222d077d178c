//! Fault injection: make the token endpoint answer like Entra does on a bad day.
//!
//! A fault has a kind, a scope (any of tenant / client app / user / grant type; unset means
//! "any") and a duration (the next N matching requests, or until cleared). Faults are checked
//! at two points of a token request: during client authentication (a revoked certificate) and
//! just before tokens are issued (everything else), so a faulted request has already passed
//! the ordinary validation. Matching is a pure function; consumption happens under one lock.

use serde::{Deserialize, Serialize};

use crate::counters::GrantKind;
use crate::error::{EntraError, OAuthError};
use tessera_wire::aadsts;

/// The policy id used in step-up challenges when a fault names none.
pub const DEFAULT_POLICY_ID: &str = "9ab03e19-ed42-4168-b6b7-7001fb3e933a";

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// MFA / Conditional Access step-up: `interaction_required` + `basic_action`, a `claims`
    /// challenge naming `policy_id`. Satisfied (no longer fires) for a user token whose `acrs`
    /// contains `policy_id`, which is what tokens from an authorize carrying the challenge get.
    MfaStepUp {
        /// 50076 (MFA required) or 50079 (MFA registration required).
        #[serde(default = "default_mfa_code")]
        code: u32,
        /// The policy id in the challenge.
        #[serde(default)]
        policy_id: Option<String>,
    },
    /// Blocked by Conditional Access: AADSTS53003, `message_only`, with `claims`.
    ConditionalAccessBlock,
    /// AADSTS65001 `consent_required`, whatever the grants say.
    ConsentRequired,
    /// HTTP 429 with `Retry-After`.
    Throttle {
        /// Seconds in `Retry-After`.
        retry_after_secs: u64,
    },
    /// HTTP 500 `server_error`.
    ServerError,
    /// HTTP 503 `temporarily_unavailable`.
    ServiceUnavailable {
        /// Seconds in `Retry-After`, if any.
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// The answer is delayed, then the request proceeds normally.
    Latency {
        /// Added delay.
        millis: u64,
    },
    /// The client's certificate is treated as revoked: AADSTS700027.
    RevokedCertificate,
}

fn default_mfa_code() -> u32 {
    50076
}

/// How long a fault stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FaultDuration {
    /// The next N matching requests.
    NextRequests(u32),
    /// Until cleared through the admin API.
    #[default]
    UntilCleared,
}

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// What goes wrong.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Only requests to this tenant (id).
    #[serde(default)]
    pub tenant: Option<String>,
    /// Only requests from this client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Only requests for this user (oid or UPN).
    #[serde(default)]
    pub user: Option<String>,
    /// Only this grant type.
    #[serde(default)]
    pub grant: Option<GrantKind>,
    /// How long.
    #[serde(default)]
    pub duration: FaultDuration,
}

impl FaultSpec {
    /// A fault of `kind` for every request until cleared.
    pub fn new(kind: FaultKind) -> Self {
        Self { kind, tenant: None, client_id: None, user: None, grant: None, duration: FaultDuration::UntilCleared }
    }
}

/// What the request is about, for matching.
#[derive(Debug, Clone, Copy)]
pub struct FaultContext<'a> {
    /// Tenant id.
    pub tenant: &'a str,
    /// Client id.
    pub client_id: &'a str,
    /// User (oid, UPN), for user-bound grants.
    pub user: Option<(&'a str, &'a str)>,
    /// Grant type.
    pub grant: GrantKind,
    /// `acrs` values the user's token carries (satisfied step-ups).
    pub acrs: &'a [String],
}

/// Where in request processing a fault is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// While authenticating the client.
    ClientAuth,
    /// Just before issuing tokens.
    Issue,
}

/// Whether `spec` applies to a request at `stage`. Pure.
pub fn matches(spec: &FaultSpec, ctx: &FaultContext<'_>, stage: Stage) -> bool {
    let at_stage = matches!(spec.kind, FaultKind::RevokedCertificate) == (stage == Stage::ClientAuth);
    let eq = |want: &Option<String>, have: &str| want.as_ref().is_none_or(|w| w.eq_ignore_ascii_case(have));
    let user_ok = match (&spec.user, ctx.user) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(want), Some((oid, upn))) => want.eq_ignore_ascii_case(oid) || want.eq_ignore_ascii_case(upn),
    };
    let satisfied = match &spec.kind {
        FaultKind::MfaStepUp { policy_id, .. } => {
            let id = policy_id.as_deref().unwrap_or(DEFAULT_POLICY_ID);
            ctx.acrs.iter().any(|a| a == id)
        }
        _ => false,
    };
    at_stage
        && !satisfied
        && eq(&spec.tenant, ctx.tenant)
        && eq(&spec.client_id, ctx.client_id)
        && user_ok
        && spec.grant.is_none_or(|g| g == ctx.grant)
}

/// The Entra error a fault produces (`None` for latency, which only delays).
pub fn to_error(kind: &FaultKind, resource: &str) -> Option<EntraError> {
    let challenge =
        |policy: &str| format!(r#"{{"access_token":{{"capolids":{{"essential":true,"values":["{policy}"]}}}}}}"#);
    Some(match kind {
        FaultKind::MfaStepUp { code, policy_id } => {
            let action = if *code == 50079 { "enroll in" } else { "use" };
            EntraError::new(
                OAuthError::InteractionRequired,
                *code,
                format!("Due to a configuration change made by your administrator, or because you moved to a new location, you must {action} multi-factor authentication to access '{resource}'."),
            )
            .with_suberror("basic_action")
            .with_claims(challenge(policy_id.as_deref().unwrap_or(DEFAULT_POLICY_ID)))
        }
        FaultKind::ConditionalAccessBlock => EntraError::new(
            OAuthError::InvalidGrant,
            53003,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        )
        .with_suberror("message_only")
        .with_claims(challenge(DEFAULT_POLICY_ID)),
        FaultKind::ConsentRequired => EntraError::consent_required(resource, resource),
        FaultKind::Throttle { retry_after_secs } => {
            let mut e = EntraError::new(
                OAuthError::TemporarilyUnavailable,
                90055,
                "There are too many incoming requests. Please retry after the interval given in Retry-After.",
            )
            .with_status(axum::http::StatusCode::TOO_MANY_REQUESTS);
            e.retry_after = Some(*retry_after_secs);
            e
        }
        FaultKind::ServerError => EntraError::new(
            OAuthError::ServerError,
            50000,
            "There was an error issuing a token or an issue with our sign-in service.",
        )
        .with_status(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
        FaultKind::ServiceUnavailable { retry_after_secs } => {
            let mut e = EntraError::new(
                OAuthError::TemporarilyUnavailable,
                90033,
                "A transient error has occurred. Please try again.",
            )
            .with_status(axum::http::StatusCode::SERVICE_UNAVAILABLE);
            e.retry_after = *retry_after_secs;
            e
        }
        FaultKind::RevokedCertificate => EntraError::new(
            OAuthError::InvalidClient,
            aadsts::ASSERTION_KEY_REFUSED,
            "Client assertion contains an invalid signature. [Reason - The key was revoked.]",
        ),
        FaultKind::Latency { .. } => return None,
    })
}

#[derive(Debug, Clone)]
struct ActiveFault {
    id: u64,
    spec: FaultSpec,
    remaining: Option<u32>,
}

/// The injected faults.
#[derive(Debug, Default)]
pub struct Faults {
    next_id: u64,
    active: Vec<ActiveFault>,
}

/// What fired for one request.
#[derive(Debug, Default)]
pub struct Fired {
    /// Total added delay.
    pub delay_ms: u64,
    /// The failure to answer with, if any.
    pub failure: Option<FaultKind>,
}

impl Faults {
    /// Adds a fault; returns its id.
    pub fn add(&mut self, spec: FaultSpec) -> u64 {
        self.next_id += 1;
        let remaining = match spec.duration {
            FaultDuration::NextRequests(n) => Some(n),
            FaultDuration::UntilCleared => None,
        };
        self.active.push(ActiveFault { id: self.next_id, spec, remaining });
        self.next_id
    }

    /// Removes one fault; false if it was not there.
    pub fn clear(&mut self, id: u64) -> bool {
        let before = self.active.len();
        self.active.retain(|f| f.id != id);
        before != self.active.len()
    }

    /// Removes all faults.
    pub fn clear_all(&mut self) {
        self.active.clear();
    }

    /// The active faults with their ids.
    pub fn list(&self) -> Vec<(u64, FaultSpec)> {
        self.active.iter().map(|f| (f.id, f.spec.clone())).collect()
    }

    /// Fires the faults matching a request at `stage`: every matching latency, then the first
    /// matching failure. Each fired fault uses up one of its requests.
    pub fn fire(&mut self, ctx: &FaultContext<'_>, stage: Stage) -> Fired {
        let mut fired = Fired::default();
        for f in &mut self.active {
            if f.remaining == Some(0) || !matches(&f.spec, ctx, stage) {
                continue;
            }
            match &f.spec.kind {
                FaultKind::Latency { millis } => fired.delay_ms += millis,
                kind if fired.failure.is_none() => fired.failure = Some(kind.clone()),
                _ => continue,
            }
            if let Some(n) = &mut f.remaining {
                *n -= 1;
            }
        }
        self.active.retain(|f| f.remaining != Some(0));
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(user: Option<(&'a str, &'a str)>, acrs: &'a [String]) -> FaultContext<'a> {
        FaultContext { tenant: "t1", client_id: "c1", user, grant: GrantKind::OnBehalfOf, acrs }
    }

    #[test]
    fn next_n_requests_then_gone() {
        let mut faults = Faults::default();
        let mut spec = FaultSpec::new(FaultKind::ServerError);
        spec.duration = FaultDuration::NextRequests(2);
        faults.add(spec);
        let c = ctx(None, &[]);
        assert!(faults.fire(&c, Stage::Issue).failure.is_some());
        assert!(faults.fire(&c, Stage::Issue).failure.is_some());
        assert!(faults.fire(&c, Stage::Issue).failure.is_none());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn scope_fields_must_all_match() {
        let mut spec = FaultSpec::new(FaultKind::ConsentRequired);
        spec.user = Some("adele@x".into());
        assert!(!matches(&spec, &ctx(None, &[]), Stage::Issue), "user-scoped faults skip app-only requests");
        assert!(matches(&spec, &ctx(Some(("oid", "ADELE@x")), &[]), Stage::Issue));
        spec.client_id = Some("other".into());
        assert!(!matches(&spec, &ctx(Some(("oid", "adele@x")), &[]), Stage::Issue));
    }

    #[test]
    fn revoked_certificate_fires_only_at_client_auth() {
        let spec = FaultSpec::new(FaultKind::RevokedCertificate);
        assert!(matches(&spec, &ctx(None, &[]), Stage::ClientAuth));
        assert!(!matches(&spec, &ctx(None, &[]), Stage::Issue));
    }

    #[test]
    fn step_up_is_satisfied_by_acrs() {
        let spec = FaultSpec::new(FaultKind::MfaStepUp { code: 50076, policy_id: None });
        assert!(matches(&spec, &ctx(None, &[]), Stage::Issue));
        assert!(!matches(&spec, &ctx(None, &[DEFAULT_POLICY_ID.to_owned()]), Stage::Issue));
    }

    #[test]
    fn fault_spec_json_shape() {
        let json = r#"{"kind":"throttle","retry_after_secs":7,"client_id":"c","duration":{"next_requests":1}}"#;
        let spec: FaultSpec = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.kind, FaultKind::Throttle { retry_after_secs: 7 });
        assert_eq!(spec.duration, FaultDuration::NextRequests(1));
    }
}
