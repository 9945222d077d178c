//! `entra.authority`, parsed when the configuration is read.

use serde::{Deserialize, Serialize};

/// The Entra authority host: `https://login.microsoftonline.com`, a sovereign cloud, or the
/// emulator. A value of this type can only hold a valid one (parse, don't validate): `https://`
/// anywhere, plain `http://` for loopback hosts only, no user name, password, path, query or
/// fragment. Parsed as a URL, never prefix-matched: `http://[::1]@evil.com` has the host `evil.com`.
///
/// Read and written as a string (serde `try_from`/`into`), so the TOML and environment format is
/// unchanged; shown without a trailing `/`, which is how every URL built from it wants it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Authority(url::Url);

/// Why a string is not an authority.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entra.authority {authority:?}: {problem}")]
pub struct AuthorityError {
    /// As written (clipped to 200 characters).
    pub authority: String,
    pub problem: AuthorityProblem,
}

/// What is wrong with an authority.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityProblem {
    /// The URL parser's reason.
    #[error("not a URL ({0})")]
    NotUrl(url::ParseError),
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("has no host")]
    NoHost,
    #[error("plain http is only allowed for loopback hosts")]
    PlainHttp,
    #[error("must start with https://")]
    Scheme,
    #[error("must be a scheme and host only, without a tenant or path")]
    Path,
}

impl Authority {
    pub fn parse(authority: &str) -> Result<Self, AuthorityError> {
        let bad = |problem| AuthorityError { authority: authority.chars().take(200).collect(), problem };
        let url = url::Url::parse(authority).map_err(|e| bad(AuthorityProblem::NotUrl(e)))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(AuthorityProblem::Credentials));
        }
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err(bad(AuthorityProblem::NoHost)),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(bad(AuthorityProblem::PlainHttp)),
            _ => return Err(bad(AuthorityProblem::Scheme)),
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(bad(AuthorityProblem::Path));
        }
        Ok(Self(url))
    }

    /// `scheme://host[:port]`, without a trailing `/` (borrowed: no allocation).
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

impl Default for Authority {
    fn default() -> Self {
        Self::parse("https://login.microsoftonline.com").unwrap_or_else(|_| unreachable!("a valid literal"))
    }
}

impl std::str::FromStr for Authority {
    type Err = AuthorityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Authority {
    type Error = AuthorityError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Authority> for String {
    fn from(a: Authority) -> Self {
        a.as_str().to_owned()
    }
}

impl std::fmt::Display for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Authority {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn problem(a: &str) -> AuthorityProblem {
        Authority::parse(a).unwrap_err().problem
    }

    #[test]
    fn authority_rules() {
        assert!(Authority::parse("https://login.microsoftonline.com").is_ok());
        assert!(Authority::parse("http://127.0.0.1:9999").is_ok());
        assert!(Authority::parse("http://localhost:1").is_ok());
        assert_eq!(problem("http://login.example.com"), AuthorityProblem::PlainHttp);
        assert!(Authority::parse("http://[::1]:9999").is_ok());
        assert_eq!(problem("http://[2001:db8::1]:9999"), AuthorityProblem::PlainHttp, "only the loopback IPv6 address");
        assert_eq!(problem("https://login.microsoftonline.com/common"), AuthorityProblem::Path);
        assert_eq!(problem("ftp://x"), AuthorityProblem::Scheme);
        assert!(matches!(problem("login.microsoftonline.com"), AuthorityProblem::NotUrl(_)));
        let slash = Authority::parse("https://login.microsoftonline.com/").unwrap();
        assert_eq!(slash.as_str(), "https://login.microsoftonline.com", "a trailing slash is no path");
    }

    #[test]
    fn authority_is_parsed_not_prefix_matched() {
        for (hostile, want) in [
            ("http://[::1]@evil.com", AuthorityProblem::Credentials),
            ("http://127.0.0.1@evil.com", AuthorityProblem::Credentials),
            ("http://localhost:80@evil.com/", AuthorityProblem::Credentials),
            ("https://user:pass@login.microsoftonline.com", AuthorityProblem::Credentials),
            ("http://127.0.0.1.evil.com", AuthorityProblem::PlainHttp),
            ("http://localhost.evil.com", AuthorityProblem::PlainHttp),
            ("https://login.microsoftonline.com?x=1", AuthorityProblem::Path),
            ("https://login.microsoftonline.com#frag", AuthorityProblem::Path),
        ] {
            assert_eq!(problem(hostile), want, "{hostile} must be refused");
        }
        assert!(Authority::parse("http://127.0.0.2:8080").is_ok(), "all of 127/8 is loopback");
    }

    #[test]
    fn read_and_written_as_a_string() {
        let a: Authority = serde_json::from_str("\"http://127.0.0.1:9999\"").unwrap();
        assert_eq!(a, "http://127.0.0.1:9999");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"http://127.0.0.1:9999\"");
        let e = serde_json::from_str::<Authority>("\"http://[::1]@evil.com\"").unwrap_err().to_string();
        assert!(e.contains("user name or password"), "serde reports the problem: {e}");
    }
}
