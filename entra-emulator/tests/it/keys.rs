//! Signing-key rotation: the new key is published and signs at once, the old one stays
//! published (its tokens still verify) until retired.

use serde_json::Value;

use crate::common::*;

async fn published_kids(env: &Env) -> Vec<String> {
    let jwks: Value = env
        .http
        .get(format!("{}/{TENANT}/discovery/v2.0/keys", env.base()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn rotate_then_retire() {
    let env = Env::start().await;
    let admin = env.emu.admin();
    let old_token = env.user_token();
    let old_kid = header(&old_token)["kid"].as_str().unwrap().to_owned();
    assert_eq!(published_kids(&env).await, vec![old_kid.clone()]);

    let new_kid = admin.rotate_signing_key().unwrap();
    assert_ne!(new_kid, old_kid);
    assert_eq!(published_kids(&env).await, vec![new_kid.clone(), old_kid.clone()]);
    let new_token = env.user_token();
    assert_eq!(header(&new_token)["kid"], new_kid.as_str());
    assert_eq!(env.obo(&old_token, "api://backend/data.read").await.status, 200, "old key still published");
    let issued = env.obo(&new_token, "api://backend/data.read").await.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(header(&issued)["kid"], new_kid.as_str(), "issued tokens use the new key");

    assert_eq!(admin.retire_previous_signing_keys(), 1);
    assert_eq!(published_kids(&env).await, vec![new_kid]);
    env.obo(&old_token, "api://backend/data.read").await.assert_error(400, "invalid_grant", 50013);
    assert_eq!(env.obo(&new_token, "api://backend/data.read").await.status, 200);
}
