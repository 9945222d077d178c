//! Allowed browser origins (`server.cors_origins`): patterns such as `https://*.crm4.dynamics.com`.
//!
//! Its own module because both ends use it: the configuration parses the patterns when it is read
//! and the HTTP layer matches `Origin` headers against them (`http::cors`); neither imports the other.

use serde::{Deserialize, Serialize};

/// Why a `server.cors_origins` entry is not an origin pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CORS origin {pattern:?}: {problem}")]
pub struct OriginPatternError {
    /// The pattern as written (clipped to 200 characters).
    pub pattern: String,
    pub problem: OriginProblem,
}

/// What is wrong with an origin pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OriginProblem {
    #[error("expected scheme://host")]
    NoScheme,
    #[error("scheme must be http or https")]
    Scheme,
    #[error("an origin has no path (remove the trailing '/')")]
    Path,
    #[error("invalid port")]
    Port,
    #[error("host must be DNS labels, with at most one leading '*.'")]
    Host,
}

/// An allowed origin: `scheme://host[:port]`, where the host may start with `*.` to stand for
/// exactly one DNS label (`https://*.crm4.dynamics.com` allows `https://contoso.crm4.dynamics.com`,
/// not `https://a.b.crm4.dynamics.com` nor `https://crm4.dynamics.com`).
///
/// Parsed when the configuration is read (serde `try_from`/`into` a string, so the TOML and
/// environment format stays a list of strings): a configuration that loaded holds only valid
/// patterns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OriginPattern {
    scheme: String,
    /// Lower-case host suffix after the wildcard label, or the whole host.
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

impl OriginPattern {
    pub fn parse(pattern: &str) -> Result<Self, OriginPatternError> {
        let bad = |problem| OriginPatternError { pattern: pattern.chars().take(200).collect(), problem };
        let (scheme, rest) = pattern.split_once("://").ok_or_else(|| bad(OriginProblem::NoScheme))?;
        if scheme != "https" && scheme != "http" {
            return Err(bad(OriginProblem::Scheme));
        }
        if rest.contains('/') {
            return Err(bad(OriginProblem::Path));
        }
        let (host, port) = split_port(rest).ok_or_else(|| bad(OriginProblem::Port))?;
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(suffix) => (true, suffix),
            None => (false, host),
        };
        if host.is_empty() || host.contains('*') || !host.split('.').all(is_label) {
            return Err(bad(OriginProblem::Host));
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

impl std::str::FromStr for OriginPattern {
    type Err = OriginPatternError;

    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        Self::parse(pattern)
    }
}

impl TryFrom<String> for OriginPattern {
    type Error = OriginPatternError;

    fn try_from(pattern: String) -> Result<Self, Self::Error> {
        Self::parse(&pattern)
    }
}

/// The pattern as it is written in the configuration (for `sts config show`).
impl From<OriginPattern> for String {
    fn from(p: OriginPattern) -> Self {
        p.to_string()
    }
}

impl std::fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, if self.wildcard { "*." } else { "" }, self.host)?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
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
        use OriginProblem as P;
        for (bad, problem) in [
            ("contoso.com", P::NoScheme),
            ("https://*.com/", P::Path),
            ("https://a.*.com", P::Host),
            ("https://*", P::Host),
            ("ftp://x.com", P::Scheme),
            ("https://x.com:99999", P::Port),
        ] {
            assert_eq!(OriginPattern::parse(bad).unwrap_err().problem, problem, "{bad}");
        }
    }

    #[test]
    fn written_back_as_read() {
        for p in ["https://*.crm4.dynamics.com", "http://127.0.0.1:8081", "https://contoso.example"] {
            assert_eq!(OriginPattern::parse(p).unwrap().to_string(), p);
        }
        let p: OriginPattern = serde_json::from_str("\"https://*.crm4.dynamics.com\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"https://*.crm4.dynamics.com\"");
        let e = serde_json::from_str::<OriginPattern>("\"https://x/\"").unwrap_err().to_string();
        assert!(e.contains("no path"), "serde reports the pattern's problem: {e}");
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
