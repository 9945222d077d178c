use super::*;

const BROKER: &str = "11111111-1111-1111-1111-111111111111";
const CLIENT: &str = "22222222-2222-2222-2222-222222222222";
const TENANT: &str = "33333333-3333-3333-3333-333333333333";

fn config() -> BrokerConfig {
    BrokerConfig {
        broker_app_id: BROKER.to_ascii_uppercase(),
        authority: "https://login.microsoftonline.com/".to_owned(),
        workloads: vec![Workload {
            name: "file-picker".to_owned(),
            client_app_id: CLIENT.to_owned(),
            user_scope: String::from("api://") + CLIENT + "/access_as_user",
            backends: vec![Backend {
                resource: "https://graph.microsoft.com/".to_owned(),
                scopes: vec!["Files.Read".to_owned()],
            }],
        }],
    }
}

fn options() -> RawOptions {
    RawOptions {
        sts_url: Some("https://sts.example.com/".to_owned()),
        redirect_uri: Some("https://org.crm.dynamics.com/WebResources/t_/redirect.html".to_owned()),
        ..Default::default()
    }
}

const ORIGIN: &str = "https://org.crm.dynamics.com";

#[test]
fn config_is_normalised() {
    let c = config().validated(None).unwrap();
    assert_eq!(c.broker_app_id, BROKER);
    assert_eq!(c.authority, "https://login.microsoftonline.com");
    assert_eq!(c.workloads[0].backends[0].resource, "https://graph.microsoft.com");
    assert!(c.workload("file-picker").is_some());
    assert!(c.workload("other").is_none());
}

#[test]
fn bad_configs_are_refused() {
    let mut c = config();
    c.broker_app_id = "not-a-guid".into();
    assert!(c.validated(None).is_err());
    let mut c = config();
    c.workloads.clear();
    assert!(c.validated(None).is_err());
    let mut c = config();
    let dup = c.workloads[0].clone();
    c.workloads.push(dup);
    assert_eq!(c.validated(None).unwrap_err().description, "the STS broker config is invalid: duplicate workload name");
}

#[test]
fn explicit_options_win_over_xrm() {
    let xrm = XrmContext { tenant_id: Some(TENANT.to_owned()), user_name: Some("xrm@contoso.com".to_owned()) };
    let mut raw = options();
    raw.tenant_id = Some("contoso.onmicrosoft.com".to_owned());
    let o = raw.validate(ORIGIN, &xrm).unwrap();
    assert_eq!(o.tenant, "contoso.onmicrosoft.com");
    assert_eq!(o.login_hint.as_deref(), Some("xrm@contoso.com"));
    assert_eq!(o.sts_url, "https://sts.example.com");
}

#[test]
fn the_tabs_user_is_xrms_even_when_the_page_hints_another() {
    let xrm = XrmContext { tenant_id: Some(TENANT.to_owned()), user_name: Some("Xrm@Contoso.com".to_owned()) };
    let mut raw = options();
    raw.login_hint = Some("other@contoso.com".to_owned());
    let o = raw.validate(ORIGIN, &xrm).unwrap();
    assert_eq!(o.user, "xrm@contoso.com", "the relay binds tabs to the Dynamics user");
    assert_eq!(o.login_hint.as_deref(), Some("other@contoso.com"));
    assert_eq!(
        options().validate(ORIGIN, &XrmContext { tenant_id: Some(TENANT.to_owned()), user_name: None }).unwrap().user,
        ""
    );
}

#[test]
fn tenant_comes_from_xrm() {
    let xrm = XrmContext { tenant_id: Some(TENANT.to_ascii_uppercase()), user_name: None };
    let o = options().validate(ORIGIN, &xrm).unwrap();
    assert_eq!(o.tenant, TENANT);
    assert_eq!(o.login_hint, None);
}

#[test]
fn options_are_checked() {
    let none = XrmContext::default();
    // No tenant anywhere.
    assert_eq!(options().validate(ORIGIN, &none).unwrap_err().code, ErrorCode::InvalidRequest);
    let with_tenant = |f: &dyn Fn(&mut RawOptions)| {
        let mut o = options();
        o.tenant_id = Some(TENANT.to_owned());
        f(&mut o);
        o.validate(ORIGIN, &none)
    };
    assert!(with_tenant(&|_| {}).is_ok());
    assert!(with_tenant(&|o| o.tenant_id = Some("common".into())).is_err());
    assert!(with_tenant(&|o| o.tenant_id = Some("organizations".into())).is_err());
    assert!(with_tenant(&|o| o.sts_url = Some("http://sts.example.com".into())).is_err());
    assert!(with_tenant(&|o| o.sts_url = None).is_err());
    assert!(with_tenant(&|o| o.redirect_uri = Some("https://evil.example.com/r.html".into())).is_err());
    assert!(with_tenant(&|o| o.persistence = Some("memory".into())).is_ok());
    assert!(with_tenant(&|o| o.persistence = Some("localStorage".into())).is_err());
    let removed = with_tenant(&|o| o.persistence = Some("sessionStorage".into())).unwrap_err();
    assert_eq!(removed.code, ErrorCode::InvalidRequest);
    assert!(removed.description.contains("sessionStorage was removed"), "{}", removed.description);
}

const LOOPBACK_PAGE: &str = "http://127.0.0.1:8081";

#[test]
fn loopback_only_from_a_loopback_page() {
    for url in ["http://127.0.0.1:5000", "http://localhost/x", "http://[::1]:80/"] {
        assert!(is_allowed_url(url, LOOPBACK_PAGE), "{url}");
        assert!(is_allowed_url(url, "http://localhost:3000"), "{url}");
        assert!(!is_allowed_url(url, ORIGIN), "{url} from a production page");
        assert!(!is_allowed_url(url, "http://127.0.0.1.evil.com"), "{url}");
    }
    assert!(is_allowed_url("https://sts.example.com", ORIGIN));
    // configure: a loopback STS or authority from an https page is refused.
    let xrm = XrmContext { tenant_id: Some(TENANT.to_owned()), user_name: None };
    let mut raw = options();
    raw.sts_url = Some("http://127.0.0.1:8080".into());
    let e = raw.validate(ORIGIN, &xrm).unwrap_err();
    assert!(e.description.contains("stsUrl must be an https URL"), "{}", e.description);
    let mut raw = options();
    raw.authority = Some("http://127.0.0.1:9000".into());
    let e = raw.validate(ORIGIN, &xrm).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.description.contains("authority must be an https origin"), "{}", e.description);
}

#[test]
fn the_sts_cannot_move_the_authority() {
    // Without an authority named at configure: only Microsoft's sign-in hosts.
    for host in MICROSOFT_AUTHORITIES {
        let mut c = config();
        c.authority = host.to_ascii_uppercase() + "/";
        assert_eq!(c.validated(None).unwrap().authority, host);
    }
    let mut c = config();
    c.authority = String::new();
    assert_eq!(
        c.validated(None).unwrap().authority,
        "https://login.microsoftonline.com",
        "the public cloud by default"
    );
    for fake in [
        "https://login.evil.example",
        "https://login.microsoftonline.com.evil.example",
        "https://login.microsoftonline.com:8443",
        "https://login.microsoftonline.com/evil",
        "http://login.microsoftonline.com",
        "http://127.0.0.1:9000",
    ] {
        let mut c = config();
        c.authority = fake.to_owned();
        let e = c.validated(None).unwrap_err();
        assert_eq!(e.code, ErrorCode::StsError, "{fake}");
        assert!(e.description.contains("authority is not Microsoft's"), "{fake}: {}", e.description);
    }
    // An authority named at configure: the STS may repeat it or leave it out, nothing else.
    let pinned = Some("http://127.0.0.1:9000");
    for same in ["http://127.0.0.1:9000", "HTTP://127.0.0.1:9000/", ""] {
        let mut c = config();
        c.authority = same.to_owned();
        assert_eq!(c.validated(pinned).unwrap().authority, "http://127.0.0.1:9000", "{same:?}");
    }
    for other in ["https://login.microsoftonline.com", "http://127.0.0.1:9001"] {
        let mut c = config();
        c.authority = other.to_owned();
        let e = c.validated(pinned).unwrap_err();
        assert!(e.description.contains("authority is not configure's"), "{other}: {}", e.description);
    }
}

#[test]
fn the_authority_option_is_an_origin() {
    let xrm = XrmContext { tenant_id: Some(TENANT.to_owned()), user_name: None };
    let with = |a: &str| {
        let mut raw = options();
        raw.authority = Some(a.to_owned());
        raw.validate(ORIGIN, &xrm)
    };
    assert_eq!(with("https://Login.Contoso.com/").unwrap().authority.as_deref(), Some("https://login.contoso.com"));
    assert_eq!(
        with("https://login.contoso.com:8443").unwrap().authority.as_deref(),
        Some("https://login.contoso.com:8443")
    );
    for bad in
        ["https://login.contoso.com/tenant", "https://login.contoso.com?x=1", "login.contoso.com", "https://u@h.com"]
    {
        assert!(with(bad).is_err(), "{bad}");
    }
    assert_eq!(options().validate(ORIGIN, &xrm).unwrap().authority, None);
}

#[test]
fn url_policy() {
    for ok in [
        "https://sts.example.com",
        "https://sts.example.com:8443/x",
        "http://127.0.0.1:5000",
        "http://localhost/x",
        "http://[::1]:80/",
    ] {
        assert!(is_allowed_url(ok, LOOPBACK_PAGE), "{ok}");
    }
    for bad in [
        "http://sts.example.com",
        "http://127.0.0.1.evil.com/",
        "https://user@evil.com",
        "ftp://x",
        "https://",
        "javascript:alert(1)",
        "//sts.example.com",
    ] {
        assert!(!is_allowed_url(bad, LOOPBACK_PAGE), "{bad}");
    }
}

#[test]
fn origins() {
    assert_eq!(origin_of("https://Org.example.com:443/a?b#c"), "https://org.example.com");
    assert_eq!(origin_of("http://127.0.0.1:8080/r.html"), "http://127.0.0.1:8080");
    assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    assert_ne!(origin_of("https://a.com:8443/"), origin_of("https://a.com/"));
}

#[test]
fn tenants_and_guids() {
    assert!(is_guid(TENANT));
    assert!(!is_guid("33333333-3333-3333-3333-33333333333g"));
    assert!(is_specific_tenant("contoso.onmicrosoft.com"));
    assert!(!is_specific_tenant("contoso"));
    assert!(!is_specific_tenant("consumers"));
    assert!(!is_specific_tenant("a/b.com"));
}
