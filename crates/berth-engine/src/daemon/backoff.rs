//! Per-service retry backoff: exponential with jitter (`backon`), capped.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// How a failing service is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub min: Duration,
    /// The longest delay; at the cap berth tries the same revision again.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: Duration::from_secs(30),
            max: Duration::from_secs(30 * 60),
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (1 = the first retry), with jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.min)
            .with_max_delay(self.max)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build();
        let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        delays.nth(index).unwrap_or(self.max).min(self.max * 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_capped() {
        let backoff = Backoff {
            min: Duration::from_secs(10),
            max: Duration::from_secs(100),
        };
        let first = backoff.delay(1);
        assert!(
            first >= Duration::from_secs(10) && first < Duration::from_secs(21),
            "{first:?}"
        );
        let third = backoff.delay(3);
        assert!(third >= Duration::from_secs(40), "{third:?}");
        for attempt in 5..20 {
            assert!(
                backoff.delay(attempt) <= Duration::from_secs(200),
                "jitter at most doubles the cap"
            );
            assert!(backoff.delay(attempt) >= Duration::from_secs(100));
        }
    }
}
