//! Several STS instances on one Redis and one PostgreSQL (issue 15): three in-process servers on
//! loopback (each its own port, memory cache, Redis connection and registry listener), the real
//! entra-emulator counting upstream calls, the machine's Redis (database 15, a key prefix per test,
//! deleted by the test) or a `redis-server` the test starts and stops itself.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use entra_emulator::faults::{FaultKind, FaultSpec};
use reqwest::StatusCode;
use sts::Config;

/// The machine's Redis, database 15: these tests' own; each test keeps to its own key prefix.
const SHARED_REDIS: &str = "redis://127.0.0.1:6379/15";

/// A place in Redis for one test: its URL, its key prefix, the key file the STS instances share.
struct Space {
    url: String,
    prefix: String,
    keys: tempfile::TempDir,
}

impl Space {
    fn new(url: &str) -> Self {
        let keys = tempfile::tempdir().unwrap();
        let key: Vec<u8> = (0..32).map(|_| rand_byte()).collect();
        let line = format!("k1 {}\n", base64::engine::general_purpose::STANDARD.encode(key));
        std::fs::write(keys.path().join("keys"), line).unwrap();
        Self { url: url.to_owned(), prefix: format!("tessera-test-{}:", uuid::Uuid::new_v4().simple()), keys }
    }

    /// Points an STS configuration at this space.
    fn configure(&self, c: &mut Config) {
        c.cache.redis_url = Some(self.url.clone());
        c.cache.redis_keys_file = Some(self.keys.path().join("keys"));
        c.cache.redis_prefix = self.prefix.clone();
    }

    async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap()
    }

    /// Every key of this space with its value (a string's bytes, or a set's members joined).
    async fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let mut conn = self.conn().await;
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{}*", self.prefix)).query_async(&mut conn).await.unwrap();
        let mut out = Vec::new();
        for k in keys {
            let kind: String = redis::cmd("TYPE").arg(&k).query_async(&mut conn).await.unwrap();
            let value = match kind.as_str() {
                "string" => redis::cmd("GET").arg(&k).query_async::<Vec<u8>>(&mut conn).await.unwrap(),
                "set" => redis::cmd("SMEMBERS")
                    .arg(&k)
                    .query_async::<Vec<String>>(&mut conn)
                    .await
                    .unwrap()
                    .join(" ")
                    .into_bytes(),
                _ => Vec::new(),
            };
            out.push((k, value));
        }
        out
    }

    async fn entries(&self) -> usize {
        self.dump().await.iter().filter(|(k, _)| k.starts_with(&format!("{}tok:", self.prefix))).count()
    }

    async fn cleanup(&self) {
        let mut conn = self.conn().await;
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{}*", self.prefix)).query_async(&mut conn).await.unwrap();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL").arg(keys).query_async(&mut conn).await.unwrap();
        }
    }
}

/// A test that fails before its `cleanup` still leaves nothing behind (every key has a TTL too).
impl Drop for Space {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else { return };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(500)) else { return };
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{}*", self.prefix)).query(&mut conn).unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

fn rand_byte() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

/// A `redis-server` of the test's own, on a free loopback port, killed on drop.
struct OwnRedis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl OwnRedis {
    async fn start(port: Option<u16>) -> Self {
        let port = port.unwrap_or_else(|| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        });
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/setup.sh)");
        let this = Self { child, port, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let up = async {
                let mut c =
                    redis::Client::open(this.url().as_str()).ok()?.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING").query_async::<String>(&mut c).await.ok()
            };
            if up.await.is_some() {
                return this;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill {sig}");
    }

    fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three instances on `space` (the harness's own STS stays idle: it has no Redis). Redis calls
/// may take up to 2 s here: on a loaded test machine a slow call would (rightly) make an instance
/// go on without Redis, which is the outage test's subject, not the others'.
async fn three(h: &Harness, space: &Space, extra: fn(&mut Config)) -> Vec<Peer> {
    let mut peers = Vec::new();
    for _ in 0..3 {
        peers.push(
            h.peer(|c| {
                space.configure(c);
                c.cache.redis_timeout_ms = 2_000;
                extra(c);
            })
            .await,
        );
    }
    peers
}

async fn readyz(http: &reqwest::Client, base: &str) -> serde_json::Value {
    http.get(format!("{base}/readyz")).send().await.unwrap().json().await.unwrap()
}

/// Polls `cond` every 10 ms until it holds or `within` passes; returns how long it took.
async fn until<F, Fut>(within: Duration, what: &str, mut cond: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if cond().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_token_fetched_at_one_instance_is_a_hit_at_the_others_and_redis_holds_no_jwt() {
    let h = Harness::start().await;
    let space = Space::new(SHARED_REDIS);
    let n = three(&h, &space, |_| {}).await;
    let user = h.user_token(|_| {});

    let a = h.exchange_at(&h.http, &n[0].base, &user, FILES_READ).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(h.obo_requests(), 1);
    for peer in &n[1..] {
        let b = h.exchange_at(&h.http, &peer.base, &user, FILES_READ).await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.body);
        assert_eq!(b.access_token(), a.access_token(), "the token A fetched");
        assert_eq!(peer.state.metrics.cache_shared_hits.get(), 1, "served from Redis");
    }
    assert_eq!(h.obo_requests(), 1, "no extra upstream call at B or C");
    // B's second ask is a memory hit (no Redis call on an L1 hit: the shared-hit count stays).
    let again = h.exchange_at(&h.http, &n[1].base, &user, FILES_READ).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(n[1].state.metrics.cache_shared_hits.get(), 1);
    assert_eq!(n[1].state.metrics.cache_hits.get(), 2);

    // What Redis holds: an entry, its index sets; no JWT, token, user or tenant anywhere.
    let dump = space.dump().await;
    assert!(space.entries().await == 1 && dump.len() >= 3, "{:?}", dump.iter().map(|(k, _)| k).collect::<Vec<_>>());
    let claims = a.token_claims();
    let oid = claims["oid"].as_str().unwrap_or(USER_OID);
    for (key, value) in &dump {
        let value = String::from_utf8_lossy(value);
        for needle in ["eyJ", a.access_token(), &user, oid, USER_OID, TENANT, "graph.microsoft.com"] {
            assert!(!key.contains(needle), "key {key} holds {needle:.20}");
            assert!(!value.contains(needle), "value of {key} holds {needle:.20}");
        }
        // A JWT is three base64url parts separated by dots: none, in any spelling.
        assert!(!looks_like_jwt(key) && !looks_like_jwt(&value), "{key}");
    }
    space.cleanup().await;
}

fn looks_like_jwt(s: &str) -> bool {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')).any(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        parts.len() == 3 && parts[0].len() > 10 && parts[1].len() > 10
    })
}

/// 3 instances × 64 concurrent identical misses, the first upstream answer held back 300 ms by the
/// emulator and every request released at once by a barrier: exactly one upstream call. Without
/// the cross-instance lock each instance fetches its own (3 calls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_misses_at_three_instances_make_one_upstream_call() {
    let h = Harness::start().await;
    let space = Space::new(SHARED_REDIS);
    let n = three(&h, &space, |_| {}).await;
    let user = h.user_token(|_| {});
    h.emulator.admin().inject_fault(FaultSpec::new(FaultKind::Latency { millis: 300 }));
    let h = Arc::new(h);
    let barrier = Arc::new(tokio::sync::Barrier::new(3 * 64));
    let mut tasks = Vec::new();
    for peer in &n {
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
        for _ in 0..64 {
            let (h, barrier, http, base, user) =
                (Arc::clone(&h), Arc::clone(&barrier), http.clone(), peer.base.clone(), user.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let a = h.exchange_at(&http, &base, &user, FILES_READ).await;
                assert_eq!(a.status, StatusCode::OK, "{}", a.body);
                a.access_token().to_owned()
            }));
        }
    }
    let mut tokens = std::collections::BTreeSet::new();
    for t in tasks {
        tokens.insert(t.await.unwrap());
    }
    for p in &n {
        let errors: u64 = ["get", "lock", "put", "unlock"]
            .iter()
            .map(|op| p.state.metrics.redis_errors.get_or_create(&vec![("op".into(), (*op).into())]).get())
            .sum();
        assert_eq!(errors, 0, "Redis answered every call in time");
    }
    assert_eq!(tokens.len(), 1, "everyone got the one token");
    assert_eq!(h.obo_requests(), 1, "one upstream call for 3 × 64 identical misses");
    let waits: i64 = n.iter().map(|p| p.state.metrics.cache_shared_waits.get() as i64).sum();
    assert_eq!(waits, 2, "the two instances that did not fetch waited for the one that did");
    space.cleanup().await;
}

/// A lock whose holder died (it never releases) delays the others by the lock's lifetime, then
/// one of them fetches.
#[tokio::test]
async fn a_dead_lock_holder_is_released_by_the_lock_ttl() {
    let h = Harness::start().await;
    let space = Space::new(SHARED_REDIS);
    let n = three(&h, &space, |c| c.cache.redis_lock_ms = 600).await;
    let user = h.user_token(|_| {});
    let slot = sts::cache_key(&user, CLIENT, &[FILES_READ.to_owned()]);
    let mut conn = space.conn().await;
    let _: () = redis::cmd("SET")
        .arg(format!("{}lock:{slot}", space.prefix))
        .arg("a-holder-that-died")
        .arg("PX")
        .arg(600)
        .query_async(&mut conn)
        .await
        .unwrap();
    let started = Instant::now();
    let (a, b) = tokio::join!(
        h.exchange_at(&h.http, &n[0].base, &user, FILES_READ),
        h.exchange_at(&h.http, &n[1].base, &user, FILES_READ)
    );
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK), "{} {}", a.body, b.body);
    assert!(started.elapsed() >= Duration::from_millis(400), "they waited for the lock: {:?}", started.elapsed());
    assert_eq!(h.obo_requests(), 1, "then one of them fetched, the other read its entry");
    space.cleanup().await;
}

/// Redis slow (SIGSTOP), then gone (killed) in the middle of a load of hits and misses at three
/// instances: no request fails, `/readyz` says degraded naming Redis, the metric says so; Redis
/// back: ready again and tokens shared again, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_load_fails_no_request_and_recovers() {
    let h = Harness::start().await;
    let redis = OwnRedis::start(None).await;
    let space = Space::new(&redis.url());
    let n = three(&h, &space, |c| {
        c.cache.redis_timeout_ms = 50;
        c.cache.redis_retry_after_ms = 200;
    })
    .await;
    let h = Arc::new(h);
    let bases: Vec<String> = n.iter().map(|p| p.base.clone()).collect();
    let hot = h.user_token(|_| {});
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for worker in 0..6 {
        let (h, bases, hot, stop) = (Arc::clone(&h), bases.clone(), hot.clone(), Arc::clone(&stop));
        load.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut i) = (0u32, Vec::new(), 0usize);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Half hits on one hot token, half misses with fresh user tokens.
                let fresh;
                let token = if i % 2 == 0 {
                    &hot
                } else {
                    fresh = h.user_token(|_| {});
                    &fresh
                };
                let a = h.exchange_at(&h.http, &bases[(worker + i) % 3], token, FILES_READ).await;
                if a.status == StatusCode::OK {
                    ok += 1;
                } else {
                    failed.push(format!("{} {}", a.status, a.body));
                }
                i += 1;
            }
            (ok, failed)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.signal("-STOP"); // slow: answers nothing
    let http = &h.http;
    until(Duration::from_secs(5), "degraded while Redis hangs", || async {
        readyz(http, &bases[0]).await["checks"]["redis"]["status"] == "degraded"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.signal("-CONT");
    let port = redis.stop(); // gone
    tokio::time::sleep(Duration::from_millis(500)).await;
    let body = readyz(http, &bases[1]).await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["redis"]["status"], "degraded", "{body}");
    assert_eq!(n[1].state.metrics.redis_up.get(), 0);
    let redis = OwnRedis::start(Some(port)).await; // back, empty
    let took = until(Duration::from_secs(5), "ready again", || async {
        let mut all = true;
        for b in &bases {
            all &= readyz(http, b).await["checks"]["redis"]["status"] == "ready";
        }
        all
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, Vec::new());
    for t in load {
        let (o, f) = t.await.unwrap();
        ok += o;
        failed.extend(f);
    }
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        ok as usize + failed.len(),
        &failed[..failed.len().min(3)]
    );
    assert!(ok > 50, "a load ran: {ok} requests");
    assert!(
        n.iter()
            .map(|p| p.state.metrics.redis_errors.get_or_create(&vec![("op".into(), "get".into())]).get())
            .sum::<u64>()
            > 0
    );
    eprintln!("{ok} requests, 0 failed; Redis back in use after {took:?}");
    // Shared again: a token fetched at A is a hit at C.
    let before = h.obo_requests();
    let user = h.user_token(|_| {});
    assert_eq!(h.exchange_at(http, &bases[0], &user, FILES_READ).await.status, StatusCode::OK);
    let c = h.exchange_at(http, &bases[2], &user, FILES_READ).await;
    assert_eq!(c.status, StatusCode::OK);
    assert_eq!(h.obo_requests(), before + 1, "C was served from Redis");
    drop(redis);
}

/// `sts migrate` applying a consent revocation reaches all three instances within 2 s (their poll
/// is an hour: only the notification can do it), and the tenant's cached tokens are dropped from
/// every memory cache and from Redis.
#[tokio::test]
async fn a_revocation_reaches_every_instance_within_two_seconds() {
    revoked_everywhere(
        &format!(
            "UPDATE tenant_consents SET status = 'revoked', changed_at = '2026-12-03T09:00:00Z' \
             WHERE tenant_id = '{TENANT}' AND workload = 'file-picker';"
        ),
        "consent_required",
    )
    .await;
}

/// The same for a workload an operator disables: every tenant's tokens of its client app go.
#[tokio::test]
async fn a_disabled_workload_is_dropped_on_every_instance_within_two_seconds() {
    revoked_everywhere("UPDATE workloads SET enabled = false WHERE name = 'file-picker';", "access_denied").await;
}

async fn revoked_everywhere(sql: &str, refusal: &str) {
    let h = Harness::start().await;
    let space = Space::new(SHARED_REDIS);
    let n = three(&h, &space, |c| c.registry.poll_interval_secs = 3600).await;
    let user = h.user_token(|_| {});
    for p in &n {
        let a = h.exchange_at(&h.http, &p.base, &user, FILES_READ).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    assert_eq!(h.obo_requests(), 1);
    assert_eq!(space.entries().await, 1);

    let ops = tempfile::tempdir().unwrap();
    std::fs::write(ops.path().join("20261203090000_change.sql"), sql).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sts"))
        .arg("migrate")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TESSERA_REGISTRY__DATABASE_URL", h.db.url())
        .env("TESSERA_REGISTRY__OPERATOR_MIGRATIONS_DIR", ops.path())
        .env("TESSERA_LOG__LEVEL", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let took = until(Duration::from_secs(2), "change on every instance, memory and Redis dropped", || async {
        let mut done = space.entries().await == 0;
        for p in &n {
            done &= p.state.metrics.cache_revoked.get_or_create(&vec![("tier".into(), "memory".into())]).get() == 1;
        }
        done
    })
    .await;
    for p in &n {
        let a = h.exchange_at(&h.http, &p.base, &user, FILES_READ).await;
        assert_eq!(a.error(), refusal, "{}", a.body);
    }
    eprintln!("applied everywhere {took:?} after `sts migrate` returned");
    space.cleanup().await;
}

/// A memory hit never calls Redis: with Redis gone, repeated asks of a cached token count no failed
/// read and no skipped call (a miss right after does: it tried). Every Redis conversation of an
/// exchange starts with a read (`get`, then `lock`); the entry's write after the first answer is
/// left out (it may race the stop).
#[tokio::test]
async fn a_memory_hit_makes_no_redis_call() {
    let h = Harness::start().await;
    let redis = OwnRedis::start(None).await;
    let space = Space::new(&redis.url());
    let a = h.peer(|c| space.configure(c)).await;
    let user = h.user_token(|_| {});
    assert_eq!(h.exchange_at(&h.http, &a.base, &user, FILES_READ).await.status, StatusCode::OK);
    // The entry is written after the answer: let that finish before Redis goes.
    until(Duration::from_secs(2), "the entry in Redis", || async { space.entries().await == 1 }).await;
    redis.stop();
    let m = &a.state.metrics;
    let redis_calls_failed = || {
        ["get", "lock"]
            .iter()
            .map(|op| m.redis_errors.get_or_create(&vec![("op".into(), (*op).into())]).get())
            .sum::<u64>()
            + m.redis_skipped.get()
    };
    let before = redis_calls_failed();
    for _ in 0..20 {
        assert_eq!(h.exchange_at(&h.http, &a.base, &user, FILES_READ).await.status, StatusCode::OK);
    }
    assert_eq!(redis_calls_failed(), before, "memory hits did not touch Redis");
    assert_eq!(m.cache_hits.get(), 20);
    let fresh = h.user_token(|_| {});
    assert_eq!(h.exchange_at(&h.http, &a.base, &fresh, FILES_READ).await.status, StatusCode::OK);
    assert!(redis_calls_failed() > before, "a miss does go to Redis (and finds it gone)");
}

/// Redis absent when the STS starts: it starts, serves from memory, says `degraded` naming Redis;
/// Redis arriving later is picked up without a restart.
#[tokio::test]
async fn redis_absent_at_start_is_picked_up_when_it_comes() {
    let h = Harness::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let space = Space::new(&format!("redis://127.0.0.1:{port}/0"));
    let a = h
        .peer(|c| {
            space.configure(c);
            c.cache.redis_retry_after_ms = 100;
        })
        .await;
    let user = h.user_token(|_| {});
    assert_eq!(h.exchange_at(&h.http, &a.base, &user, FILES_READ).await.status, StatusCode::OK);
    let body = readyz(&h.http, &a.base).await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["redis"]["status"], "degraded", "{body}");
    assert!(body["checks"]["redis"]["error"].as_str().unwrap().contains("redis"), "{body}");
    let _redis = OwnRedis::start(Some(port)).await;
    let http = &h.http;
    until(Duration::from_secs(5), "ready once Redis is there", || async {
        readyz(http, &a.base).await["checks"]["redis"]["status"] == "ready"
    })
    .await;
    let fresh = h.user_token(|_| {});
    assert_eq!(h.exchange_at(&h.http, &a.base, &fresh, FILES_READ).await.status, StatusCode::OK);
    until(Duration::from_secs(2), "the entry in Redis", || async { space.entries().await == 1 }).await;
}

/// A revocation while Redis hangs: the instances apply it at once (memory), and the Redis entries
/// go as soon as Redis answers again.
#[tokio::test]
async fn a_revocation_while_redis_hangs_reaches_redis_when_it_is_back() {
    let h = Harness::start().await;
    let redis = OwnRedis::start(None).await;
    let space = Space::new(&redis.url());
    let a = h
        .peer(|c| {
            space.configure(c);
            c.cache.redis_timeout_ms = 100;
            c.cache.redis_retry_after_ms = 100;
            c.registry.poll_interval_secs = 3600;
        })
        .await;
    let user = h.user_token(|_| {});
    assert_eq!(h.exchange_at(&h.http, &a.base, &user, FILES_READ).await.status, StatusCode::OK);
    until(Duration::from_secs(2), "the entry in Redis", || async { space.entries().await == 1 }).await;
    redis.signal("-STOP");
    h.db.store()
        .execute_script(&format!(
            "UPDATE tenant_consents SET status = 'revoked' WHERE tenant_id = '{TENANT}' AND workload = 'file-picker';"
        ))
        .await
        .unwrap();
    h.db.store().notify_changed().await.unwrap();
    let memory = || a.state.metrics.cache_revoked.get_or_create(&vec![("tier".into(), "memory".into())]).get();
    until(Duration::from_secs(2), "dropped from memory", || async { memory() == 1 }).await;
    assert_eq!(h.exchange_at(&h.http, &a.base, &user, FILES_READ).await.error(), "consent_required");
    // The drop reached Redis while it hung, and failed (or was skipped): only a retry can do it now.
    let failed = || {
        a.state.metrics.redis_errors.get_or_create(&vec![("op".into(), "smembers".into())]).get()
            + a.state.metrics.redis_skipped.get()
    };
    until(Duration::from_secs(2), "the drop failed while Redis hangs", || async { failed() >= 1 }).await;
    redis.signal("-CONT");
    until(Duration::from_secs(5), "dropped from Redis once it answers", || async { space.entries().await == 0 }).await;
}
