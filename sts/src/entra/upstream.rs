//! Why a request to Entra failed, told apart for operators: a kind from the types in the error's
//! cause chain (the `tessera_upstream_errors_total` label), and the whole chain for the log —
//! reqwest's own message says only "error sending request for url (…)", whatever the cause.

use std::error::Error;
use std::fmt;

use super::keys::KeyError;

/// Classifies a failed send by the types in its cause chain (TLS, timeout, refused …).
pub fn failure_kind(e: &reqwest::Error) -> &'static str {
    let mut kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "request"
    };
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(cause) = next {
        if cause.is::<rustls::Error>() {
            return "tls";
        }
        if cause.to_string().starts_with("dns error") {
            return "dns";
        }
        next = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => {
                match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => kind = "connect_refused",
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => kind = "reset",
                    std::io::ErrorKind::TimedOut => kind = "timeout",
                    _ => {}
                }
                // An io::Error's `source()` skips the error it wraps: step into it instead.
                match io.get_ref() {
                    Some(inner) => Some(inner as &(dyn Error + 'static)),
                    None => io.source(),
                }
            }
            None => cause.source(),
        };
    }
    kind
}

/// Displays an error and every cause under it, `: `-separated.
#[derive(Debug)]
pub struct CauseChain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for CauseChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Why Entra's side failed (`502 server_error`, outcome `upstream_error`): no answer, or one no
/// Entra would give. Throttling and deadlines are `ExchangeError::Unavailable` instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// No HTTP answer; `kind` as counted in `tessera_upstream_errors_total` (the cause chain is
    /// in the log).
    #[error("Entra could not be reached ({kind})")]
    Unreachable { kind: &'static str },
    #[error("Entra's answer was cut off")]
    CutOff,
    /// serde's reason.
    #[error("Entra's token response is not understood: {0}")]
    NotUnderstood(String),
    #[error("Entra's expires_in is not a number")]
    ExpiresInNotNumber,
    #[error("Entra's expires_in ({0}) is not a plausible token lifetime (1 s to {max} s)", max = super::obo::MAX_EXPIRES_IN_SECS)]
    ImplausibleLifetime(i64),
    /// An error answer that means nothing more specific; `summary` is the first line of Entra's
    /// description.
    #[error("Entra answered HTTP {status}: {summary}")]
    Status { status: u16, summary: String },
    /// The tenant's signing keys could not be fetched.
    #[error(transparent)]
    Keys(KeyError),
}
