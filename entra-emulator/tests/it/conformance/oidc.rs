//! openidconnect-rs as a relying party of the emulator: discovery of a tenant (the library checks
//! the document's `issuer` against the URL it was fetched from), the JWKS, the authorization code
//! flow with PKCE S256 as the broker SPA runs it, and ID token verification (signature against the
//! JWKS, issuer, audience, expiry, nonce, and `at_hash` when present).

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreIdToken, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreTokenResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, Audience, AuthorizationCode, ClaimsVerificationError, ClientId, CsrfToken, DiscoveryError,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, JsonWebKey, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError, TokenResponse,
};

use super::{SpaHttp, server_error};
use crate::auth_code::redirect_params;
use crate::common::*;

/// The broker SPA as an openidconnect client: authorize and token endpoints from discovery.
type Broker =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

async fn discover(env: &Env, tenant: &str) -> CoreProviderMetadata {
    let issuer = IssuerUrl::new(env.emu.issuer_v2(tenant)).unwrap();
    CoreProviderMetadata::discover_async(issuer, &env.http).await.unwrap()
}

/// Discovers the tenant afresh (metadata and JWKS) and makes the broker's client from it.
async fn broker(env: &Env) -> Broker {
    CoreClient::from_provider_metadata(discover(env, TENANT).await, ClientId::new(BROKER.into()), None)
        .set_redirect_uri(RedirectUrl::new(SPA_REDIRECT.into()).unwrap())
}

/// Follows the authorize URL the library built (the emulator signs the hinted user in without a
/// UI) and returns the code, after checking the redirect and its `state`.
async fn authorize(env: &Env, client: &Broker) -> (AuthorizationCode, PkceCodeVerifier, Nonce) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .add_scope(Scope::new(format!("api://{CLIENT}/access_as_user")))
        .add_extra_param("login_hint", USER_UPN)
        .set_pkce_challenge(challenge)
        .url();
    let resp = env.http.get(url).send().await.unwrap();
    let location = resp.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
    assert!(location.as_deref().is_some_and(|l| l.starts_with(&format!("{SPA_REDIRECT}?"))), "{location:?}");
    let redirect = redirect_params(&resp);
    assert_eq!(redirect.get("state"), Some(state.secret()), "{redirect:?}");
    let code = redirect.get("code").unwrap_or_else(|| panic!("no code: {redirect:?}"));
    (AuthorizationCode::new(code.clone()), verifier, nonce)
}

/// A whole sign-in: the token response and the nonce its ID token must carry.
async fn sign_in(env: &Env, client: &Broker) -> (CoreTokenResponse, Nonce) {
    let (code, verifier, nonce) = authorize(env, client).await;
    let tokens =
        client.exchange_code(code).unwrap().set_pkce_verifier(verifier).request_async(&SpaHttp::new(env)).await;
    (tokens.unwrap(), nonce)
}

fn id_token(tokens: &CoreTokenResponse) -> &CoreIdToken {
    tokens.id_token().expect("the openid scope gives an ID token")
}

fn no_matching_key(result: Result<impl std::fmt::Debug, ClaimsVerificationError>) -> bool {
    matches!(result, Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)))
}

#[tokio::test]
async fn discovery_of_each_tenant_names_it_and_its_jwks_holds_the_signing_key() {
    let env = Env::start().await;
    let https = env.emu.https_base();
    for tenant in [TENANT, OTHER_TENANT] {
        // `discover_async` itself refuses a document whose `issuer` is not the URL it was asked for.
        let m = discover(&env, tenant).await;
        assert_eq!(m.issuer().as_str(), env.emu.issuer_v2(tenant));
        assert_eq!(m.authorization_endpoint().as_str(), format!("{https}/{tenant}/oauth2/v2.0/authorize"));
        assert_eq!(m.token_endpoint().unwrap().as_str(), format!("{https}/{tenant}/oauth2/v2.0/token"));
        assert_eq!(m.jwks_uri().as_str(), format!("{https}/{tenant}/discovery/v2.0/keys"));
        assert!(m.id_token_signing_alg_values_supported().contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256));
        let kids: Vec<String> = m.jwks().keys().iter().filter_map(|k| k.key_id()).map(|k| k.to_string()).collect();
        assert_eq!(kids, env.emu.admin().signing_key_ids());
    }
    // As at Entra, the multi-tenant document carries the `{tenantid}` issuer template, which a
    // strict relying party refuses: it must discover a specific tenant.
    let common = IssuerUrl::new(format!("{https}/common/v2.0")).unwrap();
    let refused = CoreProviderMetadata::discover_async(common, &env.http).await;
    assert!(matches!(refused, Err(DiscoveryError::Validation(_))), "{refused:?}");
}

#[tokio::test]
async fn authorization_code_with_pkce_s256_gives_an_id_token_that_verifies() {
    let env = Env::start().await;
    let client = broker(&env).await;
    let (tokens, nonce) = sign_in(&env, &client).await;
    let verifier = client.id_token_verifier();
    let id_token = id_token(&tokens);
    // Signature (JWKS key by `kid`, RS256), `iss`, `aud`, `exp`/`iat` and `nonce`.
    let id = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(id.issuer().as_str(), env.emu.issuer_v2(TENANT));
    assert_eq!(id.audiences(), &[Audience::new(BROKER.into())]);
    assert_eq!(id.preferred_username().map(|u| u.as_str()), Some(USER_UPN));
    assert_eq!(id.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Adele Vance"));
    if let Some(expected) = id.access_token_hash() {
        let alg = id_token.signing_alg().unwrap();
        let actual = AccessTokenHash::from_token(tokens.access_token(), alg, id_token.signing_key(&verifier).unwrap());
        assert_eq!(&actual.unwrap(), expected, "at_hash");
    }
    // The nonce check is real: the same token under any other nonce is refused.
    let other = id_token.claims(&verifier, &Nonce::new_random());
    assert!(matches!(other, Err(ClaimsVerificationError::InvalidNonce(_))), "{other:?}");

    assert_eq!(tokens.token_type(), &CoreTokenType::Bearer);
    assert!(tokens.expires_in().is_some_and(|e| e.as_secs() > 0));
    assert!(tokens.refresh_token().is_some(), "offline_access gives a refresh token");
    let at = claims(tokens.access_token().secret());
    assert_eq!(
        (at["aud"].as_str(), at["azp"].as_str(), at["scp"].as_str()),
        (Some(CLIENT), Some(BROKER), Some("access_as_user"))
    );
}

#[tokio::test]
async fn the_code_needs_its_pkce_verifier_and_is_redeemed_once() {
    let env = Env::start().await;
    let client = broker(&env).await;
    let spa = SpaHttp::new(&env);
    let (code, _, _) = authorize(&env, &client).await;
    let wrong = PkceCodeVerifier::new(uuid::Uuid::new_v4().simple().to_string().repeat(2));
    let err = client.exchange_code(code).unwrap().set_pkce_verifier(wrong).request_async(&spa).await.unwrap_err();
    assert_eq!(server_error(err, 501481).error(), &CoreErrorResponseType::InvalidGrant);

    let (code, verifier, _) = authorize(&env, &client).await;
    let again = PkceCodeVerifier::new(verifier.secret().clone());
    let first = client.exchange_code(code.clone()).unwrap().set_pkce_verifier(verifier).request_async(&spa).await;
    assert!(first.is_ok(), "{first:?}");
    let err = client.exchange_code(code).unwrap().set_pkce_verifier(again).request_async(&spa).await.unwrap_err();
    assert_eq!(server_error(err, 54005).error(), &CoreErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn id_tokens_verify_only_against_keys_the_jwks_publishes() {
    let env = Env::start().await;
    let admin = env.emu.admin();
    let before = broker(&env).await;
    let (old, old_nonce) = sign_in(&env, &before).await;
    assert!(id_token(&old).claims(&before.id_token_verifier(), &old_nonce).is_ok());

    admin.rotate_signing_key().unwrap();
    let (new, new_nonce) = sign_in(&env, &before).await;
    // A relying party holding the old key set cannot verify a token signed with the new key…
    assert!(no_matching_key(id_token(&new).claims(&before.id_token_verifier(), &new_nonce)));
    // …until it fetches the JWKS again, which publishes both keys during the rollover.
    let during = broker(&env).await;
    assert!(id_token(&new).claims(&during.id_token_verifier(), &new_nonce).is_ok());
    assert!(id_token(&old).claims(&during.id_token_verifier(), &old_nonce).is_ok());

    admin.retire_previous_signing_keys();
    let after = broker(&env).await;
    assert!(no_matching_key(id_token(&old).claims(&after.id_token_verifier(), &old_nonce)));
    assert!(id_token(&new).claims(&after.id_token_verifier(), &new_nonce).is_ok());
}
