//! Order statistics over measured latencies — pure, so the report's numbers are testable.

use std::time::Duration;

/// The `q`-quantile (0 ≤ q ≤ 1) by the nearest-rank method: the smallest sample with at least
/// `q · n` samples at or below it — always a measured value, never an interpolation.
/// `None` for no samples.
pub fn quantile(samples: &[Duration], q: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let q = q.clamp(0.0, 1.0);
    // Nearest rank: ceil(q·n), 1-based; q = 0 is the minimum.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted.get(rank - 1).copied()
}

pub fn median(samples: &[Duration]) -> Option<Duration> {
    quantile(samples, 0.5)
}

/// Microseconds as a float, for reports.
pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn us(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&x| Duration::from_micros(x)).collect()
    }

    #[test]
    fn known_values() {
        let s = us(&[5, 1, 4, 2, 3]);
        assert_eq!(median(&s), Some(Duration::from_micros(3)));
        assert_eq!(quantile(&s, 0.0), Some(Duration::from_micros(1)));
        assert_eq!(quantile(&s, 1.0), Some(Duration::from_micros(5)));
        assert_eq!(median(&us(&[10, 20])), Some(Duration::from_micros(10)));
        assert_eq!(quantile(&us(&(1..=100).collect::<Vec<_>>()), 0.99), Some(Duration::from_micros(99)));
        assert_eq!(median(&[]), None);
    }

    proptest! {
        #[test]
        fn quantile_is_a_sample_and_splits_the_samples(v in proptest::collection::vec(0u64..1_000_000, 1..200), q in 0.0f64..=1.0) {
            let s = us(&v);
            let x = quantile(&s, q).unwrap();
            prop_assert!(s.contains(&x));
            let at_or_below = s.iter().filter(|&&d| d <= x).count();
            let below = s.iter().filter(|&&d| d < x).count();
            #[allow(clippy::cast_precision_loss)]
            let need = q * s.len() as f64;
            prop_assert!(at_or_below as f64 >= need);
            prop_assert!((below as f64) < need.max(1.0));
        }

        #[test]
        fn quantiles_are_monotone(v in proptest::collection::vec(0u64..1_000_000, 1..200), a in 0.0f64..=1.0, b in 0.0f64..=1.0) {
            let s = us(&v);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(quantile(&s, lo).unwrap() <= quantile(&s, hi).unwrap());
        }
    }
}
