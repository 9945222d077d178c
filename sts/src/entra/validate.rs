//! Validation of the incoming (subject) token, spec §5.
//!
//! Split in two: [`peek`] reads the unverified header and claims and applies every rule that needs
//! no key (so malformed, app-only or expired tokens are refused without any request to Entra), and
//! [`verify`] checks the signature and issuer once the registry has said the tenant and client app
//! are ours (so keys are only ever fetched for consented tenants).

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::TokenVersion;
use super::keys::SigningKey;

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
    exp: Option<f64>,
    nbf: Option<f64>,
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
    /// `iss`, checked against the tenant's metadata by [`verify`].
    pub issuer: String,
}

#[derive(Deserialize)]
struct JwtHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
}

/// Cheap structural checks on the unverified token.
pub fn peek(token: &str, now: i64, leeway: i64) -> Result<Peeked, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(_sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(
            "not a JWS compact token (expected three dot-separated parts; encrypted tokens are not accepted)".into()
        );
    };
    let header_json = decode_base64url(h).map_err(|e| format!("header: {e}"))?;
    let header: JwtHeader = parse_json(&header_json).map_err(|e| format!("header: {e}"))?;
    if header.alg != "RS256" {
        return Err(format!(
            "alg {:?} is not accepted; Entra access tokens are RS256",
            header.alg.chars().take(20).collect::<String>()
        ));
    }
    let kid = header.kid.filter(|k| !k.is_empty()).ok_or("header has no kid")?.into_owned();
    let claims_json = decode_base64url(p).map_err(|e| format!("claims: {e}"))?;
    let claims: SubjectClaims = parse_json(&claims_json).map_err(|e| format!("claims: {e}"))?;
    let version = match claims.ver.as_deref() {
        Some("1.0") => TokenVersion::V1,
        Some("2.0") => TokenVersion::V2,
        Some(v) => return Err(format!("ver {v:?} is neither 1.0 nor 2.0")),
        None => return Err("no ver claim: not an Entra access token".into()),
    };
    let tenant = claims.tid.as_deref().ok_or("no tid claim")?.to_ascii_lowercase();
    if !is_guid(&tenant) {
        return Err("tid is not a GUID".into());
    }
    let audience = match claims.aud {
        Aud::One(a) => a.into_owned(),
        Aud::Many(mut v) if v.len() == 1 => v.swap_remove(0).into_owned(),
        Aud::Many(_) => return Err("aud has several values".into()),
    };
    if claims.idtyp.as_deref() == Some("app") {
        return Err("app-only tokens (idtyp=app) cannot be exchanged on behalf of a user".into());
    }
    let scopes: Vec<String> = claims.scp.as_deref().unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    if scopes.is_empty() {
        return Err("no scp claim: only delegated (user) tokens can be exchanged".into());
    }
    let calling_app = match version {
        TokenVersion::V2 => claims.azp.as_deref().ok_or("v2 token without azp")?,
        TokenVersion::V1 => claims.appid.as_deref().ok_or("v1 token without appid")?,
    }
    .to_ascii_lowercase();
    let oid = claims.oid.ok_or("no oid claim")?.into_owned();
    let exp = claims.exp.ok_or("no exp claim")?;
    if (exp as i64) + leeway < now {
        return Err("the token has expired".into());
    }
    if claims.nbf.is_some_and(|nbf| (nbf as i64) - leeway > now) {
        return Err("the token is not valid yet (nbf)".into());
    }
    Ok(Peeked { kid, version, tenant, audience, calling_app, oid, scopes, issuer: claims.iss.into_owned() })
}

/// Verifies the signature with `key` and the issuer against the tenant's metadata (`expected_issuer`,
/// `{tenantid}` already substituted), exactly.
pub fn verify(
    token: &str,
    peeked: &Peeked,
    key: &SigningKey,
    expected_issuer: &str,
    leeway: u64,
) -> Result<(), String> {
    if peeked.issuer != expected_issuer {
        return Err(format!(
            "iss {:?} is not the issuer of tenant {} for v{} tokens ({expected_issuer:?})",
            peeked.issuer,
            peeked.tenant,
            match peeked.version {
                TokenVersion::V1 => 1,
                TokenVersion::V2 => 2,
            }
        ));
    }
    // Multi-tenant keys carry an issuer template too (spec §5): it must name the same tenant's
    // issuer, in this token version's form or the v2 form (decided when the key was fetched).
    if !key.issuer_acceptable {
        return Err("the signing key is not valid for this issuer".into());
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = leeway;
    validation.validate_aud = false; // checked against the registry's forms of the client app
    validation.set_required_spec_claims(&["exp"]);
    validation.validate_nbf = true;
    jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation)
        .map(|_| ())
        .map_err(|e| format!("signature or time check failed: {e}"))
}

fn decode_base64url(part: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).map_err(|_| "not base64url".to_owned())
}

fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("not the expected JSON ({e})"))
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

    #[test]
    fn rejects_each_structural_problem() {
        let cases: Vec<(String, &str)> = vec![
            ("a.b".into(), "three dot-separated"),
            (token(json!({"alg":"HS256","kid":"k"}), v2()), "alg \"HS256\""),
            (token(json!({"alg":"none"}), v2()), "alg \"none\""),
            (token(json!({"alg":"RS256"}), v2()), "no kid"),
            (
                token(rs256(), {
                    let mut c = v2();
                    c["ver"] = json!("3.0");
                    c
                }),
                "ver \"3.0\"",
            ),
            (
                token(rs256(), {
                    let mut c = v2();
                    c["tid"] = json!("contoso");
                    c
                }),
                "tid is not a GUID",
            ),
            (
                token(rs256(), {
                    let mut c = v2();
                    c["idtyp"] = json!("app");
                    c
                }),
                "app-only",
            ),
            (
                token(rs256(), {
                    let mut c = v2();
                    c.as_object_mut().unwrap().remove("scp");
                    c
                }),
                "no scp",
            ),
            (
                token(rs256(), {
                    let mut c = v2();
                    c.as_object_mut().unwrap().remove("azp");
                    c
                }),
                "without azp",
            ),
            (
                token(rs256(), {
                    let mut c = v2();
                    c["exp"] = json!(1000);
                    c
                }),
                "expired",
            ),
            (
                token(rs256(), {
                    let mut c = v2();
                    c["nbf"] = json!(1700);
                    c
                }),
                "not valid yet",
            ),
            (
                token(rs256(), {
                    let mut c = v2();
                    c["aud"] = json!(["a", "b"]);
                    c
                }),
                "several",
            ),
        ];
        for (t, want) in cases {
            let e = peek(&t, 1500, 60).unwrap_err();
            assert!(e.contains(want), "{e} should contain {want}");
        }
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
