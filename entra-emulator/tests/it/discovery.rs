//! Discovery documents and key sets have Entra's shapes (spec §5, §9).

use base64::Engine as _;
use serde_json::Value;
use sha1::Digest as _;

use crate::common::*;

async fn get(env: &Env, path: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    let resp = env.http.get(format!("{}{path}", env.base())).send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.json().await.unwrap(), headers)
}

#[tokio::test]
async fn tenant_v2_metadata_names_the_tenant_everywhere() {
    let env = Env::start().await;
    let base = env.base();
    for segment in [TENANT, TENANT_DOMAIN] {
        let (status, doc, headers) = get(&env, &format!("/{segment}/v2.0/.well-known/openid-configuration")).await;
        assert_eq!(status, 200);
        assert_eq!(doc["issuer"], env.emu.issuer_v2(TENANT));
        assert_eq!(doc["issuer"], format!("{}/{TENANT}/v2.0", env.emu.https_base()));
        assert_eq!(doc["token_endpoint"], format!("{base}/{TENANT}/oauth2/v2.0/token"));
        assert_eq!(doc["authorization_endpoint"], format!("{base}/{TENANT}/oauth2/v2.0/authorize"));
        assert_eq!(doc["jwks_uri"], format!("{base}/{TENANT}/discovery/v2.0/keys"));
        let methods: Vec<&str> = doc["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(methods.contains(&"private_key_jwt"));
        assert_eq!(headers["access-control-allow-origin"], "*");
    }
}

#[tokio::test]
async fn common_and_organizations_carry_the_issuer_template() {
    let env = Env::start().await;
    for segment in ["common", "organizations"] {
        let (status, doc, _) = get(&env, &format!("/{segment}/v2.0/.well-known/openid-configuration")).await;
        assert_eq!(status, 200);
        assert_eq!(doc["issuer"], format!("{}/{{tenantid}}/v2.0", env.emu.https_base()));
        assert_eq!(doc["token_endpoint"], format!("{}/{segment}/oauth2/v2.0/token", env.base()));
        let (_, keys, _) = get(&env, &format!("/{segment}/discovery/v2.0/keys")).await;
        assert_eq!(keys["keys"][0]["issuer"], format!("{}/{{tenantid}}/v2.0", env.emu.https_base()));
    }
}

#[tokio::test]
async fn v1_metadata_has_the_v1_issuer_with_trailing_slash() {
    let env = Env::start().await;
    let (status, doc, _) = get(&env, &format!("/{TENANT}/.well-known/openid-configuration")).await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], env.emu.issuer_v1(TENANT));
    assert!(doc["issuer"].as_str().unwrap().ends_with(&format!("/{TENANT}/")));
    assert_eq!(doc["jwks_uri"], format!("{}/{TENANT}/discovery/keys", env.base()));
    let (_, common, _) = get(&env, "/common/.well-known/openid-configuration").await;
    assert!(common["issuer"].as_str().unwrap().ends_with("/{tenantid}/"));
}

#[tokio::test]
async fn jwks_keys_have_kid_x5t_x5c_and_verify_issued_tokens() {
    let env = Env::start().await;
    let (_, v2, _) = get(&env, &format!("/{TENANT}/discovery/v2.0/keys")).await;
    let key = &v2["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["e"], "AQAB");
    assert_eq!(key["issuer"], env.emu.issuer_v2(TENANT));
    let cert = base64::engine::general_purpose::STANDARD.decode(key["x5c"][0].as_str().unwrap()).unwrap();
    let x5t = b64url(&sha1::Sha1::digest(&cert), false);
    assert_eq!(key["x5t"], x5t.as_str());
    assert_eq!(key["kid"], x5t.as_str());

    let (_, v1, _) = get(&env, &format!("/{TENANT}/discovery/keys")).await;
    assert_eq!(v1["keys"][0]["kid"], key["kid"]);
    assert!(v1["keys"][0].get("issuer").is_none());

    let token = env.user_token();
    assert_eq!(header(&token)["kid"], key["kid"]);
    let decoding =
        jsonwebtoken::DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[CLIENT]);
    validation.set_issuer(&[env.emu.issuer_v2(TENANT)]);
    jsonwebtoken::decode::<Value>(&token, &decoding, &validation).unwrap();
}

#[tokio::test]
async fn unknown_tenant_is_invalid_tenant() {
    let env = Env::start().await;
    let resp = env
        .http
        .get(format!("{}/nope.example/v2.0/.well-known/openid-configuration", env.base()))
        .send()
        .await
        .unwrap();
    let reply = Reply::from(resp).await;
    reply.assert_error(400, "invalid_tenant", 90002);
}

#[tokio::test]
async fn https_listener_serves_endpoints_on_https() {
    let env = Env::start().await;
    let https = env.emu.https_base();
    let doc: Value = env
        .http
        .get(format!("{https}/{TENANT}/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["token_endpoint"], format!("{https}/{TENANT}/oauth2/v2.0/token"));
    // localhost is in the certificate too, and URLs follow the Host the client used.
    let port = https.rsplit(':').next().unwrap();
    let local = format!("https://localhost:{port}");
    let doc: Value = env
        .http
        .get(format!("{local}/{TENANT}/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["token_endpoint"], format!("{local}/{TENANT}/oauth2/v2.0/token"));
}

#[tokio::test]
async fn instance_discovery_points_at_this_host() {
    let env = Env::start().await;
    let (status, doc, _) = get(
        &env,
        &format!(
            "/common/discovery/instance?api-version=1.1&authorization_endpoint={}/{TENANT}/oauth2/v2.0/authorize",
            env.base()
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        doc["tenant_discovery_endpoint"],
        format!("{}/{TENANT}/v2.0/.well-known/openid-configuration", env.base())
    );
}
