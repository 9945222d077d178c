//! The miss path: what Tessera adds to an exchange that must go to Entra.
//!
//! Each round sends one fresh user token through the STS (a cache miss: validation, registry
//! decision, client-assertion signing, the OBO call) and, right after, the same kind of OBO
//! request straight to the emulator with another fresh token — the emulator's own time, HTTP
//! included. The direct request's client assertion is signed *before* the clock starts (it is part
//! of what the STS adds, so it must not be counted on the emulator's side). Rounds alternate so
//! drift hits both series alike. Overhead = median(STS) − median(direct).
//!
//! As a cross-check, the STS's own `/metrics` give the mean time it spent waiting for Entra
//! (`tessera_upstream_latency_seconds`), so mean(STS) − mean(upstream) is the time spent in
//! Tessera plus the client↔STS hop, measured from the inside.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use sts::AssertionAlg;
use sts::Certificate;
use sts::client_assertion;
use sts::{ClientAssertion, SubjectToken};

use crate::stack::{Emulator, Info, exchange};
use crate::stats::{median, micros, quantile};

/// The miss-path numbers (µs).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MissResult {
    pub rounds: usize,
    pub sts_p50_us: f64,
    pub sts_p90_us: f64,
    pub direct_p50_us: f64,
    pub direct_p90_us: f64,
    /// median(STS) − median(direct).
    pub overhead_p50_us: f64,
    /// Median time to sign one client assertion with the STS's own code (RSA-2048, PS256) — the
    /// largest single step of the overhead, measured here on the same certificate.
    pub sign_p50_us: f64,
    /// mean(STS) − mean(upstream time the STS measured), from `/metrics`.
    pub inside_mean_us: Option<f64>,
}

/// Sum and count of the STS's upstream latency histogram, from its `/metrics` text.
pub fn upstream_sum_count(metrics: &str) -> Option<(f64, u64)> {
    let value =
        |name: &str| metrics.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.split_whitespace().next()));
    let sum = value("tessera_upstream_latency_seconds_sum ")?.parse().ok()?;
    let count = value("tessera_upstream_latency_seconds_count ")?.parse().ok()?;
    Some((sum, count))
}

async fn sts_upstream(http: &reqwest::Client, info: &Info) -> anyhow::Result<Option<(f64, u64)>> {
    let text = http.get(&info.metrics).send().await?.error_for_status()?.text().await?;
    Ok(upstream_sum_count(&text))
}

/// The OBO request the STS sends (same form, same assertion code), straight to the emulator.
async fn direct_obo(
    http: &reqwest::Client,
    endpoint: &str,
    info: &Info,
    assertion: &ClientAssertion,
    user_token: &SubjectToken,
) -> anyhow::Result<Duration> {
    let form = [
        ("grant_type", tessera_wire::grant_type::JWT_BEARER),
        ("client_id", info.client_app_id.as_str()),
        ("client_assertion_type", tessera_wire::CLIENT_ASSERTION_TYPE_JWT_BEARER),
        ("client_assertion", assertion.expose()),
        ("assertion", user_token.expose()),
        ("scope", info.scope.as_str()),
        ("requested_token_use", "on_behalf_of"),
    ];
    let started = Instant::now();
    let r = http.post(endpoint).form(&form).send().await?;
    let status = r.status();
    let body = r.bytes().await?;
    let took = started.elapsed();
    if !status.is_success() {
        bail!("direct OBO to the emulator answered HTTP {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(took)
}

pub async fn measure(info: &Info, emulator: &Emulator, rounds: usize, warmup: usize) -> anyhow::Result<MissResult> {
    let cert = Certificate::from_pem(
        &std::fs::read_to_string(&info.cert_pem).with_context(|| format!("reading {}", info.cert_pem.display()))?,
        &std::fs::read_to_string(&info.key_pem).with_context(|| format!("reading {}", info.key_pem.display()))?,
    )
    .context("loading the demo certificate")?;
    // The STS's authority in `sts demo` is the emulator's HTTP base; the direct calls go there too.
    let endpoint = format!("{}/{}/oauth2/v2.0/token", info.emulator_http, info.tenant);
    let sts_http = reqwest::Client::new();
    let direct_http = reqwest::Client::new();

    let mut sts = Vec::with_capacity(rounds);
    let mut direct = Vec::with_capacity(rounds);
    let mut signing = Vec::with_capacity(rounds);
    let mut before = None;
    for round in 0..warmup + rounds {
        if round == warmup {
            before = sts_upstream(&sts_http, info).await?;
        }
        let for_sts = emulator.user_token().await?;
        let for_direct = emulator.user_token().await?;
        let sign_started = Instant::now();
        let assertion = client_assertion(&cert, AssertionAlg::PS256, &info.client_app_id, &endpoint, sts::unix_now())?;
        let sign_took = sign_started.elapsed();

        let started = Instant::now();
        let answer = exchange(&sts_http, &info.sts, &for_sts, &info.scope).await?;
        let took = started.elapsed();
        answer.ensure_ok("Tessera (miss)")?;
        let direct_took = direct_obo(&direct_http, &endpoint, info, &assertion, &for_direct).await?;
        if round >= warmup {
            sts.push(took);
            direct.push(direct_took);
            signing.push(sign_took);
        }
    }
    let after = sts_upstream(&sts_http, info).await?;

    let us = |v: Option<Duration>| v.map_or(0.0, micros);
    let inside_mean_us = match (before, after) {
        (Some((s0, c0)), Some((s1, c1))) if c1 > c0 => {
            #[allow(clippy::cast_precision_loss)]
            let upstream_mean = (s1 - s0) / (c1 - c0) as f64 * 1e6;
            #[allow(clippy::cast_precision_loss)]
            let sts_mean = sts.iter().map(|d| micros(*d)).sum::<f64>() / sts.len().max(1) as f64;
            Some(sts_mean - upstream_mean)
        }
        _ => None,
    };
    Ok(MissResult {
        rounds,
        sts_p50_us: us(median(&sts)),
        sts_p90_us: us(quantile(&sts, 0.9)),
        direct_p50_us: us(median(&direct)),
        direct_p90_us: us(quantile(&direct, 0.9)),
        overhead_p50_us: us(median(&sts)) - us(median(&direct)),
        sign_p50_us: us(median(&signing)),
        inside_mean_us,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_upstream_histogram() {
        let text = "# TYPE tessera_upstream_latency_seconds histogram\n\
            tessera_upstream_latency_seconds_sum 0.25\n\
            tessera_upstream_latency_seconds_count 10\n\
            tessera_upstream_latency_seconds_bucket{le=\"0.005\"} 3\n";
        assert_eq!(upstream_sum_count(text), Some((0.25, 10)));
        assert_eq!(upstream_sum_count("tessera_cache_hits_total 3\n"), None);
    }
}
