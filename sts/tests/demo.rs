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

/// The demo's Power Pages site: a contact signs in on the site, the site's page asks the site for
/// the contact's token (same origin, cookie) and exchanges it at the STS — which allows the site's
/// origin — for an app-only token. No Entra sign-in, no popup.
#[tokio::test]
async fn demo_power_pages_site_gets_app_only_tokens() {
    sts::install_crypto_provider();
    let state = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let (_demo, info) = start(state.path()).await;
    let s = |k: &str| info[k].as_str().unwrap().to_owned();
    let site = s("portal_site");

    let page = http.get(&site).send().await.unwrap().text().await.unwrap();
    for expected in [s("sts"), s("app_only_workload"), s("portal_client_id")] {
        assert!(page.contains(&expected), "the page's settings lack {expected}");
    }
    let signed_in = http.post(format!("{site}SignIn")).form(&[("contact", s("portal_contact"))]).send().await.unwrap();
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let portal_token = http
        .post(format!("{site}_services/auth/token"))
        .header("cookie", cookie)
        .form(&[("client_id", s("portal_client_id").as_str()), ("state", "demo")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let origin = s("emulator_http");
    let r = http
        .post(format!("{}/token", s("sts")))
        .header("origin", &origin)
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ("subject_token", &portal_token),
            ("audience", &s("app_only_workload")),
            ("scope", &s("app_only_scope")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], origin.as_str(), "the site's origin may call /token");
    let body: Value = r.json().await.unwrap();
    use base64::Engine as _;
    let payload = body["access_token"].as_str().unwrap().split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["idtyp"], "app", "{claims}");
    assert_eq!(claims["roles"], serde_json::json!(["Reports.Read.All"]));
}
