//! oauth2-rs as a client of the emulator's token endpoint: the refresh token grant (the broker
//! SPA, and the confidential client app) and client credentials with a certificate assertion.
//!
//! oauth2-rs has no JWT client assertion (RFC 7523 §2.2) of its own — its client authentication is
//! a client secret, in a header or the body. Its typed requests carry the assertion as the two
//! extra parameters `client_assertion_type` and `client_assertion`, signed by the tests' certificate
//! helper (`common::Assertion`, the form MSAL and the STS send).

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenType};
use oauth2::{ClientId, EndpointNotSet, EndpointSet, RefreshToken, Scope, TokenResponse, TokenUrl};

use super::{SpaHttp, server_error};
use crate::auth_code::{BROKER_SCOPE, sign_in_spa};
use crate::common::*;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

type Client = BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A client with only a token endpoint and no secret: oauth2-rs sends `client_id` in the body.
fn client(env: &Env, client_id: &str) -> Client {
    BasicClient::new(ClientId::new(client_id.into())).set_token_uri(TokenUrl::new(env.token_endpoint(TENANT)).unwrap())
}

fn scope(s: &str) -> Scope {
    Scope::new(s.into())
}

#[tokio::test]
async fn spa_refresh_token_is_redeemed_rotated_and_serves_another_resource() {
    let env = Env::start().await;
    let spa = SpaHttp::new(&env);
    let broker = client(&env, BROKER);
    let rt1 = sign_in_spa(&env, BROKER_SCOPE, None).await.body["refresh_token"].as_str().unwrap().to_owned();
    let tokens = broker
        .exchange_refresh_token(&RefreshToken::new(rt1.clone()))
        .add_scope(scope(&format!("{GRAPH_URI}/User.Read")))
        .add_scope(scope("offline_access"))
        .request_async(&spa)
        .await
        .unwrap();
    assert_eq!(tokens.token_type(), &BasicTokenType::Bearer);
    assert!(tokens.expires_in().is_some_and(|e| e.as_secs() > 0), "a numeric expires_in");
    let c = claims(tokens.access_token().secret());
    assert_eq!((c["aud"].as_str(), c["appid"].as_str()), (Some(GRAPH_URI), Some(BROKER)));
    let rt2 = tokens.refresh_token().expect("a new refresh token on every use");
    assert_ne!(rt2.secret(), &rt1);

    let tokens = broker.exchange_refresh_token(rt2).add_scope(scope(BROKER_SCOPE)).request_async(&spa).await.unwrap();
    assert_eq!(claims(tokens.access_token().secret())["aud"], CLIENT);

    let forged = RefreshToken::new("1.forged".into());
    let err = broker.exchange_refresh_token(&forged).add_scope(scope(BROKER_SCOPE)).request_async(&spa).await;
    assert_eq!(server_error(err.unwrap_err(), 9002313).error(), &BasicErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn confidential_refresh_token_is_redeemed_with_a_certificate_assertion() {
    let env = Env::start().await;
    let obo = env.obo(&env.user_token(), "api://backend/data.read offline_access").await;
    let rt = RefreshToken::new(obo.body["refresh_token"].as_str().unwrap().to_owned());
    let app = client(&env, CLIENT);
    let files = scope(&format!("{GRAPH_URI}/Files.Read"));
    let tokens = app
        .exchange_refresh_token(&rt)
        .add_scope(files.clone())
        .add_extra_param("client_assertion_type", JWT_BEARER)
        .add_extra_param("client_assertion", env.assertion())
        .request_async(&env.http)
        .await
        .unwrap();
    let c = claims(tokens.access_token().secret());
    assert_eq!((c["aud"].as_str(), c["oid"].as_str()), (Some(GRAPH_URI), Some(USER_OID)));

    // Without the assertion the confidential client's token is not redeemed (401).
    let err = app.exchange_refresh_token(&rt).add_scope(files).request_async(&env.http).await;
    assert_eq!(server_error(err.unwrap_err(), 7000218).error(), &BasicErrorResponseType::InvalidClient);
}

#[tokio::test]
async fn client_credentials_with_a_certificate_assertion_gives_an_app_token() {
    let env = Env::start().await;
    let app = client(&env, CLIENT);
    let graph = scope(&format!("{GRAPH_URI}/.default"));
    let tokens = app
        .exchange_client_credentials()
        .add_scope(graph.clone())
        .add_extra_param("client_assertion_type", JWT_BEARER)
        .add_extra_param("client_assertion", env.assertion())
        .request_async(&env.http)
        .await
        .unwrap();
    assert_eq!(tokens.token_type(), &BasicTokenType::Bearer);
    assert!(tokens.expires_in().is_some_and(|e| e.as_secs() > 0), "a numeric expires_in");
    assert!(tokens.refresh_token().is_none(), "no refresh token for an app");
    let c = claims(tokens.access_token().secret());
    assert_eq!(
        (c["aud"].as_str(), c["appid"].as_str(), c["idtyp"].as_str()),
        (Some(GRAPH_URI), Some(CLIENT), Some("app"))
    );
    assert_eq!(c["roles"], serde_json::json!(["Files.Read.All"]));

    // An assertion signed by a certificate the app never registered is refused.
    let stranger = Assertion::new(&env, unregistered()).sign();
    let err = app
        .exchange_client_credentials()
        .add_scope(graph)
        .add_extra_param("client_assertion_type", JWT_BEARER)
        .add_extra_param("client_assertion", stranger)
        .request_async(&env.http)
        .await;
    assert_eq!(server_error(err.unwrap_err(), 700027).error(), &BasicErrorResponseType::InvalidClient);
}
