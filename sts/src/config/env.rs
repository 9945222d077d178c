//! Naming the environment variable behind a configuration error.
//!
//! figment reports a bad `TESSERA_*` variable by its key path in upper case (`PFX_PASSWORD`,
//! `CACHE.MAX_ENTIRES`), which is neither the variable's name nor the key's: an operator looking
//! at a compose file cannot find it. This finds the variable that produced the key and says what
//! to do instead, without ever repeating a variable's value (it may be a misplaced secret).

use std::ffi::OsString;

use figment::error::Kind;

/// The prefix of every configuration variable.
pub(super) const PREFIX: &str = "TESSERA_";
/// Nested keys are separated by this in variable names: `TESSERA_REGISTRY__DATABASE_URL`.
pub(super) const SEPARATOR: &str = "__";

/// The message for the first error that came from an environment variable, naming the variable;
/// `None` when no error did (the caller keeps figment's own message, which names the file).
pub(super) fn explain(error: &figment::Error, vars: &[(OsString, OsString)]) -> Option<String> {
    error.clone().into_iter().find_map(|e| {
        let from_env = e.metadata.as_ref().is_some_and(|m| m.name.contains("environment variable"));
        if !from_env {
            return None;
        }
        let mut key: Vec<String> = e.path.clone();
        if let Kind::UnknownField(field, _) = &e.kind
            && key.last() != Some(field)
        {
            key.push(field.clone());
        }
        let key = key.join(".");
        let variable = variable_for(&key, vars)
            .unwrap_or_else(|| format!("{PREFIX}{}", key.replace('.', SEPARATOR).to_ascii_uppercase()));
        Some(describe(&variable, &key, &e.kind))
    })
}

/// The variable whose name maps to `key` (`TESSERA_CACHE__MAX_ENTRIES` → `cache.max_entries`),
/// compared the way figment compares them: prefix and key without regard to case.
fn variable_for(key: &str, vars: &[(OsString, OsString)]) -> Option<String> {
    vars.iter().filter_map(|(name, _)| name.to_str()).find_map(|name| {
        let rest =
            name.get(..PREFIX.len()).filter(|p| p.eq_ignore_ascii_case(PREFIX)).map(|_| &name[PREFIX.len()..])?;
        let mapped = rest.replace(SEPARATOR, ".").to_ascii_lowercase();
        (mapped == key.to_ascii_lowercase()).then(|| name.to_owned())
    })
}

fn describe(variable: &str, key: &str, kind: &Kind) -> String {
    match kind {
        Kind::UnknownField(_, expected) => {
            let expected = if expected.is_empty() { String::from("none") } else { expected.join(", ") };
            format!(
                "environment variable {variable}: `{key}` is not a configuration key (expected one of: {expected}). \
                 Every {PREFIX}* variable sets a configuration key (nested keys joined by {SEPARATOR}); secrets \
                 are not configuration: put a PFX password in a variable outside {PREFIX}* and name it with \
                 `pfx_password_env`, or use `pfx_password_file`"
            )
        }
        // The value itself is never repeated: a secret put in the wrong variable must not reach a log.
        Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected) => {
            format!("environment variable {variable} (key `{key}`): invalid value, expected {expected}")
        }
        Kind::UnknownVariant(_, expected) => format!(
            "environment variable {variable} (key `{key}`): unknown value, expected one of: {}",
            expected.join(", ")
        ),
        other => format!("environment variable {variable} (key `{key}`): {other}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::Config;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment::Error
    fn an_unknown_variable_is_named_and_its_value_never_repeated() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TESSERA_PFX_PASSWORD", "hunter2-in-the-wrong-place");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("environment variable TESSERA_PFX_PASSWORD"), "{err}");
            assert!(err.contains("pfx_password_env"), "says where a secret goes: {err}");
            assert!(!err.contains("hunter2"), "{err}");

            jail.clear_env();
            jail.set_env("TESSERA_Cache__Max_Entires", "1");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("environment variable TESSERA_Cache__Max_Entires"), "named as written: {err}");
            assert!(err.contains("`cache.max_entires`") && err.contains("max_entries"), "{err}");

            jail.clear_env();
            jail.set_env("TESSERA_SERVER__LISTEN", "secret-looking-value");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("environment variable TESSERA_SERVER__LISTEN"), "{err}");
            assert!(!err.contains("secret-looking-value"), "{err}");

            // A secret outside the namespace is nobody's business but `pfx_password_env`'s.
            jail.clear_env();
            jail.set_env("CLIENT_CERT_PFX_PASSWORD", "x");
            jail.set_env("TESSERA_ENTRA__AUTHORITY", "https://login.microsoftonline.us");
            assert_eq!(Config::load(None).unwrap().entra.authority, "https://login.microsoftonline.us");
            Ok(())
        });
    }
}
