//! The claims of the tokens the emulator issues, following Entra's v1/v2 access-token and v2
//! ID-token claim sets (see Microsoft's "access token claims reference").
//!
//! The version of an access token follows the *resource's* `accessTokenAcceptedVersion`, not
//! the endpoint: v2 tokens carry `azp`/`azpacr`/`preferred_username` and `aud` = the resource's
//! app id; v1 tokens carry `appid`/`appidacr`/`upn`/`unique_name` and `aud` = the resource as
//! requested (usually its App ID URI). `azpacr`/`appidacr` are strings, as in Entra's tokens.

use serde_json::{Map, Value, json};

use crate::directory::{User, pairwise_sub};

/// How the client authenticated: `"0"` public, `"1"` secret, `"2"` certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAcr {
    /// Public client.
    Public,
    /// Certificate (client assertion).
    Certificate,
}

impl ClientAcr {
    fn as_str(self) -> &'static str {
        match self {
            Self::Public => "0",
            Self::Certificate => "2",
        }
    }
}

/// Whom a token is about.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A user (delegated token).
    User {
        /// The user.
        user: &'a User,
        /// Satisfied Conditional Access contexts (`acrs`); non-empty implies MFA was done.
        acrs: &'a [String],
    },
    /// The client app itself (client credentials): its service principal's object id.
    App {
        /// Service principal object id.
        sp_oid: &'a str,
    },
}

/// Everything an access token needs.
#[derive(Debug, Clone)]
pub struct AccessTokenSpec<'a> {
    /// 1 or 2.
    pub version: u8,
    /// Issuer (already chosen by version).
    pub issuer: String,
    /// Tenant id.
    pub tid: &'a str,
    /// Audience.
    pub aud: String,
    /// The resource's app id (pairwise `sub` is per resource).
    pub resource_app_id: &'a str,
    /// The client the token was issued to (`azp` / `appid`).
    pub client_id: &'a str,
    /// How that client authenticated.
    pub client_acr: ClientAcr,
    /// Whom it is about.
    pub subject: Subject<'a>,
    /// Delegated scopes (short names).
    pub scp: Vec<String>,
    /// Application roles.
    pub roles: Vec<String>,
    /// Client capabilities (`xms_cc`), when the request asked for them.
    pub xms_cc: Option<Vec<String>>,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Lifetime in seconds (may be negative for deliberately expired test tokens).
    pub lifetime_secs: i64,
}

fn opaque(len: usize) -> String {
    crate::crypto::random_b64(len)
}

/// The claims of an access token.
pub fn access_token(spec: &AccessTokenSpec<'_>) -> Value {
    let mut c = Map::new();
    let mut put = |k: &str, v: Value| {
        c.insert(k.to_owned(), v);
    };
    put("aud", json!(spec.aud));
    put("iss", json!(spec.issuer));
    put("iat", json!(spec.iat));
    put("nbf", json!(spec.iat));
    put("exp", json!(spec.iat + spec.lifetime_secs));
    put("aio", json!(opaque(48)));
    let v1 = spec.version == 1;
    if v1 {
        put("appid", json!(spec.client_id));
        put("appidacr", json!(spec.client_acr.as_str()));
    } else {
        put("azp", json!(spec.client_id));
        put("azpacr", json!(spec.client_acr.as_str()));
    }
    match spec.subject {
        Subject::User { user, acrs } => {
            if v1 {
                put("acr", json!("1"));
                let amr = if acrs.is_empty() { json!(["pwd"]) } else { json!(["pwd", "mfa"]) };
                put("amr", amr);
                if let Some(g) = &user.given_name {
                    put("given_name", json!(g));
                }
                if let Some(f) = &user.family_name {
                    put("family_name", json!(f));
                }
                put("ipaddr", json!("127.0.0.1"));
                put("unique_name", json!(user.upn));
                put("upn", json!(user.upn));
            } else {
                put("preferred_username", json!(user.upn));
            }
            if !acrs.is_empty() {
                put("acrs", json!(acrs));
            }
            if !user.groups.is_empty() {
                put("groups", json!(user.groups));
            }
            put("name", json!(user.name));
            put("oid", json!(user.oid));
            put("scp", json!(spec.scp.join(" ")));
            put("sub", json!(pairwise_sub(spec.tid, &user.oid, spec.resource_app_id)));
        }
        Subject::App { sp_oid } => {
            if v1 {
                put("idp", json!(spec.issuer));
            }
            put("idtyp", json!("app"));
            put("oid", json!(sp_oid));
            put("sub", json!(sp_oid));
        }
    }
    if !spec.roles.is_empty() {
        put("roles", json!(spec.roles));
    }
    put("rh", json!(format!("0.{}", opaque(40))));
    put("tid", json!(spec.tid));
    put("uti", json!(opaque(16)));
    put("ver", json!(if v1 { "1.0" } else { "2.0" }));
    if let Some(cc) = &spec.xms_cc {
        put("xms_cc", json!(cc));
    }
    Value::Object(c)
}

/// The claims of a v2 ID token for `client_id`.
pub fn id_token(
    issuer: &str,
    tid: &str,
    user: &User,
    client_id: &str,
    nonce: Option<&str>,
    iat: i64,
    lifetime_secs: i64,
) -> Value {
    let mut c = json!({
        "aud": client_id,
        "iss": issuer,
        "iat": iat,
        "nbf": iat,
        "exp": iat + lifetime_secs,
        "aio": opaque(48),
        "name": user.name,
        "oid": user.oid,
        "preferred_username": user.upn,
        "rh": format!("0.{}", opaque(40)),
        "sub": pairwise_sub(tid, &user.oid, client_id),
        "tid": tid,
        "uti": opaque(16),
        "ver": "2.0",
    });
    if let (Some(nonce), Some(obj)) = (nonce, c.as_object_mut()) {
        obj.insert("nonce".into(), json!(nonce));
    }
    c
}

/// `client_info`: base64url of `{"uid": oid, "utid": tid}`, which MSAL uses as account key.
pub fn client_info(oid: &str, tid: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!({"uid": oid, "utid": tid}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User { oid: "o".into(), upn: "u@x".into(), name: "U".into(), ..Default::default() }
    }

    fn spec(version: u8, subject: Subject<'_>) -> AccessTokenSpec<'_> {
        AccessTokenSpec {
            version,
            issuer: "iss".into(),
            tid: "t",
            aud: "aud".into(),
            resource_app_id: "r",
            client_id: "c",
            client_acr: ClientAcr::Certificate,
            subject,
            scp: vec!["a".into(), "b".into()],
            roles: vec![],
            xms_cc: None,
            iat: 100,
            lifetime_secs: 3600,
        }
    }

    #[test]
    fn v2_user_token_claims() {
        let u = user();
        let c = access_token(&spec(2, Subject::User { user: &u, acrs: &[] }));
        assert_eq!(c["ver"], "2.0");
        assert_eq!(c["azp"], "c");
        assert_eq!(c["azpacr"], "2");
        assert_eq!(c["scp"], "a b");
        assert_eq!(c["preferred_username"], "u@x");
        assert_eq!(c["exp"], 3700);
        assert!(c.get("appid").is_none() && c.get("idtyp").is_none());
    }

    #[test]
    fn v1_app_token_claims() {
        let c = access_token(&AccessTokenSpec { roles: vec!["R".into()], ..spec(1, Subject::App { sp_oid: "sp" }) });
        assert_eq!(c["ver"], "1.0");
        assert_eq!(c["appid"], "c");
        assert_eq!(c["appidacr"], "2");
        assert_eq!(c["idtyp"], "app");
        assert_eq!(c["roles"], json!(["R"]));
        assert_eq!(c["sub"], "sp");
        assert!(c.get("scp").is_none() && c.get("azp").is_none());
    }
}
