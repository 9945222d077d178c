//! Configuration: built-in defaults < TOML file < `TESSERA_*` environment variables.
//!
//! Every struct denies unknown keys, so a typo in the file or in an environment variable
//! (`TESSERA_SERVER__LISTNE`) stops start-up with the offending key named instead of being
//! silently ignored. Nested keys use `__` in environment variables: `TESSERA_REGISTRY__DATABASE_URL`.
//! Secrets are never configuration *values*: the PFX password is read from a named environment
//! variable or a file, and the database URL's password is redacted when the configuration is shown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod authority;
mod env;

pub use authority::Authority;

use crate::origin::OriginPattern;

/// Environment variable naming the TOML file (kept out of the key space on purpose).
pub const CONFIG_FILE_ENV: &str = "TESSERA_CONFIG";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub registry: RegistryConfig,
    pub entra: EntraConfig,
    pub cache: CacheConfig,
    pub log: LogConfig,
    pub audit: AuditConfig,
    /// Certificates per client app (the confidential client credentials used for OBO).
    pub credentials: Vec<CredentialConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The operators' listener: `GET /metrics` only, never on `listen` (the metrics name client
    /// apps and certificate thumbprints, which are not for the public). Loopback by default; in a
    /// container, bind it to the container network and do not publish it. Port 0: any free port
    /// (logged at start).
    pub metrics_listen: SocketAddr,
    /// Origins allowed to call `/token` and `/broker/config` from a browser. A `*` may stand for
    /// leading host labels: `https://*.crm4.dynamics.com`. Parsed when read (strings in the file).
    pub cors_origins: Vec<OriginPattern>,
    /// Upper bound for a request body; a token-exchange form is a few KB.
    pub max_body_bytes: usize,
    /// Upper bound for a request's headers (request line included); larger ones get 431.
    pub max_header_bytes: usize,
    /// Time a connection has to deliver a request's headers, counted from the moment it is ready
    /// for one (accepted, or its last response done), so it is also the idle keep-alive timeout:
    /// silent, slow-header and idle connections all close after it (`http::server`).
    pub header_read_timeout_secs: u64,
    /// Time a request has to deliver its whole body once its headers are in; then 408.
    pub body_read_timeout_secs: u64,
    /// Open connections at most. At the limit a new connection displaces the oldest one that has
    /// no request in progress, so an attacker holding connections cannot lock clients out; keep
    /// it below the process's file-descriptor limit (leave room for Entra and the database).
    pub max_connections: usize,
    /// On SIGTERM / Ctrl-C: how long in-flight requests may take to finish before the remaining
    /// connections are dropped (the audit is flushed either way).
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// PostgreSQL URL (production). When absent the embedded SQLite database at `sqlite_path` is used.
    pub database_url: Option<String>,
    pub sqlite_path: PathBuf,
    /// The operator's own registry migrations, applied after Tessera's schema migrations.
    pub operator_migrations_dir: Option<PathBuf>,
    /// Apply migrations when `sts serve` starts.
    pub migrate_on_start: bool,
    /// How often to look for newly applied migrations (cheap query) and reload when there are.
    pub poll_interval_secs: u64,
    /// Reload the whole snapshot at least this often, whatever the migrations say.
    pub reload_interval_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EntraConfig {
    /// The authority host: `https://login.microsoftonline.com`, a sovereign cloud, or the emulator.
    /// Plain `http://` is accepted for loopback hosts only ([`Authority`]).
    pub authority: Authority,
    /// Broker app the browser bundle signs in as (returned by `GET /broker/config`).
    pub broker_app_id: Option<String>,
    /// Extra CA certificate (PEM) to trust for the authority, e.g. the emulator's.
    pub extra_ca_file: Option<PathBuf>,
    /// Client-assertion signature: `PS256` with `x5t#S256` (default) or `RS256` with `x5t`.
    pub assertion_alg: AssertionAlg,
    /// Client capabilities declared on every OBO request (`cp1`: we handle claims challenges).
    pub client_capabilities: Vec<String>,
    /// Signing-key refresh period; unknown `kid`s trigger a rate-limited refetch in between.
    pub key_refresh_interval_secs: u64,
    /// The one deadline for everything an exchange does toward Entra: queueing for a connection,
    /// connecting, every attempt, and every wait between attempts (`Retry-After` included).
    pub upstream_timeout_ms: u64,
    /// Time to open a connection to the authority (TCP and TLS); failures are retried within
    /// `upstream_timeout_ms`.
    pub connect_timeout_ms: u64,
    /// Requests to Entra in flight at once; more wait in line (within their deadline) for a
    /// pooled connection, instead of each opening its own.
    pub max_concurrent_requests: usize,
    /// Retries after 429/5xx (honouring `Retry-After`) before answering 503.
    pub upstream_retries: u32,
    /// A token naming a signing key the tenant's key set lacks forces a refetch of that set at
    /// most this often per tenant; a refusal inside the window schedules one at its end, so a
    /// genuinely new key is accepted within this bound whatever junk came before it.
    pub key_refetch_interval_secs: u64,
    /// Clock skew tolerated on `exp`/`nbf` of incoming tokens (at most [`MAX_LEEWAY_SECS`]).
    pub leeway_secs: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum AssertionAlg {
    PS256,
    RS256,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    pub max_entries: u64,
    pub max_bytes: u64,
    /// Cached backend tokens are dropped this long before they expire.
    pub expiry_margin_secs: u64,
    /// Redis URL of the shared second-level cache (`redis://host:6379/0`); none: memory only.
    /// Several STS instances with the same URL (and keys) share tokens and single-flight misses.
    pub redis_url: Option<String>,
    /// File of entry-encryption keys, one `KEY_ID BASE64_32_BYTES` per line, the first encrypts
    /// (the others still decrypt: rotation). Required with `redis_url` unless `redis_keys_env`.
    pub redis_keys_file: Option<PathBuf>,
    /// Name of an environment variable (outside `TESSERA_*`) holding the keys, in the file's format
    /// (lines or `;`-separated).
    pub redis_keys_env: Option<String>,
    /// Longest wait for one Redis call; past it the call counts as failed and the exchange goes on
    /// memory only.
    pub redis_timeout_ms: u64,
    /// After a failed Redis call, Redis is left alone this long (memory only), then tried again.
    pub redis_retry_after_ms: u64,
    /// Lifetime of the cross-instance single-flight lock: how long other instances wait for the
    /// instance fetching a token before they fetch it themselves (a dead holder is released by it).
    pub redis_lock_ms: u64,
    /// Prefix of every Redis key this STS writes.
    pub redis_prefix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` (default, for production) or `pretty`.
    pub format: LogFormat,
    /// `tracing` filter directive, e.g. `info,sts=debug`.
    pub level: String,
}

/// Where audit records wait while the database cannot take them (see `audit::spool`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Local directory of the durable spool; one per STS process (it is locked while in use).
    /// In a container, a volume: what it holds is not yet in the database.
    pub spool_dir: PathBuf,
    /// Upper bound of the spool on disk; past it records go to the log only.
    pub spool_max_bytes: u64,
    /// How long one audit write to the database may take before its records go to the spool
    /// (a hung database must not stall the writer).
    pub db_timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// One certificate of a client app. Either `pfx` or `cert_pem` + `key_pem`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialConfig {
    pub client_app_id: String,
    pub pfx: Option<PathBuf>,
    /// Name of the environment variable holding the PFX password.
    pub pfx_password_env: Option<String>,
    /// File holding the PFX password (e.g. a mounted secret).
    pub pfx_password_file: Option<PathBuf>,
    pub cert_pem: Option<PathBuf>,
    pub key_pem: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            cors_origins: Vec::new(),
            max_body_bytes: 32 * 1024,
            max_header_bytes: 32 * 1024,
            header_read_timeout_secs: 15,
            body_read_timeout_secs: 10,
            max_connections: 4096,
            shutdown_grace_secs: 20,
        }
    }
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            database_url: None,
            sqlite_path: PathBuf::from(".tessera/registry.db"),
            operator_migrations_dir: None,
            migrate_on_start: true,
            poll_interval_secs: 10,
            reload_interval_secs: 300,
        }
    }
}

impl Default for EntraConfig {
    fn default() -> Self {
        Self {
            authority: Authority::default(),
            broker_app_id: None,
            extra_ca_file: None,
            assertion_alg: AssertionAlg::PS256,
            client_capabilities: vec!["cp1".into()],
            key_refresh_interval_secs: 6 * 3600,
            upstream_timeout_ms: 10_000,
            connect_timeout_ms: 3_000,
            max_concurrent_requests: 64,
            upstream_retries: 2,
            key_refetch_interval_secs: 30,
            leeway_secs: 60,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_bytes: 256 * 1024 * 1024,
            expiry_margin_secs: 300,
            redis_url: None,
            redis_keys_file: None,
            redis_keys_env: None,
            redis_timeout_ms: 100,
            redis_retry_after_ms: 1_000,
            redis_lock_ms: 10_000,
            redis_prefix: "tessera:".into(),
        }
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            spool_dir: PathBuf::from(".tessera/audit-spool"),
            spool_max_bytes: 256 * 1024 * 1024,
            db_timeout_ms: 3_000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Json, level: "info".into() }
    }
}

/// The largest `entra.leeway_secs`: beyond an hour it is no longer clock skew, and a bounded
/// leeway keeps `now ± leeway` in the token checks far from overflowing.
pub const MAX_LEEWAY_SECS: u64 = 3600;

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not a `#[source]`: figment's message is complete, and chaining it would print it twice.
    #[error("configuration: {0}")]
    Figment(Box<figment::Error>),
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("configuration: entra.leeway_secs is {0}; at most {MAX_LEEWAY_SECS} (clock skew, not a token lifetime)")]
    LeewayTooLarge(u64),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults < `file` (or `$TESSERA_CONFIG`) < `TESSERA_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let file = file.map(Path::to_path_buf).or_else(|| std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from));
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = &file {
            if !file.exists() {
                return Err(ConfigError::MissingFile(file.clone()));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed(env::PREFIX).split(env::SEPARATOR).ignore(&["config"]));
        let config: Config = figment.extract().map_err(|e| {
            // A bad variable is named as the operator wrote it (figment names only the key path).
            let vars: Vec<_> = std::env::vars_os().collect();
            match env::explain(&e, &vars) {
                Some(message) => ConfigError::Invalid(message),
                None => ConfigError::Figment(Box::new(e)),
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks that serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // `entra.authority` and `server.cors_origins` need no check here: their types hold only
        // valid values (parsed when the configuration was read).
        if self.entra.leeway_secs > MAX_LEEWAY_SECS {
            return Err(ConfigError::LeewayTooLarge(self.entra.leeway_secs));
        }
        if self.cache.redis_url.is_some() {
            match (&self.cache.redis_keys_file, &self.cache.redis_keys_env) {
                (None, None) => {
                    return Err(ConfigError::Invalid(
                        "cache.redis_url needs the entry keys: cache.redis_keys_file or cache.redis_keys_env".into(),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(ConfigError::Invalid(
                        "give cache.redis_keys_file or cache.redis_keys_env, not both".into(),
                    ));
                }
                _ => {}
            }
        }
        if let Some(var) = &self.cache.redis_keys_env
            && var.to_ascii_uppercase().starts_with(env::PREFIX)
        {
            return Err(ConfigError::Invalid(format!(
                "cache.redis_keys_env names {var}: keys are secrets, not configuration; use a variable outside {}*",
                env::PREFIX
            )));
        }
        for (i, c) in self.credentials.iter().enumerate() {
            let pfx = c.pfx.is_some();
            let pem = c.cert_pem.is_some() || c.key_pem.is_some();
            if pfx == pem || (pem && (c.cert_pem.is_none() || c.key_pem.is_none())) {
                return Err(ConfigError::Invalid(format!(
                    "credentials[{i}] ({}): give either `pfx` or both `cert_pem` and `key_pem`",
                    c.client_app_id
                )));
            }
            if c.pfx_password_env.is_some() && c.pfx_password_file.is_some() {
                return Err(ConfigError::Invalid(format!(
                    "credentials[{i}]: give `pfx_password_env` or `pfx_password_file`, not both"
                )));
            }
        }
        Ok(())
    }

    /// The effective configuration as TOML, with the database password redacted.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.registry.database_url = shown.registry.database_url.as_deref().map(redact_url_password);
        shown.cache.redis_url = shown.cache.redis_url.as_deref().map(redact_url_password);
        toml_string(&shown)
    }
}

fn toml_string(config: &Config) -> String {
    // TOML, so the output can be pasted back into a configuration file.
    toml::to_string_pretty(config).unwrap_or_else(|e| format!("# unprintable configuration: {e}\n"))
}

/// `postgres://user:secret@host/db` → `postgres://user:[redacted]@host/db`, by the parsed URL (a
/// password may hold `/`, `@` or `:`, which no string split gets right). A URL that does not parse
/// is not shown at all: whatever it holds may be a password.
pub fn redact_url_password(raw: &str) -> String {
    let Ok(url) = url::Url::parse(raw) else {
        return "[a database URL that does not parse; not shown]".to_owned();
    };
    if url.password().is_none() {
        return url.to_string();
    }
    let mut shown = format!("{}://{}:[redacted]@", url.scheme(), url.username());
    if let Some(host) = url.host_str() {
        shown.push_str(host);
    }
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    if let Some(query) = url.query() {
        shown.push('?');
        shown.push_str(query);
    }
    shown
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn redacts_database_password() {
        assert_eq!(
            redact_url_password("postgres://tessera:s3cret@db:5432/tessera"),
            "postgres://tessera:[redacted]@db:5432/tessera"
        );
        assert_eq!(redact_url_password("postgres://db/tessera"), "postgres://db/tessera");
        let mut c = Config::default();
        c.registry.database_url = Some("postgres://u:hunter2@h/d".into());
        let shown = c.redacted_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    /// `entra.authority` and `server.cors_origins` are parsed when read, from the file or the
    /// environment, in the same string format as before; a bad one stops the load, named.
    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment::Error
    fn authority_and_origins_are_parsed_when_read() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "ok.toml",
                "[server]\ncors_origins = [\"https://*.crm4.dynamics.com\"]\n[entra]\nauthority = \"http://127.0.0.1:9999/\"\n",
            )?;
            let c = Config::load(Some(Path::new("ok.toml"))).unwrap();
            assert_eq!(c.entra.authority, "http://127.0.0.1:9999");
            assert!(c.server.cors_origins[0].matches("https://contoso.crm4.dynamics.com"));
            let shown = c.redacted_toml();
            assert!(shown.contains("authority = \"http://127.0.0.1:9999\""), "{shown}");
            assert!(shown.contains("cors_origins = [\"https://*.crm4.dynamics.com\"]"), "{shown}");

            jail.create_file("authority.toml", "[entra]\nauthority = \"http://[::1]@evil.com\"\n")?;
            let err = Config::load(Some(Path::new("authority.toml"))).unwrap_err().to_string();
            assert!(err.contains("must not carry a user name or password"), "{err}");

            jail.create_file("origin.toml", "[server]\ncors_origins = [\"https://x.com/\"]\n")?;
            let err = Config::load(Some(Path::new("origin.toml"))).unwrap_err().to_string();
            assert!(err.contains("https://x.com/") && err.contains("no path"), "{err}");

            jail.set_env("TESSERA_ENTRA__AUTHORITY", "http://login.example.com");
            let err = Config::load(Some(Path::new("ok.toml"))).unwrap_err().to_string();
            assert!(err.contains("plain http is only allowed for loopback hosts"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn redis_needs_keys_from_outside_the_configuration_and_its_password_is_redacted() {
        let mut c = Config::default();
        c.cache.redis_url = Some("redis://:s3cret@cache:6379/0".into());
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("redis_keys_file") && e.contains("redis_keys_env"), "{e}");
        c.cache.redis_keys_env = Some("TESSERA_CACHE_KEYS".into());
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("not configuration"), "{e}");
        c.cache.redis_keys_env = Some("REDIS_CACHE_KEYS".into());
        c.validate().unwrap();
        c.cache.redis_keys_file = Some("/run/secrets/keys".into());
        assert!(c.validate().unwrap_err().to_string().contains("not both"));
        let shown = c.redacted_toml();
        assert!(!shown.contains("s3cret") && shown.contains("redis://"), "{shown}");
    }

    #[test]
    fn redaction_survives_passwords_with_separators() {
        // Percent-encoded, as a URL must carry them.
        let shown = redact_url_password("postgres://tessera:pa%2Fss%40w0rd@db:5432/tessera?sslmode=require");
        assert_eq!(shown, "postgres://tessera:[redacted]@db:5432/tessera?sslmode=require");
        // Raw separators make the URL unparseable: nothing of it is shown.
        for raw in ["postgres://tessera:pa/zz@db/tessera", "postgres://tessera:pa:zz@db/tessera", "not a url zz"] {
            let shown = redact_url_password(raw);
            assert!(!shown.contains("zz"), "{raw} → {shown}");
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment::Error
    fn file_and_env_layers_and_unknown_keys() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("t.toml", "[server]\nlisten = \"127.0.0.1:9000\"\n[cache]\nmax_entries = 5\n")?;
            jail.set_env("TESSERA_CACHE__MAX_ENTRIES", "7");
            let c = Config::load(Some(Path::new("t.toml"))).unwrap();
            assert_eq!(c.server.listen.port(), 9000);
            assert_eq!(c.cache.max_entries, 7, "environment overrides the file");
            assert_eq!(c.cache.expiry_margin_secs, 300, "defaults fill the rest");

            jail.create_file("bad.toml", "[server]\nlistne = \"x\"\n")?;
            let err = Config::load(Some(Path::new("bad.toml"))).unwrap_err().to_string();
            assert!(err.contains("listne"), "{err}");

            jail.set_env("TESSERA_CACHE__MAX_ENTIRES", "1");
            let err = Config::load(Some(Path::new("t.toml"))).unwrap_err().to_string();
            assert!(err.contains("max_entires"), "{err}");
            Ok(())
        });
    }
}
