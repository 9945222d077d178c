//! Client assertions (spec §2): every form real MSAL libraries send is accepted; each
//! rejection rule answers `invalid_client` (HTTP 401) with Entra's code. Exercised through
//! client credentials, the simplest grant that authenticates the client.

use serde_json::json;

use crate::common::*;

const SCOPE: &str = "https://graph.microsoft.com/.default";

async fn send(env: &Env, assertion: &str) -> Reply {
    env.token(TENANT, &client_credentials_form(assertion, SCOPE)).await
}

async fn accepted(env: &Env, a: &Assertion<'_>) {
    let reply = send(env, &a.sign()).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.access_token_claims()["appid"], CLIENT);
}

#[tokio::test]
async fn preferred_form_ps256_x5t_s256_integer_times() {
    let env = Env::start().await;
    accepted(&env, &Assertion::new(&env, registered())).await;
}

#[tokio::test]
async fn msal_python_form_padded_thumbprint_float_times_no_nbf_with_x5c() {
    let env = Env::start().await;
    let mut a = Assertion::new(&env, registered());
    a.padded_thumb = true;
    a.times = Times::Float;
    a.nbf = false;
    a.extra_header =
        vec![("x5c", json!([registered().pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>()]))];
    accepted(&env, &a).await;
}

#[tokio::test]
async fn msal_dotnet_form_string_times_no_iat() {
    let env = Env::start().await;
    let mut a = Assertion::new(&env, registered());
    a.times = Times::String;
    a.iat = false;
    accepted(&env, &a).await;
}

#[tokio::test]
async fn legacy_form_rs256_with_sha1_x5t_padded_or_not() {
    let env = Env::start().await;
    for padded in [false, true] {
        let mut a = Assertion::new(&env, registered());
        a.alg = "RS256";
        a.thumb = Thumb::Sha1;
        a.padded_thumb = padded;
        accepted(&env, &a).await;
    }
}

#[tokio::test]
async fn an_assertion_may_be_reused_jti_is_not_single_use() {
    let env = Env::start().await;
    let assertion = env.assertion();
    for _ in 0..2 {
        assert_eq!(send(&env, &assertion).await.status, 200);
    }
}

#[tokio::test]
async fn tenant_domain_in_path_and_audience_is_accepted() {
    let env = Env::start().await;
    let mut a = Assertion::new(&env, registered());
    a.aud = json!(env.token_endpoint(TENANT_DOMAIN));
    let reply = env.token(TENANT_DOMAIN, &client_credentials_form(&a.sign(), SCOPE)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
}

#[tokio::test]
async fn audience_as_array_is_malformed_50027() {
    let env = Env::start().await;
    let mut a = Assertion::new(&env, registered());
    a.aud = json!([env.token_endpoint(TENANT)]);
    send(&env, &a.sign()).await.assert_error(401, "invalid_client", 50027);
}

#[tokio::test]
async fn audience_of_another_tenant_or_host_is_refused_50012() {
    let env = Env::start().await;
    for aud in [
        env.token_endpoint(OTHER_TENANT),
        format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"),
        format!("{}/{TENANT}/oauth2/v2.0/token", env.emu.https_base()),
        format!("{}/{TENANT}/v2.0", env.base()),
    ] {
        let mut a = Assertion::new(&env, registered());
        a.aud = json!(aud);
        send(&env, &a.sign()).await.assert_error(401, "invalid_client", 50012);
    }
}

#[tokio::test]
async fn issuer_or_subject_not_the_client_is_700021() {
    let env = Env::start().await;
    let mut a = Assertion::new(&env, registered());
    a.iss = BROKER.into();
    send(&env, &a.sign()).await.assert_error(401, "invalid_client", 700021);
    let mut a = Assertion::new(&env, registered());
    a.sub = BROKER.into();
    send(&env, &a.sign()).await.assert_error(401, "invalid_client", 700021);
}

#[tokio::test]
async fn expired_or_not_yet_valid_is_700024() {
    let env = Env::start().await;
    let mut a = Assertion::new(&env, registered());
    a.now -= 3600;
    send(&env, &a.sign()).await.assert_error(401, "invalid_client", 700024);
    let mut a = Assertion::new(&env, registered());
    a.now += 3600;
    send(&env, &a.sign()).await.assert_error(401, "invalid_client", 700024);
}

#[tokio::test]
async fn expiry_follows_the_emulator_clock() {
    let env = Env::start().await;
    let assertion = env.assertion();
    assert_eq!(send(&env, &assertion).await.status, 200);
    env.emu.admin().advance_clock(time::Duration::minutes(20));
    send(&env, &assertion).await.assert_error(401, "invalid_client", 700024);
}

#[tokio::test]
async fn bad_signature_is_700027() {
    let env = Env::start().await;
    let good = env.assertion();
    let (input, sig) = good.rsplit_once('.').unwrap();
    let mut bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    bytes[0] ^= 0xff;
    let tampered = format!("{input}.{}", b64url(&bytes, false));
    send(&env, &tampered).await.assert_error(401, "invalid_client", 700027);
}

#[tokio::test]
async fn unknown_certificate_is_700027() {
    let env = Env::start().await;
    let reply = send(&env, &Assertion::new(&env, unregistered()).sign()).await;
    reply.assert_error(401, "invalid_client", 700027);
    assert!(reply.body["error_description"].as_str().unwrap().contains("The key was not found"));
}

#[tokio::test]
async fn revoked_certificate_is_700027() {
    let env = Env::start().await;
    assert_eq!(send(&env, &env.assertion()).await.status, 200);
    env.emu.admin().revoke_certificate(TENANT, CLIENT, &b64url(&registered().sha1(), false)).unwrap();
    send(&env, &env.assertion()).await.assert_error(401, "invalid_client", 700027);
}

#[tokio::test]
async fn expired_certificate_is_700027() {
    let env = Env::start().await;
    let reply = send(&env, &Assertion::new(&env, expired_cert()).sign()).await;
    reply.assert_error(401, "invalid_client", 700027);
    assert!(reply.body["error_description"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn unsupported_algorithm_and_garbage_are_refused() {
    let env = Env::start().await;
    let mut a = Assertion::new(&env, registered());
    a.alg = "HS256";
    send(&env, &a.sign()).await.assert_error(401, "invalid_client", 5002738);
    send(&env, "not-a-jwt").await.assert_error(401, "invalid_client", 50027);
}

#[tokio::test]
async fn missing_assertion_or_a_secret_is_refused() {
    let env = Env::start().await;
    let reply =
        env.token(TENANT, &[("grant_type", "client_credentials"), ("client_id", CLIENT), ("scope", SCOPE)]).await;
    reply.assert_error(401, "invalid_client", 7000218);
    let reply = env
        .token(
            TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT),
                ("scope", SCOPE),
                ("client_secret", "s3cret"),
            ],
        )
        .await;
    reply.assert_error(401, "invalid_client", 7000215);
}

#[tokio::test]
async fn correlation_id_echoes_client_request_id() {
    let env = Env::start().await;
    let id = "5f0e7f4c-1c2b-4a9e-9d59-0c4e1f0f8a11";
    let resp = env
        .http
        .post(env.token_endpoint(TENANT))
        .header("client-request-id", id)
        .form(&client_credentials_form("not-a-jwt", SCOPE))
        .send()
        .await
        .unwrap();
    let reply = Reply::from(resp).await;
    assert_eq!(reply.body["correlation_id"], id);
    assert!(reply.body["error_description"].as_str().unwrap().contains(&format!("Correlation ID: {id}")));
    assert_eq!(reply.headers["cache-control"], "no-store, no-cache");
}
