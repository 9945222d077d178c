//! Hostile clients on loopback: slow headers, slow bodies, idle keep-alives, oversized requests,
//! connection floods and shutdown under all of that. Each test scales the limits down (seconds
//! instead of tens of seconds) and asserts the bound the limit promises, with normal requests
//! succeeding alongside. Every loop here is bounded in count and time.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Slack on top of a configured limit: scheduling on a loaded 2-core machine.
const SLACK: Duration = Duration::from_secs(3);

/// Connects and writes `bytes` one byte every `pace` until the server closes the connection;
/// returns how long that took (or `None` if it was still open after `give_up`) and what came back.
async fn trickle(addr: String, bytes: Vec<u8>, pace: Duration, give_up: Duration) -> (Option<Duration>, Vec<u8>) {
    let stream = TcpStream::connect(&addr).await.unwrap();
    trickle_on(stream, bytes.into_iter(), pace, give_up).await
}

/// A normal exchange succeeds (the attack does not stop the service), on a new connection: with
/// the header timeout scaled down to seconds, a kept-alive one may be closed for idleness just as
/// it is reused — the race every HTTP/1.1 client has with a server's idle timeout, and not what
/// these tests are about.
async fn serves_normally(h: &Harness) {
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let a = h.exchange_on(&fresh, &h.user_token(|_| {}), FILES_READ, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

fn with_limits(configure: fn(&mut sts::Config)) -> Options {
    Options { configure, ..Options::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_at_the_header_timeout() {
    let h = Harness::start_with(with_limits(|c| c.server.header_read_timeout_secs = 2)).await;
    let head = b"POST /token HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec();
    let attackers: Vec<_> = (0..50)
        .map(|_| tokio::spawn(trickle(h.addr(), head.clone(), Duration::from_millis(200), Duration::from_secs(20))))
        .collect();
    serves_normally(&h).await;
    for a in attackers {
        let (closed, _) = a.await.unwrap();
        let closed = closed.expect("a slow-header connection was never closed");
        assert!(closed <= Duration::from_secs(2) + SLACK, "closed after {closed:?}");
    }
    serves_normally(&h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_get_408_at_the_body_timeout() {
    // The header timeout shorter than the body's: it must not cut a request in progress.
    let h = Harness::start_with(with_limits(|c| {
        c.server.body_read_timeout_secs = 2;
        c.server.header_read_timeout_secs = 1;
    }))
    .await;
    let addr = h.addr();
    let attackers: Vec<_> = (0..20)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let mut s = TcpStream::connect(&addr).await.unwrap();
                s.write_all(
                    b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 20000\r\n\r\ngrant_type=",
                )
                .await
                .unwrap();
                drop(s.flush().await);
                trickle_on(s, std::iter::repeat(b'x'), Duration::from_millis(200), Duration::from_secs(20)).await
            })
        })
        .collect();
    serves_normally(&h).await;
    for a in attackers {
        let (closed, answer) = a.await.unwrap();
        let closed = closed.expect("a slow-body connection was never closed");
        assert!(closed <= Duration::from_secs(2) + SLACK, "closed after {closed:?}");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("\"error\":\"invalid_request\"") && text.contains("body_read_timeout_secs"), "{text}");
    }
}

/// Writes `bytes` on an open stream, one every `pace` (then keeps reading), until the server
/// closes it. A response counts as closing only when the socket then ends.
async fn trickle_on(
    mut stream: TcpStream,
    mut bytes: impl Iterator<Item = u8>,
    pace: Duration,
    give_up: Duration,
) -> (Option<Duration>, Vec<u8>) {
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let mut tick = tokio::time::interval(pace);
    while started.elapsed() < give_up {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return (Some(started.elapsed()), answer),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            },
            _ = tick.tick() => {
                if let Some(byte) = bytes.next()
                    && stream.write_all(&[byte]).await.is_err()
                {
                    return (Some(started.elapsed()), answer);
                }
            }
        }
    }
    (None, answer)
}

/// The header timeout counts from the connection's last response, not from when it opened: a
/// kept-alive connection that asks again within the timeout stays open however long it lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_keeps_asking_outlives_the_header_timeout() {
    let h = Harness::start_with(with_limits(|c| c.server.header_read_timeout_secs = 2)).await;
    let mut s = TcpStream::connect(h.addr()).await.unwrap();
    let started = Instant::now();
    for _ in 0..5 {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "after {:?}: {}",
            started.elapsed(),
            String::from_utf8_lossy(&buf[..n])
        );
        // The client's own pause between requests (the scenario, not a wait for the server).
        tokio::time::sleep(Duration::from_millis(1_200)).await;
    }
    assert!(started.elapsed() > Duration::from_secs(4), "the connection lived through two header timeouts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let h = Harness::start_with(with_limits(|c| c.server.header_read_timeout_secs = 2)).await;
    let mut idle = Vec::new();
    for _ in 0..100 {
        let mut s = TcpStream::connect(h.addr()).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
        idle.push(s);
    }
    let started = Instant::now();
    for mut s in idle {
        let mut buf = [0u8; 64];
        let left = (Duration::from_secs(2) + SLACK).saturating_sub(started.elapsed());
        let read = tokio::time::timeout(left, s.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "an idle keep-alive connection stayed open: {read:?}");
    }
    serves_normally(&h).await;
}

#[tokio::test]
async fn every_refusal_at_the_edge_is_oauth_json() {
    let h = Harness::start().await;
    let check = |a: &Answer, status: StatusCode| {
        assert_eq!(a.status, status, "{}", a.body);
        assert_eq!(a.error(), "invalid_request", "{}", a.body);
        assert!(a.body["correlation_id"].as_str().is_some_and(|c| !c.is_empty()), "{}", a.body);
        assert_eq!(a.headers["cache-control"], "no-store");
        assert_eq!(a.headers["pragma"], "no-cache");
        assert!(a.headers["content-type"].to_str().unwrap().starts_with("application/json"));
    };
    let url = format!("{}/token", h.base);

    let huge = "a".repeat(100 * 1024);
    let a = Answer::read(h.http.post(&url).header("x-huge", &huge).send().await.unwrap()).await;
    check(&a, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert!(a.description().contains("max_header_bytes"), "{}", a.body);

    let body = format!("grant_type={}", "a".repeat(1024 * 1024));
    let a = Answer::read(
        h.http.post(&url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap(),
    )
    .await;
    check(&a, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(a.description().contains("max_body_bytes"), "{}", a.body);

    let a = Answer::read(h.http.get(&url).send().await.unwrap()).await;
    check(&a, StatusCode::METHOD_NOT_ALLOWED);
    assert!(a.headers["allow"].to_str().unwrap().contains("POST"), "{:?}", a.headers);

    let a = Answer::read(h.http.post(&url).header("content-type", "application/json").body("{}").send().await.unwrap())
        .await;
    check(&a, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let a = Answer::read(h.http.get(format!("{}/nothing-here", h.base)).send().await.unwrap()).await;
    check(&a, StatusCode::NOT_FOUND);

    // And the exchange's own refusals carry the same headers.
    let a = h.exchange("not-a-token", FILES_READ, &[]).await;
    assert_eq!((a.status, a.error()), (StatusCode::BAD_REQUEST, "invalid_grant"));
    assert_eq!(a.headers["pragma"], "no-cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_cannot_lock_clients_out() {
    // Long header timeout: only the connection cap's eviction can make room in time.
    let h = Harness::start_with(with_limits(|c| {
        c.server.max_connections = 20;
        c.server.header_read_timeout_secs = 120;
    }))
    .await;
    let mut flood = Vec::new();
    for _ in 0..200 {
        flood.push(TcpStream::connect(h.addr()).await.unwrap());
    }
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    for _ in 0..5 {
        // `exchange_on` unwraps the send: a client locked out by the flood fails here.
        let a = h.exchange_on(&client, &h.user_token(|_| {}), FILES_READ, &[]).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    let metrics = client.get(format!("{}/metrics", h.metrics_base)).send().await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("tessera_connections_at_limit_total 0\n"), "{metrics}");
    drop(flood);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_with_slow_clients_and_flushes_the_audit() {
    let mut h = Harness::start_with(with_limits(|c| {
        c.server.header_read_timeout_secs = 120;
        c.server.shutdown_grace_secs = 2;
        c.entra.upstream_timeout_ms = 60_000;
    }))
    .await;
    serves_normally(&h).await; // one audit record to flush
    // Slow header clients, and one exchange stuck upstream for far longer than the grace.
    let slow: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(trickle(
                h.addr(),
                b"POST /token HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaa".to_vec(),
                Duration::from_millis(500),
                Duration::from_secs(30),
            ))
        })
        .collect();
    h.emulator
        .admin()
        .inject_fault(entra_emulator::FaultSpec::new(entra_emulator::FaultKind::Latency { millis: 30_000 }));
    let stuck = {
        let (http, url, token) =
            (h.http.clone(), format!("{}/token", h.base), h.user_token(|r| r.scopes.push("x".into())));
        tokio::spawn(async move {
            http.post(url)
                .form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
                    ("subject_token", token.as_str()),
                    ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
                    ("scope", FILES_READ),
                ])
                .send()
                .await
        })
    };
    // Wait until the stuck exchange is at Entra (a seam, not a sleep: the emulator counts it).
    let waiting = Instant::now();
    while h.emulator.admin().counters().requests(entra_emulator::GrantKind::OnBehalfOf, CLIENT) < 2 {
        assert!(waiting.elapsed() < Duration::from_secs(10), "the stuck exchange never reached Entra");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    h.shut_down().await;
    let took = started.elapsed();
    assert!(took <= Duration::from_secs(2) + SLACK, "shutdown took {took:?}");
    for s in slow {
        assert!(s.await.unwrap().0.is_some(), "a slow client outlived the server");
    }
    assert!(stuck.await.unwrap().is_err(), "the stuck exchange's connection was dropped at the deadline");
    // (That the audit queue is written at shutdown is `audit_is_flushed_on_shutdown`'s to prove;
    // here `shut_down` returning means `serve` got past its drain to the flush.)
}
