//! `authorize` + the `authorization_code` grant: PKCE (S256 only for SPA), redirect URI
//! checks, single use, CORS only for SPA redirect URIs, consent through known client apps.

use base64::Engine as _;
use sha2::Digest as _;

use crate::common::*;

pub const BROKER_SCOPE: &str =
    "openid profile offline_access api://cccccccc-0000-0000-0000-00000000000c/access_as_user";

pub fn pkce() -> (String, String) {
    let verifier = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// GETs authorize with `params` (plus `client_id` = broker unless given).
pub async fn authorize(env: &Env, params: &[(&str, &str)]) -> reqwest::Response {
    let mut all: Vec<(&str, &str)> = vec![("response_type", "code")];
    if !params.iter().any(|(k, _)| *k == "client_id") {
        all.push(("client_id", BROKER));
    }
    all.extend_from_slice(params);
    env.http.get(format!("{}/{TENANT}/oauth2/v2.0/authorize", env.base())).query(&all).send().await.unwrap()
}

/// The parameters of the redirect, from the fragment or the query.
pub fn redirect_params(resp: &reqwest::Response) -> std::collections::HashMap<String, String> {
    assert_eq!(resp.status(), 302, "authorize should redirect with 302 Found");
    let location = resp.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    let raw = url.fragment().map(str::to_owned).or_else(|| url.query().map(str::to_owned)).unwrap_or_default();
    url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect()
}

/// Signs the user in as the broker SPA and redeems the code cross-origin.
pub async fn sign_in_spa(env: &Env, scope: &str, claims: Option<&str>) -> Reply {
    let (verifier, challenge) = pkce();
    let mut params = vec![
        ("redirect_uri", SPA_REDIRECT),
        ("scope", scope),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("response_mode", "fragment"),
        ("login_hint", USER_UPN),
    ];
    if let Some(c) = claims {
        params.push(("claims", c));
    }
    let redirect = redirect_params(&authorize(env, &params).await);
    assert_eq!(redirect.get("state").map(String::as_str), Some("st-1"), "{redirect:?}");
    let code = redirect.get("code").unwrap_or_else(|| panic!("no code: {redirect:?}"));
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", BROKER),
        ("code", code.as_str()),
        ("redirect_uri", SPA_REDIRECT),
        ("code_verifier", verifier.as_str()),
        ("scope", scope),
        ("client_info", "1"),
    ];
    env.token_with_origin(TENANT, &form, Some(SPA_ORIGIN)).await
}

#[tokio::test]
async fn spa_sign_in_gives_client_app_token_id_token_refresh_token_and_cors() {
    let env = Env::start().await;
    let reply = sign_in_spa(&env, BROKER_SCOPE, None).await;
    let c = reply.access_token_claims();
    assert_eq!(c["aud"], CLIENT, "v2 token for the client app");
    assert_eq!(c["azp"], BROKER);
    assert_eq!(c["azpacr"], "0", "public client");
    assert_eq!(c["scp"], "access_as_user");
    assert_eq!(c["oid"], USER_OID);
    assert_eq!(reply.body["scope"], format!("api://{CLIENT}/access_as_user"));
    let id = claims(reply.body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], BROKER);
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["iss"], env.emu.issuer_v2(TENANT));
    assert!(reply.body["refresh_token"].is_string());
    assert!(reply.body["client_info"].is_string());
    assert_eq!(reply.headers["access-control-allow-origin"], SPA_ORIGIN);
}

#[tokio::test]
async fn query_response_mode_and_unknown_origin_gets_no_cors() {
    let env = Env::start().await;
    let (verifier, challenge) = pkce();
    let resp = authorize(
        &env,
        &[
            ("redirect_uri", SPA_REDIRECT),
            ("scope", BROKER_SCOPE),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert!(resp.headers()["location"].to_str().unwrap().starts_with(&format!("{SPA_REDIRECT}?code=")));
    let code = redirect_params(&resp)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", BROKER),
        ("code", code.as_str()),
        ("redirect_uri", SPA_REDIRECT),
        ("code_verifier", verifier.as_str()),
        ("scope", BROKER_SCOPE),
    ];
    let reply = env.token_with_origin(TENANT, &form, Some("https://evil.example")).await;
    assert_eq!(reply.status, 200);
    assert!(reply.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn preflight_is_allowed_only_for_spa_origins() {
    let env = Env::start().await;
    for (origin, allowed) in [(SPA_ORIGIN, true), ("https://evil.example", false)] {
        let resp = env
            .http
            .request(reqwest::Method::OPTIONS, env.token_endpoint(TENANT))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers().get("access-control-allow-origin").is_some(), allowed, "{origin}");
    }
}

#[tokio::test]
async fn wrong_verifier_reuse_expiry_and_redirect_mismatch() {
    let env = Env::start().await;
    let (verifier, challenge) = pkce();
    let params = [
        ("redirect_uri", SPA_REDIRECT),
        ("scope", BROKER_SCOPE),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let code_for = |resp: reqwest::Response| redirect_params(&resp)["code"].clone();
    let redeem = |code: String, verifier: String, redirect: &'static str| {
        let env = &env;
        async move {
            let form = [
                ("grant_type", "authorization_code"),
                ("client_id", BROKER),
                ("code", code.as_str()),
                ("redirect_uri", redirect),
                ("code_verifier", verifier.as_str()),
                ("scope", BROKER_SCOPE),
            ];
            env.token_with_origin(TENANT, &form, Some(SPA_ORIGIN)).await
        }
    };
    let code = code_for(authorize(&env, &params).await);
    redeem(code, "wrong-verifier".into(), SPA_REDIRECT).await.assert_error(400, "invalid_grant", 501481);

    let code = code_for(authorize(&env, &params).await);
    assert_eq!(redeem(code.clone(), verifier.clone(), SPA_REDIRECT).await.status, 200);
    redeem(code, verifier.clone(), SPA_REDIRECT).await.assert_error(400, "invalid_grant", 54005);

    let code = code_for(authorize(&env, &params).await);
    redeem(code, verifier.clone(), "https://apps.powerapps.com/other").await.assert_error(400, "invalid_grant", 500112);

    let code = code_for(authorize(&env, &params).await);
    env.emu.admin().advance_clock(time::Duration::minutes(11));
    redeem(code, verifier, SPA_REDIRECT).await.assert_error(400, "invalid_grant", 70008);
}

#[tokio::test]
async fn spa_code_must_be_redeemed_cross_origin() {
    let env = Env::start().await;
    let (verifier, challenge) = pkce();
    let resp = authorize(
        &env,
        &[
            ("redirect_uri", SPA_REDIRECT),
            ("scope", BROKER_SCOPE),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let code = redirect_params(&resp)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", BROKER),
        ("code", code.as_str()),
        ("redirect_uri", SPA_REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    env.token(TENANT, &form).await.assert_error(400, "invalid_request", 9002327);
}

#[tokio::test]
async fn spa_needs_pkce_with_s256() {
    let env = Env::start().await;
    let missing = redirect_params(
        &authorize(&env, &[("redirect_uri", SPA_REDIRECT), ("scope", BROKER_SCOPE), ("state", "s")]).await,
    );
    assert_eq!(missing["error"], "invalid_request");
    assert!(missing["error_description"].starts_with("AADSTS9002325:"));
    assert_eq!(missing["state"], "s");
    let plain = redirect_params(
        &authorize(
            &env,
            &[
                ("redirect_uri", SPA_REDIRECT),
                ("scope", BROKER_SCOPE),
                ("code_challenge", "abc"),
                ("code_challenge_method", "plain"),
            ],
        )
        .await,
    );
    assert_eq!(plain["error"], "invalid_request");
}

#[tokio::test]
async fn unregistered_redirect_or_unknown_client_is_an_error_page_not_a_redirect() {
    let env = Env::start().await;
    let resp = authorize(&env, &[("redirect_uri", "https://evil.example/steal"), ("scope", BROKER_SCOPE)]).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.text().await.unwrap().contains("AADSTS50011"));
    let resp =
        authorize(&env, &[("client_id", "eeeeeeee-0000-0000-0000-000000000000"), ("redirect_uri", SPA_REDIRECT)]).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("AADSTS700016"));
}

#[tokio::test]
async fn broker_consent_comes_from_the_client_apps_consent() {
    let env = Env::start().await;
    let (_, challenge) = pkce();
    let params = [
        ("redirect_uri", SPA_REDIRECT),
        ("scope", BROKER_SCOPE),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    assert!(redirect_params(&authorize(&env, &params).await).contains_key("code"));
    env.emu.admin().revoke_consent(TENANT, CLIENT, None).unwrap();
    let refused = redirect_params(&authorize(&env, &params).await);
    assert_eq!(refused["error"], "consent_required");
    assert!(refused["error_description"].starts_with("AADSTS65001:"));
}

#[tokio::test]
async fn web_redirect_code_is_redeemed_by_the_confidential_client_with_a_certificate() {
    let env = Env::start().await;
    let scope = "openid api://backend/data.read";
    let resp = authorize(
        &env,
        &[("client_id", CLIENT), ("redirect_uri", WEB_REDIRECT), ("scope", scope), ("login_hint", USER2_UPN)],
    )
    .await;
    let code = redirect_params(&resp)["code"].clone();
    let base = [
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT),
        ("code", code.as_str()),
        ("redirect_uri", WEB_REDIRECT),
        ("scope", scope),
    ];
    env.token(TENANT, &base).await.assert_error(401, "invalid_client", 7000218);
    let resp = authorize(
        &env,
        &[("client_id", CLIENT), ("redirect_uri", WEB_REDIRECT), ("scope", scope), ("login_hint", USER2_UPN)],
    )
    .await;
    let code = redirect_params(&resp)["code"].clone();
    let assertion = env.assertion();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT),
        ("code", code.as_str()),
        ("redirect_uri", WEB_REDIRECT),
        ("scope", scope),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion.as_str()),
    ];
    let c = env.token(TENANT, &form).await.access_token_claims();
    assert_eq!(c["oid"], USER2_OID);
    assert_eq!(c["azpacr"], "2");
}
