//! One type per kind of secret the STS handles: the caller's subject token, our signed client
//! assertions, the backend tokens Entra issues, private keys in PEM form, and passwords.
//!
//! Why several types rather than one `Secret(String)`: a function that takes a [`SubjectToken`]
//! cannot be handed a [`ClientAssertion`] by mistake (the two travel side by side in every OBO
//! request), and each says in its name what it holds. As oauth2-rs's `new_secret_type!` (and the
//! browser broker's `secret.rs`), each prints as `Name([redacted])` in `Debug` and `[redacted]` in
//! `Display`, so neither a `{:?}` in a log line nor a `format!` can leak it; [`expose`] is the one
//! explicit way out and borrows (no copy of a token per request on the cached path).
//!
//! Written as a small macro rather than taken from a crate: the types need nothing beyond
//! redaction and a borrow — a dozen lines — and a dependency for them (`secrecy`, or oauth2 for
//! its secret types) would cost more build time than it saves.
//!
//! [`expose`]: SubjectToken::expose

use std::fmt;

macro_rules! secret_type {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The raw value, for the one place that must send or use it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
}

secret_type!(
    /// The user's access token a broker sends as `subject_token`: a bearer credential for the
    /// user until it expires.
    SubjectToken
);
secret_type!(
    /// A client assertion we signed with a client app's certificate (RFC 7523): it authenticates
    /// as that app for its lifetime (~10 minutes).
    ClientAssertion
);
secret_type!(
    /// A backend access token Entra issued through OBO, cached and handed to the broker.
    BackendToken
);
secret_type!(
    /// An RSA private key in PEM form, as read from a key file or generated.
    PrivateKeyPem
);
secret_type!(
    /// A password (of a PFX file).
    Password
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_redacted_in_debug_and_display() {
        let value = "eyJhbGciOiJSUzI1NiJ9.hunter2.sig";
        let shown = [
            (format!("{:?}", SubjectToken::new(value)), "SubjectToken([redacted])"),
            (format!("{:?}", ClientAssertion::new(value)), "ClientAssertion([redacted])"),
            (format!("{:?}", BackendToken::new(value)), "BackendToken([redacted])"),
            (format!("{:?}", PrivateKeyPem::new(value)), "PrivateKeyPem([redacted])"),
            (format!("{:?}", Password::new(value)), "Password([redacted])"),
            (format!("{}", SubjectToken::new(value)), "[redacted]"),
            (format!("{}", ClientAssertion::new(value)), "[redacted]"),
            (format!("{}", BackendToken::new(value)), "[redacted]"),
            (format!("{}", PrivateKeyPem::new(value)), "[redacted]"),
            (format!("{}", Password::new(value)), "[redacted]"),
        ];
        for (got, want) in shown {
            assert_eq!(got, want);
        }
        assert_eq!(Password::new(value).expose(), value, "expose is the way out");
    }
}
