//! One test per outcome of `decide`, on the demo registry plus a few rows that make the rarer
//! denials reachable.

#![allow(clippy::unwrap_used)]

use registry::demo::{BROKER_APP_ID, FILE_PICKER_CLIENT_APP_ID, GRAPH_APP_ID, OTHER_TENANT_ID, TENANT_ID, WORKLOAD};
use registry::{
    AppIdUri, AppRegistration, AppRole, BackendScope, ConsentRequest, ConsentStatus, Denial, Grant, Snapshot, Target,
    TenantConsent, WorkloadBroker, WorkloadRow, decide, demo,
};

const AUTHORITY: &str = "https://login.microsoftonline.com/";
const VENDOR_APP_ID: &str = "25182f8f-3162-40f4-b99f-4beecbb81217";
const VENDOR_RESOURCE: &str = "api://contoso.example/Expenses";
const ARCHIVE_CLIENT_APP_ID: &str = "067bdb17-4026-4f68-b529-94d1528fea12";
const REVOKED_TENANT_ID: &str = "caf30cf9-f297-46b2-aa07-de549604846f";

fn consent(tenant_id: &str, workload: &str, status: ConsentStatus) -> TenantConsent {
    TenantConsent {
        tenant_id: tenant_id.into(),
        workload: workload.into(),
        status,
        changed_at: "2026-11-22T10:00:00Z".into(),
        reference: None,
    }
}

/// The demo registry, plus: a vendor backend (resource with a path, an App ID URI, `.default`
/// and `Read` allowed), a disabled workload, and a tenant whose consent was revoked.
fn snapshot() -> Snapshot {
    let mut rows = demo::rows();
    rows.apps.push(AppRegistration {
        app_id: VENDOR_APP_ID.into(),
        role: AppRole::Backend,
        display_name: "Contoso Expenses API".into(),
        resource_uri: Some(format!("{VENDOR_RESOURCE}/")),
    });
    rows.app_id_uris.push(AppIdUri { app_id: VENDOR_APP_ID.into(), uri: format!("api://{VENDOR_APP_ID}") });
    for scope in [".default", "Read"] {
        rows.backend_scopes.push(BackendScope {
            workload: WORKLOAD.into(),
            backend_app_id: VENDOR_APP_ID.into(),
            scope: scope.into(),
        });
    }
    rows.workloads.push(WorkloadRow {
        name: "archive".into(),
        client_app_id: ARCHIVE_CLIENT_APP_ID.into(),
        enabled: false,
        required_scope: "access_as_user".into(),
    });
    rows.brokers.push(WorkloadBroker { workload: "archive".into(), broker_app_id: BROKER_APP_ID.into() });
    rows.consents.push(consent(TENANT_ID, "archive", ConsentStatus::Granted));
    rows.consents.push(consent(REVOKED_TENANT_ID, WORKLOAD, ConsentStatus::Revoked));
    Snapshot::from_rows(rows)
}

fn request(scope: &str) -> ConsentRequest<'_> {
    ConsentRequest {
        tenant_id: TENANT_ID,
        broker_app_id: BROKER_APP_ID,
        target: Target::ClientApp(FILE_PICKER_CLIENT_APP_ID),
        scope,
        authority: AUTHORITY,
    }
}

fn graph(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("https://graph.microsoft.com/{n}")).collect()
}

#[test]
fn grants_the_demo_scopes_without_the_oidc_ones() {
    let g = decide(&snapshot(), &request("openid User.Read https://graph.microsoft.com/Files.Read offline_access"))
        .unwrap();
    assert_eq!(
        g,
        Grant {
            workload: WORKLOAD.into(),
            client_app_id: FILE_PICKER_CLIENT_APP_ID.into(),
            backend_app_id: GRAPH_APP_ID.into(),
            resource: "https://graph.microsoft.com".into(),
            scopes: graph(&["Files.Read", "User.Read"]),
        }
    );
    assert_eq!(g.scope_string(), "https://graph.microsoft.com/Files.Read https://graph.microsoft.com/User.Read");
}

#[test]
fn normalises_case_and_spelling_to_the_registered_form() {
    let s = snapshot();
    for scope in [
        "HTTPS://Graph.Microsoft.COM/files.read",
        "https://graph.microsoft.com//FILES.READ files.read",
        "00000003-0000-0000-C000-000000000000/Files.Read",
    ] {
        let g = decide(&s, &request(scope)).unwrap();
        assert_eq!(g.scopes, graph(&["Files.Read"]), "{scope}");
    }
    let upper_ids = ConsentRequest {
        tenant_id: &TENANT_ID.to_uppercase(),
        broker_app_id: &BROKER_APP_ID.to_uppercase(),
        target: Target::ClientApp(&FILE_PICKER_CLIENT_APP_ID.to_uppercase()),
        ..request("User.Read")
    };
    assert!(decide(&s, &upper_ids).is_ok());
}

#[test]
fn default_scope_is_allowed_where_listed_by_any_spelling_of_the_backend() {
    let s = snapshot();
    for scope in [
        "api://CONTOSO.example/Expenses/.default",
        "api://25182F8F-3162-40F4-B99F-4BEECBB81217/.default",
        "25182f8f-3162-40f4-b99f-4beecbb81217/.default",
    ] {
        let g = decide(&s, &request(scope)).unwrap();
        assert_eq!(g.backend_app_id, VENDOR_APP_ID);
        assert_eq!(g.resource, VENDOR_RESOURCE);
        assert_eq!(g.scopes, vec![format!("{VENDOR_RESOURCE}/.default")]);
    }
}

#[test]
fn resource_path_keeps_its_case() {
    let d = decide(&snapshot(), &request("api://contoso.example/expenses/Read")).unwrap_err();
    assert_eq!(
        d,
        Denial::ScopeNotAllowed {
            workload: WORKLOAD.into(),
            scopes: vec!["api://contoso.example/expenses/Read".into()],
        }
    );
}

#[test]
fn unknown_client_app() {
    let r =
        ConsentRequest { target: Target::ClientApp("0c9d8e7f-0000-4000-8000-000000000000"), ..request("User.Read") };
    let d = decide(&snapshot(), &r).unwrap_err();
    assert!(matches!(d, Denial::UnknownClientApp { .. }), "{d:?}");
    assert!(d.to_string().contains("0c9d8e7f-0000-4000-8000-000000000000"));
}

#[test]
fn unknown_workload() {
    let r = ConsentRequest { target: Target::Workload("no-such-workload"), ..request("User.Read") };
    let d = decide(&snapshot(), &r).unwrap_err();
    assert_eq!(d, Denial::UnknownWorkload { workload: "no-such-workload".into() });
    assert_eq!(d.to_string(), "workload 'no-such-workload' is not registered");
}

#[test]
fn workload_by_name_and_by_name_with_client() {
    let s = snapshot();
    let by_name = ConsentRequest { target: Target::Workload(WORKLOAD), ..request("User.Read") };
    assert_eq!(decide(&s, &by_name).unwrap().client_app_id, FILE_PICKER_CLIENT_APP_ID);
    let matching = ConsentRequest {
        target: Target::WorkloadOfClient {
            workload: WORKLOAD,
            client_app_id: &FILE_PICKER_CLIENT_APP_ID.to_uppercase(),
        },
        ..request("User.Read")
    };
    assert!(decide(&s, &matching).is_ok());
    let other_client = ConsentRequest {
        target: Target::WorkloadOfClient { workload: WORKLOAD, client_app_id: ARCHIVE_CLIENT_APP_ID },
        ..request("User.Read")
    };
    let d = decide(&s, &other_client).unwrap_err();
    assert_eq!(
        d,
        Denial::WorkloadClientMismatch {
            workload: WORKLOAD.into(),
            expected_client_app_id: FILE_PICKER_CLIENT_APP_ID.into(),
            client_app_id: ARCHIVE_CLIENT_APP_ID.into(),
        }
    );
}

#[test]
fn workload_disabled() {
    let r = ConsentRequest { target: Target::ClientApp(ARCHIVE_CLIENT_APP_ID), ..request("User.Read") };
    let d = decide(&snapshot(), &r).unwrap_err();
    assert_eq!(d, Denial::WorkloadDisabled { workload: "archive".into() });
}

#[test]
fn broker_not_allowed() {
    let r = ConsentRequest { broker_app_id: FILE_PICKER_CLIENT_APP_ID, ..request("User.Read") };
    let d = decide(&snapshot(), &r).unwrap_err();
    assert_eq!(
        d,
        Denial::BrokerNotAllowed { broker_app_id: FILE_PICKER_CLIENT_APP_ID.into(), workload: WORKLOAD.into() }
    );
}

#[test]
fn tenant_not_consented_points_at_the_admin_consent_url() {
    let r = ConsentRequest { tenant_id: OTHER_TENANT_ID, ..request("User.Read") };
    let d = decide(&snapshot(), &r).unwrap_err();
    let url = format!(
        "https://login.microsoftonline.com/{OTHER_TENANT_ID}/adminconsent?client_id={FILE_PICKER_CLIENT_APP_ID}"
    );
    assert_eq!(
        d,
        Denial::TenantNotConsented {
            tenant_id: OTHER_TENANT_ID.into(),
            workload: WORKLOAD.into(),
            admin_consent_url: url.clone(),
        }
    );
    assert_eq!(d.admin_consent_url(), Some(url.as_str()));
    assert!(d.to_string().contains(&url));
}

#[test]
fn consent_revoked_says_so() {
    let r = ConsentRequest { tenant_id: REVOKED_TENANT_ID, ..request("User.Read") };
    let d = decide(&snapshot(), &r).unwrap_err();
    assert!(matches!(d, Denial::ConsentRevoked { .. }), "{d:?}");
    assert!(d.to_string().contains("revoked"));
    assert!(d.admin_consent_url().unwrap().contains(REVOKED_TENANT_ID));
}

#[test]
fn malformed_scope() {
    for scope in ["User.Read Files\"Read", "https://graph.microsoft.com/", "/x"] {
        let d = decide(&snapshot(), &request(scope)).unwrap_err();
        assert!(matches!(d, Denial::MalformedScope { .. }), "{scope}: {d:?}");
    }
}

#[test]
fn no_scope() {
    for scope in ["", "   ", "openid profile offline_access email"] {
        assert_eq!(decide(&snapshot(), &request(scope)).unwrap_err(), Denial::NoScope);
    }
}

#[test]
fn multiple_resources() {
    let d = decide(&snapshot(), &request("api://contoso.example/Expenses/Read User.Read https://evil.example/x"))
        .unwrap_err();
    assert_eq!(
        d,
        Denial::MultipleResources {
            resources: vec![
                VENDOR_RESOURCE.into(),
                "https://evil.example".into(),
                "https://graph.microsoft.com".into(),
            ]
        }
    );
}

#[test]
fn default_scope_combined_with_others_of_the_same_resource() {
    let d =
        decide(&snapshot(), &request("api://contoso.example/Expenses/.default api://contoso.example/Expenses/Read"))
            .unwrap_err();
    assert_eq!(d, Denial::DefaultScopeCombined { resource: VENDOR_RESOURCE.into() });
}

#[test]
fn scope_not_allowed() {
    let s = snapshot();
    let cases = [
        ("Files.ReadWrite.All User.Read", graph(&["Files.ReadWrite.All"])),
        // `.default` only where the registry lists it: not for Graph here.
        ("https://graph.microsoft.com/.default", graph(&[".default"])),
        ("https://EVIL.example/Files.Read", vec!["https://evil.example/Files.Read".to_owned()]),
    ];
    for (scope, scopes) in cases {
        assert_eq!(
            decide(&s, &request(scope)).unwrap_err(),
            Denial::ScopeNotAllowed { workload: WORKLOAD.into(), scopes },
            "{scope}"
        );
    }
}

#[test]
fn audience_lookup_accepts_the_app_id_uri_in_any_case() {
    let s = snapshot();
    for aud in [FILE_PICKER_CLIENT_APP_ID.to_owned(), format!("API://{}/", FILE_PICKER_CLIENT_APP_ID.to_uppercase())] {
        assert_eq!(s.workload_for_audience(&aud).unwrap().name, WORKLOAD);
    }
    assert!(s.workload_for_audience(GRAPH_APP_ID).is_none());
}
