//! Power Pages sites: the portal token endpoint, its key, rotation, the contact sign-in; and app
//! roles / groups in user tokens.

use entra_emulator::{ContactConfig, SiteConfig, UserAppRoleConfig, UserTokenRequest};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::common::*;

const HOST: &str = "contoso.powerappsportals.com";
const CONTACT: &str = "c0c0c0c0-0000-0000-0000-000000000001";
const REGISTERED: &str = "my-spa-client";

fn site(settings: &[(&str, &str)]) -> SiteConfig {
    SiteConfig {
        host: HOST.into(),
        settings: settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        contacts: vec![ContactConfig {
            id: CONTACT.into(),
            username: "pat".into(),
            given_name: "Pat".into(),
            family_name: "Doe".into(),
            email: "pat@example.com".into(),
        }],
    }
}

async fn env(settings: &[(&str, &str)]) -> Env {
    let mut c = config();
    c.sites = vec![site(settings)];
    Env::start_with(c).await
}

fn site_url(env: &Env, path: &str) -> String {
    format!("{}/_portal/{HOST}{path}", env.base())
}

/// Signs the contact in through the sign-in page; returns the `Cookie` header value.
async fn sign_in(env: &Env) -> String {
    let page = env.http.get(site_url(env, "/SignIn")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(CONTACT), "the page offers the contact");
    let res = env
        .http
        .post(site_url(env, "/SignIn"))
        .form(&[("contact", CONTACT), ("returnUrl", &format!("/_portal/{HOST}/home"))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], format!("/_portal/{HOST}/home").as_str());
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.contains(&format!("Path=/_portal/{HOST}")) && set.contains("HttpOnly"), "{set}");
    set.split(';').next().unwrap().to_owned()
}

async fn portal_token(env: &Env, cookie: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
    let mut req = env.http.post(site_url(env, "/_services/auth/token")).form(form);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

async fn public_key(env: &Env) -> String {
    let res = env.http.get(site_url(env, "/_services/auth/publickey")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

fn verify(token: &str, pem: &str) -> Result<Value, jsonwebtoken::errors::Error> {
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_aud = false;
    v.set_issuer(&[HOST]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_rsa_pem(pem.as_bytes()).unwrap(), &v).map(|d| d.claims)
}

#[tokio::test]
async fn a_signed_in_contact_gets_a_token_with_state_and_expiry_headers() {
    let env = env(&[
        ("ImplicitGrantFlow/RegisteredClientId", &format!("other;{REGISTERED}")),
        ("ImplicitGrantFlow/TokenExpirationTime", "600"),
    ])
    .await;
    let cookie = sign_in(&env).await;
    let res = portal_token(
        &env,
        Some(&cookie),
        &[("client_id", REGISTERED), ("state", "st1"), ("nonce", "n1"), ("response_type", "token")],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["state"], "st1");
    assert_eq!(res.headers()["expires_in"], "600");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let token = res.text().await.unwrap();
    let pem = public_key(&env).await;
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    let c = verify(&token, &pem).unwrap();
    assert_eq!(
        (c["sub"].as_str(), c["aud"].as_str(), c["appid"].as_str()),
        (Some(CONTACT), Some(REGISTERED), Some(REGISTERED))
    );
    assert_eq!(
        (c["iss"].as_str(), c["nonce"].as_str(), c["email"].as_str()),
        (Some(HOST), Some("n1"), Some("pat@example.com"))
    );
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    assert!(header(&token).get("kid").is_none(), "a portal publishes one key and names none");
    assert_eq!(env.emu.admin().portal_tokens_issued(), 1);
}

#[tokio::test]
async fn unregistered_or_malformed_client_ids_are_portal_sts_0001_and_no_session_is_refused() {
    let env = env(&[("ImplicitGrantFlow/RegisteredClientId", REGISTERED)]).await;
    let cookie = sign_in(&env).await;
    for bad in ["unregistered", &"a".repeat(37), "has space"] {
        let res = portal_token(&env, Some(&cookie), &[("client_id", bad)]).await;
        assert_eq!(res.status(), 400, "{bad}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["ErrorId"], "PortalSTS0001");
        assert!(
            body["CorrelationId"].as_str().is_some_and(|c| c.len() == 36) && body["Timestamp"].is_string(),
            "{body}"
        );
    }
    let res = portal_token(&env, Some(&cookie), &[("state", &"s".repeat(21))]).await;
    assert_eq!(res.status(), 400);
    let res = portal_token(&env, None, &[("client_id", REGISTERED)]).await;
    assert_eq!(res.status(), 401);
    let res = portal_token(&env, Some("portal_session=forged"), &[]).await;
    assert_eq!(res.status(), 401);
    assert_eq!(env.emu.admin().portal_tokens_issued(), 0);
}

#[tokio::test]
async fn expiry_setting_is_clamped_and_defaults_to_fifteen_minutes() {
    for (setting, want) in [(None, "900"), (Some("5"), "60"), (Some("100000"), "3600"), (Some("soon"), "900")] {
        let settings: Vec<(&str, &str)> =
            setting.map(|s| ("ImplicitGrantFlow/TokenExpirationTime", s)).into_iter().collect();
        let env = env(&settings).await;
        let cookie = sign_in(&env).await;
        let res = portal_token(&env, Some(&cookie), &[]).await;
        assert_eq!(res.headers()["expires_in"], want, "{setting:?}");
        let c = claims(&res.text().await.unwrap());
        assert!(c.get("aud").is_none(), "no client_id, no aud");
    }
}

#[tokio::test]
async fn a_rotated_key_replaces_the_old_one() {
    let env = env(&[]).await;
    let cookie = sign_in(&env).await;
    let before = portal_token(&env, Some(&cookie), &[]).await.text().await.unwrap();
    let old_pem = public_key(&env).await;
    env.emu.admin().rotate_site_key(HOST).unwrap();
    let new_pem = public_key(&env).await;
    assert_ne!(old_pem, new_pem);
    assert!(verify(&before, &new_pem).is_err(), "the old token no longer verifies");
    let after = portal_token(&env, Some(&cookie), &[]).await.text().await.unwrap();
    assert!(verify(&after, &new_pem).is_ok());
}

#[tokio::test]
async fn user_tokens_carry_the_users_app_roles_on_the_resource_and_groups() {
    let mut c = config();
    c.tenants[0].users[0].groups = vec!["99999999-0000-0000-0000-000000000009".into()];
    c.tenants[0].users[0].app_roles = vec![
        UserAppRoleConfig { resource: CLIENT.into(), roles: vec!["Reports.Viewer".into()] },
        UserAppRoleConfig { resource: BACKEND.into(), roles: vec!["Other".into()] },
    ];
    let env = Env::start_with(c).await;
    let t = claims(&env.user_token());
    assert_eq!(t["roles"], serde_json::json!(["Reports.Viewer"]));
    assert_eq!(t["groups"], serde_json::json!(["99999999-0000-0000-0000-000000000009"]));
    let bob = claims(&env.user_token_with(UserTokenRequest { user: USER2_UPN.into(), ..env.user_token_request() }));
    assert!(bob.get("roles").is_none() && bob.get("groups").is_none(), "{bob}");
}
