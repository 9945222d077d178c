//! The strings on the wire between Tessera's programs and Entra, defined once.
//!
//! The STS parses what the broker sends and what Entra answers, the emulator parses what the STS
//! and MSAL send, and the broker parses what the STS answers; a typo in any one of them is a
//! protocol bug that each side's own tests would happily agree with. So the three share these
//! constants. `no_std` and dependency-free: the broker's wasm bundle pays only for the strings it
//! actually uses.
#![no_std]

/// `grant_type` values (RFC 6749 §4, RFC 8693 §2.1, RFC 7523 §2.1).
pub mod grant_type {
    /// RFC 8693 token exchange: what the broker sends the STS.
    pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
    /// RFC 7523 JWT bearer: with `requested_token_use=on_behalf_of`, Entra's OBO grant.
    pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    pub const AUTHORIZATION_CODE: &str = "authorization_code";
    pub const REFRESH_TOKEN: &str = "refresh_token";
    pub const CLIENT_CREDENTIALS: &str = "client_credentials";
}

/// `requested_token_use` (Entra's OBO extension; spec §3).
pub const REQUESTED_TOKEN_USE_OBO: &str = "on_behalf_of";

/// `client_assertion_type` for a certificate-signed client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE_JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Token type identifiers (RFC 8693 §3): `subject_token_type`, `requested_token_type`,
/// `issued_token_type`.
pub mod token_type {
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
    pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
}

/// Power Pages (portal) implicit-grant tokens (`../shared/spec/power-platform.md`): the paths a
/// site serves, the response headers its token endpoint answers with, its site settings and its
/// error id. The emulator serves these; the STS reads portal tokens as
/// `subject_token_type` [`token_type::JWT`].
pub mod portal {
    /// `POST <site>/_services/auth/token`: the signed-in contact's token, as the body.
    pub const TOKEN_PATH: &str = "/_services/auth/token";
    /// `GET <site>/_services/auth/publickey`: the verification key, PEM (SPKI RSA).
    pub const PUBLIC_KEY_PATH: &str = "/_services/auth/publickey";
    /// Response header echoing the request's `state`.
    pub const STATE_HEADER: &str = "state";
    /// Response header carrying the token's lifetime in seconds.
    pub const EXPIRES_IN_HEADER: &str = "expires_in";
    /// Site setting: client ids that may be named in `client_id`, `;`-separated.
    pub const SETTING_REGISTERED_CLIENT_ID: &str = "ImplicitGrantFlow/RegisteredClientId";
    /// Site setting: token lifetime in seconds, clamped to
    /// [`MIN_LIFETIME_SECS`]..=[`MAX_LIFETIME_SECS`]; non-numeric means [`DEFAULT_LIFETIME_SECS`].
    pub const SETTING_TOKEN_EXPIRATION: &str = "ImplicitGrantFlow/TokenExpirationTime";
    /// Site setting: `False` switches the token endpoint off.
    pub const SETTING_ENABLED: &str = "Connector/ImplicitGrantFlowEnabled";
    pub const DEFAULT_LIFETIME_SECS: i64 = 900;
    pub const MIN_LIFETIME_SECS: i64 = 60;
    pub const MAX_LIFETIME_SECS: i64 = 3600;
    /// `ErrorId` of a refused token request (an unregistered or malformed `client_id`).
    pub const ERROR_INVALID_CLIENT: &str = "PortalSTS0001";
    /// The lifetime a `TokenExpirationTime` setting value gives.
    pub fn lifetime_secs(setting: Option<&str>) -> i64 {
        match setting.and_then(|s| s.trim().parse::<i64>().ok()) {
            Some(n) if n < MIN_LIFETIME_SECS => MIN_LIFETIME_SECS,
            Some(n) if n > MAX_LIFETIME_SECS => MAX_LIFETIME_SECS,
            Some(n) => n,
            None => DEFAULT_LIFETIME_SECS,
        }
    }
}

/// `error` codes of token and authorization responses (RFC 6749 §4.1.2.1, §5.2; RFC 8693 §2.2.2;
/// OpenID Connect Core §3.1.2.6) and the `suberror` Entra adds (spec §7).
pub mod error {
    pub const INVALID_REQUEST: &str = "invalid_request";
    pub const INVALID_CLIENT: &str = "invalid_client";
    pub const INVALID_GRANT: &str = "invalid_grant";
    pub const UNAUTHORIZED_CLIENT: &str = "unauthorized_client";
    pub const UNSUPPORTED_GRANT_TYPE: &str = "unsupported_grant_type";
    pub const INVALID_SCOPE: &str = "invalid_scope";
    /// RFC 8693: the requested audience/resource is not one the STS serves.
    pub const INVALID_TARGET: &str = "invalid_target";
    pub const ACCESS_DENIED: &str = "access_denied";
    pub const SERVER_ERROR: &str = "server_error";
    pub const TEMPORARILY_UNAVAILABLE: &str = "temporarily_unavailable";
    /// OpenID Connect: `prompt=none` and no session.
    pub const LOGIN_REQUIRED: &str = "login_required";
    /// OpenID Connect, and Entra's `error` for MFA/Conditional Access claims challenges.
    pub const INTERACTION_REQUIRED: &str = "interaction_required";
    /// OpenID Connect, and Entra's `suberror` when a tenant has not consented.
    pub const CONSENT_REQUIRED: &str = "consent_required";
    /// RFC 6750 §3.1 / RFC 9470: the token lacks claims the resource requires (a claims challenge).
    pub const INSUFFICIENT_CLAIMS: &str = "insufficient_claims";
}

/// Entra's numeric `error_codes` (the `AADSTSnnnn` of `error_description`) that change what the
/// STS does, and that the emulator therefore must send exactly (spec §7).
pub mod aadsts {
    /// The user or administrator has not consented to the client for the resource.
    pub const CONSENT_MISSING: u32 = 65001;
    /// The application is not registered in the tenant (so nobody there consented to it).
    pub const APP_NOT_IN_TENANT: u32 = 700016;
    /// The user token's lifetime has passed.
    pub const SUBJECT_TOKEN_EXPIRED: u32 = 500133;
    /// The assertion's signature is invalid, or its key unknown to the app registration or expired.
    pub const ASSERTION_KEY_REFUSED: u32 = 700027;
    /// The assertion is outside its time window (the signer's clock disagrees with Entra's).
    pub const ASSERTION_OUTSIDE_WINDOW: u32 = 700024;
    /// The certificate was revoked.
    pub const CERTIFICATE_REVOKED: u32 = 7000214;
    /// The certificate is outside its validity period.
    pub const CERTIFICATE_NOT_VALID_NOW: u32 = 1000502;
    /// The key credential was removed from the app registration.
    pub const KEY_CREDENTIAL_REMOVED: u32 = 7000274;
    /// The key credential is not yet, or no longer, valid.
    pub const KEY_CREDENTIAL_NOT_VALID_NOW: u32 = 7000277;

    /// The `invalid_client` codes that mean "this certificate is not (or no longer) accepted": the
    /// STS marks the certificate bad and tries the next one once (spec §7). Other `invalid_client`
    /// codes (a malformed assertion, an unknown app) are not the certificate's fault.
    pub const fn is_certificate_refusal(code: u32) -> bool {
        matches!(
            code,
            ASSERTION_KEY_REFUSED
                | ASSERTION_OUTSIDE_WINDOW
                | CERTIFICATE_REVOKED
                | CERTIFICATE_NOT_VALID_NOW
                | KEY_CREDENTIAL_REMOVED
                | KEY_CREDENTIAL_NOT_VALID_NOW
        )
    }
}

#[cfg(test)]
mod tests {
    use super::aadsts::is_certificate_refusal;

    #[test]
    fn portal_lifetime_is_clamped_and_defaults() {
        use super::portal::lifetime_secs;
        assert_eq!(lifetime_secs(None), 900);
        assert_eq!(lifetime_secs(Some("abc")), 900);
        assert_eq!(lifetime_secs(Some("10")), 60);
        assert_eq!(lifetime_secs(Some("-5")), 60);
        assert_eq!(lifetime_secs(Some(" 600 ")), 600);
        assert_eq!(lifetime_secs(Some("99999")), 3600);
    }

    #[test]
    fn certificate_refusals_are_exactly_the_spec_list() {
        for code in [700027, 700024, 7000214, 1000502, 7000274, 7000277] {
            assert!(is_certificate_refusal(code), "{code}");
        }
        // Neighbours and other invalid_client codes that are not about the certificate.
        for code in [0, 700021, 50027, 65001, 700016, 700028, 7000215, 1000501] {
            assert!(!is_certificate_refusal(code), "{code}");
        }
    }
}
