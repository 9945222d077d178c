//! `sts demo` as a user runs it: the real binary, an exchange through it, a clean stop, and a second
//! run that reuses the first one's state (same certificate, registry kept).
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start(state: &std::path::Path) -> (Demo, Value) {
    let info = state.join("info.json");
    let _ = std::fs::remove_file(&info);
    let child = Command::new(env!("CARGO_BIN_EXE_sts"))
        .args(["demo", "--no-page", "--sts-port", "0", "--emulator-port", "0", "--log-level", "warn"])
        .arg("--state-dir")
        .arg(state)
        .arg("--write-info")
        .arg(&info)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let demo = Demo(child);
    for _ in 0..300 {
        if let Ok(text) = std::fs::read_to_string(&info)
            && let Ok(v) = serde_json::from_str::<Value>(&text)
        {
            return (demo, v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sts demo did not write {}", info.display());
}

async fn exchange(http: &reqwest::Client, info: &Value) -> Value {
    let s = |k: &str| info[k].as_str().unwrap().to_owned();
    let minted: Value = http
        .post(format!("{}/_admin/tokens/user", s("emulator_http")))
        .json(&serde_json::json!({
            "tenant": s("tenant"), "user": s("user"), "client_app": s("client_app_id"),
            "broker_app": s("broker_app_id"), "scopes": ["access_as_user"]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!("{}/token", s("sts")))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ("subject_token", minted["access_token"].as_str().unwrap()),
            ("scope", &s("scope")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn demo_runs_exchanges_and_reuses_its_state() {
    sts::install_crypto_provider();
    let state = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (first, info) = start(state.path()).await;
    let body = exchange(&http, &info).await;
    assert_eq!(body["token_type"], "Bearer");
    let cert = std::fs::read_to_string(state.path().join("file-picker.cert.pem")).unwrap();
    drop(first);

    let (_second, info) = start(state.path()).await;
    assert_eq!(std::fs::read_to_string(state.path().join("file-picker.cert.pem")).unwrap(), cert, "certificate reused");
    exchange(&http, &info).await;
    let ready: Value =
        http.get(format!("{}/readyz", info["sts"].as_str().unwrap())).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
}
