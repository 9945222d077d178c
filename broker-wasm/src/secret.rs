//! Wrappers for values that must never be printed: tokens, the authorization code, the PKCE verifier.
//!
//! Their `Debug` prints `Name([redacted])`, they have no `Display`, and the value is reachable only
//! through `expose()`, so every place that hands a secret out is easy to find.

use alloc::string::String;

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps the value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The raw value, for the one place that must send it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret!(
    /// An OAuth access token (a user token for a client app, or a backend token from the STS).
    AccessToken
);
secret!(
    /// The broker app's refresh token: the user's whole session. Memory only, never storage.
    RefreshToken
);
secret!(
    /// A one-time authorization code from the sign-in popup.
    AuthCode
);
secret!(
    /// The PKCE `code_verifier` (RFC 7636 §4.1).
    CodeVerifier
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let values = [
            format!("{:?}", AccessToken::new("eyJ.secret.sig")),
            format!("{:?}", RefreshToken::new("secret-rt")),
            format!("{:?}", AuthCode::new("secret-code")),
            format!("{:#?}", CodeVerifier::new("secret-verifier")),
        ];
        for v in &values {
            assert!(!v.contains("secret"), "{v}");
            assert!(v.ends_with("([redacted])"), "{v}");
        }
        assert_eq!(values[1], "RefreshToken([redacted])");
    }
}
