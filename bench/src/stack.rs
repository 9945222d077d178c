//! What `sts demo --write-info` tells us, and the HTTP calls the benchmark makes to the stack:
//! the emulator's admin API (mint user tokens, counters, faults) and `POST /token`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use sts::{BackendToken, SubjectToken};

/// The `--write-info` JSON of `sts demo`.
#[derive(Debug, Clone, Deserialize)]
pub struct Info {
    pub sts: String,
    /// The STS's operators' listener: its `/metrics` URL.
    pub metrics: String,
    pub emulator_http: String,
    pub emulator_https: String,
    pub ca_file: PathBuf,
    pub tenant: String,
    pub user: String,
    pub broker_app_id: String,
    pub client_app_id: String,
    pub scope: String,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

/// One `/token` answer. The body holds a backend token: it is only ever measured and compared,
/// never printed.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The whole answer: on success it holds the backend token.
    pub body: BackendToken,
}

impl Answer {
    pub fn ensure_ok(&self, what: &str) -> anyhow::Result<()> {
        if self.status == 200 {
            return Ok(());
        }
        // An error body carries no token: safe to show.
        bail!("{what} answered HTTP {}: {}", self.status, self.body.expose())
    }

    /// The `access_token` of a success, for comparisons.
    pub fn access_token(&self) -> Option<BackendToken> {
        let v: Value = serde_json::from_str(self.body.expose()).ok()?;
        v["access_token"].as_str().map(BackendToken::new)
    }
}

/// `POST {base}/token` — Tessera's API, which the peer copies.
pub async fn exchange(
    http: &reqwest::Client,
    base: &str,
    subject: &SubjectToken,
    scope: &str,
) -> anyhow::Result<Answer> {
    let form = [
        ("grant_type", tessera_wire::grant_type::TOKEN_EXCHANGE),
        ("subject_token_type", tessera_wire::token_type::ACCESS_TOKEN),
        ("subject_token", subject.expose()),
        ("scope", scope),
    ];
    let r =
        http.post(format!("{base}/token")).form(&form).send().await.with_context(|| format!("POST {base}/token"))?;
    let status = r.status().as_u16();
    Ok(Answer { status, body: BackendToken::new(r.text().await?) })
}

/// The emulator's `/_admin` API.
#[derive(Debug, Clone)]
pub struct Emulator {
    http: reqwest::Client,
    info: Info,
}

impl Emulator {
    pub fn new(http: reqwest::Client, info: &Info) -> Self {
        Self { http, info: info.clone() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/_admin/{path}", self.info.emulator_http)
    }

    /// A fresh user token as the broker holds it: aud = the client app, azp = the broker,
    /// scp = access_as_user. Each call gives a different token (own `uti`, `iat`), so each is
    /// a cache miss at the STS.
    pub async fn user_token(&self) -> anyhow::Result<SubjectToken> {
        let body = json!({
            "tenant": self.info.tenant, "user": self.info.user,
            "client_app": self.info.client_app_id, "broker_app": self.info.broker_app_id,
            "scopes": ["access_as_user"], "version": 2, "lifetime_secs": 3600,
        });
        let r = self.http.post(self.url("tokens/user")).json(&body).send().await?;
        let status = r.status();
        let v: Value = r.json().await?;
        match v["access_token"].as_str() {
            Some(t) if status.is_success() => Ok(SubjectToken::new(t)),
            _ => bail!("minting a user token failed: HTTP {status} {}", v["error"]),
        }
    }

    /// On-behalf-of requests the emulator received from the client app.
    pub async fn obo_requests(&self) -> anyhow::Result<u64> {
        let v: Value = self.http.get(self.url("counters")).send().await?.error_for_status()?.json().await?;
        let client = self.info.client_app_id.to_ascii_lowercase();
        Ok(v["by_client_and_grant"][client.as_str()]["on_behalf_of"]["requests"].as_u64().unwrap_or(0))
    }

    pub async fn reset_counters(&self) -> anyhow::Result<()> {
        self.http.delete(self.url("counters")).send().await?.error_for_status()?;
        Ok(())
    }

    /// Delays every OBO answer for the client app by `millis` until cleared; returns the fault id.
    pub async fn delay_obo(&self, millis: u64) -> anyhow::Result<u64> {
        let spec = json!({
            "kind": "latency", "millis": millis, "client_id": self.info.client_app_id,
            "grant": "on_behalf_of", "duration": "until_cleared",
        });
        let v: Value = self.http.post(self.url("faults")).json(&spec).send().await?.error_for_status()?.json().await?;
        v["id"].as_u64().context("the emulator returned no fault id")
    }

    pub async fn clear_fault(&self, id: u64) -> anyhow::Result<()> {
        self.http.delete(self.url(&format!("faults/{id}"))).send().await?.error_for_status()?;
        Ok(())
    }
}
