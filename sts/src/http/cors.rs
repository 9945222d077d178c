//! CORS for browser callers (the broker runs inside `https://<org>.crm4.dynamics.com` pages).
//!
//! tower-http does the protocol work (preflight, `Vary`, headers); this module only decides which
//! origins match the configured patterns, because tower-http has exact origins or a predicate but
//! no host wildcards.

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// An allowed origin: `scheme://host[:port]`, where the host may start with `*.` to stand for
/// exactly one DNS label (`https://*.crm4.dynamics.com` allows `https://contoso.crm4.dynamics.com`,
/// not `https://a.b.crm4.dynamics.com` nor `https://crm4.dynamics.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: String,
    /// Lower-case host suffix after the wildcard label, or the whole host.
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

impl OriginPattern {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("CORS origin {pattern:?}: {why}");
        let (scheme, rest) = pattern.split_once("://").ok_or_else(|| bad("expected scheme://host"))?;
        if scheme != "https" && scheme != "http" {
            return Err(bad("scheme must be http or https"));
        }
        if rest.contains('/') {
            return Err(bad("an origin has no path (remove the trailing '/')"));
        }
        let (host, port) = split_port(rest).ok_or_else(|| bad("invalid port"))?;
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(suffix) => (true, suffix),
            None => (false, host),
        };
        if host.is_empty() || host.contains('*') || !host.split('.').all(is_label) {
            return Err(bad("host must be DNS labels, with at most one leading '*.'"));
        }
        Ok(Self { scheme: scheme.to_owned(), host: host.to_ascii_lowercase(), wildcard, port })
    }

    pub fn matches(&self, origin: &str) -> bool {
        let Some((scheme, rest)) = origin.split_once("://") else { return false };
        let Some((host, port)) = split_port(rest) else { return false };
        if scheme != self.scheme || port != self.port {
            return false;
        }
        let host = host.to_ascii_lowercase();
        if !self.wildcard {
            return host == self.host;
        }
        match host.strip_suffix(&self.host).and_then(|h| h.strip_suffix('.')) {
            Some(label) => is_label(label),
            None => false,
        }
    }
}

fn split_port(hostport: &str) -> Option<(&str, Option<u16>)> {
    match hostport.rsplit_once(':') {
        Some((host, port)) => port.parse().ok().map(|p| (host, Some(p))),
        None => Some((hostport, None)),
    }
}

fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// The CORS layer for the browser-facing routes. No credentials: the broker sends tokens in the
/// body, never cookies.
pub fn layer(patterns: Vec<OriginPattern>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin.to_str().is_ok_and(|o| patterns.iter().any(|p| p.matches(o)))
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static("x-correlation-id"),
            HeaderName::from_static("client-request-id"),
        ])
        .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER, HeaderName::from_static("x-correlation-id")])
        .max_age(std::time::Duration::from_secs(600))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wildcard_matches_one_label() {
        let p = OriginPattern::parse("https://*.crm4.dynamics.com").unwrap();
        assert!(p.matches("https://contoso.crm4.dynamics.com"));
        assert!(p.matches("https://Contoso.CRM4.dynamics.com"));
        assert!(!p.matches("https://crm4.dynamics.com"));
        assert!(!p.matches("https://a.b.crm4.dynamics.com"));
        assert!(!p.matches("http://contoso.crm4.dynamics.com"));
        assert!(!p.matches("https://contoso.crm4.dynamics.com:444"));
        assert!(!p.matches("https://evilcrm4.dynamics.com"));
        assert!(!p.matches("https://contoso.crm4.dynamics.com.evil.io"));
    }

    #[test]
    fn exact_and_ports() {
        let p = OriginPattern::parse("http://127.0.0.1:8081").unwrap();
        assert!(p.matches("http://127.0.0.1:8081"));
        assert!(!p.matches("http://127.0.0.1:8082"));
        assert!(!p.matches("http://127.0.0.1"));
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in
            ["contoso.com", "https://*.com/", "https://a.*.com", "https://*", "ftp://x.com", "https://x.com:99999"]
        {
            assert!(OriginPattern::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        /// A wildcard never lets through an origin whose host does not end with ".{suffix}".
        #[test]
        fn wildcard_never_matches_foreign_hosts(label in "[a-z0-9]{1,10}", host in "[a-z0-9.-]{1,30}") {
            let p = OriginPattern::parse("https://*.crm4.dynamics.com").unwrap();
            let origin = format!("https://{host}");
            if p.matches(&origin) {
                prop_assert!(host.ends_with(".crm4.dynamics.com"));
                prop_assert_eq!(host.matches('.').count(), 3);
            }
            let own = format!("https://{label}.crm4.dynamics.com");
            prop_assert!(p.matches(&own));
        }
    }
}
