//! Request counters per grant type and per client id, so a test can assert for instance that
//! exactly one on-behalf-of call reached "Entra" while the STS served the rest from its cache.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tessera_wire::grant_type;

/// The token endpoint's grant types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// `authorization_code`
    AuthorizationCode,
    /// `refresh_token`
    RefreshToken,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` with `requested_token_use=on_behalf_of`
    OnBehalfOf,
    /// `client_credentials`
    ClientCredentials,
}

impl GrantKind {
    /// Maps a `grant_type` value.
    pub fn from_wire(grant_type: &str) -> Option<Self> {
        match grant_type {
            grant_type::AUTHORIZATION_CODE => Some(Self::AuthorizationCode),
            grant_type::REFRESH_TOKEN => Some(Self::RefreshToken),
            grant_type::JWT_BEARER => Some(Self::OnBehalfOf),
            grant_type::CLIENT_CREDENTIALS => Some(Self::ClientCredentials),
            _ => None,
        }
    }
}

/// Requests received and tokens issued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// Token requests that reached the endpoint (whatever the outcome).
    pub requests: u64,
    /// Requests answered with tokens.
    pub issued: u64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterSnapshot {
    /// Totals per grant type.
    pub by_grant: BTreeMap<GrantKind, Count>,
    /// Totals per client id.
    pub by_client: BTreeMap<String, Count>,
    /// Per client id, then grant type.
    pub by_client_and_grant: BTreeMap<String, BTreeMap<GrantKind, Count>>,
}

impl CounterSnapshot {
    /// Requests of `grant` from `client_id`.
    pub fn requests(&self, grant: GrantKind, client_id: &str) -> u64 {
        self.entry(grant, client_id).requests
    }

    /// Tokens issued for `grant` to `client_id`.
    pub fn issued(&self, grant: GrantKind, client_id: &str) -> u64 {
        self.entry(grant, client_id).issued
    }

    fn entry(&self, grant: GrantKind, client_id: &str) -> Count {
        self.by_client_and_grant
            .get(&client_id.to_ascii_lowercase())
            .and_then(|m| m.get(&grant))
            .copied()
            .unwrap_or_default()
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub struct Counters(Mutex<BTreeMap<(GrantKind, String), Count>>);

impl Counters {
    fn update(&self, grant: GrantKind, client_id: &str, f: impl FnOnce(&mut Count)) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(map.entry((grant, client_id.to_ascii_lowercase())).or_default());
    }

    /// Counts a request.
    pub fn request(&self, grant: GrantKind, client_id: &str) {
        self.update(grant, client_id, |c| c.requests += 1);
    }

    /// Counts an issued token response.
    pub fn issued(&self, grant: GrantKind, client_id: &str) {
        self.update(grant, client_id, |c| c.issued += 1);
    }

    /// Zeroes everything.
    pub fn reset(&self) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    /// A copy.
    pub fn snapshot(&self) -> CounterSnapshot {
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut snap = CounterSnapshot::default();
        for ((grant, client), count) in map.iter() {
            let add = |total: &mut Count| {
                total.requests += count.requests;
                total.issued += count.issued;
            };
            add(snap.by_grant.entry(*grant).or_default());
            add(snap.by_client.entry(client.clone()).or_default());
            snap.by_client_and_grant.entry(client.clone()).or_default().insert(*grant, *count);
        }
        snap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_grant_and_client() {
        let c = Counters::default();
        c.request(GrantKind::OnBehalfOf, "A");
        c.request(GrantKind::OnBehalfOf, "a");
        c.issued(GrantKind::OnBehalfOf, "a");
        c.request(GrantKind::ClientCredentials, "b");
        let s = c.snapshot();
        assert_eq!(s.requests(GrantKind::OnBehalfOf, "a"), 2);
        assert_eq!(s.issued(GrantKind::OnBehalfOf, "A"), 1);
        assert_eq!(s.by_grant[&GrantKind::OnBehalfOf].requests, 2);
        assert_eq!(s.by_client["b"].requests, 1);
        c.reset();
        assert_eq!(c.snapshot(), CounterSnapshot::default());
    }
}
