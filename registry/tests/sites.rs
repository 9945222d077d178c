//! Power Pages sites and app-only workloads: the pure decisions and the checks.
#![allow(clippy::unwrap_used)]

use registry::{
    AppOnlyRow, AppRegistration, AppRole, BackendScope, ConsentStatus, Denial, PortalRequest, Problem, RegistryRows,
    SiteClientId, SiteRow, SiteWorkload, Snapshot, TenantConsent, WorkloadRow, authorize_app_only_user, check,
    decide_portal,
};

const HOST: &str = "contoso.powerappsportals.com";
const TENANT: &str = "caf30cf9-f297-46b2-aa07-de549604846f";
const CLIENT: &str = "5f0c1a52-8a43-4c49-9f0e-3b4d1c2e7a61";
const DELEGATED_CLIENT: &str = "067bdb17-4026-4f68-b529-94d1528fea12";
const BACKEND: &str = "8e2d4b7a-1c3f-4e5d-a6b7-c8d9e0f1a2b3";
const RESOURCE: &str = "api://archive";
const GROUP: &str = "0b6c7f3e-2a51-4d8e-9c47-1f2e3d4c5b6a";

fn rows() -> RegistryRows {
    let workload = |name: &str, client: &str| WorkloadRow {
        name: name.into(),
        client_app_id: client.into(),
        enabled: true,
        required_scope: "access_as_user".into(),
    };
    let scope = |w: &str, s: &str| BackendScope { workload: w.into(), backend_app_id: BACKEND.into(), scope: s.into() };
    let consent = |w: &str| TenantConsent {
        tenant_id: TENANT.into(),
        workload: w.into(),
        status: ConsentStatus::Granted,
        changed_at: "2026-01-01T00:00:00Z".into(),
        reference: None,
    };
    RegistryRows {
        apps: vec![
            AppRegistration {
                app_id: CLIENT.into(),
                role: AppRole::Client,
                display_name: "a".into(),
                resource_uri: None,
            },
            AppRegistration {
                app_id: DELEGATED_CLIENT.into(),
                role: AppRole::Client,
                display_name: "d".into(),
                resource_uri: None,
            },
            AppRegistration {
                app_id: BACKEND.into(),
                role: AppRole::Backend,
                display_name: "b".into(),
                resource_uri: Some(RESOURCE.into()),
            },
        ],
        workloads: vec![workload("archive", CLIENT), workload("delegated", DELEGATED_CLIENT)],
        backend_scopes: vec![scope("archive", ".default"), scope("delegated", "Read")],
        consents: vec![consent("archive"), consent("delegated")],
        sites: vec![SiteRow {
            host: HOST.into(),
            key_url: format!("https://{HOST}/_services/auth/publickey"),
            tenant_id: TENANT.into(),
            enabled: true,
        }],
        site_client_ids: vec![SiteClientId { host: HOST.into(), client_id: "portal-spa".into() }],
        site_workloads: vec![
            SiteWorkload { host: HOST.into(), workload: "archive".into() },
            SiteWorkload { host: HOST.into(), workload: "delegated".into() },
        ],
        app_only: vec![AppOnlyRow {
            workload: "archive".into(),
            required_role: Some("Archive.Reader".into()),
            required_group: Some(GROUP.into()),
        }],
        ..RegistryRows::default()
    }
}

fn portal(snapshot: &Snapshot, workload: Option<&str>, scope: &str) -> Result<(registry::Grant, String), Denial> {
    decide_portal(snapshot, &PortalRequest { host: HOST, workload, scope, authority: "https://login.example" })
}

#[test]
fn a_site_gets_its_app_only_workload_in_its_tenant() {
    let snapshot = Snapshot::from_rows(rows());
    let (grant, tenant) = portal(&snapshot, Some("archive"), "api://archive/.default").unwrap();
    assert_eq!((grant.client_app_id.as_str(), tenant.as_str()), (CLIENT, TENANT));
    assert_eq!(grant.scopes, vec!["api://archive/.default".to_owned()]);
}

#[test]
fn each_portal_refusal_says_why() {
    let snapshot = Snapshot::from_rows(rows());
    assert!(matches!(portal(&snapshot, Some("delegated"), "api://archive/Read"), Err(Denial::DelegatedOnly { .. })));
    assert!(matches!(portal(&snapshot, None, "api://archive/.default"), Err(Denial::WorkloadRequired { .. })));
    assert!(matches!(portal(&snapshot, Some("nope"), "api://archive/.default"), Err(Denial::UnknownWorkload { .. })));
    assert!(matches!(portal(&snapshot, Some("archive"), "api://archive/Read"), Err(Denial::ScopeNotAllowed { .. })));
    let unknown = decide_portal(
        &snapshot,
        &PortalRequest { host: "other.example", workload: None, scope: "x/.default", authority: "a" },
    );
    assert!(matches!(unknown, Err(Denial::UnknownSite { .. })));

    let mut r = rows();
    r.site_workloads.retain(|w| w.workload != "archive");
    let snapshot = Snapshot::from_rows(r);
    assert!(matches!(portal(&snapshot, Some("archive"), "api://archive/.default"), Err(Denial::SiteNotAllowed { .. })));

    let mut r = rows();
    r.consents.retain(|c| c.workload != "archive");
    assert!(matches!(
        portal(&Snapshot::from_rows(r), Some("archive"), "api://archive/.default"),
        Err(Denial::TenantNotConsented { .. })
    ));

    let mut r = rows();
    r.sites[0].enabled = false;
    assert!(matches!(
        portal(&Snapshot::from_rows(r), Some("archive"), "api://archive/.default"),
        Err(Denial::SiteDisabled { .. })
    ));
}

#[test]
fn an_entra_user_needs_the_role_or_the_group() {
    let snapshot = Snapshot::from_rows(rows());
    let archive = snapshot.workload("archive").unwrap();
    let none: Vec<String> = vec![];
    assert!(authorize_app_only_user(archive, &["Archive.Reader".into()], &none).is_ok());
    assert!(authorize_app_only_user(archive, &none, &[GROUP.to_uppercase()]).is_ok());
    let denied = authorize_app_only_user(archive, &["archive.reader".into(), "Other".into()], &none).unwrap_err();
    assert!(matches!(denied, Denial::RoleRequired { .. }), "roles compare exactly");
    assert!(denied.to_string().contains("Archive.Reader") && denied.to_string().contains(GROUP), "{denied}");
    let delegated = snapshot.workload("delegated").unwrap();
    assert!(authorize_app_only_user(delegated, &none, &none).is_ok(), "delegated workloads require nothing more");
}

#[test]
fn checks_find_site_and_app_only_contradictions() {
    let mut r = rows();
    r.site_client_ids.clear();
    r.site_client_ids.push(SiteClientId { host: "ghost.example".into(), client_id: "x".into() });
    r.site_workloads.push(SiteWorkload { host: HOST.into(), workload: "missing".into() });
    r.backend_scopes.push(BackendScope {
        workload: "archive".into(),
        backend_app_id: BACKEND.into(),
        scope: "Read".into(),
    });
    r.app_only.push(AppOnlyRow { workload: "gone".into(), required_role: Some("R".into()), required_group: None });
    let problems = check(&Snapshot::from_rows(r));
    for want in [
        Problem::SiteWithoutClientIds { host: HOST.into() },
        Problem::RowForUnknownSite { table: "site_client_ids", host: "ghost.example".into() },
        Problem::SiteWorkloadUnknown { host: HOST.into(), workload: "missing".into() },
        Problem::SiteWorkloadNotAppOnly { host: HOST.into(), workload: "delegated".into() },
        Problem::AppOnlyScopeNotDefault {
            workload: "archive".into(),
            backend_app_id: BACKEND.into(),
            scope: "Read".into(),
        },
        Problem::AppOnlyForUnknownWorkload { workload: "gone".into() },
    ] {
        assert!(problems.contains(&want), "{want} missing from {problems:?}");
    }
    // The app-only workload used by a site needs no broker; the delegated one does.
    assert!(!problems.contains(&Problem::WorkloadWithoutBroker { workload: "archive".into() }));
    assert!(problems.contains(&Problem::WorkloadWithoutBroker { workload: "delegated".into() }));
}
