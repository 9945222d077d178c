//! Talking to Entra: client assertions, signing keys, subject-token validation, the OBO request.

pub mod assertion;
pub mod claims;
pub mod keys;
pub mod memo;
pub mod obo;
pub mod upstream;
pub mod validate;

/// Access-token versions Entra issues (the resource's setting decides which, spec §10.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenVersion {
    V1,
    V2,
}

impl std::fmt::Display for TokenVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
        })
    }
}
