//! The `refresh_token` grant: rotation on every use, SPA tokens' fixed 24 h lifetime,
//! multi-resource redemption, cross-origin only for SPA tokens.

use crate::auth_code::{BROKER_SCOPE, sign_in_spa};
use crate::common::*;

async fn refresh(env: &Env, rt: &str, scope: &str, origin: Option<&str>) -> Reply {
    let form = [("grant_type", "refresh_token"), ("client_id", BROKER), ("refresh_token", rt), ("scope", scope)];
    env.token_with_origin(TENANT, &form, origin).await
}

#[tokio::test]
async fn rotates_and_serves_another_consented_resource() {
    let env = Env::start().await;
    let rt1 = sign_in_spa(&env, BROKER_SCOPE, None).await.body["refresh_token"].as_str().unwrap().to_owned();
    let reply = refresh(&env, &rt1, "https://graph.microsoft.com/User.Read offline_access", Some(SPA_ORIGIN)).await;
    let c = reply.access_token_claims();
    assert_eq!(c["aud"], GRAPH_URI);
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["appid"], BROKER);
    let rt2 = reply.body["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2, "a new refresh token on every use");
    assert_eq!(reply.headers["access-control-allow-origin"], SPA_ORIGIN);
    assert_eq!(refresh(&env, rt2, BROKER_SCOPE, Some(SPA_ORIGIN)).await.access_token_claims()["aud"], CLIENT);
}

#[tokio::test]
async fn spa_refresh_tokens_expire_24_hours_after_sign_in_whatever_the_rotations() {
    let env = Env::start().await;
    let admin = env.emu.admin();
    let mut rt = sign_in_spa(&env, BROKER_SCOPE, None).await.body["refresh_token"].as_str().unwrap().to_owned();
    admin.advance_clock(time::Duration::hours(23));
    let reply = refresh(&env, &rt, BROKER_SCOPE, Some(SPA_ORIGIN)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    rt = reply.body["refresh_token"].as_str().unwrap().to_owned();
    admin.advance_clock(time::Duration::hours(1) + time::Duration::seconds(1));
    refresh(&env, &rt, BROKER_SCOPE, Some(SPA_ORIGIN)).await.assert_error(400, "invalid_grant", 700084);
}

#[tokio::test]
async fn spa_refresh_needs_an_origin_the_right_client_and_a_real_token() {
    let env = Env::start().await;
    let rt = sign_in_spa(&env, BROKER_SCOPE, None).await.body["refresh_token"].as_str().unwrap().to_owned();
    refresh(&env, &rt, BROKER_SCOPE, None).await.assert_error(400, "invalid_request", 9002327);
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT),
        ("refresh_token", rt.as_str()),
        ("scope", BROKER_SCOPE),
    ];
    env.token_with_origin(TENANT, &form, Some(SPA_ORIGIN)).await.assert_error(400, "invalid_grant", 70000);
    refresh(&env, "1.garbage", BROKER_SCOPE, Some(SPA_ORIGIN)).await.assert_error(400, "invalid_grant", 9002313);
}

#[tokio::test]
async fn obo_refresh_token_is_redeemed_by_the_confidential_client() {
    let env = Env::start().await;
    let reply = env.obo(&env.user_token(), "api://backend/data.read offline_access").await;
    let rt = reply.body["refresh_token"].as_str().unwrap().to_owned();
    let assertion = env.assertion();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT),
        ("refresh_token", rt.as_str()),
        ("scope", "https://graph.microsoft.com/Files.Read"),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion.as_str()),
    ];
    let c = env.token(TENANT, &form).await.access_token_claims();
    assert_eq!(c["aud"], GRAPH_URI);
    assert_eq!(c["oid"], USER_OID);
    let without_auth: Vec<_> = form.iter().copied().filter(|(k, _)| !k.starts_with("client_assertion")).collect();
    env.token(TENANT, &without_auth).await.assert_error(401, "invalid_client", 7000218);
}
