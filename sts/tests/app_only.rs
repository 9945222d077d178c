//! Power Pages sites and app-only workloads, end to end: the emulator's site issues the portal
//! token (sign-in page → cookie → `/_services/auth/token`), the STS validates it against the
//! site's PEM key and obtains an app-only token by client credentials. Every refusal is a specific
//! OAuth error and reaches neither Entra nor the site more than its bound allows.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use entra_emulator::{ContactConfig, GrantKind, PortalTokenRequest, SiteConfig, UserAppRoleConfig, UserConfig};

const HOST: &str = "contoso.powerappsportals.com";
const EVIL_HOST: &str = "evil.powerappsportals.com";
const CONTACT: &str = "c0c0c0c0-0000-0000-0000-000000000001";
const CONTACT2: &str = "c0c0c0c0-0000-0000-0000-000000000002";
const PORTAL_CLIENT: &str = "portal-spa";
const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";
const ROLE: &str = "Reports.Reader";
const DELEGATED: &str = "other-delegated";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// A user of the demo tenant without the workload's role.
const ROLELESS_USER: &str = "0b5b7d3e-0000-4000-8000-000000000002";

fn contact(id: &str, name: &str) -> ContactConfig {
    ContactConfig {
        id: id.into(),
        username: name.into(),
        given_name: name.into(),
        family_name: "Doe".into(),
        email: format!("{name}@example.com"),
    }
}

fn emulator(c: &mut entra_emulator::EmulatorConfig) {
    let site = |host: &str| SiteConfig {
        host: host.into(),
        settings: [("ImplicitGrantFlow/RegisteredClientId".to_owned(), format!("{PORTAL_CLIENT};not-registered"))]
            .into_iter()
            .collect(),
        contacts: vec![contact(CONTACT, "pat"), contact(CONTACT2, "sam")],
    };
    c.sites = vec![site(HOST), site(EVIL_HOST)];
    // The demo user holds the workload's app role on the file-picker client app.
    c.tenants[0].users[0].app_roles =
        vec![UserAppRoleConfig { resource: CLIENT.into(), roles: vec![ROLE.into(), "Other".into()] }];
    c.tenants[0].users.push(UserConfig {
        oid: ROLELESS_USER.into(),
        upn: "bob@contoso.test".into(),
        name: "Bob".into(),
        app_roles: vec![UserAppRoleConfig { resource: CLIENT.into(), roles: vec!["Other".into()] }],
        ..Default::default()
    });
}

/// The harness with file-picker turned into an app-only workload (Graph `.default`, role
/// `Reports.Reader`), the site registered for it, and a delegated workload the site also lists.
async fn start() -> Harness {
    let h = Harness::start_with(Options { emulator, ..Options::default() }).await;
    let key_url = format!("{}/_portal/{HOST}/_services/auth/publickey", h.emulator.http_base());
    h.registry_sql(&format!(
        "DELETE FROM workload_backend_scopes WHERE workload = 'file-picker';
         INSERT INTO workload_backend_scopes (workload, backend_app_id, scope)
             VALUES ('file-picker', '00000003-0000-0000-c000-000000000000', '.default');
         INSERT INTO workload_app_only (workload, required_role, required_group) VALUES ('file-picker', '{ROLE}', NULL);
         INSERT INTO workloads (name, client_app_id, enabled, required_scope)
             VALUES ('{DELEGATED}', '0d0d0d0d-0000-0000-0000-00000000000d', TRUE, 'access_as_user');
         INSERT INTO workload_backend_scopes (workload, backend_app_id, scope)
             VALUES ('{DELEGATED}', '00000003-0000-0000-c000-000000000000', 'User.Read');
         INSERT INTO tenant_consents (tenant_id, workload, status, changed_at)
             VALUES ('{TENANT}', '{DELEGATED}', 'granted', '2026-01-01T00:00:00Z');
         INSERT INTO sites (host, key_url, tenant_id, enabled) VALUES ('{HOST}', '{key_url}', '{TENANT}', TRUE);
         INSERT INTO site_client_ids (host, client_id) VALUES ('{HOST}', '{PORTAL_CLIENT}');
         INSERT INTO site_workloads (host, workload) VALUES ('{HOST}', 'file-picker'), ('{HOST}', '{DELEGATED}');"
    ))
    .await;
    h
}

/// A contact signs in on the site's page and asks the site for a token, as a page would.
async fn portal_token_via_site(h: &Harness, host: &str, contact: &str) -> String {
    let site = format!("{}/_portal/{host}", h.emulator.http_base());
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = http.post(format!("{site}/SignIn")).form(&[("contact", contact)]).send().await.unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let res = http
        .post(format!("{site}/_services/auth/token"))
        .header("cookie", cookie)
        .form(&[("client_id", PORTAL_CLIENT), ("state", "s"), ("nonce", "n")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

fn minted(h: &Harness, edit: impl FnOnce(&mut PortalTokenRequest)) -> String {
    let mut req = PortalTokenRequest {
        host: HOST.into(),
        contact: CONTACT.into(),
        client_id: Some(PORTAL_CLIENT.into()),
        ..Default::default()
    };
    edit(&mut req);
    h.emulator.admin().issue_portal_token(req).unwrap()
}

async fn exchange_portal(h: &Harness, token: &str, extra: &[(&str, &str)]) -> Answer {
    let mut form = vec![("subject_token_type", JWT), ("audience", "file-picker")];
    form.extend_from_slice(extra);
    portal_exchange(h, token, GRAPH_DEFAULT, &form).await
}

/// `POST /token` with `fields` overriding the harness's defaults (`subject_token_type` above all).
async fn portal_exchange(h: &Harness, token: &str, scope: &str, fields: &[(&str, &str)]) -> Answer {
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
        ("subject_token", token),
        ("scope", scope),
    ];
    form.extend_from_slice(fields);
    let r = h.http.post(format!("{}/token", h.base)).form(&form).send().await.unwrap();
    Answer::read(r).await
}

fn upstream_calls(h: &Harness) -> (u64, u64) {
    let c = h.emulator.admin().counters();
    (c.requests(GrantKind::ClientCredentials, CLIENT), c.requests(GrantKind::OnBehalfOf, CLIENT))
}

fn site_key_fetches(h: &Harness, reason: &str) -> u64 {
    h.state.metrics.key_refreshes.get_or_create(&vec![("reason".to_owned(), format!("site_{reason}"))]).get()
}

#[tokio::test]
async fn a_portal_token_gets_an_app_only_token_cached_per_client_app_not_per_user_and_audited() {
    let h = start().await;
    let token = portal_token_via_site(&h, HOST, CONTACT).await;
    let a = exchange_portal(&h, &token, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let claims = a.token_claims();
    assert_eq!(claims["idtyp"], "app", "an app-only token: {claims}");
    assert_eq!(claims["appid"].as_str().or(claims["azp"].as_str()), Some(CLIENT), "{claims}");
    assert_eq!(upstream_calls(&h), (1, 0), "one client-credentials call, no OBO");
    assert_eq!(site_key_fetches(&h, "first"), 1);

    // Another contact, and an Entra user holding the role: the same client app, backend and
    // tenant, so the same cached token — never one per user.
    let other = portal_token_via_site(&h, HOST, CONTACT2).await;
    let b = exchange_portal(&h, &other, &[]).await;
    assert_eq!((b.status.as_u16(), b.access_token()), (200, a.access_token()));
    let user = h.exchange(&h.user_token(|_| {}), GRAPH_DEFAULT, &[]).await;
    assert_eq!((user.status.as_u16(), user.access_token()), (200, a.access_token()));
    assert_eq!(upstream_calls(&h), (1, 0));
    assert_eq!(site_key_fetches(&h, "first"), 1, "the site's key is cached");

    // The audit names who asked: the contact and the site, or the user.
    assert!(h.state.exchanger.audit.flush().await);
    let rows = h.db.store().recent_audit(10).await.unwrap();
    let who: Vec<(Option<&str>, Option<&str>, bool)> =
        rows.iter().rev().map(|r| (r.user_oid.as_deref(), r.site.as_deref(), r.cache_hit)).collect();
    assert_eq!(
        who,
        vec![(Some(CONTACT), Some(HOST), false), (Some(CONTACT2), Some(HOST), true), (Some(USER_OID), None, true)]
    );
    assert!(rows.iter().all(|r| r.outcome == "ok" && r.tenant_id.as_deref() == Some(TENANT)), "{rows:?}");
    assert!(rows.iter().all(|r| r.workload.as_deref() == Some("file-picker")));
}

#[tokio::test]
async fn each_refusal_is_a_specific_oauth_error_and_none_reaches_entra() {
    let h = start().await;
    let good = minted(&h, |_| {});
    let cases: Vec<(&str, Answer, u16, &str, &str)> = vec![
        (
            "unregistered client id",
            exchange_portal(&h, &minted(&h, |r| r.client_id = Some("not-registered".into())), &[]).await,
            400,
            "invalid_grant",
            "is not a client id registered for site",
        ),
        (
            "wrong site",
            exchange_portal(&h, &minted(&h, |r| r.host = EVIL_HOST.into()), &[]).await,
            400,
            "invalid_grant",
            "is not a registered Power Pages site",
        ),
        (
            "expired",
            exchange_portal(&h, &minted(&h, |r| r.lifetime_secs = Some(-3600)), &[]).await,
            400,
            "invalid_grant",
            "expired",
        ),
        (
            "a portal token sent as an Entra access token",
            portal_exchange(
                &h,
                &good,
                GRAPH_DEFAULT,
                &[("subject_token_type", "urn:ietf:params:oauth:token-type:access_token")],
            )
            .await,
            400,
            "invalid_grant",
            "kid",
        ),
        (
            "an unknown subject_token_type",
            portal_exchange(
                &h,
                &good,
                GRAPH_DEFAULT,
                &[("subject_token_type", "urn:ietf:params:oauth:token-type:saml2")],
            )
            .await,
            400,
            "invalid_request",
            "subject_token_type must be",
        ),
        (
            "a portal token asking for a delegated workload",
            portal_exchange(
                &h,
                &good,
                "https://graph.microsoft.com/User.Read",
                &[("subject_token_type", JWT), ("audience", DELEGATED)],
            )
            .await,
            400,
            "invalid_target",
            "is delegated (on-behalf-of)",
        ),
        (
            "a delegated scope of the app-only workload",
            portal_exchange(&h, &good, FILES_READ, &[("subject_token_type", JWT), ("audience", "file-picker")]).await,
            400,
            "invalid_scope",
            "",
        ),
        (
            "an Entra user without the required role",
            h.exchange(&h.user_token(|r| r.user = ROLELESS_USER.into()), GRAPH_DEFAULT, &[]).await,
            403,
            "access_denied",
            "only to users with app role 'Reports.Reader'",
        ),
    ];
    for (what, answer, status, error, text) in cases {
        assert_eq!((answer.status.as_u16(), answer.error()), (status, error), "{what}: {}", answer.body);
        assert!(answer.description().contains(text), "{what}: {}", answer.description());
    }
    assert_eq!(upstream_calls(&h), (0, 0), "no refusal reached Entra");
}

#[tokio::test]
async fn a_rotated_site_key_is_fetched_once_and_junk_cannot_force_more_fetches() {
    let h = start().await;
    let before = minted(&h, |_| {});
    assert_eq!(exchange_portal(&h, &before, &[]).await.status, 200);
    h.emulator.admin().rotate_site_key(HOST).unwrap();

    // A token signed with the new key: its signature fails with the cached key, the key is
    // fetched again once, and the token is accepted.
    let after = minted(&h, |r| r.contact = CONTACT2.into());
    let a = exchange_portal(&h, &after, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(site_key_fetches(&h, "signature_failure"), 1);

    // Tokens the site no longer signs (the old key) are refused, and however many arrive within
    // the refetch interval, the site is not asked again.
    for _ in 0..20 {
        let r = exchange_portal(&h, &before, &[]).await;
        assert_eq!(r.error(), "invalid_grant");
        assert!(r.description().contains("signature"), "{}", r.description());
    }
    assert_eq!(site_key_fetches(&h, "signature_failure"), 1, "one forced fetch per interval");
    assert_eq!(site_key_fetches(&h, "first"), 1);
    assert_eq!(upstream_calls(&h).0, 1, "one client-credentials call; the rest from the cache");
}
