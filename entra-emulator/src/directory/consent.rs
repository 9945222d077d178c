//! Consent decisions, as pure functions over a tenant.
//!
//! Delegated access needs a grant for (client, resource, scope) in the tenant. Entra's
//! *known client applications* add one path: if the resource app lists the client as a known
//! client and the resource app itself has been consented in the tenant, the client gets the
//! resource's exposed scopes (that is how consenting a workload's client app also covers the
//! shared broker). The admin-consent page creates the same grants explicitly.

use crate::config::ConsentConfig;
use crate::directory::{App, Tenant};

/// Why delegated access is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    /// No (or not enough) consent: AADSTS65001.
    #[error("consent required for {0}")]
    Required(String),
}

/// The delegated scopes `client` holds on `resource` in `tenant`.
pub fn consented_scopes(tenant: &Tenant, client: &App, resource: &App) -> Vec<String> {
    let mut granted: Vec<String> = tenant
        .consents
        .iter()
        .filter(|g| g.client_id.eq_ignore_ascii_case(&client.client_id) && resource.is_identified_by(&g.resource))
        .flat_map(|g| g.scopes.iter().cloned())
        .collect();
    let resource_consented = tenant.consents.iter().any(|g| g.client_id.eq_ignore_ascii_case(&resource.client_id));
    if resource_consented && resource.known_client_apps.iter().any(|k| k.eq_ignore_ascii_case(&client.client_id)) {
        granted.extend(resource.scopes.iter().cloned());
    }
    let mut unique: Vec<String> = Vec::new();
    for s in granted {
        if !unique.iter().any(|u| u.eq_ignore_ascii_case(&s)) {
            unique.push(s);
        }
    }
    unique
}

/// Decides a delegated request for `names` (`.default` = everything consented). Returns the
/// scope names the token will carry in `scp`.
pub fn decide_delegated(
    tenant: &Tenant,
    client: &App,
    resource: &App,
    names: &[String],
) -> Result<Vec<String>, ConsentError> {
    let consented = consented_scopes(tenant, client, resource);
    if names.iter().any(|n| n == ".default") {
        return if consented.is_empty() { Err(ConsentError::Required(".default".into())) } else { Ok(consented) };
    }
    match names.iter().find(|n| !consented.iter().any(|c| c.eq_ignore_ascii_case(n))) {
        Some(missing) => Err(ConsentError::Required(missing.clone())),
        None => Ok(names.to_vec()),
    }
}

/// The application roles `client` was granted on `resource` (may be empty: Entra still issues
/// a client-credentials token, without `roles`).
pub fn granted_roles(tenant: &Tenant, client: &App, resource: &App) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    for g in &tenant.app_role_grants {
        if g.client_id.eq_ignore_ascii_case(&client.client_id) && resource.is_identified_by(&g.resource) {
            for r in &g.roles {
                if !roles.contains(r) {
                    roles.push(r.clone());
                }
            }
        }
    }
    roles
}

/// The grants that admin consent to `client` creates: its required scopes (or `requested`,
/// when the v2 consent URL named scopes), plus, for each known client of `client`, all of
/// `client`'s exposed scopes. Unresolvable scopes are skipped.
pub fn admin_consent_grants(tenant: &Tenant, client: &App, requested: Option<&[String]>) -> Vec<ConsentConfig> {
    let wanted: Vec<String> = requested.map_or_else(|| client.required_scopes.clone(), <[String]>::to_vec);
    let mut grants: Vec<ConsentConfig> = Vec::new();
    for scope in wanted {
        let q = crate::directory::scopes::qualify(&scope);
        let Some(resource) = tenant.resource(&q.resource) else { continue };
        let names: Vec<String> = if q.name == ".default" {
            client
                .required_scopes
                .iter()
                .map(|s| crate::directory::scopes::qualify(s))
                .filter(|r| resource.is_identified_by(&r.resource) && r.name != ".default")
                .map(|r| r.name)
                .collect()
        } else {
            vec![q.name]
        };
        push_grant(&mut grants, &client.client_id, &resource.client_id, names);
    }
    for known in &client.known_client_apps {
        push_grant(&mut grants, known, &client.client_id, client.scopes.clone());
    }
    grants
}

fn push_grant(grants: &mut Vec<ConsentConfig>, client: &str, resource: &str, names: Vec<String>) {
    if let Some(g) = grants.iter_mut().find(|g| g.client_id == client && g.resource == resource) {
        for n in names {
            if !g.scopes.contains(&n) {
                g.scopes.push(n);
            }
        }
    } else {
        grants.push(ConsentConfig { client_id: client.to_owned(), resource: resource.to_owned(), scopes: names });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AppConfig, TenantConfig};
    use proptest::prelude::*;

    const BROKER: &str = "00000000-0000-0000-0000-0000000000b0";
    const CLIENT: &str = "00000000-0000-0000-0000-0000000000c1";
    const GRAPH: &str = "00000003-0000-0000-c000-000000000000";

    fn tenant(consents: Vec<ConsentConfig>) -> Tenant {
        let cfg = TenantConfig {
            id: "t".into(),
            apps: vec![
                AppConfig { client_id: BROKER.into(), ..Default::default() },
                AppConfig {
                    client_id: CLIENT.into(),
                    identifier_uris: vec![format!("api://{CLIENT}")],
                    scopes: vec!["access_as_user".into()],
                    known_client_apps: vec![BROKER.into()],
                    required_scopes: vec!["https://graph.microsoft.com/Files.Read".into()],
                    ..Default::default()
                },
                AppConfig {
                    client_id: GRAPH.into(),
                    identifier_uris: vec!["https://graph.microsoft.com".into()],
                    scopes: vec!["Files.Read".into(), "User.Read".into(), "Mail.Read".into()],
                    ..Default::default()
                },
            ],
            consents,
            ..Default::default()
        };
        Tenant::from_config(&cfg).unwrap_or_else(|e| panic!("{e}"))
    }

    fn apps(t: &Tenant) -> (App, App, App) {
        let get = |id: &str| t.app(id).cloned().unwrap_or_else(|| panic!("{id}"));
        (get(BROKER), get(CLIENT), get(GRAPH))
    }

    #[test]
    fn without_grants_everything_needs_consent() {
        let t = tenant(vec![]);
        let (broker, client, graph) = apps(&t);
        assert!(decide_delegated(&t, &client, &graph, &[".default".into()]).is_err());
        assert!(decide_delegated(&t, &broker, &client, &["access_as_user".into()]).is_err());
    }

    #[test]
    fn admin_consent_to_the_client_covers_the_known_broker() {
        let mut t = tenant(vec![]);
        let (_, client, _) = apps(&t);
        t.consents = admin_consent_grants(&t, &client, None);
        let (broker, client, graph) = apps(&t);
        assert_eq!(decide_delegated(&t, &client, &graph, &[".default".into()]), Ok(vec!["Files.Read".to_string()]));
        assert_eq!(
            decide_delegated(&t, &broker, &client, &["access_as_user".into()]),
            Ok(vec!["access_as_user".to_string()])
        );
        assert!(decide_delegated(&t, &client, &graph, &["Mail.Read".into()]).is_err());
    }

    proptest! {
        /// Whatever is granted, a decision never hands out a scope outside the grants.
        #[test]
        fn never_grants_beyond_consent(granted in proptest::sample::subsequence(vec!["Files.Read", "User.Read", "Mail.Read"], 0..=3),
                                       asked in proptest::sample::subsequence(vec!["Files.Read", "User.Read", "Mail.Read"], 1..=3)) {
            let t = tenant(vec![ConsentConfig {
                client_id: CLIENT.into(),
                resource: "https://graph.microsoft.com".into(),
                scopes: granted.iter().map(|s| s.to_string()).collect(),
            }]);
            let (_, client, graph) = apps(&t);
            let asked: Vec<String> = asked.iter().map(|s| s.to_string()).collect();
            match decide_delegated(&t, &client, &graph, &asked) {
                Ok(scp) => prop_assert!(scp.iter().all(|s| granted.contains(&s.as_str()))),
                Err(_) => prop_assert!(asked.iter().any(|a| !granted.contains(&a.as_str()))),
            }
        }
    }
}
