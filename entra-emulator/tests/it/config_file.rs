//! The shipped example configuration loads and starts (ephemeral ports) and its workload is
//! consented: a broker user token for the file picker is exchanged for a Graph token.

use entra_emulator::{EmulatorConfig, UserTokenRequest};

use crate::common::*;

#[tokio::test]
async fn demo_config_starts_and_serves_the_workload() {
    let mut config = EmulatorConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.toml")).unwrap();
    config.server.http_port = 0;
    config.server.https_port = 0;
    let tenant = config.tenants[0].id.clone();
    let env = Env::start_with(config).await;
    let admin = env.emu.admin();
    let picker = "22222222-2222-4222-8222-222222222222";
    admin.add_certificate(&tenant, picker, &registered().config()).unwrap();
    let user_token = admin
        .issue_user_token(UserTokenRequest {
            tenant: tenant.clone(),
            user: "adele@contoso.onmicrosoft.com".into(),
            client_app: picker.into(),
            broker_app: "33333333-3333-4333-8333-333333333333".into(),
            ..Default::default()
        })
        .unwrap();
    let mut a = Assertion::new(&env, registered());
    a.iss = picker.into();
    a.sub = picker.into();
    a.aud = serde_json::json!(env.token_endpoint(&tenant));
    let assertion = a.sign();
    let mut form = obo_form(&assertion, &user_token, "https://graph.microsoft.com/.default");
    form[1] = ("client_id", picker);
    let c = env.token(&tenant, &form).await.access_token_claims();
    assert_eq!(c["aud"], GRAPH_URI);
    assert_eq!(c["scp"], "Files.Read User.Read");
}
