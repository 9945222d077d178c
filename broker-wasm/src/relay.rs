//! One sign-in for every tab of the origin, in memory only (issue 17): the rules, as data.
//!
//! A tab that has no refresh token asks the other tabs over a `BroadcastChannel` before it would
//! need a popup. A tab that holds the refresh token answers with a **user token** for the asked
//! workload (what the asker would send to the STS) and the account, never with the refresh token:
//! any script of the origin can listen on the channel, and a user token gives it nothing that
//! `Tessera.getToken` does not already give it (the STS's registry still decides every exchange),
//! while the refresh token would mint tokens for any resource the broker app may reach. So the
//! asking tab holds no refresh token either; when its user token runs out it asks again, and only
//! when no tab holding the session is left does it need a popup of its own.
//!
//! Messages are bound to the Dynamics user: each carries the sender's `Xrm` user name and a tab
//! acts only on messages of its own user. Nothing is written to storage at any time.
//!
//! The channel, its messages and timers are in the loader (`js/loader.js`, "relay"): a few lines of
//! JavaScript there cost a third of the same in wasm (measured: +2.8 KB gzip as Rust against the
//! 40 KB budget). The wasm decides when to ask (holding no refresh token, before a
//! popup), whether to answer (holding one), and what to keep of an answer (`web/relay.rs`).

use alloc::string::String;

use crate::text::cat;

/// The channel's name: one per tenant and broker app, so that two configurations on one origin
/// never answer each other.
pub fn channel_name(tenant: &str, broker_app_id: &str) -> String {
    cat(&["tessera-relay-v1:", tenant, ":", broker_app_id])
}

/// The Dynamics user a tab runs as, as compared across tabs: `Xrm`'s `userName`, trimmed and
/// lower-case; empty on a page without `Xrm` (the demo), where every tab counts as one user.
pub fn user_key(xrm_user: Option<&str>) -> String {
    xrm_user.unwrap_or_default().trim().to_ascii_lowercase()
}

/// Whether a relayed token's expiry (`x`, ms since the epoch) is one to keep at `now`: a number
/// in the future, and not further away than Entra's longest access-token lifetime (28 h), so a
/// stray message cannot plant a token that is never renewed.
pub fn plausible_expiry(expires_at: Option<f64>, now: u64) -> Option<u64> {
    const LONGEST_MS: f64 = 28.0 * 3600.0 * 1000.0;
    let x = expires_at?;
    let now = now as f64;
    (x > now && x <= now + LONGEST_MS).then_some(x as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_is_per_tenant_and_broker_app() {
        assert_eq!(channel_name("t1", "b1"), "tessera-relay-v1:t1:b1");
        assert_ne!(channel_name("t1", "b1"), channel_name("t2", "b1"));
        assert_ne!(channel_name("t1", "b1"), channel_name("t1", "b2"));
    }

    #[test]
    fn the_user_is_xrms_user_name_as_compared() {
        assert_eq!(user_key(Some(" AdeleV@Contoso.com ")), "adelev@contoso.com");
        assert_eq!(user_key(Some("adelev@contoso.com")), user_key(Some("ADELEV@contoso.com")));
        assert_ne!(user_key(Some("adelev@contoso.com")), user_key(Some("meganb@contoso.com")));
        assert_eq!(user_key(None), "");
    }

    #[test]
    fn relayed_expiry_must_be_ahead_and_bounded() {
        let now = 1_000_000;
        assert_eq!(plausible_expiry(Some(1_060_000.0), now), Some(1_060_000));
        assert_eq!(plausible_expiry(Some(1_000_000.0), now), None);
        assert_eq!(plausible_expiry(Some(999.0), now), None);
        assert_eq!(plausible_expiry(Some(f64::INFINITY), now), None);
        assert_eq!(plausible_expiry(Some(f64::NAN), now), None);
        assert_eq!(plausible_expiry(Some(now as f64 + 29.0 * 3600e3), now), None);
        assert_eq!(plausible_expiry(None, now), None);
    }
}
