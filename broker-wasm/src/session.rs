//! The signed-in session (the broker app's refresh token and the account) and the page-visible
//! status, with the refresh-token lifetime rule as a pure function.

use alloc::string::String;

use crate::secret::RefreshToken;

/// SPA refresh tokens live 24 hours from sign-in, fixed: a rotated one keeps the remaining time.
pub const SPA_REFRESH_LIFETIME_MS: u64 = 24 * 3600 * 1000;

/// Stop using a refresh token a minute before it dies, rather than fail a request on it.
const REFRESH_SAFETY_MS: u64 = 60 * 1000;

/// The account the user signed in with, from the ID token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// `preferred_username` (UPN or e-mail).
    pub username: String,
    /// Display name.
    pub name: Option<String>,
    /// Tenant id (`tid`).
    pub tenant_id: Option<String>,
    /// Object id (`oid`).
    pub object_id: Option<String>,
}

/// The broker's session: what `signIn` creates and `signOut` forgets.
#[derive(Debug, Clone)]
pub struct Session {
    /// The current (latest rotated) refresh token; `None` in a tab whose sign-in came from another
    /// tab of the origin (`web/relay.rs`), which asks that tab for user tokens instead.
    pub refresh_token: Option<RefreshToken>,
    /// When the refresh token dies (ms since the epoch).
    pub refresh_expires_at: u64,
    /// Who is signed in.
    pub account: Account,
}

impl Session {
    /// Whether the refresh token may still be redeemed at `now`.
    pub fn can_refresh(&self, now: u64) -> bool {
        self.refresh_token.is_some() && now.saturating_add(REFRESH_SAFETY_MS) < self.refresh_expires_at
    }
}

/// When a refresh token received at `now` dies. Entra tells SPAs (`refresh_token_expires_in`);
/// otherwise a rotated token inherits the previous deadline and a first one gets 24 hours.
pub fn refresh_expiry(now: u64, previous: Option<u64>, expires_in_secs: Option<f64>) -> u64 {
    match expires_in_secs {
        Some(secs) if secs.is_finite() && secs > 0.0 => crate::cache::expires_at(now, secs),
        _ => previous.unwrap_or(now + SPA_REFRESH_LIFETIME_MS),
    }
}

/// What `getStatus()` answers and `onStatusChange` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `configure` has not completed yet.
    Unconfigured,
    /// Configured, nobody signed in.
    SignedOut,
    /// A sign-in popup is open.
    SigningIn,
    /// A refresh token is held.
    SignedIn,
}

impl Status {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unconfigured => "unconfigured",
            Self::SignedOut => "signedOut",
            Self::SigningIn => "signingIn",
            Self::SignedIn => "signedIn",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_lifetime_rules() {
        let h = 3600 * 1000;
        assert_eq!(refresh_expiry(10, None, None), 10 + 24 * h);
        assert_eq!(refresh_expiry(10 * h, Some(24 * h), None), 24 * h);
        assert_eq!(refresh_expiry(10, Some(24 * h), Some(3600.0)), 10 + h);
        assert_eq!(refresh_expiry(10, None, Some(-5.0)), 10 + 24 * h);
    }

    #[test]
    fn refresh_stops_a_minute_early() {
        let mut s = Session {
            refresh_token: Some(RefreshToken::new("rt")),
            refresh_expires_at: 10 * 60_000,
            account: Account::default(),
        };
        assert!(s.can_refresh(8 * 60_000));
        assert!(!s.can_refresh(9 * 60_000));
        assert!(!s.can_refresh(11 * 60_000));
        // A session relayed from another tab has no refresh token to redeem.
        s.refresh_token = None;
        assert!(!s.can_refresh(8 * 60_000));
    }

    #[test]
    fn status_names() {
        assert_eq!(Status::Unconfigured.as_str(), "unconfigured");
        assert_eq!(Status::SignedOut.as_str(), "signedOut");
        assert_eq!(Status::SigningIn.as_str(), "signingIn");
        assert_eq!(Status::SignedIn.as_str(), "signedIn");
    }
}
