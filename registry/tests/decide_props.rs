//! Property tests of the consent decision over generated registries and requests.
//!
//! The registry is generated as a small [`Model`] (3 workloads, 3 backends, 3 tenants, 2 brokers,
//! 5 scope names) so that collisions — the interesting cases — are frequent. The oracle in
//! `assert_sound` reads the *model*, not the snapshot, so it checks the indexes as well as
//! `decide`. `liveness` proves the generators do reach grants, so the other properties are not
//! satisfied by denying everything.

#![allow(clippy::unwrap_used, clippy::panic)]

use proptest::prelude::*;
use registry::{
    AppIdUri, AppRegistration, AppRole, BackendScope, ConsentRequest, ConsentStatus, Denial, Grant, RegistryRows,
    Snapshot, Target, TenantConsent, WorkloadBroker, WorkloadRow, decide,
};

const TENANTS: [&str; 4] = [
    "11111111-0000-4000-8000-000000000001",
    "11111111-0000-4000-8000-000000000002",
    "11111111-0000-4000-8000-000000000003",
    "11111111-0000-4000-8000-0000000000ff", // never in the registry
];
const BROKERS: [&str; 3] = [
    "22222222-0000-4000-8000-000000000001",
    "22222222-0000-4000-8000-000000000002",
    "22222222-0000-4000-8000-0000000000ff", // never in the registry
];
const CLIENTS: [&str; 4] = [
    "33333333-0000-4000-8000-000000000001",
    "33333333-0000-4000-8000-000000000002",
    "33333333-0000-4000-8000-000000000003",
    "33333333-0000-4000-8000-0000000000ff", // never in the registry
];
const WORKLOADS: [&str; 4] = ["alpha", "beta", "gamma", "unknown-workload"];
const BACKENDS: [&str; 3] = [
    "00000003-0000-0000-c000-000000000000",
    "44444444-0000-4000-8000-000000000002",
    "44444444-0000-4000-8000-000000000003",
];
/// Canonical (normalised) resources of the backends. Backend 0 is Graph, which bare scopes mean;
/// backend 2's path keeps its case.
const RESOURCES: [&str; 3] = [
    "https://graph.microsoft.com",
    "api://44444444-0000-4000-8000-000000000002",
    "https://api.contoso.example/Expenses",
];
/// An App ID URI of backend 2, a third spelling requests may use for it.
const BACKEND2_APP_ID_URI: &str = "api://contoso.example/expenses-api";
const NAMES: [&str; 5] = ["Files.Read", "User.Read", "Mail.Send", ".default", "Expenses.Submit"];
const DEFAULT_BIT: u8 = 1 << 3;
const OIDC: [&str; 4] = ["openid", "profile", "offline_access", "email"];
const UNKNOWN_RESOURCE: &str = "https://evil.example";

const NONE: u8 = 0;
const GRANTED: u8 = 1;
const REVOKED: u8 = 2;

#[derive(Debug, Clone)]
struct WorkloadModel {
    present: bool,
    enabled: bool,
    brokers: [bool; 2],
    /// Per backend, a bit mask over `NAMES`.
    scopes: [u8; 3],
}

#[derive(Debug, Clone)]
struct Model {
    workloads: [WorkloadModel; 3],
    backend_has_resource: [bool; 3],
    /// `[tenant][workload]`: NONE, GRANTED or REVOKED.
    consents: [[u8; 3]; 3],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Oidc(usize),
    Bare,
    Resource(usize),
    AppId(usize),
    AppIdUri,
    Unknown,
}

#[derive(Debug, Clone)]
struct Token {
    form: Form,
    name: usize,
    name_upper: bool,
    slash: bool,
}

#[derive(Debug, Clone, Copy)]
enum TargetModel {
    Client(usize),
    Workload(usize),
}

#[derive(Debug, Clone)]
struct Req {
    tenant: usize,
    broker: usize,
    target: TargetModel,
    tokens: Vec<Token>,
}

fn workload_model() -> impl Strategy<Value = WorkloadModel> {
    (
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.85),
        prop::array::uniform2(prop::bool::weighted(0.7)),
        prop::array::uniform3(0u8..32),
    )
        .prop_map(|(present, enabled, brokers, scopes)| WorkloadModel { present, enabled, brokers, scopes })
}

fn model() -> impl Strategy<Value = Model> {
    (
        prop::array::uniform3(workload_model()),
        prop::array::uniform3(prop::bool::weighted(0.85)),
        prop::array::uniform3(prop::array::uniform3(prop_oneof![
            2 => Just(GRANTED),
            1 => Just(REVOKED),
            1 => Just(NONE),
        ])),
    )
        .prop_map(|(workloads, backend_has_resource, consents)| Model {
            workloads,
            backend_has_resource,
            consents,
        })
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        1 => (0usize..4).prop_map(Form::Oidc),
        2 => Just(Form::Bare),
        4 => (0usize..3).prop_map(Form::Resource),
        2 => (0usize..3).prop_map(Form::AppId),
        1 => Just(Form::AppIdUri),
        1 => Just(Form::Unknown),
    ]
}

fn token() -> impl Strategy<Value = Token> {
    (form(), 0usize..5, any::<bool>(), prop::bool::weighted(0.2)).prop_map(|(form, name, name_upper, slash)| Token {
        form,
        name,
        name_upper,
        slash,
    })
}

fn target() -> impl Strategy<Value = TargetModel> {
    prop_oneof![(0usize..4).prop_map(TargetModel::Client), (0usize..4).prop_map(TargetModel::Workload),]
}

/// A request drawn without looking at the registry: mostly denied.
fn random_req() -> impl Strategy<Value = Req> {
    (0usize..4, 0usize..3, target(), prop::collection::vec(token(), 0..5))
        .prop_map(|(tenant, broker, target, tokens)| Req { tenant, broker, target, tokens })
}

/// Picks from `choices`, or from `fallback` when there are none.
fn pick(choices: Vec<usize>, fallback: std::ops::Range<usize>) -> BoxedStrategy<usize> {
    if choices.is_empty() { fallback.boxed() } else { prop::sample::select(choices).boxed() }
}

/// A request aimed at what the registry allows (a consented tenant, an allowed broker, scopes
/// of one backend the workload lists, in any spelling), sometimes with one random token or an
/// unlisted name: often granted, and one step away from a denial when not.
fn plausible_req(m: &Model) -> BoxedStrategy<Req> {
    let m = m.clone();
    (0usize..3, 0usize..3)
        .prop_flat_map(move |(wi, bj)| {
            let w = &m.workloads[wi];
            let names: Vec<usize> = (0..5).filter(|k| w.scopes[bj] & (1 << k) != 0).collect();
            let tenants: Vec<usize> = (0..3).filter(|t| m.consents[*t][wi] == GRANTED).collect();
            let brokers: Vec<usize> = (0..2).filter(|b| w.brokers[*b]).collect();
            let forms: Vec<Form> = match bj {
                0 => vec![Form::Bare, Form::Resource(0), Form::AppId(0)],
                2 => vec![Form::Resource(2), Form::AppId(2), Form::AppIdUri],
                _ => vec![Form::Resource(bj), Form::AppId(bj)],
            };
            let good = (
                prop::sample::select(forms),
                // Now and then a name the workload may not have, `.default` included.
                prop_oneof![4 => pick(names, 0..5), 1 => (0usize..5).boxed()],
                any::<bool>(),
                prop::bool::weighted(0.2),
            )
                .prop_map(|(form, name, name_upper, slash)| Token { form, name, name_upper, slash });
            (
                pick(tenants, 0..4),
                pick(brokers, 0..3),
                prop_oneof![Just(TargetModel::Client(wi)), Just(TargetModel::Workload(wi))],
                prop::collection::vec(good, 1..4),
                prop::collection::vec(token(), 0..3),
            )
        })
        .prop_map(|(tenant, broker, target, mut tokens, noise)| {
            // Noise only one time in three, so that many requests stay grantable.
            if noise.len() == 1 {
                tokens.extend(noise);
            }
            Req { tenant, broker, target, tokens }
        })
        .boxed()
}

/// A registry and a request against it: three in four aimed at the registry, the rest random.
fn model_and_req() -> impl Strategy<Value = (Model, Req)> {
    model().prop_flat_map(|m| {
        let r = prop_oneof![3 => plausible_req(&m), 1 => random_req().boxed()];
        (Just(m), r)
    })
}

fn rows(m: &Model) -> RegistryRows {
    let mut rows = RegistryRows::default();
    for (j, backend) in BACKENDS.iter().enumerate() {
        rows.apps.push(AppRegistration {
            app_id: (*backend).into(),
            role: AppRole::Backend,
            display_name: format!("backend {j}"),
            resource_uri: m.backend_has_resource[j].then(|| RESOURCES[j].to_owned()),
        });
    }
    rows.app_id_uris.push(AppIdUri { app_id: BACKENDS[2].into(), uri: BACKEND2_APP_ID_URI.into() });
    for (i, w) in m.workloads.iter().enumerate() {
        if !w.present {
            continue;
        }
        rows.workloads.push(WorkloadRow {
            name: WORKLOADS[i].into(),
            client_app_id: CLIENTS[i].into(),
            enabled: w.enabled,
            required_scope: "access_as_user".into(),
        });
        for (b, _) in w.brokers.iter().enumerate().filter(|(_, on)| **on) {
            rows.brokers.push(WorkloadBroker { workload: WORKLOADS[i].into(), broker_app_id: BROKERS[b].into() });
        }
        for (j, mask) in w.scopes.iter().enumerate() {
            for (k, name) in NAMES.iter().enumerate() {
                if mask & (1 << k) != 0 {
                    rows.backend_scopes.push(BackendScope {
                        workload: WORKLOADS[i].into(),
                        backend_app_id: BACKENDS[j].into(),
                        scope: (*name).into(),
                    });
                }
            }
        }
    }
    // Consents are kept even for absent workloads: such rows must grant nothing.
    for (t, per_workload) in m.consents.iter().enumerate() {
        for (i, status) in per_workload.iter().enumerate() {
            let status = match *status {
                GRANTED => ConsentStatus::Granted,
                REVOKED => ConsentStatus::Revoked,
                _ => continue,
            };
            rows.consents.push(TenantConsent {
                tenant_id: TENANTS[t].into(),
                workload: WORKLOADS[i].into(),
                status,
                changed_at: "2026-11-22T10:00:00Z".into(),
                reference: None,
            });
        }
    }
    rows
}

/// Upper-cases the characters of `s[..len]` whose bit in `mask` is set.
fn mangle(s: &str, len: usize, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| if i < len && mask & (1 << (i % 64)) != 0 { c.to_ascii_uppercase() } else { c })
        .collect()
}

/// Upper-cases some characters of a resource's scheme and host (never its path).
fn mangle_resource(resource: &str, mask: u64) -> String {
    let host_end = resource
        .find("://")
        .map(|i| i + 3 + resource[i + 3..].find('/').unwrap_or(resource.len() - i - 3))
        .unwrap_or(resource.len());
    mangle(resource, host_end, mask)
}

/// The scope token as sent; `mask` varies the case of the resource's scheme and host.
fn render(t: &Token, mask: u64) -> String {
    let name = if t.name_upper { NAMES[t.name].to_ascii_uppercase() } else { NAMES[t.name].to_owned() };
    let resource = match t.form {
        Form::Oidc(i) => return OIDC[i].to_owned(),
        Form::Bare => return name,
        Form::Resource(j) => mangle_resource(RESOURCES[j], mask),
        Form::AppId(j) => mangle(BACKENDS[j], BACKENDS[j].len(), mask),
        Form::AppIdUri => mangle_resource(BACKEND2_APP_ID_URI, mask),
        Form::Unknown => mangle_resource(UNKNOWN_RESOURCE, mask),
    };
    let slash = if t.slash { "/" } else { "" };
    format!("{resource}{slash}/{name}")
}

fn scope_string(tokens: &[Token], mask: u64) -> String {
    tokens.iter().map(|t| render(t, mask.rotate_left(t.name as u32))).collect::<Vec<_>>().join(" ")
}

fn decide_with(snapshot: &Snapshot, r: &Req, scope: &str) -> Result<Grant, Denial> {
    let target = match r.target {
        TargetModel::Client(i) => Target::ClientApp(CLIENTS[i]),
        TargetModel::Workload(i) => Target::Workload(WORKLOADS[i]),
    };
    decide(
        snapshot,
        &ConsentRequest {
            tenant_id: TENANTS[r.tenant],
            broker_app_id: BROKERS[r.broker],
            target,
            scope,
            authority: "https://login.microsoftonline.com",
        },
    )
}

/// The same request through [`Snapshot::decide`], the decision remembered per snapshot.
fn remembered_with(snapshot: &Snapshot, r: &Req, scope: &str) -> Result<Grant, Denial> {
    let target = match r.target {
        TargetModel::Client(i) => Target::ClientApp(CLIENTS[i]),
        TargetModel::Workload(i) => Target::Workload(WORKLOADS[i]),
    };
    snapshot
        .decide(&ConsentRequest {
            tenant_id: TENANTS[r.tenant],
            broker_app_id: BROKERS[r.broker],
            target,
            scope,
            authority: "https://login.microsoftonline.com",
        })
        .map(|g| (*g).clone())
}

/// The backend a token's resource means, by the model (None: OIDC or not a backend).
fn token_backend(t: &Token) -> Option<usize> {
    match t.form {
        Form::Oidc(_) | Form::Unknown => None,
        Form::Bare => Some(0),
        Form::Resource(j) | Form::AppId(j) => Some(j),
        Form::AppIdUri => Some(2),
    }
}

/// The oracle: a grant must follow from the model's rows, for this very request.
fn assert_sound(m: &Model, r: &Req, g: &Grant) {
    let wi = WORKLOADS.iter().position(|w| *w == g.workload).unwrap();
    let w = &m.workloads[wi];
    assert!(wi < 3 && w.present && w.enabled, "granted for absent/disabled {g:?}");
    assert_eq!(g.client_app_id, CLIENTS[wi]);
    match r.target {
        TargetModel::Client(i) | TargetModel::Workload(i) => assert_eq!(i, wi, "wrong workload"),
    }
    assert!(r.broker < 2 && w.brokers[r.broker], "broker not allowed: {g:?}");
    assert!(
        r.tenant < 3 && m.consents[r.tenant][wi] == GRANTED,
        "tenant {} has no granted consent to {}",
        TENANTS[r.tenant],
        g.workload
    );
    let bj = BACKENDS.iter().position(|b| *b == g.backend_app_id).unwrap();
    assert!(m.backend_has_resource[bj]);
    assert_eq!(g.resource, RESOURCES[bj]);
    assert!(!g.scopes.is_empty());
    assert!(g.scopes.windows(2).all(|p| p[0] < p[1]), "not sorted/deduplicated");
    let mut granted_names = Vec::new();
    for s in &g.scopes {
        let name = s
            .strip_prefix(RESOURCES[bj])
            .and_then(|n| n.strip_prefix('/'))
            .unwrap_or_else(|| panic!("{s} is not a scope of {}", RESOURCES[bj]));
        let k = NAMES.iter().position(|n| *n == name).unwrap();
        assert!(w.scopes[bj] & (1 << k) != 0, "{s} is not in the registry");
        granted_names.push(k);
    }
    if granted_names.contains(&3) {
        assert_eq!(granted_names.len(), 1, ".default combined: {g:?}");
    }
    for t in r.tokens.iter().filter(|t| !matches!(t.form, Form::Oidc(_))) {
        assert_eq!(token_backend(t), Some(bj), "a requested resource was ignored");
        assert!(granted_names.contains(&t.name), "a requested scope was dropped");
    }
}

proptest! {
    /// The remembered decision is the decision: requests against one snapshot, made by mixing
    /// the tenant, broker, target and scope spelling of three plausible requests (so many differ
    /// from a granted one in a single field), each asked twice in a shuffled order, each answered
    /// exactly as `decide` answers it — the memo never hands one request's grant to another.
    #[test]
    fn remembered_decisions_are_the_decisions(
        (m, pool, picks, order) in model().prop_flat_map(|m| {
            let pool = prop::collection::vec((plausible_req(&m), any::<u64>()), 3);
            let picks = prop::collection::vec((0usize..3, 0usize..3, 0usize..3, 0usize..3), 1..24);
            (Just(m), pool, picks)
        }).prop_flat_map(|(m, pool, picks)| {
            let order: Vec<usize> = (0..picks.len()).chain(0..picks.len()).collect();
            (Just(m), Just(pool), Just(picks), Just(order).prop_shuffle())
        }),
    ) {
        let snapshot = Snapshot::from_rows(rows(&m));
        let reqs: Vec<(Req, String)> = picks
            .iter()
            .map(|&(t, b, g, s)| {
                let r = Req {
                    tenant: pool[t].0.tenant,
                    broker: pool[b].0.broker,
                    target: pool[g].0.target,
                    tokens: pool[s].0.tokens.clone(),
                };
                (r, scope_string(&pool[s].0.tokens, pool[s].1))
            })
            .collect();
        for i in order {
            let (r, scope) = &reqs[i];
            prop_assert_eq!(remembered_with(&snapshot, r, scope), decide_with(&snapshot, r, scope), "request {}", i);
        }
        let granted: std::collections::HashSet<String> = reqs
            .iter()
            .filter(|(r, scope)| decide_with(&snapshot, r, scope).is_ok())
            .map(|(r, scope)| format!("{} {} {:?} {scope}", r.tenant, r.broker, r.target))
            .collect();
        prop_assert_eq!(snapshot.decisions_held(), granted.len(), "one remembered grant per distinct granted request");
    }

    /// Never allows a scope (or workload, broker, tenant) that the registry does not allow.
    #[test]
    fn never_grants_beyond_the_registry((m, r) in model_and_req(), mask in any::<u64>()) {
        let snapshot = Snapshot::from_rows(rows(&m));
        if let Ok(g) = decide_with(&snapshot, &r, &scope_string(&r.tokens, mask)) {
            assert_sound(&m, &r, &g);
        }
    }

    /// A consent in one tenant never lets another tenant in: with every consent of tenant
    /// `other` removed, no request from `other` is granted, whatever tenant A has.
    #[test]
    fn consent_in_one_tenant_never_allows_another(
        (mut m, r) in model_and_req(), other in 0usize..3, mask in any::<u64>()
    ) {
        m.consents[other] = [NONE; 3];
        let snapshot = Snapshot::from_rows(rows(&m));
        let r = Req { tenant: other, ..r };
        let result = decide_with(&snapshot, &r, &scope_string(&r.tokens, mask));
        prop_assert!(result.is_err(), "tenant {} granted {:?}", TENANTS[other], result);
    }

    /// A revoked consent always denies, with the reason saying so.
    #[test]
    fn revoked_consent_always_denies((mut m, r) in model_and_req(), mask in any::<u64>()) {
        let tenant = r.tenant.min(2);
        m.consents[tenant] = [REVOKED; 3];
        let snapshot = Snapshot::from_rows(rows(&m));
        let r = Req { tenant, ..r };
        let result = decide_with(&snapshot, &r, &scope_string(&r.tokens, mask));
        prop_assert!(result.is_err(), "revoked tenant granted {:?}", result);
        let not_consented = matches!(result, Err(Denial::TenantNotConsented { .. }));
        prop_assert!(!not_consented, "revoked reported as never consented: {:?}", result);
    }

    /// The answer — grant or denial, to the last field — does not depend on the order of the
    /// scopes or on the case of their resource URIs' scheme and host.
    #[test]
    fn independent_of_scope_order_and_resource_case(
        (m, r, shuffled) in model_and_req().prop_flat_map(|(m, r)| {
            let tokens = r.tokens.clone();
            (Just(m), Just(r), Just(tokens).prop_shuffle())
        }),
        mask_a in any::<u64>(),
        mask_b in any::<u64>(),
    ) {
        let snapshot = Snapshot::from_rows(rows(&m));
        let a = decide_with(&snapshot, &r, &scope_string(&r.tokens, mask_a));
        let b = decide_with(&snapshot, &r, &scope_string(&shuffled, mask_b));
        prop_assert_eq!(a, b);
    }

    /// Whatever else the registry holds, a request that it does allow is granted, with exactly
    /// the requested scopes in their registered spelling.
    #[test]
    fn liveness(
        mut m in model(),
        (wi, broker, tenant, bj) in (0usize..3, 0usize..2, 0usize..3, 0usize..3),
        by_client in any::<bool>(),
        wanted in 1u8..32,
        forms in prop::collection::vec(0u8..3, 5),
        oidc in prop::collection::vec(0usize..4, 0..3),
        name_upper in any::<bool>(),
        mask in any::<u64>(),
    ) {
        let wanted = if wanted & DEFAULT_BIT != 0 && wanted != DEFAULT_BIT {
            wanted & !DEFAULT_BIT
        } else {
            wanted
        };
        let w = &mut m.workloads[wi];
        w.present = true;
        w.enabled = true;
        w.brokers[broker] = true;
        w.scopes[bj] |= wanted;
        m.backend_has_resource[bj] = true;
        m.consents[tenant][wi] = GRANTED;

        let mut tokens: Vec<Token> = (0..5)
            .filter(|k| wanted & (1 << k) != 0)
            .map(|k| {
                let form = match (forms[k], bj) {
                    (0, 0) => Form::Bare,
                    (1, 2) => Form::AppIdUri,
                    (2, _) => Form::AppId(bj),
                    _ => Form::Resource(bj),
                };
                Token { form, name: k, name_upper, slash: false }
            })
            .collect();
        let expected: Vec<String> = {
            let mut e: Vec<String> =
                tokens.iter().map(|t| format!("{}/{}", RESOURCES[bj], NAMES[t.name])).collect();
            e.sort();
            e
        };
        tokens.extend(oidc.into_iter().map(|i| Token {
            form: Form::Oidc(i), name: 0, name_upper: false, slash: false,
        }));
        let r = Req {
            tenant,
            broker,
            target: if by_client { TargetModel::Client(wi) } else { TargetModel::Workload(wi) },
            tokens,
        };
        let snapshot = Snapshot::from_rows(rows(&m));
        let g = decide_with(&snapshot, &r, &scope_string(&r.tokens, mask));
        let g = match g {
            Ok(g) => g,
            Err(d) => return Err(TestCaseError::fail(format!("denied: {d}"))),
        };
        prop_assert_eq!(&g.scopes, &expected);
        prop_assert_eq!(g.backend_app_id.as_str(), BACKENDS[bj]);
        prop_assert_eq!(g.workload.as_str(), WORKLOADS[wi]);
        assert_sound(&m, &r, &g);
    }
}
