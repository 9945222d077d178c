//! A `getToken` call as the broker understands it, checked before any work is done.

use alloc::string::String;
use alloc::vec::Vec;

use crate::cache;
use crate::errors::{BrokerError, ErrorCode};

/// `getToken({ workload, scopes, claims?, forceRefresh?, interactive? })`, already read from JS.
#[derive(Debug, Clone, Default)]
pub struct RawTokenRequest {
    /// Workload name.
    pub workload: Option<String>,
    /// Requested scopes (array items; each may hold several, space-separated).
    pub scopes: Vec<String>,
    /// Raw JSON claims request (e.g. from a backend's CAE challenge).
    pub claims: Option<String>,
    /// Bypass the caches.
    pub force_refresh: bool,
    /// `"never"` (default) or `"ifRequired"`.
    pub interactive: Option<String>,
}

/// A checked `getToken` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// Workload name.
    pub workload: String,
    /// Requested scopes, as given (normalised later against the workload's config).
    pub scopes: Vec<String>,
    /// Claims request for the STS; present means "bypass the cache".
    pub claims: Option<String>,
    /// Bypass the caches (backend token and user token).
    pub force_refresh: bool,
    /// Whether a sign-in popup may be opened.
    pub interactive: bool,
}

impl RawTokenRequest {
    /// Checks the shape of the call; what the workload allows is checked once config is known.
    pub fn validate(self) -> Result<TokenRequest, BrokerError> {
        let invalid = |what: &str| BrokerError::new(ErrorCode::InvalidRequest, crate::text::cat(&["getToken: ", what]));
        let workload = self.workload.unwrap_or_default();
        if workload.trim().is_empty() {
            return Err(invalid("workload is required"));
        }
        if self.scopes.iter().all(|s| s.trim().is_empty()) {
            return Err(invalid("scopes must list at least one scope"));
        }
        let claims = self.claims.filter(|c| !c.trim().is_empty());
        if claims.as_deref().is_some_and(|c| !(c.trim_start().starts_with('{') && c.trim_end().ends_with('}'))) {
            return Err(invalid("claims must be a JSON object"));
        }
        let interactive = match self.interactive.as_deref() {
            None | Some("never") => false,
            Some("ifRequired") => true,
            Some(_) => return Err(invalid("interactive must be \"never\" or \"ifRequired\"")),
        };
        Ok(TokenRequest { workload, scopes: self.scopes, claims, force_refresh: self.force_refresh, interactive })
    }
}

impl TokenRequest {
    /// The key that makes identical concurrent calls share one promise.
    pub fn dedup_key(&self) -> String {
        cache::request_key(&self.workload, &self.scopes, self.claims.as_deref(), self.force_refresh, self.interactive)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn raw() -> RawTokenRequest {
        RawTokenRequest {
            workload: Some("file-picker".into()),
            scopes: vec!["Files.Read".into()],
            ..Default::default()
        }
    }

    #[test]
    fn defaults_are_silent_and_cached() {
        let r = raw().validate().unwrap();
        assert!(!r.interactive && !r.force_refresh && r.claims.is_none());
    }

    #[test]
    fn shape_is_checked() {
        let check = |f: &dyn Fn(&mut RawTokenRequest)| {
            let mut r = raw();
            f(&mut r);
            r.validate().map_err(|e| e.code)
        };
        assert!(check(&|r| r.interactive = Some("ifRequired".into())).unwrap().interactive);
        assert_eq!(check(&|r| r.workload = None).unwrap_err(), ErrorCode::InvalidRequest);
        assert_eq!(check(&|r| r.scopes = vec![" ".into()]).unwrap_err(), ErrorCode::InvalidRequest);
        assert_eq!(check(&|r| r.claims = Some("nope".into())).unwrap_err(), ErrorCode::InvalidRequest);
        assert_eq!(check(&|r| r.interactive = Some("always".into())).unwrap_err(), ErrorCode::InvalidRequest);
        assert_eq!(check(&|r| r.claims = Some(" ".into())).unwrap().claims, None);
    }

    #[test]
    fn identical_calls_share_a_key() {
        let a = raw().validate().unwrap();
        let mut b = raw();
        b.scopes = vec!["Files.Read Files.Read".into()];
        assert_eq!(a.dedup_key(), b.validate().unwrap().dedup_key());
        let mut c = raw();
        c.force_refresh = true;
        assert_ne!(a.dedup_key(), c.validate().unwrap().dedup_key());
    }
}
