//! The `/_admin` HTTP API: off unless enabled; mirrors the in-process `Admin`.

use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn admin_api_is_off_by_default() {
    let env =
        Env::start_with(entra_emulator::EmulatorConfig { tenants: vec![tenant_config()], ..Default::default() }).await;
    let resp = env.http.get(format!("{}/_admin/counters", env.base())).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn mint_register_fault_and_count_over_http() {
    let env = Env::start().await;
    let admin = format!("{}/_admin", env.base());
    let minted: Value = env
        .http
        .post(format!("{admin}/tokens/user"))
        .json(&json!({"tenant": TENANT, "user": USER_OID, "client_app": CLIENT, "broker_app": BROKER, "version": 1, "lifetime_secs": 600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["access_token"].as_str().unwrap().to_owned();
    let c = claims(&token);
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["aud"], format!("api://{CLIENT}"));
    assert_eq!(c["appid"], BROKER);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);

    let resp = env
        .http
        .post(format!("{admin}/tenants/{TENANT}/apps/{CLIENT}/certificates"))
        .json(&json!({"pem": unregistered().pem}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let reply = env
        .token(TENANT, &client_credentials_form(&Assertion::new(&env, unregistered()).sign(), "api://backend/.default"))
        .await;
    assert_eq!(reply.status, 200, "newly registered certificate works: {:#}", reply.body);

    let fault: Value = env
        .http
        .post(format!("{admin}/faults"))
        .json(&json!({"kind": "throttle", "retry_after_secs": 2, "duration": {"next_requests": 1}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(fault["id"].as_u64().is_some());
    assert_eq!(env.obo(&token, "api://backend/data.read").await.status, 429);
    assert_eq!(env.obo(&token, "api://backend/data.read").await.status, 200);

    let counters: Value = env.http.get(format!("{admin}/counters")).send().await.unwrap().json().await.unwrap();
    assert_eq!(counters["by_client_and_grant"][CLIENT]["on_behalf_of"]["requests"], 2);
    assert_eq!(counters["by_client_and_grant"][CLIENT]["on_behalf_of"]["issued"], 1);
    assert_eq!(counters["by_grant"]["client_credentials"]["issued"], 1);

    let unknown =
        env.http.post(format!("{admin}/tenants/{TENANT}/users")).json(&json!({"oid": "x"})).send().await.unwrap();
    assert_eq!(unknown.status(), 200);
    let missing = env.http.post(format!("{admin}/tenants/nope/users")).json(&json!({"oid": "x"})).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let pem = env.http.get(format!("{admin}/ca.pem")).send().await.unwrap().text().await.unwrap();
    assert_eq!(pem, env.emu.ca_pem());
}
