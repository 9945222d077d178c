//! Self-hosting as `docker-compose.yml` describes it. The STS service's environment is read from
//! the compose file itself (and the image's from the `Dockerfile`), so the test and the files
//! cannot drift apart; the built `sts` binary then runs with exactly that environment and nothing
//! else. No container engine runs here, so three things are mapped, and only these: the volumes'
//! container paths to the repository's files, the database host to a fresh local test database,
//! and the listen address to a free loopback port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use registry::testing::TestDb;
use serde_norway::Value;

/// The one variable the compose file requires (`${TESSERA_DB_PASSWORD:?…}`); the others keep
/// their defaults, as for an operator who sets only what is required.
const HOST_ENV: [(&str, &str); 1] = [("TESSERA_DB_PASSWORD", "compose-test-password")];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The `sts` service of `docker-compose.yml`: environment (interpolated) and volumes.
struct Service {
    environment: BTreeMap<String, String>,
    /// (host path, container path).
    volumes: Vec<(PathBuf, String)>,
    /// Container paths of named volumes (state the container keeps, e.g. the audit spool).
    named_volumes: Vec<String>,
    command: Option<Vec<String>>,
}

fn compose_service(host_env: &HashMap<String, String>) -> Service {
    let text = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let service = &doc["services"]["sts"];
    assert!(service.is_mapping(), "docker-compose.yml has no `sts` service");
    let scalar = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => panic!("unexpected environment value {other:?}"),
    };
    let mut environment = BTreeMap::new();
    match &service["environment"] {
        Value::Mapping(m) => {
            for (k, v) in m {
                environment.insert(scalar(k), interpolate(&scalar(v), host_env));
            }
        }
        // The list form: `- KEY=value`.
        Value::Sequence(items) => {
            for item in items {
                let item = scalar(item);
                let (k, v) = item.split_once('=').unwrap_or((&item, ""));
                environment.insert(k.to_owned(), interpolate(v, host_env));
            }
        }
        Value::Null => {}
        other => panic!("unexpected environment {other:?}"),
    }
    let volumes = service["volumes"]
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| {
                    let v = v.as_str()?;
                    let mut parts = v.split(':');
                    let host = parts.next()?;
                    let container = parts.next()?;
                    // Bind mounts only (`./x:/y`); named volumes have no host path.
                    let relative = host.strip_prefix("./")?;
                    Some((repo().join(relative), container.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    let named_volumes = service["volumes"]
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| {
                    let (host, container) = v.as_str()?.split_once(':')?;
                    let container = container.split(':').next()?;
                    (!host.starts_with('.') && !host.starts_with('/')).then(|| container.to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    let command = match &service["command"] {
        Value::Null => None,
        Value::Sequence(s) => Some(s.iter().map(scalar).collect()),
        Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
        other => panic!("unexpected command {other:?}"),
    };
    Service { environment, volumes, named_volumes, command }
}

/// Compose's variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
/// `${VAR:?message}`, `${VAR?message}` and `$$`. Hand-written: no crate implements compose's
/// rules, and these are all of them.
fn interpolate(value: &str, env: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = r.find('}').unwrap_or_else(|| panic!("unclosed ${{ in {value:?}"));
            let expr = &r[..end];
            rest = &r[end + 1..];
            let name_end = expr.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(expr.len());
            let (name, op) = expr.split_at(name_end);
            let set = env.get(name).filter(|v| !v.is_empty());
            let unset_or_empty = set.is_none();
            let present = env.get(name);
            match op {
                "" => out.push_str(present.map_or("", String::as_str)),
                _ if op.starts_with(":-") => {
                    out.push_str(if unset_or_empty { &op[2..] } else { set.unwrap() });
                }
                _ if op.starts_with('-') => out.push_str(present.map_or(&op[1..], String::as_str)),
                _ if op.starts_with(":?") => {
                    out.push_str(set.unwrap_or_else(|| panic!("compose requires {name}: {}", &op[2..])));
                }
                _ if op.starts_with('?') => {
                    out.push_str(present.unwrap_or_else(|| panic!("compose requires {name}: {}", &op[1..])));
                }
                _ => panic!("unsupported interpolation ${{{expr}}} in {value:?}"),
            }
        } else {
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            out.push_str(env.get(&rest[..end]).map_or("", String::as_str));
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// The image's `ENV` variables and its `ENTRYPOINT` + `CMD` (exec form), from the `Dockerfile`'s
/// last stage.
fn dockerfile() -> (Vec<(String, String)>, Vec<String>) {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let last_stage = joined.rsplit_once("\nFROM ").map_or(joined.as_str(), |(_, s)| s);
    let mut env = Vec::new();
    let (mut entrypoint, mut cmd) = (Vec::new(), Vec::new());
    for line in last_stage.lines().map(str::trim) {
        let json = |s: &str| -> Vec<String> { serde_json::from_str(s.trim()).expect("exec form (JSON array)") };
        if let Some(rest) = line.strip_prefix("ENV ") {
            for pair in rest.split_whitespace() {
                let (k, v) = pair.split_once('=').expect("ENV KEY=value");
                env.push((k.to_owned(), v.trim_matches('"').to_owned()));
            }
        } else if let Some(rest) = line.strip_prefix("ENTRYPOINT ") {
            entrypoint = json(rest);
        } else if let Some(rest) = line.strip_prefix("CMD ") {
            cmd = json(rest);
        }
    }
    assert_eq!(entrypoint.first().map(String::as_str), Some("/usr/local/bin/sts"), "the image runs sts");
    (env, cmd)
}

/// The STS container's environment with the three mappings applied, and its command.
struct Container {
    env: BTreeMap<String, String>,
    command: Vec<String>,
    _dir: tempfile::TempDir,
}

fn container(db: &TestDb, listen: &str) -> Container {
    let host_env: HashMap<String, String> = HOST_ENV.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let service = compose_service(&host_env);
    let (image_env, cmd) = dockerfile();
    let command = service.command.clone().unwrap_or(cmd);

    // Image ENV first, then the compose environment over it (as a container engine does).
    let mut env: BTreeMap<String, String> = image_env.into_iter().collect();
    env.extend(service.environment.clone());

    let url = env.get("TESSERA_REGISTRY__DATABASE_URL").expect("compose sets the database URL").clone();
    assert_eq!(url, "postgres://tessera:compose-test-password@postgres:5432/tessera", "interpolated as compose does");
    env.insert("TESSERA_REGISTRY__DATABASE_URL".into(), db.url().to_owned());
    env.insert("TESSERA_SERVER__LISTEN".into(), listen.to_owned());
    assert_eq!(
        env.get("TESSERA_SERVER__METRICS_LISTEN").map(String::as_str),
        Some("0.0.0.0:9464"),
        "compose puts /metrics on the container network"
    );
    env.insert("TESSERA_SERVER__METRICS_LISTEN".into(), "127.0.0.1:0".to_owned());

    // Container paths → repository files. The configuration file is copied with the same mapping
    // applied to its text, so paths inside it resolve too.
    let dir = tempfile::tempdir().unwrap();
    // Named volumes → fresh directories of this test (never the machine's own /var/lib).
    let mut mounts = service.volumes.clone();
    for (i, container) in service.named_volumes.iter().enumerate() {
        let host = dir.path().join(format!("volume-{i}"));
        std::fs::create_dir_all(&host).unwrap();
        mounts.push((host, container.clone()));
    }
    let map_path = |value: &str| -> String {
        let mut value = value.to_owned();
        for (host, container) in &mounts {
            if value.starts_with(container.as_str()) {
                value = format!("{}{}", host.display(), &value[container.len()..]);
            }
        }
        value
    };
    for value in env.values_mut() {
        *value = map_path(value);
    }
    let config_file = PathBuf::from(env.get("TESSERA_CONFIG").expect("compose names the configuration file"));
    assert!(config_file.is_file(), "{} is mounted from the repository", config_file.display());
    let mut text = std::fs::read_to_string(&config_file).unwrap();
    for (host, container) in &service.volumes {
        text = text.replace(container.as_str(), &host.display().to_string());
    }
    let copy = dir.path().join("tessera.toml");
    std::fs::write(&copy, text).unwrap();
    env.insert("TESSERA_CONFIG".into(), copy.display().to_string());
    Container { env, command, _dir: dir }
}

fn sts(container: &Container, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sts"));
    cmd.env_clear().envs(&container.env).args(args).current_dir(std::env::temp_dir());
    cmd
}

fn run(container: &Container, args: &[&str]) -> Output {
    sts(container, args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kills the server when the test ends, however it ends.
struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_compose_environment_checks_and_serves_against_postgres() {
    sts::install_crypto_provider(); // for this test's own HTTP client
    let db = TestDb::postgres().await;
    let port = free_loopback_port();
    let c = container(&db, &format!("127.0.0.1:{port}"));

    let check = run(&c, &["config", "check"]);
    assert!(check.status.success(), "`sts config check` with the compose environment failed:\n{}", text(&check));
    let shown = String::from_utf8_lossy(&check.stdout);
    let migrations_dir = repo().join("operator-migrations");
    assert!(shown.contains(&format!("operator_migrations_dir = \"{}\"", migrations_dir.display())), "{shown}");
    assert!(shown.contains("migrate_on_start = true"), "{shown}");

    assert_eq!(c.command, ["serve"], "the service runs `sts serve`");
    let args: Vec<&str> = c.command.iter().map(String::as_str).collect();
    let child = sts(&c, &args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut server = Server(child);

    // A generous upper bound: start-up migrates a fresh database.
    let url = format!("http://127.0.0.1:{port}/readyz");
    let started = Instant::now();
    let status = loop {
        if let Some(exit) = server.0.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(server.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("`sts serve` exited with {exit} before it was ready:\n{stderr}");
        }
        if let Ok(r) = reqwest::get(&url).await {
            break r.status();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "`sts serve` did not listen within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 200, "/readyz");

    // Serving applied the schema (migrate_on_start) to the database compose points at.
    let migrations = db.store().migration_status(Some(&migrations_dir)).await.unwrap();
    assert!(migrations.is_up_to_date(), "{migrations:?}");

    // The image's health check runs with the same environment.
    let health = run(&c, &["healthcheck"]);
    assert!(health.status.success(), "`sts healthcheck`:\n{}", text(&health));
    drop(server);
    db.cleanup().await;
}

/// Every variable the compose file gives the STS is a configuration key (`TESSERA_*`, checked by
/// loading it above) or a secret that `deploy/tessera.toml` and the README name as
/// `pfx_password_env`, never a `TESSERA_*` one.
#[test]
fn compose_secrets_live_outside_the_configuration_namespace_and_the_files_agree() {
    let host_env: HashMap<String, String> = HOST_ENV.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let service = compose_service(&host_env);
    let deploy = std::fs::read_to_string(repo().join("deploy/tessera.toml")).unwrap();
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let secrets: Vec<&String> = service.environment.keys().filter(|k| !k.starts_with("TESSERA_")).collect();
    assert!(!secrets.is_empty(), "compose passes the PFX password in a variable of its own");
    for name in secrets {
        let named = format!("pfx_password_env = \"{name}\"");
        assert!(deploy.contains(&named), "deploy/tessera.toml does not name {name}");
        assert!(readme.contains(&named), "README.md does not name {name}");
    }
    for (host, container) in &service.volumes {
        assert!(host.exists(), "{} (mounted at {container}) is missing from the repository", host.display());
    }
    // A compose variable overrides the file's key even when empty, so the file must not set it.
    let file: toml::Table = toml::from_str(&deploy).unwrap();
    for name in service.environment.keys().filter_map(|k| k.strip_prefix("TESSERA_")) {
        let path: Vec<String> = name.split("__").map(str::to_ascii_lowercase).collect();
        let mut value = Some(&file);
        for (i, key) in path.iter().enumerate() {
            let found = value.and_then(|t| t.get(key));
            if i + 1 == path.len() {
                assert!(
                    found.is_none(),
                    "deploy/tessera.toml sets `{}`, which compose's TESSERA_{name} overrides",
                    path.join(".")
                );
            }
            value = found.and_then(toml::Value::as_table);
        }
    }
}

#[test]
fn interpolation_follows_compose() {
    let env: HashMap<String, String> =
        [("A", "1"), ("EMPTY", "")].iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    assert_eq!(interpolate("x${A}y$A", &env), "x1y1");
    assert_eq!(interpolate("${EMPTY:-d}|${EMPTY-d}|${NONE-d}|${NONE:-[]}", &env), "d||d|[]");
    assert_eq!(interpolate("$$A", &env), "$A");
    assert_eq!(interpolate("${A:?required}", &env), "1");
    assert!(std::panic::catch_unwind(|| interpolate("${NONE:?set NONE}", &env)).is_err());
}
