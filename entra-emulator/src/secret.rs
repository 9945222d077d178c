//! Wrappers for values that must never reach a log: tokens, assertions, codes.
//!
//! `Debug` prints `Name([redacted])`; the value is reachable only through `expose()`, so a
//! careless `{:?}` or `tracing` field cannot leak it.

use std::fmt;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a raw value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The raw value, for the one place that must send or verify it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// A signed JWT (access, ID or user token).
    Jwt
);
secret_type!(
    /// A client assertion JWT.
    ClientAssertion
);
secret_type!(
    /// An opaque refresh token or authorization code.
    OpaqueToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_value() {
        let jwt = Jwt::new("eyJhbGciOiJSUzI1NiJ9.secret.sig");
        assert_eq!(format!("{jwt:?}"), "Jwt([redacted])");
        assert_eq!(format!("{:?}", ClientAssertion::new("x")), "ClientAssertion([redacted])");
        assert_eq!(jwt.expose(), "eyJhbGciOiJSUzI1NiJ9.secret.sig");
    }
}
