//! The admin-consent page a consent URL opens: shows the request, grants on Accept.

use crate::common::*;

#[tokio::test]
async fn accept_grants_and_redirects_like_entra() {
    let env = Env::start().await;
    let admin = env.emu.admin();
    admin.revoke_consent(TENANT, CLIENT, None).unwrap();
    env.obo(&env.user_token(), "https://graph.microsoft.com/Files.Read").await.assert_error(
        400,
        "invalid_grant",
        65001,
    );

    let url = format!(
        "{}/{TENANT}/adminconsent?client_id={CLIENT}&redirect_uri={}&state=xyz",
        env.base(),
        url::form_urlencoded::byte_serialize(WEB_REDIRECT.as_bytes()).collect::<String>()
    );
    let page = env.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("File picker") && html.contains("https://graph.microsoft.com/Files.Read"));

    let resp = env.http.post(&url).form(&[("decision", "accept")]).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let params: std::collections::HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(params["admin_consent"], "True");
    assert_eq!(params["tenant"], TENANT);
    assert_eq!(params["state"], "xyz");
    assert_eq!(env.obo(&env.user_token(), "https://graph.microsoft.com/Files.Read").await.status, 200);
}

#[tokio::test]
async fn cancel_denies_and_unregistered_redirect_is_refused() {
    let env = Env::start().await;
    let url = format!(
        "{}/{TENANT}/v2.0/adminconsent?client_id={CLIENT}&scope=https://graph.microsoft.com/.default&redirect_uri={WEB_REDIRECT}",
        env.base()
    );
    let resp = env.http.post(&url).form(&[("decision", "deny")]).send().await.unwrap();
    assert!(resp.headers()["location"].to_str().unwrap().contains("error=access_denied"));
    let bad = env
        .http
        .get(format!("{}/{TENANT}/adminconsent?client_id={CLIENT}&redirect_uri=https://evil.example", env.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("AADSTS50011"));
}
