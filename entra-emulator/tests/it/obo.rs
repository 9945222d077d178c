//! The on-behalf-of grant (spec §3): success shapes per resource token version, and every
//! rejection of the incoming user token, the scopes and consent.

use entra_emulator::{GrantKind, UserTokenRequest};
use serde_json::json;

use crate::common::*;

const MSAL_SCOPE: &str = "https://graph.microsoft.com/Files.Read openid profile offline_access";

#[tokio::test]
async fn graph_token_is_v1_for_the_same_user_issued_to_the_client() {
    let env = Env::start().await;
    let user_token = env.user_token();
    let assertion = env.assertion();
    let mut form = obo_form(&assertion, &user_token, MSAL_SCOPE);
    form.push(("client_info", "1"));
    let reply = env.token(TENANT, &form).await;
    let c = reply.access_token_claims();
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["aud"], GRAPH_URI);
    assert_eq!(c["iss"], env.emu.issuer_v1(TENANT));
    assert_eq!(c["appid"], CLIENT);
    assert_eq!(c["appidacr"], "2");
    assert_eq!(c["scp"], "Files.Read");
    assert_eq!(c["oid"], USER_OID);
    assert_eq!(c["tid"], TENANT);
    assert_eq!(c["upn"], USER_UPN);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["scope"], "https://graph.microsoft.com/Files.Read");
    assert!(reply.body["expires_in"].as_i64().unwrap() > 0);
    assert!(reply.body["ext_expires_in"].as_i64().unwrap() > 0);
    assert!(reply.body["refresh_token"].is_string(), "offline_access asked for a refresh token");
    assert!(reply.body["client_info"].is_string());
    let counters = env.emu.admin().counters();
    assert_eq!(counters.requests(GrantKind::OnBehalfOf, CLIENT), 1);
    assert_eq!(counters.issued(GrantKind::OnBehalfOf, CLIENT), 1);
}

#[tokio::test]
async fn v2_backend_token_has_the_app_id_audience_and_azp() {
    let env = Env::start().await;
    let reply = env.obo(&env.user_token(), "api://backend/data.read").await;
    let c = reply.access_token_claims();
    assert_eq!(c["ver"], "2.0");
    assert_eq!(c["aud"], BACKEND);
    assert_eq!(c["iss"], env.emu.issuer_v2(TENANT));
    assert_eq!(c["azp"], CLIENT);
    assert_eq!(c["azpacr"], "2");
    assert_eq!(c["scp"], "data.read");
    assert_eq!(c["preferred_username"], USER_UPN);
    assert!(reply.body.get("refresh_token").is_none(), "no offline_access, no refresh token");
}

#[tokio::test]
async fn default_scope_gives_every_consented_scope() {
    let env = Env::start().await;
    let c = env.obo(&env.user_token(), "https://graph.microsoft.com/.default").await.access_token_claims();
    assert_eq!(c["scp"], "Files.Read User.Read");
}

#[tokio::test]
async fn v1_incoming_token_with_any_app_id_uri_form_is_accepted() {
    let env = Env::start().await;
    for aud in [format!("api://{CLIENT}"), format!("API://{}/", CLIENT.to_uppercase()), CLIENT.to_string()] {
        let mut extra = serde_json::Map::new();
        extra.insert("aud".into(), json!(aud));
        let token =
            env.user_token_with(UserTokenRequest { version: 1, extra_claims: extra, ..env.user_token_request() });
        assert_eq!(claims(&token)["ver"], "1.0");
        let reply = env.obo(&token, "api://backend/data.read").await;
        assert_eq!(reply.status, 200, "aud {aud}: {:#}", reply.body);
    }
}

#[tokio::test]
async fn client_capabilities_in_claims_become_xms_cc() {
    let env = Env::start().await;
    let assertion = env.assertion();
    let user_token = env.user_token();
    let mut form = obo_form(&assertion, &user_token, "api://backend/data.read");
    form.push(("claims", r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#));
    let c = env.token(TENANT, &form).await.access_token_claims();
    assert_eq!(c["xms_cc"], json!(["cp1"]));
}

#[tokio::test]
async fn expired_user_token_is_500133() {
    let env = Env::start().await;
    let token =
        env.user_token_with(UserTokenRequest { lifetime: time::Duration::minutes(-5), ..env.user_token_request() });
    env.obo(&token, "api://backend/data.read").await.assert_error(400, "invalid_grant", 500133);
    let token = env.user_token();
    env.emu.admin().advance_clock(time::Duration::hours(2));
    env.obo(&token, "api://backend/data.read").await.assert_error(400, "invalid_grant", 500133);
}

#[tokio::test]
async fn token_for_another_audience_is_500131() {
    let env = Env::start().await;
    let token = env.user_token_with(UserTokenRequest {
        client_app: BACKEND.into(),
        scopes: vec!["data.read".into()],
        ..env.user_token_request()
    });
    env.obo(&token, "api://backend/data.read").await.assert_error(400, "invalid_grant", 500131);
}

#[tokio::test]
async fn tampered_wrong_issuer_or_other_tenant_token_is_50013() {
    let env = Env::start().await;
    let good = env.user_token();
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut payload = claims(&good);
    payload["scp"] = json!("access_as_user admin");
    parts[1] = b64url(payload.to_string().as_bytes(), false);
    env.obo(&parts.join("."), "api://backend/data.read").await.assert_error(400, "invalid_grant", 50013);

    for (claim, value) in [
        ("iss", json!("https://login.microsoftonline.com/x/v2.0")),
        ("tid", json!(OTHER_TENANT)),
        ("ver", json!("1.0")),
    ] {
        let mut extra = serde_json::Map::new();
        extra.insert(claim.into(), value);
        let token = env.user_token_with(UserTokenRequest { extra_claims: extra, ..env.user_token_request() });
        env.obo(&token, "api://backend/data.read").await.assert_error(400, "invalid_grant", 50013);
    }
}

#[tokio::test]
async fn app_only_token_cannot_be_exchanged() {
    let env = Env::start().await;
    let mut extra = serde_json::Map::new();
    extra.insert("idtyp".into(), json!("app"));
    let token = env.user_token_with(UserTokenRequest { extra_claims: extra, ..env.user_token_request() });
    env.obo(&token, "api://backend/data.read").await.assert_error(400, "invalid_grant", 7000114);
}

#[tokio::test]
async fn missing_consent_is_65001_until_admin_consents() {
    let env = Env::start().await;
    let admin = env.emu.admin();
    assert_eq!(admin.revoke_consent(TENANT, CLIENT, Some(GRAPH_URI)).unwrap(), 1);
    let reply = env.obo(&env.user_token(), "https://graph.microsoft.com/Files.Read").await;
    reply.assert_error(400, "invalid_grant", 65001);
    assert_eq!(reply.body["suberror"], "consent_required");
    admin.grant_admin_consent(TENANT, CLIENT, None).unwrap();
    assert_eq!(env.obo(&env.user_token(), "https://graph.microsoft.com/Files.Read").await.status, 200);
    // A scope nobody consented stays refused.
    env.obo(&env.user_token(), "https://graph.microsoft.com/Mail.Read").await.assert_error(400, "invalid_grant", 65001);
}

#[tokio::test]
async fn scopes_of_two_resources_or_unknown_ones_are_refused() {
    let env = Env::start().await;
    let token = env.user_token();
    env.obo(&token, "https://graph.microsoft.com/Files.Read api://backend/data.read").await.assert_error(
        400,
        "invalid_scope",
        700022,
    );
    env.obo(&token, "api://backend/does.not.exist").await.assert_error(400, "invalid_scope", 70011);
    env.obo(&token, "api://unknown/x").await.assert_error(400, "invalid_resource", 500011);
    env.obo(&token, "openid profile offline_access").await.assert_error(400, "invalid_scope", 70011);
}

#[tokio::test]
async fn common_endpoint_and_missing_parameters_are_refused() {
    let env = Env::start().await;
    let token = env.user_token();
    let assertion = env.assertion();
    env.token("common", &obo_form(&assertion, &token, "api://backend/data.read")).await.assert_error(
        400,
        "invalid_request",
        9001023,
    );
    let form: Vec<_> = obo_form(&assertion, &token, "api://backend/data.read")
        .into_iter()
        .filter(|(k, _)| *k != "assertion")
        .collect();
    env.token(TENANT, &form).await.assert_error(400, "invalid_request", 900144);
    let form: Vec<_> = obo_form(&assertion, &token, "api://backend/data.read")
        .into_iter()
        .filter(|(k, _)| !k.starts_with("client_assertion"))
        .collect();
    env.token(TENANT, &form).await.assert_error(401, "invalid_client", 7000218);
    let mut form = obo_form(&assertion, &token, "api://backend/data.read");
    form[1] = ("client_id", "eeeeeeee-0000-0000-0000-000000000000");
    env.token(TENANT, &form).await.assert_error(400, "unauthorized_client", 700016);
}

#[tokio::test]
async fn an_id_token_is_240002() {
    let env = Env::start().await;
    let id_token = crate::auth_code::sign_in_spa(
        &env,
        "openid profile offline_access api://cccccccc-0000-0000-0000-00000000000c/access_as_user",
        None,
    )
    .await
    .body["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    env.obo(&id_token, "api://backend/data.read").await.assert_error(400, "invalid_grant", 240002);
}

#[tokio::test]
async fn counters_count_every_request_and_only_successful_issues() {
    let env = Env::start().await;
    let token = env.user_token();
    assert_eq!(env.obo(&token, "api://backend/data.read").await.status, 200);
    assert_eq!(env.obo(&token, "api://backend/data.read").await.status, 200);
    assert_eq!(env.obo(&token, "api://backend/nope").await.status, 400);
    let c = env.emu.admin().counters();
    assert_eq!(c.requests(GrantKind::OnBehalfOf, CLIENT), 3);
    assert_eq!(c.issued(GrantKind::OnBehalfOf, CLIENT), 2);
    assert_eq!(c.requests(GrantKind::ClientCredentials, CLIENT), 0);
    env.emu.admin().reset_counters();
    assert_eq!(env.emu.admin().counters().requests(GrantKind::OnBehalfOf, CLIENT), 0);
}
