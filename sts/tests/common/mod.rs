//! A real STS (in-process, on a loopback port) + the real entra-emulator + a fresh PostgreSQL
//! database per test. Nothing is mocked: the STS talks HTTP to the emulator exactly as it would
//! talk to Entra.
#![allow(dead_code, unused_imports, clippy::unwrap_used)] // each test binary uses a different part

use std::path::PathBuf;

use entra_emulator::{Emulator, GrantKind, RunningEmulator, UserTokenRequest};
use registry::demo;
use registry::testing::TestDb;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use sts::AppState;
use sts::demo_directory as directory;
use sts::{Config, CredentialConfig};
use sts::{Generated, generate_self_signed_with_validity};

pub mod private_pg;

pub const TENANT: &str = demo::TENANT_ID;
pub const OTHER_TENANT: &str = demo::OTHER_TENANT_ID;
pub const BROKER: &str = demo::BROKER_APP_ID;
pub const CLIENT: &str = demo::FILE_PICKER_CLIENT_APP_ID;
pub use sts::demo_directory::{OTHER_BROKER, USER_OID};
pub const FILES_READ: &str = "https://graph.microsoft.com/Files.Read";
pub const USER_READ: &str = "https://graph.microsoft.com/User.Read";

/// Knobs a test may turn before start.
#[derive(Debug, Clone)]
pub struct Options {
    /// Certificates of the client app, newest first by `not_before` (index 0 is the newest).
    pub certificates: usize,
    /// Token version Graph accepts in the emulator.
    pub backend_token_version: u8,
    pub cache_expiry_margin_secs: u64,
    pub upstream_retries: u32,
    /// Authority override (e.g. a closed port to test network failures).
    pub authority: Option<String>,
    /// Talk to the emulator over HTTPS (its CA trusted through `entra.extra_ca_file`); the
    /// authority is its HTTPS base unless `authority` says otherwise.
    pub https: bool,
    /// Last word on the STS's configuration, applied after everything above.
    pub configure: fn(&mut Config),
    /// Last word on the emulator's configuration.
    pub emulator: fn(&mut entra_emulator::EmulatorConfig),
    /// Certificates (by index) configured in the STS but given no `client_certificates` row.
    pub unreferenced_certificates: Vec<usize>,
    /// PostgreSQL server for the test database (e.g. a [`private_pg::PrivatePg`] the test stops
    /// and starts); the shared one when `None`.
    pub pg_admin_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            certificates: 1,
            backend_token_version: 2,
            cache_expiry_margin_secs: 300,
            upstream_retries: 2,
            authority: None,
            https: false,
            configure: |_| {},
            emulator: |_| {},
            unreferenced_certificates: Vec::new(),
            pg_admin_url: None,
        }
    }
}

pub struct Harness {
    pub emulator: RunningEmulator,
    pub db: TestDb,
    pub state: AppState,
    pub base: String,
    /// The operators' listener (`server.metrics_listen`): `{metrics_base}/metrics`.
    pub metrics_base: String,
    pub http: reqwest::Client,
    pub certs: Vec<Generated>,
    /// The configuration the STS was built from (peers are built from it too).
    pub config: Config,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        sts::install_crypto_provider();
        let now = sts::unix_now();
        // Newest first: certificate i became valid i days ago.
        let certs: Vec<Generated> = (0..options.certificates)
            .map(|i| {
                let nb = now - 3600 - 86_400 * i64::try_from(i).unwrap();
                generate_self_signed_with_validity(&format!("file-picker-{i}"), nb, now + 90 * 86_400).unwrap()
            })
            .collect();
        let pems: Vec<String> = certs.iter().map(|c| c.cert_pem().to_owned()).collect();
        let mut config = directory::emulator_config(
            &pems,
            &["http://127.0.0.1/redirect.html".to_owned()],
            options.backend_token_version,
        );
        (options.emulator)(&mut config);
        let emulator = Emulator::start(config).await.unwrap();

        let db = match &options.pg_admin_url {
            Some(url) => TestDb::postgres_at(url).await,
            None => TestDb::postgres().await,
        };
        db.store().migrate(None).await.unwrap();
        db.store().migrate_demo().await.unwrap();
        // The STS signs only with certificates the registry references: register the generated
        // ones, as an operator's migration would (the demo registry's own row is a placeholder).
        for (i, c) in certs.iter().enumerate().filter(|(i, _)| !options.unreferenced_certificates.contains(i)) {
            let sql = format!(
                "INSERT INTO client_certificates (client_app_id, thumbprint_sha256, description, added_at) \
                 VALUES ('{CLIENT}', '{}', 'test certificate {i}', '2026-01-01T00:00:00Z')",
                c.info().sha256_hex()
            );
            db.store().execute_script(&sql).await.unwrap();
        }

        let dir = tempfile::tempdir().unwrap();
        let mut credentials = Vec::new();
        for (i, c) in certs.iter().enumerate() {
            let cert_path = dir.path().join(format!("c{i}.cert.pem"));
            let key_path = dir.path().join(format!("c{i}.key.pem"));
            std::fs::write(&cert_path, c.cert_pem()).unwrap();
            std::fs::write(&key_path, c.key_pem().expose()).unwrap();
            credentials.push(CredentialConfig {
                client_app_id: CLIENT.into(),
                cert_pem: Some(cert_path),
                key_pem: Some(key_path),
                ..Default::default()
            });
        }
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.registry.database_url = Some(db.url().to_owned());
        config.registry.sqlite_path = PathBuf::from("/nonexistent");
        let default_authority = if options.https { emulator.https_base() } else { emulator.http_base() };
        config.entra.authority =
            options.authority.clone().unwrap_or(default_authority).parse().expect("a valid authority");
        if options.https {
            let ca = dir.path().join("emulator-ca.pem");
            std::fs::write(&ca, emulator.ca_pem()).unwrap();
            config.entra.extra_ca_file = Some(ca);
        }
        config.entra.broker_app_id = Some(BROKER.into());
        config.entra.upstream_retries = options.upstream_retries;
        config.cache.expiry_margin_secs = options.cache_expiry_margin_secs;
        config.server.cors_origins = vec!["https://*.crm4.dynamics.com".parse().unwrap()];
        config.credentials = credentials;
        (options.configure)(&mut config);
        config.audit.spool_dir = dir.path().join("audit-spool");

        let state = sts::build_state(config.clone()).await.unwrap();
        let listeners = sts::Listeners {
            public: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            metrics: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let base = format!("http://{}", listeners.public.local_addr().unwrap());
        let metrics_base = format!("http://{}", listeners.metrics.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let served = tokio::spawn(sts::serve(listeners, state.clone(), async {
            let _ = rx.await;
        }));
        Self {
            emulator,
            db,
            state,
            base,
            metrics_base,
            http: reqwest::Client::new(),
            certs,
            config,
            _dir: dir,
            shutdown: Some(tx),
            served: Some(served),
        }
    }

    /// A user token as the broker would hold it (aud = the file-picker client app).
    pub fn user_token(&self, edit: impl FnOnce(&mut UserTokenRequest)) -> String {
        let mut req = UserTokenRequest {
            tenant: TENANT.into(),
            user: USER_OID.into(),
            client_app: CLIENT.into(),
            broker_app: BROKER.into(),
            scopes: vec!["access_as_user".into()],
            version: 2,
            ..Default::default()
        };
        edit(&mut req);
        self.emulator.admin().issue_user_token(req).unwrap()
    }

    /// `POST /token` with the standard fields plus `extra`.
    pub async fn exchange(&self, subject_token: &str, scope: &str, extra: &[(&str, &str)]) -> Answer {
        self.exchange_on(&self.http, subject_token, scope, extra).await
    }

    /// [`Self::exchange`] through a client of the test's own (e.g. one that keeps no connection).
    pub async fn exchange_on(
        &self,
        http: &reqwest::Client,
        subject_token: &str,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut form = vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("subject_token", subject_token),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ("scope", scope),
        ];
        form.extend_from_slice(extra);
        let r = http.post(format!("{}/token", self.base)).form(&form).send().await.unwrap();
        Answer::read(r).await
    }

    /// Signals shutdown (as SIGTERM would) and resolves when `serve` has returned: connections
    /// drained or dropped, audit flushed.
    pub async fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.unwrap().unwrap();
        }
    }

    /// The `host:port` the STS listens on.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    pub fn obo_requests(&self) -> u64 {
        self.emulator.admin().counters().requests(GrantKind::OnBehalfOf, CLIENT)
    }

    /// Applies SQL to the registry and reloads the STS's snapshot.
    pub async fn registry_sql(&self, sql: &str) {
        self.db.store().execute_script(sql).await.unwrap();
        assert!(self.state.registry.refresh(true).await);
    }
}

/// Another STS instance on the same registry database, emulator and certificates (its own port,
/// memory cache and audit spool): a replica behind a load balancer.
pub struct Peer {
    pub state: AppState,
    pub base: String,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Harness {
    /// Starts a peer with this STS's configuration, adjusted by `configure`.
    pub async fn peer(&self, configure: impl FnOnce(&mut Config)) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = self.config.clone();
        config.audit.spool_dir = dir.path().join("audit-spool");
        configure(&mut config);
        let state = sts::build_state(config).await.unwrap();
        let listeners = sts::Listeners {
            public: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            metrics: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let base = format!("http://{}", listeners.public.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(sts::serve(listeners, state.clone(), async {
            let _ = rx.await;
        }));
        Peer { state, base, _dir: dir, shutdown: Some(tx) }
    }

    /// `POST /token` at `base` (this STS or a peer) through `http`.
    pub async fn exchange_at(&self, http: &reqwest::Client, base: &str, subject_token: &str, scope: &str) -> Answer {
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("subject_token", subject_token),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ("scope", scope),
        ];
        let r = http.post(format!("{base}/token")).form(&form).send().await.unwrap();
        Answer::read(r).await
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// One HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub async fn read(r: reqwest::Response) -> Self {
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.json().await.unwrap_or(Value::Null);
        Self { status, headers, body }
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    pub fn description(&self) -> &str {
        self.body["error_description"].as_str().unwrap_or("")
    }

    pub fn access_token(&self) -> &str {
        self.body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token in {:?} {}", self.status, self.body))
    }

    /// The claims of the issued backend token (not verified: the emulator made it).
    pub fn token_claims(&self) -> Value {
        use base64::Engine;
        let payload = self.access_token().split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }
}
