//! Single-flight: N concurrent, identical exchanges of a token nobody has seen yet, against the
//! OBO requests the emulator counted.
//!
//! The emulator delays OBO answers (a latency fault) while the burst runs, so every request is
//! in flight while the first one is still waiting for "Entra": a count of 1 then means the
//! requests were coalesced, not merely that late ones found the result cached.

use std::sync::Arc;

use anyhow::bail;
use serde::Serialize;
use sts::BackendToken;
use tokio::sync::Barrier;

use crate::stack::{Emulator, exchange};

#[derive(Debug, Clone, Copy, Serialize)]
pub struct FlightResult {
    pub concurrent: usize,
    /// OBO requests the emulator received for the burst.
    pub upstream_calls: u64,
    /// Answers that were 200 with the same backend token as the first.
    pub same_token_answers: usize,
}

/// Fires `n` identical exchanges of one fresh token at `base` at once, with the emulator's OBO
/// answers delayed by `delay_ms`.
pub async fn burst(
    emulator: &Emulator,
    base: &str,
    scope: &str,
    n: usize,
    delay_ms: u64,
) -> anyhow::Result<FlightResult> {
    let subject = Arc::new(emulator.user_token().await?);
    let fault = emulator.delay_obo(delay_ms).await?;
    emulator.reset_counters().await?;
    // One connection per request: the burst must reach the server concurrently, not queue in a pool.
    let http = reqwest::Client::builder().pool_max_idle_per_host(n).build()?;
    let barrier = Arc::new(Barrier::new(n));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (http, barrier, subject, base, scope) =
            (http.clone(), Arc::clone(&barrier), Arc::clone(&subject), base.to_owned(), scope.to_owned());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            exchange(&http, &base, &subject, &scope).await
        }));
    }
    let mut tokens: Vec<BackendToken> = Vec::with_capacity(n);
    let mut failure = None;
    for t in tasks {
        match t.await? {
            Ok(answer) => match (answer.status, answer.access_token()) {
                (200, Some(token)) => tokens.push(token),
                _ => failure = Some(answer.ensure_ok("single-flight burst").err()),
            },
            Err(e) => failure = Some(Some(e)),
        }
    }
    let upstream_calls = emulator.obo_requests().await?;
    emulator.clear_fault(fault).await?;
    if let Some(e) = failure {
        bail!("a single-flight request failed: {}", e.map_or_else(|| "no access_token".into(), |e| format!("{e:#}")));
    }
    let same_token_answers = match tokens.first() {
        Some(first) => tokens.iter().filter(|t| t.expose() == first.expose()).count(),
        None => 0,
    };
    Ok(FlightResult { concurrent: n, upstream_calls, same_token_answers })
}
