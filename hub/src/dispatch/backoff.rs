//! When to try a failed delivery again: exponential backoff with jitter,
//! never sooner than the platform asked (retry-after).

use std::time::Duration;

/// Delay before attempt `attempts + 1`, given `attempts` made so far (≥ 1).
/// Jitter keeps many failed deliveries from retrying in lockstep.
pub fn delay(
    attempts: u32,
    base_ms: u64,
    max_ms: u64,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let exp = base_ms.saturating_mul(1u64 << attempts.saturating_sub(1).min(30));
    let capped = exp.min(max_ms);
    // "Equal jitter": half fixed, half random, so the delay still grows.
    let jittered = capped / 2 + ((capped / 2) as f64 * jitter.clamp(0.0, 1.0)) as u64;
    let asked = retry_after.map(|d| d.as_millis() as u64).unwrap_or(0);
    Duration::from_millis(jittered.max(asked))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn grows_exponentially_and_caps() {
        assert_eq!(
            delay(1, 1000, 60_000, None, 1.0),
            Duration::from_millis(1000)
        );
        assert_eq!(
            delay(2, 1000, 60_000, None, 1.0),
            Duration::from_millis(2000)
        );
        assert_eq!(
            delay(3, 1000, 60_000, None, 1.0),
            Duration::from_millis(4000)
        );
        assert_eq!(
            delay(20, 1000, 60_000, None, 1.0),
            Duration::from_millis(60_000)
        );
    }

    #[test]
    fn honours_retry_after() {
        let d = delay(1, 100, 60_000, Some(Duration::from_secs(7)), 0.0);
        assert_eq!(d, Duration::from_secs(7));
    }

    proptest! {
        #[test]
        fn within_half_and_full_of_the_capped_delay(a in 1u32..64, j in 0.0f64..=1.0) {
            let d = delay(a, 500, 30_000, None, j).as_millis() as u64;
            let full = (500u64.saturating_mul(1 << (a - 1).min(30))).min(30_000);
            prop_assert!(d >= full / 2 && d <= full);
        }
    }
}
