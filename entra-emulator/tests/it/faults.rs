//! Injected faults answer exactly like Entra, for their scope and duration only.

use entra_emulator::{FaultDuration, FaultKind, FaultSpec, GrantKind};
use serde_json::Value;

use crate::auth_code::sign_in_spa;
use crate::common::*;

const SCOPE: &str = "api://backend/data.read";

fn once(kind: FaultKind) -> FaultSpec {
    FaultSpec { duration: FaultDuration::NextRequests(1), ..FaultSpec::new(kind) }
}

#[tokio::test]
async fn throttling_is_429_with_retry_after_for_the_next_request_only() {
    let env = Env::start().await;
    env.emu.admin().inject_fault(once(FaultKind::Throttle { retry_after_secs: 7 }));
    let token = env.user_token();
    let reply = env.obo(&token, SCOPE).await;
    reply.assert_error(429, "temporarily_unavailable", 90055);
    assert_eq!(reply.headers["retry-after"], "7");
    assert_eq!(env.obo(&token, SCOPE).await.status, 200);
}

#[tokio::test]
async fn server_errors_500_and_503() {
    let env = Env::start().await;
    let admin = env.emu.admin();
    let token = env.user_token();
    admin.inject_fault(once(FaultKind::ServerError));
    env.obo(&token, SCOPE).await.assert_error(500, "server_error", 50000);
    admin.inject_fault(once(FaultKind::ServiceUnavailable { retry_after_secs: Some(3) }));
    let reply = env.obo(&token, SCOPE).await;
    reply.assert_error(503, "temporarily_unavailable", 90033);
    assert_eq!(reply.headers["retry-after"], "3");
}

#[tokio::test]
async fn conditional_access_block_is_53003_message_only_with_claims() {
    let env = Env::start().await;
    env.emu.admin().inject_fault(FaultSpec::new(FaultKind::ConditionalAccessBlock));
    let reply = env.obo(&env.user_token(), SCOPE).await;
    reply.assert_error(400, "invalid_grant", 53003);
    assert_eq!(reply.body["suberror"], "message_only");
    let claims: Value = serde_json::from_str(reply.body["claims"].as_str().unwrap()).unwrap();
    assert!(claims["access_token"].is_object());
}

#[tokio::test]
async fn consent_fault_overrides_granted_consent_until_cleared() {
    let env = Env::start().await;
    let admin = env.emu.admin();
    let id = admin.inject_fault(FaultSpec::new(FaultKind::ConsentRequired));
    let token = env.user_token();
    for _ in 0..2 {
        let reply = env.obo(&token, SCOPE).await;
        reply.assert_error(400, "invalid_grant", 65001);
        assert_eq!(reply.body["suberror"], "consent_required");
    }
    assert!(admin.clear_fault(id));
    assert_eq!(env.obo(&token, SCOPE).await.status, 200);
}

#[tokio::test]
async fn revoked_certificate_fault_is_700027_at_client_authentication() {
    let env = Env::start().await;
    env.emu.admin().inject_fault(FaultSpec { client_id: Some(CLIENT.into()), ..once(FaultKind::RevokedCertificate) });
    let reply = env.token(TENANT, &client_credentials_form(&env.assertion(), "api://backend/.default")).await;
    reply.assert_error(401, "invalid_client", 700027);
    assert_eq!(
        env.token(TENANT, &client_credentials_form(&env.assertion(), "api://backend/.default")).await.status,
        200
    );
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let env = Env::start().await;
    env.emu.admin().inject_fault(once(FaultKind::Latency { millis: 300 }));
    let token = env.user_token();
    let started = std::time::Instant::now();
    assert_eq!(env.obo(&token, SCOPE).await.status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}

#[tokio::test]
async fn faults_only_hit_their_user_and_grant() {
    let env = Env::start().await;
    let admin = env.emu.admin();
    admin.inject_fault(FaultSpec {
        user: Some(USER2_UPN.into()),
        grant: Some(GrantKind::OnBehalfOf),
        ..FaultSpec::new(FaultKind::ServerError)
    });
    assert_eq!(env.obo(&env.user_token(), SCOPE).await.status, 200, "other user unaffected");
    let bob =
        env.user_token_with(entra_emulator::UserTokenRequest { user: USER2_OID.into(), ..env.user_token_request() });
    assert_eq!(env.obo(&bob, SCOPE).await.status, 500);
    let cc = env.token(TENANT, &client_credentials_form(&env.assertion(), "api://backend/.default")).await;
    assert_eq!(cc.status, 200, "app-only requests have no user");
}

#[tokio::test]
async fn mfa_step_up_challenge_is_satisfied_by_signing_in_with_the_claims() {
    let env = Env::start().await;
    env.emu.admin().inject_fault(FaultSpec::new(FaultKind::MfaStepUp { code: 50076, policy_id: None }));
    let reply = env.obo(&env.user_token(), SCOPE).await;
    reply.assert_error(400, "interaction_required", 50076);
    assert_eq!(reply.body["suberror"], "basic_action");
    let challenge = reply.body["claims"].as_str().unwrap().to_owned();
    assert!(serde_json::from_str::<Value>(&challenge).is_ok(), "claims is a JSON string");

    let stepped_up = sign_in_spa(&env, crate::auth_code::BROKER_SCOPE, Some(&challenge)).await;
    let user_token = stepped_up.body["access_token"].as_str().unwrap().to_owned();
    let reply = env.obo(&user_token, SCOPE).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert!(claims(reply.body["access_token"].as_str().unwrap())["acrs"].is_array());
}
