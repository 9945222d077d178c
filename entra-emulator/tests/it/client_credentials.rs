//! Client credentials with a certificate: app-only tokens for `{resource}/.default`.

use crate::common::*;

#[tokio::test]
async fn graph_default_gives_a_v1_app_token_with_granted_roles() {
    let env = Env::start().await;
    let reply =
        env.token(TENANT, &client_credentials_form(&env.assertion(), "https://graph.microsoft.com/.default")).await;
    let c = reply.access_token_claims();
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["aud"], GRAPH_URI);
    assert_eq!(c["iss"], env.emu.issuer_v1(TENANT));
    assert_eq!(c["appid"], CLIENT);
    assert_eq!(c["appidacr"], "2");
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["roles"], serde_json::json!(["Files.Read.All"]));
    assert_eq!(c["oid"], c["sub"]);
    assert!(c.get("scp").is_none());
    assert_eq!(reply.body["token_type"], "Bearer");
    assert!(reply.body["expires_in"].as_i64().unwrap() > 0);
    assert!(reply.body.get("refresh_token").is_none());
}

#[tokio::test]
async fn v2_resource_gets_v2_token_without_roles_when_none_granted() {
    let env = Env::start().await;
    let reply = env.token(TENANT, &client_credentials_form(&env.assertion(), "api://backend/.default")).await;
    let c = reply.access_token_claims();
    assert_eq!(c["ver"], "2.0");
    assert_eq!(c["aud"], BACKEND);
    assert_eq!(c["iss"], env.emu.issuer_v2(TENANT));
    assert_eq!(c["azp"], CLIENT);
    assert_eq!(c["azpacr"], "2");
    assert_eq!(c["idtyp"], "app");
    assert!(c.get("roles").is_none());
}

#[tokio::test]
async fn scope_must_be_resource_default() {
    let env = Env::start().await;
    env.token(TENANT, &client_credentials_form(&env.assertion(), "https://graph.microsoft.com/Files.Read"))
        .await
        .assert_error(400, "invalid_scope", 1002012);
}

#[tokio::test]
async fn common_endpoint_is_refused() {
    let env = Env::start().await;
    let mut a = Assertion::new(&env, registered());
    a.aud = serde_json::json!(env.token_endpoint("common"));
    env.token("common", &client_credentials_form(&a.sign(), "https://graph.microsoft.com/.default"))
        .await
        .assert_error(400, "invalid_request", 9001023);
}

#[tokio::test]
async fn unknown_client_and_unknown_resource() {
    let env = Env::start().await;
    let reply = env
        .token(
            TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "eeeeeeee-0000-0000-0000-000000000000"),
                ("scope", "api://backend/.default"),
            ],
        )
        .await;
    reply.assert_error(400, "unauthorized_client", 700016);
    env.token(TENANT, &client_credentials_form(&env.assertion(), "api://nothing-here/.default")).await.assert_error(
        400,
        "invalid_resource",
        500011,
    );
}
