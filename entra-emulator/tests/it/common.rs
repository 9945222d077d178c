//! Shared fixtures: a directory shaped like one Tessera workload, client certificates, a
//! client-assertion builder that can produce every form MSAL sends (and broken ones), and
//! small HTTP helpers. Each test starts its own emulator (no shared state between tests).

use std::sync::OnceLock;

use base64::Engine as _;
use entra_emulator::{
    AppConfig, AppRoleGrantConfig, CertificateConfig, ConsentConfig, Emulator, EmulatorConfig, RunningEmulator,
    ServerConfig, TenantConfig, UserConfig, UserTokenRequest,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha1::Digest as _;

pub const TENANT: &str = "11111111-1111-1111-1111-111111111111";
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
pub const OTHER_TENANT: &str = "22222222-2222-2222-2222-222222222222";
pub const USER_OID: &str = "aaaaaaaa-0000-0000-0000-000000000001";
pub const USER_UPN: &str = "adele@contoso.onmicrosoft.com";
pub const USER2_OID: &str = "aaaaaaaa-0000-0000-0000-000000000002";
pub const USER2_UPN: &str = "bob@contoso.onmicrosoft.com";
pub const BROKER: &str = "bbbbbbbb-0000-0000-0000-00000000000b";
pub const CLIENT: &str = "cccccccc-0000-0000-0000-00000000000c";
pub const GRAPH: &str = "00000003-0000-0000-c000-000000000000";
pub const GRAPH_URI: &str = "https://graph.microsoft.com";
pub const BACKEND: &str = "dddddddd-0000-0000-0000-00000000000d";
pub const SPA_REDIRECT: &str = "https://apps.powerapps.com/tessera/redirect";
pub const SPA_ORIGIN: &str = "https://apps.powerapps.com";
pub const WEB_REDIRECT: &str = "https://picker.example/callback";

/// An RSA client certificate with its private key.
pub struct ClientCert {
    pub pem: String,
    pub der: Vec<u8>,
    key: aws_lc_rs::signature::RsaKeyPair,
}

impl ClientCert {
    fn generate(expired: bool) -> Self {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, "tessera test client");
        let now = time::OffsetDateTime::now_utc();
        if expired {
            params.not_before = now - time::Duration::days(30);
            params.not_after = now - time::Duration::days(1);
        } else {
            params.not_before = now - time::Duration::days(1);
            params.not_after = now + time::Duration::days(30);
        }
        let cert = params.self_signed(&kp).unwrap();
        let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&kp.serialize_der()).unwrap();
        Self { pem: cert.pem(), der: cert.der().to_vec(), key }
    }

    pub fn sha1(&self) -> Vec<u8> {
        sha1::Sha1::digest(&self.der).to_vec()
    }

    pub fn sha256(&self) -> Vec<u8> {
        sha2::Sha256::digest(&self.der).to_vec()
    }

    pub fn config(&self) -> CertificateConfig {
        CertificateConfig { pem: Some(self.pem.clone()), ..Default::default() }
    }

    /// Signs any header and payload JSON with this certificate's key (PS256 unless the header's
    /// `alg` is RS256): for assertions with hostile claims.
    pub fn sign_jws(&self, header: &Value, payload: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes(), false),
            b64url(payload.to_string().as_bytes(), false)
        );
        let padding: &'static dyn aws_lc_rs::signature::RsaEncoding = match header["alg"].as_str() {
            Some("RS256") => &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            _ => &aws_lc_rs::signature::RSA_PSS_SHA256,
        };
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key.sign(padding, &aws_lc_rs::rand::SystemRandom::new(), input.as_bytes(), &mut sig).unwrap();
        format!("{input}.{}", b64url(&sig, false))
    }
}

/// Registered, unregistered and expired certificates, generated once per test binary (RSA
/// key generation is the slow part).
pub fn certs() -> &'static [ClientCert; 3] {
    static CERTS: OnceLock<[ClientCert; 3]> = OnceLock::new();
    CERTS.get_or_init(|| [ClientCert::generate(false), ClientCert::generate(false), ClientCert::generate(true)])
}

pub fn registered() -> &'static ClientCert {
    &certs()[0]
}

pub fn unregistered() -> &'static ClientCert {
    &certs()[1]
}

pub fn expired_cert() -> &'static ClientCert {
    &certs()[2]
}

/// One tenant with a broker SPA, a workload client app (certificate, known client = broker),
/// Microsoft Graph (v1 tokens) and a vendor backend (v2 tokens); the client app is consented.
pub fn tenant_config() -> TenantConfig {
    TenantConfig {
        id: TENANT.into(),
        domains: vec![TENANT_DOMAIN.into()],
        display_name: "Contoso".into(),
        users: vec![
            UserConfig {
                oid: USER_OID.into(),
                upn: USER_UPN.into(),
                name: "Adele Vance".into(),
                given_name: Some("Adele".into()),
                family_name: Some("Vance".into()),
                ..Default::default()
            },
            UserConfig { oid: USER2_OID.into(), upn: USER2_UPN.into(), name: "Bob".into(), ..Default::default() },
        ],
        apps: vec![
            AppConfig {
                client_id: BROKER.into(),
                display_name: "Tessera broker".into(),
                spa_redirect_uris: vec![SPA_REDIRECT.into()],
                access_token_version: Some(2),
                ..Default::default()
            },
            AppConfig {
                client_id: CLIENT.into(),
                display_name: "File picker".into(),
                web_redirect_uris: vec![WEB_REDIRECT.into()],
                identifier_uris: vec![format!("api://{CLIENT}")],
                scopes: vec!["access_as_user".into()],
                known_client_apps: vec![BROKER.into()],
                required_scopes: vec![
                    format!("{GRAPH_URI}/Files.Read"),
                    format!("{GRAPH_URI}/User.Read"),
                    "api://backend/data.read".into(),
                ],
                access_token_version: Some(2),
                certificates: vec![registered().config(), expired_cert().config()],
                ..Default::default()
            },
            AppConfig {
                client_id: GRAPH.into(),
                display_name: "Microsoft Graph".into(),
                identifier_uris: vec![GRAPH_URI.into()],
                scopes: vec!["User.Read".into(), "Files.Read".into(), "Mail.Read".into()],
                app_roles: vec!["Files.Read.All".into()],
                access_token_version: None,
                ..Default::default()
            },
            AppConfig {
                client_id: BACKEND.into(),
                display_name: "Vendor API".into(),
                identifier_uris: vec!["api://backend".into()],
                scopes: vec!["data.read".into(), "data.write".into()],
                app_roles: vec!["Data.Read.All".into()],
                access_token_version: Some(2),
                ..Default::default()
            },
        ],
        consents: vec![
            ConsentConfig {
                client_id: CLIENT.into(),
                resource: GRAPH_URI.into(),
                scopes: vec!["Files.Read".into(), "User.Read".into()],
            },
            ConsentConfig {
                client_id: CLIENT.into(),
                resource: "api://backend".into(),
                scopes: vec!["data.read".into()],
            },
            ConsentConfig { client_id: BROKER.into(), resource: GRAPH_URI.into(), scopes: vec!["User.Read".into()] },
        ],
        app_role_grants: vec![AppRoleGrantConfig {
            client_id: CLIENT.into(),
            resource: GRAPH.into(),
            roles: vec!["Files.Read.All".into()],
        }],
    }
}

pub fn config() -> EmulatorConfig {
    EmulatorConfig {
        server: ServerConfig { admin_api: true, ..Default::default() },
        tenants: vec![
            tenant_config(),
            TenantConfig { id: OTHER_TENANT.into(), display_name: "Fabrikam".into(), ..Default::default() },
        ],
        sites: Vec::new(),
    }
}

/// A started emulator plus an HTTP client that trusts its CA and does not follow redirects.
pub struct Env {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
}

impl Env {
    pub async fn start() -> Self {
        Self::start_with(config()).await
    }

    pub async fn start_with(config: EmulatorConfig) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let emu = Emulator::start(config).await.unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { emu, http }
    }

    pub fn base(&self) -> String {
        self.emu.http_base()
    }

    pub fn token_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base())
    }

    pub fn now(&self) -> i64 {
        self.emu.admin().now().unix_timestamp()
    }

    /// POSTs a form to the token endpoint of `tenant`.
    pub async fn token(&self, tenant: &str, form: &[(&str, &str)]) -> Reply {
        self.token_with_origin(tenant, form, None).await
    }

    pub async fn token_with_origin(&self, tenant: &str, form: &[(&str, &str)], origin: Option<&str>) -> Reply {
        let mut req = self.http.post(self.token_endpoint(tenant)).form(form);
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        Reply::from(req.send().await.unwrap()).await
    }

    /// A valid assertion for the registered certificate, for this emulator's token endpoint.
    pub fn assertion(&self) -> String {
        Assertion::new(self, registered()).sign()
    }

    /// A v2 user token for the client app, issued to the broker, with `access_as_user`.
    pub fn user_token(&self) -> String {
        self.user_token_with(UserTokenRequest { ..self.user_token_request() })
    }

    pub fn user_token_request(&self) -> UserTokenRequest {
        UserTokenRequest {
            tenant: TENANT.into(),
            user: USER_UPN.into(),
            client_app: CLIENT.into(),
            broker_app: BROKER.into(),
            scopes: vec!["access_as_user".into()],
            ..Default::default()
        }
    }

    pub fn user_token_with(&self, req: UserTokenRequest) -> String {
        self.emu.admin().issue_user_token(req).unwrap()
    }

    /// An OBO request form for `scope` with `assertion` as the user token.
    pub async fn obo(&self, user_token: &str, scope: &str) -> Reply {
        let client_assertion = self.assertion();
        self.token(TENANT, &obo_form(&client_assertion, user_token, scope)).await
    }
}

pub fn obo_form<'a>(client_assertion: &'a str, user_token: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("client_id", CLIENT),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", client_assertion),
        ("assertion", user_token),
        ("scope", scope),
        ("requested_token_use", "on_behalf_of"),
    ]
}

pub fn client_credentials_form<'a>(client_assertion: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", client_assertion),
        ("scope", scope),
    ]
}

/// A token endpoint answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn from(resp: reqwest::Response) -> Self {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Self { status, headers, body }
    }

    /// Asserts an Entra error: status, `error`, the AADSTS code, and the full body shape.
    pub fn assert_error(&self, status: u16, error: &str, code: u64) {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        assert_eq!(self.body["error"], error, "{:#}", self.body);
        assert_eq!(self.body["error_codes"], json!([code]), "{:#}", self.body);
        let description = self.body["error_description"].as_str().unwrap();
        assert!(description.starts_with(&format!("AADSTS{code}: ")), "{description}");
        assert!(
            description.contains("\r\nTrace ID: ") && description.contains("\r\nCorrelation ID: "),
            "{description}"
        );
        for field in ["timestamp", "trace_id", "correlation_id"] {
            assert!(self.body[field].is_string(), "missing {field}");
        }
    }

    pub fn access_token_claims(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{:#}", self.body);
        claims(self.body["access_token"].as_str().unwrap())
    }
}

/// The payload of a JWT, unverified.
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub fn header(jwt: &str) -> Value {
    let h = jwt.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

pub fn b64url(bytes: &[u8], padded: bool) -> String {
    if padded {
        base64::engine::general_purpose::URL_SAFE.encode(bytes)
    } else {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// Which thumbprint header to send.
#[derive(Debug, Clone, Copy)]
pub enum Thumb {
    S256,
    Sha1,
}

/// How to encode time claims.
#[derive(Debug, Clone, Copy)]
pub enum Times {
    Int,
    Float,
    String,
}

/// A client assertion under construction; defaults to the strict, preferred form.
pub struct Assertion<'a> {
    cert: &'a ClientCert,
    pub alg: &'static str,
    pub thumb: Thumb,
    pub padded_thumb: bool,
    pub times: Times,
    pub aud: Value,
    pub iss: String,
    pub sub: String,
    pub now: i64,
    pub exp_offset: i64,
    pub nbf: bool,
    pub iat: bool,
    pub extra_header: Vec<(&'static str, Value)>,
}

impl<'a> Assertion<'a> {
    pub fn new(env: &Env, cert: &'a ClientCert) -> Self {
        // Times relative to the emulator's clock, so advancing it ages assertions.
        Self {
            cert,
            alg: "PS256",
            thumb: Thumb::S256,
            padded_thumb: false,
            times: Times::Int,
            aud: json!(env.token_endpoint(TENANT)),
            iss: CLIENT.into(),
            sub: CLIENT.into(),
            now: env.now(),
            exp_offset: 600,
            nbf: true,
            iat: true,
            extra_header: Vec::new(),
        }
    }

    fn time(&self, t: i64) -> Value {
        match self.times {
            Times::Int => json!(t),
            Times::Float => json!(t as f64 + 0.123),
            Times::String => json!(t.to_string()),
        }
    }

    pub fn sign(&self) -> String {
        let mut header = json!({ "alg": self.alg, "typ": "JWT" });
        match self.thumb {
            Thumb::S256 => header["x5t#S256"] = json!(b64url(&self.cert.sha256(), self.padded_thumb)),
            Thumb::Sha1 => header["x5t"] = json!(b64url(&self.cert.sha1(), self.padded_thumb)),
        }
        for (k, v) in &self.extra_header {
            header[*k] = v.clone();
        }
        let mut payload = json!({
            "aud": self.aud,
            "iss": self.iss,
            "sub": self.sub,
            "jti": uuid::Uuid::new_v4().to_string(),
            "exp": self.time(self.now + self.exp_offset),
        });
        if self.nbf {
            payload["nbf"] = self.time(self.now);
        }
        if self.iat {
            payload["iat"] = self.time(self.now);
        }
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes(), false),
            b64url(payload.to_string().as_bytes(), false)
        );
        let padding: &'static dyn aws_lc_rs::signature::RsaEncoding = match self.alg {
            "RS256" => &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            _ => &aws_lc_rs::signature::RSA_PSS_SHA256,
        };
        let mut sig = vec![0; self.cert.key.public_modulus_len()];
        self.cert.key.sign(padding, &aws_lc_rs::rand::SystemRandom::new(), input.as_bytes(), &mut sig).unwrap();
        format!("{input}.{}", b64url(&sig, false))
    }
}
