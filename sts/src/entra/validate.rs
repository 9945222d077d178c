//! Validation of the incoming (subject) token, spec §5.
//!
//! Split in two: [`peek`] reads the unverified header and claims and applies every rule that needs
//! no key (so malformed, app-only or expired tokens are refused without any request to Entra), and
//! [`verify`] checks the signature and issuer once the registry has said the tenant and client app
//! are ours (so keys are only ever fetched for consented tenants).
//!
//! Everything [`peek`] reads is attacker-controlled and unauthenticated, so its arithmetic is
//! checked by lint (below) and its times are integers within [`PLAUSIBLE_TIMES`]: a token whose
//! `exp` is 1e308 is refused as an implausible token instead of saturating or overflowing a sum.
#![deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation, clippy::cast_possible_wrap)]

use std::borrow::Cow;
use std::ops::RangeInclusive;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::TokenVersion;
use super::keys::SigningKey;

/// Unix times a token may carry: from the epoch to the end of year 9999. Anything outside (negative,
/// beyond, fractional, a string, an array…) is not a NumericDate Entra would issue, so it is refused
/// before any arithmetic; within it, `time ± leeway` cannot overflow an `i64`.
pub const PLAUSIBLE_TIMES: RangeInclusive<i64> = 0..=253_402_300_799;

/// The claims Tessera uses, borrowed from the decoded payload (strings are copied only when they
/// hold JSON escapes, which Entra's never do): this runs on every exchange, cache hits included.
/// Everything else in the token is ignored.
#[derive(Debug, Deserialize)]
struct SubjectClaims<'a> {
    #[serde(borrow)]
    ver: Option<Cow<'a, str>>,
    #[serde(borrow)]
    iss: Cow<'a, str>,
    #[serde(borrow)]
    tid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    aud: Aud<'a>,
    #[serde(borrow)]
    azp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    appid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    oid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    scp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    idtyp: Option<Cow<'a, str>>,
    /// App roles of the user on the token's audience (app-only workloads require one).
    #[serde(borrow, default)]
    roles: Vec<Cow<'a, str>>,
    /// Group object ids (app-only workloads may require one).
    #[serde(borrow, default)]
    groups: Vec<Cow<'a, str>>,
    /// Any JSON value, so that a string or an array is named as a bad time rather than as bad JSON;
    /// [`numeric_date`] decides. (A number is held inline: no allocation for the usual case.)
    exp: Option<serde_json::Value>,
    nbf: Option<serde_json::Value>,
}

/// `aud` is one string in Entra access tokens; an array is tolerated only if it has one element.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Aud<'a> {
    #[serde(borrow)]
    One(Cow<'a, str>),
    #[serde(borrow)]
    Many(Vec<Cow<'a, str>>),
}

/// What [`peek`] learned, still unverified.
#[derive(Debug, Clone)]
pub struct Peeked {
    pub kid: String,
    pub version: TokenVersion,
    /// `tid`, lower-cased.
    pub tenant: String,
    pub audience: String,
    /// `azp` (v2) or `appid` (v1): the app the user signed in to — must be a broker app.
    pub calling_app: String,
    pub oid: String,
    pub scopes: Vec<String>,
    /// `roles`: the user's app roles on the audience (empty when absent).
    pub roles: Vec<String>,
    /// `groups`: group object ids (empty when absent).
    pub groups: Vec<String>,
    /// `iss`, checked against the tenant's metadata by [`verify`].
    pub issuer: String,
    /// `exp`, Unix seconds within [`PLAUSIBLE_TIMES`].
    pub exp: i64,
    /// `nbf`, Unix seconds within [`PLAUSIBLE_TIMES`], if the token has one.
    pub nbf: Option<i64>,
}

impl Peeked {
    /// The time rules of [`peek`] at `now` with `leeway` (saturating: no value of either makes the
    /// comparison overflow). A memoised peek ([`super::memo::PeekMemo`]) applies them again on
    /// every request: claims read once stay true, time does not.
    pub fn check_times(&self, now: i64, leeway: i64) -> Result<(), PeekError> {
        if self.exp.saturating_add(leeway) < now {
            return Err(PeekError::Expired);
        }
        if self.nbf.is_some_and(|nbf| nbf.saturating_sub(leeway) > now) {
            return Err(PeekError::NotYetValid);
        }
        Ok(())
    }

    /// Approximate memory of one memoised peek: its strings plus the struct and the memo's
    /// bookkeeping.
    pub fn weight(&self) -> usize {
        let strings = [&self.kid, &self.tenant, &self.audience, &self.calling_app, &self.oid, &self.issuer];
        let lists = [&self.scopes, &self.roles, &self.groups];
        let strings: usize = strings.iter().map(|s| s.len()).sum();
        let lists: usize = lists.iter().flat_map(|l| l.iter()).map(|s| s.len().saturating_add(24)).sum();
        strings.saturating_add(lists).saturating_add(400)
    }
}

#[derive(Deserialize)]
struct JwtHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
}

/// The two JSON parts of a JWS, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Header,
    Claims,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Claims => "claims",
        })
    }
}

/// The time claims [`peek`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeClaim {
    Exp,
    Nbf,
}

impl std::fmt::Display for TimeClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Exp => "exp",
            Self::Nbf => "nbf",
        })
    }
}

/// Why [`peek`] refused a subject token. The exchange answers every variant `400 invalid_grant`
/// with this message (its `InvalidSubjectToken`); none quotes more
/// than a short, clipped piece of the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeekError {
    #[error("not a JWS compact token (expected three dot-separated parts; encrypted tokens are not accepted)")]
    NotCompact,
    #[error("{0}: not base64url")]
    NotBase64Url(Part),
    /// serde_json's message (what was expected, line and column), clipped to 200 characters: it may
    /// quote a claim value, never the token.
    #[error("{part}: not the expected JSON ({reason})")]
    NotJson { part: Part, reason: String },
    /// The `alg` as sent, clipped to 20 characters.
    #[error("alg {0:?} is not accepted; Entra access tokens are RS256")]
    Algorithm(String),
    #[error("header has no kid")]
    NoKid,
    /// The `ver` as sent, clipped to 20 characters.
    #[error("ver {0:?} is neither 1.0 nor 2.0")]
    Version(String),
    #[error("no ver claim: not an Entra access token")]
    NoVersion,
    #[error("no tid claim")]
    NoTenant,
    #[error("tid is not a GUID")]
    TenantNotGuid,
    #[error("aud has several values")]
    SeveralAudiences,
    #[error("app-only tokens (idtyp=app) cannot be exchanged on behalf of a user")]
    AppOnly,
    #[error("no scp claim: only delegated (user) tokens can be exchanged")]
    NoScope,
    #[error("v2 token without azp")]
    NoAzp,
    #[error("v1 token without appid")]
    NoAppId,
    #[error("no oid claim")]
    NoOid,
    #[error("no exp claim")]
    NoExp,
    /// Not an integer number of seconds within [`PLAUSIBLE_TIMES`] (a float, a string, 1e308, -1…).
    #[error("{0} is not a plausible time (an integer number of seconds between 1970 and 9999)")]
    ImplausibleTime(TimeClaim),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
}

/// Cheap structural checks on the unverified token. `now` is Unix seconds; `leeway` the tolerated
/// clock skew in seconds (saturating: no value of either makes the comparison overflow).
pub fn peek(token: &str, now: i64, leeway: i64) -> Result<Peeked, PeekError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(_sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(PeekError::NotCompact);
    };
    let header_json = decode_base64url(h).ok_or(PeekError::NotBase64Url(Part::Header))?;
    let header: JwtHeader = parse_json(&header_json, Part::Header)?;
    if header.alg != "RS256" {
        return Err(PeekError::Algorithm(clip(&header.alg)));
    }
    let kid = header.kid.filter(|k| !k.is_empty()).ok_or(PeekError::NoKid)?.into_owned();
    let claims_json = decode_base64url(p).ok_or(PeekError::NotBase64Url(Part::Claims))?;
    let claims: SubjectClaims = parse_json(&claims_json, Part::Claims)?;
    let version = match claims.ver.as_deref() {
        Some("1.0") => TokenVersion::V1,
        Some("2.0") => TokenVersion::V2,
        Some(v) => return Err(PeekError::Version(clip(v))),
        None => return Err(PeekError::NoVersion),
    };
    let tenant = claims.tid.as_deref().ok_or(PeekError::NoTenant)?.to_ascii_lowercase();
    if !is_guid(&tenant) {
        return Err(PeekError::TenantNotGuid);
    }
    let audience = match claims.aud {
        Aud::One(a) => a.into_owned(),
        Aud::Many(mut v) if v.len() == 1 => v.swap_remove(0).into_owned(),
        Aud::Many(_) => return Err(PeekError::SeveralAudiences),
    };
    if claims.idtyp.as_deref() == Some("app") {
        return Err(PeekError::AppOnly);
    }
    let scopes: Vec<String> = claims.scp.as_deref().unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() {
        return Err(PeekError::NoScope);
    }
    let calling_app = match version {
        TokenVersion::V2 => claims.azp.as_deref().ok_or(PeekError::NoAzp)?,
        TokenVersion::V1 => claims.appid.as_deref().ok_or(PeekError::NoAppId)?,
    }
    .to_ascii_lowercase();
    let oid = claims.oid.ok_or(PeekError::NoOid)?.into_owned();
    let exp = numeric_date(claims.exp.as_ref(), TimeClaim::Exp)?.ok_or(PeekError::NoExp)?;
    let nbf = numeric_date(claims.nbf.as_ref(), TimeClaim::Nbf)?;
    let roles = claims.roles.into_iter().map(Cow::into_owned).collect();
    let groups = claims.groups.into_iter().map(Cow::into_owned).collect();
    let peeked = Peeked {
        kid,
        version,
        tenant,
        audience,
        calling_app,
        oid,
        scopes,
        roles,
        groups,
        issuer: claims.iss.into_owned(),
        exp,
        nbf,
    };
    peeked.check_times(now, leeway)?;
    Ok(peeked)
}

/// A NumericDate claim as Entra writes it: a JSON integer within [`PLAUSIBLE_TIMES`]. `None` when
/// absent (or `null`); anything else is [`PeekError::ImplausibleTime`].
fn numeric_date(value: Option<&serde_json::Value>, claim: TimeClaim) -> Result<Option<i64>, PeekError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => {
            n.as_i64().filter(|t| PLAUSIBLE_TIMES.contains(t)).map(Some).ok_or(PeekError::ImplausibleTime(claim))
        }
        Some(_) => Err(PeekError::ImplausibleTime(claim)),
    }
}

/// At most 20 characters of an attacker-chosen string, for an error message.
fn clip(s: &str) -> String {
    s.chars().take(20).collect()
}

/// Why [`verify`] refused a subject token that [`peek`] accepted. Every variant is answered
/// `400 invalid_grant` with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `iss` is not what the tenant's metadata names for this token version.
    #[error("iss {found:?} is not the issuer of tenant {tenant} for {version} tokens ({expected:?})")]
    WrongIssuer { found: String, expected: String, tenant: String, version: TokenVersion },
    /// The key's issuer label names another tenant ([`super::keys::key_issuer_acceptable`]).
    #[error("the signing key is not valid for this issuer")]
    KeyNotForIssuer,
    #[error("the signature does not verify with the tenant's signing key")]
    BadSignature,
    #[error("the token has expired (signature check)")]
    Expired,
    #[error("the token is not valid yet (signature check, nbf)")]
    NotYetValid,
    /// Any other refusal of the signature library (a required claim missing, a malformed
    /// signature…): its kind, which never quotes the token.
    #[error("signature or time check failed: {0}")]
    Rejected(String),
}

impl From<jsonwebtoken::errors::Error> for VerifyError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => Self::BadSignature,
            K::ExpiredSignature => Self::Expired,
            K::ImmatureSignature => Self::NotYetValid,
            _ => Self::Rejected(e.to_string()),
        }
    }
}

/// Verifies the signature with `key` and the issuer against the tenant's metadata (`expected_issuer`,
/// `{tenantid}` already substituted), exactly.
pub fn verify(
    token: &str,
    peeked: &Peeked,
    key: &SigningKey,
    expected_issuer: &str,
    leeway: u64,
) -> Result<(), VerifyError> {
    if peeked.issuer != expected_issuer {
        return Err(VerifyError::WrongIssuer {
            found: peeked.issuer.clone(),
            expected: expected_issuer.to_owned(),
            tenant: peeked.tenant.clone(),
            version: peeked.version,
        });
    }
    // Multi-tenant keys carry an issuer template too (spec §5): it must name the same tenant's
    // issuer, in this token version's form or the v2 form (decided when the key was fetched).
    if !key.issuer_acceptable {
        return Err(VerifyError::KeyNotForIssuer);
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = leeway;
    validation.validate_aud = false; // checked against the registry's forms of the client app
    validation.set_required_spec_claims(&["exp"]);
    validation.validate_nbf = true;
    jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation).map(|_| ()).map_err(VerifyError::from)
}

fn decode_base64url(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()
}

fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8], part: Part) -> Result<T, PeekError> {
    serde_json::from_slice(bytes)
        .map_err(|e| PeekError::NotJson { part, reason: e.to_string().chars().take(200).collect() })
}

pub fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes()
            .enumerate()
            .all(|(i, b)| if matches!(i, 8 | 13 | 18 | 23) { b == b'-' } else { b.is_ascii_hexdigit() })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn token(header: serde_json::Value, claims: serde_json::Value) -> String {
        format!("{}.{}.sig", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    fn v2() -> serde_json::Value {
        json!({"ver":"2.0","iss":format!("https://login.microsoftonline.com/{TID}/v2.0"),"tid":TID,"aud":"22222222-2222-4222-8222-222222222222",
               "azp":"11111111-1111-4111-8111-111111111111","oid":"o","scp":"access_as_user","exp":2000,"nbf":1000})
    }

    fn rs256() -> serde_json::Value {
        json!({"alg":"RS256","kid":"k1","typ":"JWT"})
    }

    #[test]
    fn peeks_a_v2_token() {
        let p = peek(&token(rs256(), v2()), 1500, 60).unwrap();
        assert_eq!(p.version, TokenVersion::V2);
        assert_eq!(p.calling_app, "11111111-1111-4111-8111-111111111111");
        assert_eq!(p.scopes, vec!["access_as_user"]);
    }

    fn with(claim: &str, value: serde_json::Value) -> String {
        let mut c = v2();
        c[claim] = value;
        token(rs256(), c)
    }

    fn without(claim: &str) -> String {
        let mut c = v2();
        c.as_object_mut().unwrap().remove(claim);
        token(rs256(), c)
    }

    #[test]
    fn rejects_each_structural_problem() {
        let cases: Vec<(String, PeekError)> = vec![
            ("a.b".into(), PeekError::NotCompact),
            ("a.b.c.d".into(), PeekError::NotCompact),
            ("!!.e30.sig".into(), PeekError::NotBase64Url(Part::Header)),
            (format!("{}.!!.sig", URL_SAFE_NO_PAD.encode(rs256().to_string())), PeekError::NotBase64Url(Part::Claims)),
            (token(json!({"alg":"HS256","kid":"k"}), v2()), PeekError::Algorithm("HS256".into())),
            (token(json!({"alg":"none"}), v2()), PeekError::Algorithm("none".into())),
            (token(json!({"alg":"RS256"}), v2()), PeekError::NoKid),
            (token(json!({"alg":"RS256","kid":""}), v2()), PeekError::NoKid),
            (with("ver", json!("3.0")), PeekError::Version("3.0".into())),
            (without("ver"), PeekError::NoVersion),
            (without("tid"), PeekError::NoTenant),
            (with("tid", json!("contoso")), PeekError::TenantNotGuid),
            (with("idtyp", json!("app")), PeekError::AppOnly),
            (without("scp"), PeekError::NoScope),
            (with("scp", json!("  ")), PeekError::NoScope),
            (without("azp"), PeekError::NoAzp),
            (without("oid"), PeekError::NoOid),
            (without("exp"), PeekError::NoExp),
            (with("exp", json!(1000)), PeekError::Expired),
            (with("nbf", json!(1700)), PeekError::NotYetValid),
            (with("aud", json!(["a", "b"])), PeekError::SeveralAudiences),
        ];
        for (t, want) in cases {
            assert_eq!(peek(&t, 1500, 60).unwrap_err(), want);
        }
        let mut v1 = v2();
        v1["ver"] = json!("1.0");
        assert_eq!(peek(&token(rs256(), v1), 1500, 60).unwrap_err(), PeekError::NoAppId);
        assert!(matches!(
            peek(&format!("{}.e30.sig", URL_SAFE_NO_PAD.encode("[1]")), 1500, 60),
            Err(PeekError::NotJson { part: Part::Header, .. })
        ));
        assert!(matches!(
            peek(&token(rs256(), json!({"ver":"2.0"})), 1500, 60),
            Err(PeekError::NotJson { part: Part::Claims, .. })
        ));
    }

    #[test]
    fn the_leeway_applies_both_ways() {
        assert!(peek(&with("exp", json!(1450)), 1500, 60).is_ok(), "expired 50 s ago, 60 s tolerated");
        assert_eq!(peek(&with("exp", json!(1439)), 1500, 60).unwrap_err(), PeekError::Expired);
        assert!(peek(&with("nbf", json!(1550)), 1500, 60).is_ok(), "valid in 50 s, 60 s tolerated");
        assert_eq!(peek(&with("nbf", json!(1561)), 1500, 60).unwrap_err(), PeekError::NotYetValid);
    }

    /// Issue 16's first finding: `exp`/`nbf` were read as f64, cast to i64 (saturating) and the
    /// leeway added or subtracted unchecked — `nbf: -1e308` panicked with "attempt to subtract with
    /// overflow" and dropped the connection. Every such value is now an implausible time.
    #[test]
    fn hostile_times_are_implausible_not_arithmetic() {
        let hostile = [
            json!(1e308),
            json!(-1e308),
            json!(f64::MAX),
            json!(f64::MIN),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(i64::MIN + 1),
            json!(u64::MAX),
            json!(-1),
            json!(PLAUSIBLE_TIMES.end() + 1),
            json!(1700000000.5),
            json!(2000.0),
            json!(1e-300),
            json!("2000"),
            json!("NaN"),
            json!("inf"),
            json!([2000]),
            json!({"n": 2000}),
            json!(true),
        ];
        for claim in [TimeClaim::Exp, TimeClaim::Nbf] {
            for value in &hostile {
                for (now, leeway) in [(1500, 60), (i64::MAX, i64::MAX), (i64::MIN, i64::MIN), (0, i64::MIN)] {
                    assert_eq!(
                        peek(&with(&claim.to_string(), value.clone()), now, leeway).unwrap_err(),
                        PeekError::ImplausibleTime(claim),
                        "{claim} = {value}"
                    );
                }
            }
        }
        // NaN and Infinity are not JSON: the claims are refused as JSON, not as a time.
        let nan =
            format!("{}.{}.sig", URL_SAFE_NO_PAD.encode(rs256().to_string()), URL_SAFE_NO_PAD.encode(r#"{"exp":NaN}"#));
        assert!(matches!(peek(&nan, 1500, 60), Err(PeekError::NotJson { part: Part::Claims, .. })));
        // The bounds themselves are times, and no `now`/`leeway` makes the comparison overflow.
        for (now, leeway) in [(i64::MAX, i64::MAX), (i64::MIN, i64::MAX), (i64::MAX, i64::MIN), (i64::MIN, i64::MIN)] {
            let mut c = v2();
            c["exp"] = json!(PLAUSIBLE_TIMES.end());
            c["nbf"] = json!(PLAUSIBLE_TIMES.start());
            let _ = peek(&token(rs256(), c), now, leeway);
        }
        let mut c = v2();
        c["exp"] = json!(PLAUSIBLE_TIMES.end());
        c["nbf"] = json!(PLAUSIBLE_TIMES.start());
        assert!(peek(&token(rs256(), c), 1500, 60).is_ok());
        assert!(peek(&with("nbf", serde_json::Value::Null), 1500, 60).is_ok(), "null is an absent nbf");
    }

    /// Each refusal of `verify` is its own variant. With a real RSA key from the emulator and
    /// the real clock (the signature library reads it).
    #[test]
    fn verify_names_each_refusal() {
        let signer = entra_emulator::crypto::signing_keys::SigningKey::generate().unwrap();
        let key = SigningKey { key: signer.decoding_key().clone(), issuer: None, issuer_acceptable: true };
        let issuer = format!("https://login.microsoftonline.com/{TID}/v2.0");
        let now = crate::clock::unix_now();
        let signed = |exp: i64, nbf: i64| {
            let mut c = v2();
            c["exp"] = json!(exp);
            c["nbf"] = json!(nbf);
            signer.sign(&c).unwrap()
        };
        // `peek` at a time when the token is valid, so only `verify` decides.
        let check = |token: &str, key: &SigningKey, expected: &str, peek_at: i64| {
            let peeked = peek(token, peek_at, 60).unwrap();
            verify(token, &peeked, key, expected, 60)
        };
        let good = signed(now + 3600, now - 60);
        assert_eq!(check(&good, &key, &issuer, now), Ok(()));

        let other = format!("https://login.microsoftonline.com/{TID}/v2.0/");
        assert_eq!(
            check(&good, &key, &other, now),
            Err(VerifyError::WrongIssuer {
                found: issuer.clone(),
                expected: other.clone(),
                tenant: TID.into(),
                version: TokenVersion::V2
            })
        );
        let foreign_label = SigningKey { issuer_acceptable: false, ..key_clone(&signer) };
        assert_eq!(check(&good, &foreign_label, &issuer, now), Err(VerifyError::KeyNotForIssuer));

        let (signed_part, signature) = good.rsplit_once('.').unwrap();
        let flipped = format!("{signed_part}.{}", flip_first(signature));
        assert_eq!(check(&flipped, &key, &issuer, now), Err(VerifyError::BadSignature));
        let other_signer = entra_emulator::crypto::signing_keys::SigningKey::generate().unwrap();
        assert_eq!(check(&good, &key_clone(&other_signer), &issuer, now), Err(VerifyError::BadSignature));

        let expired = signed(now - 3600, now - 7200);
        assert_eq!(check(&expired, &key, &issuer, now - 4000), Err(VerifyError::Expired));
        let early = signed(now + 7200, now + 3600);
        assert_eq!(check(&early, &key, &issuer, now + 4000), Err(VerifyError::NotYetValid));
    }

    fn key_clone(signer: &entra_emulator::crypto::signing_keys::SigningKey) -> SigningKey {
        SigningKey { key: signer.decoding_key().clone(), issuer: None, issuer_acceptable: true }
    }

    /// The signature with its first character changed (still base64url).
    fn flip_first(signature: &str) -> String {
        let mut chars: Vec<char> = signature.chars().collect();
        chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect()
    }

    #[test]
    fn v1_uses_appid_and_keeps_the_audience_as_sent() {
        let mut c = v2();
        c["ver"] = json!("1.0");
        c["appid"] = json!("11111111-1111-4111-8111-111111111111");
        c.as_object_mut().unwrap().remove("azp");
        c["aud"] = json!("API://22222222-2222-4222-8222-222222222222/");
        let p = peek(&token(rs256(), c), 1500, 60).unwrap();
        assert_eq!(p.version, TokenVersion::V1);
        assert_eq!(p.calling_app, "11111111-1111-4111-8111-111111111111");
        // Matching this App ID URI form to the client app is the registry's job
        // (`Snapshot::workload_for_audience`); the v1 integration test covers it end to end.
        assert_eq!(p.audience, "API://22222222-2222-4222-8222-222222222222/");
    }
}
