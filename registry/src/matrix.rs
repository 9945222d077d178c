//! `registry show`: the registry as three plain-text tables an operator can read in a terminal
//! or paste into a ticket — app registrations, workloads, and the tenant × workload consent matrix.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::snapshot::Snapshot;

/// Renders the snapshot as text tables (ends with a newline).
pub fn render_matrix(snapshot: &Snapshot) -> String {
    let rows = snapshot.rows();
    let mut out = String::new();

    let mut apps: Vec<_> = rows.apps.iter().collect();
    apps.sort_by(|a, b| (a.role, &a.app_id).cmp(&(b.role, &b.app_id)));
    section(&mut out, "App registrations", apps.len());
    out.push_str(&table(
        &["APP ID", "ROLE", "NAME", "RESOURCE"],
        apps.iter()
            .map(|a| {
                vec![
                    a.app_id.clone(),
                    a.role.to_string(),
                    a.display_name.clone(),
                    a.resource_uri.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    ));

    let workloads = snapshot.workloads();
    section(&mut out, "Workloads", workloads.len());
    let mut lines = Vec::new();
    for w in &workloads {
        let brokers: Vec<&String> = w.brokers.iter().collect();
        let backends: Vec<_> = w.backends().collect();
        let height = brokers.len().max(backends.len()).max(1);
        for i in 0..height {
            let first = i == 0;
            let cell = |s: &str| if first { s.to_owned() } else { String::new() };
            let (backend, scopes) = match backends.get(i) {
                Some(b) => (
                    format!("{} ({})", b.app_id, b.resource.as_deref().unwrap_or("no resource")),
                    b.scopes().collect::<Vec<_>>().join(" "),
                ),
                None => (String::new(), String::new()),
            };
            lines.push(vec![
                cell(&w.name),
                cell(&w.client_app_id),
                cell(if w.enabled { "yes" } else { "no" }),
                brokers.get(i).map(|b| b.to_string()).unwrap_or_default(),
                backend,
                scopes,
            ]);
        }
    }
    out.push_str(&table(&["WORKLOAD", "CLIENT APP", "ENABLED", "BROKERS", "BACKEND (RESOURCE)", "SCOPES"], lines));

    // App-only grants: who may obtain the workload's own (client-credentials) token.
    let app_only: Vec<_> = workloads.iter().filter_map(|w| w.app_only.as_ref().map(|a| (w, a))).collect();
    section(&mut out, "App-only workloads", app_only.len());
    out.push_str(&table(
        &["WORKLOAD", "ENTRA USERS WITH ROLE", "OR GROUP", "SITES"],
        app_only
            .iter()
            .map(|(w, a)| {
                let sites: Vec<&str> = snapshot
                    .sites()
                    .into_iter()
                    .filter(|s| s.workloads.contains(&w.name))
                    .map(|s| s.host.as_str())
                    .collect();
                vec![
                    w.name.clone(),
                    a.required_role.clone().unwrap_or_else(|| "-".into()),
                    a.required_group.clone().unwrap_or_else(|| "-".into()),
                    if sites.is_empty() { "-".into() } else { sites.join(" ") },
                ]
            })
            .collect(),
    ));

    let sites = snapshot.sites();
    section(&mut out, "Power Pages sites", sites.len());
    out.push_str(&table(
        &["SITE (ISS)", "TENANT", "ENABLED", "CLIENT IDS (AUD)", "WORKLOADS", "KEY URL"],
        sites
            .iter()
            .map(|s| {
                vec![
                    s.host.clone(),
                    s.tenant_id.clone(),
                    (if s.enabled { "yes" } else { "no" }).to_owned(),
                    s.client_ids.iter().cloned().collect::<Vec<_>>().join(" "),
                    s.workloads.iter().cloned().collect::<Vec<_>>().join(" "),
                    s.key_url.clone(),
                ]
            })
            .collect(),
    ));

    // Columns: every workload, plus any a consent names that is not registered (check says so).
    let mut columns: BTreeSet<&str> = workloads.iter().map(|w| w.name.as_str()).collect();
    columns.extend(rows.consents.iter().map(|c| c.workload.as_str()));
    let tenants: BTreeSet<String> = rows.consents.iter().map(|c| c.tenant_id.to_ascii_lowercase()).collect();
    section(&mut out, "Tenant consent", tenants.len());
    let mut headers = vec!["TENANT"];
    headers.extend(columns.iter().copied());
    let matrix = tenants
        .iter()
        .map(|t| {
            std::iter::once(t.clone())
                .chain(columns.iter().map(|w| match snapshot.consent(t, w) {
                    Some(c) => format!("{} {}", c.status, c.changed_at),
                    None => "-".to_owned(),
                }))
                .collect()
        })
        .collect();
    out.push_str(&table(&headers, matrix));
    out
}

fn section(out: &mut String, title: &str, count: usize) {
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{title} ({count})");
}

/// Left-aligned columns separated by two spaces; no trailing spaces.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let _ = write!(line, "{cell:<w$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;

    #[test]
    fn demo_matrix_lists_apps_workload_and_consent() {
        let text = render_matrix(&Snapshot::from_rows(demo::rows()));
        let consent_row = text.lines().find(|l| l.starts_with(demo::TENANT_ID)).unwrap_or_default();
        assert!(consent_row.contains("granted"), "consent row missing:\n{text}");
        let workload_row = text.lines().find(|l| l.starts_with(demo::WORKLOAD)).unwrap_or_default();
        for expected in
            [demo::FILE_PICKER_CLIENT_APP_ID, demo::BROKER_APP_ID, demo::GRAPH_RESOURCE, "Files.Read User.Read", "yes"]
        {
            assert!(workload_row.contains(expected), "{expected} missing:\n{text}");
        }
        assert!(text.lines().all(|l| l == l.trim_end()));
    }
}
