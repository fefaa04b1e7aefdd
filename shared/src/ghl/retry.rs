//! The one retry policy for GHL calls: which failures are retried, how long to wait (exponential
//! backoff with full jitter, from `tokio-retry2`), and when to stop so that an invocation never
//! runs out of time in the middle of a wait.

use std::time::Duration;

use tokio::time::Instant;
use tokio_retry2::strategy::{ExponentialFactorBackoff, jitter_with_bounds};

use super::error::GhlError;

/// Whether repeating a request can duplicate its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotence {
    /// GET, PUT, DELETE, upsert, tag add/remove: repeating changes nothing more.
    Idempotent,
    /// Creates (contact, task, note): repeated only when GHL certainly did not act on it, unless
    /// the caller holds an idempotency record for the effect (`Protected`).
    NotIdempotent,
    /// A create guarded by the caller's own idempotency record: safe to repeat.
    Protected,
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// First backoff ceiling; doubles each retry up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Time kept free before the deadline for the request itself (its timeout).
    pub reserve: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            reserve: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: each wait is uniform in [0, min(max_delay, base · 2ⁿ)).
    pub fn delays(&self) -> impl Iterator<Item = Duration> + Send + use<> {
        let base_ms = u64::try_from(self.base_delay.as_millis()).unwrap_or(u64::MAX);
        ExponentialFactorBackoff::from_millis(base_ms, 2.0)
            .max_delay(self.max_delay)
            .map(jitter_with_bounds(0.0, 1.0))
            .take(self.max_retries)
    }

    /// Whether this failure of a request with this idempotence is worth another attempt.
    pub fn should_retry(error: &GhlError, idempotence: Idempotence) -> bool {
        match error {
            // GHL did not act on a throttled request, nor on one that never connected.
            GhlError::RateLimited { .. } | GhlError::Connect(_) => true,
            GhlError::Server { .. } | GhlError::Timeout | GhlError::Transport(_) => {
                idempotence != Idempotence::NotIdempotent
            }
            _ => false,
        }
    }

    /// Whether there is time to wait `delay` and still make one more request before `deadline`.
    pub fn fits(&self, delay: Duration, deadline: Option<Instant>) -> bool {
        deadline.is_none_or(|d| Instant::now() + delay + self.reserve < d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_bounded_by_the_exponential_ceiling() {
        let policy = RetryPolicy {
            max_retries: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            reserve: Duration::ZERO,
        };
        for _ in 0..200 {
            let delays: Vec<_> = policy.delays().collect();
            assert_eq!(delays.len(), 6);
            let ceilings = [100, 200, 400, 800, 1000, 1000];
            for (delay, ceiling) in delays.iter().zip(ceilings) {
                assert!(
                    *delay < Duration::from_millis(ceiling),
                    "{delay:?} ≥ {ceiling} ms"
                );
            }
        }
        // Full jitter: over many draws some first waits are near zero and some near the ceiling.
        let firsts: Vec<_> = (0..500).filter_map(|_| policy.delays().next()).collect();
        assert!(firsts.iter().any(|d| *d < Duration::from_millis(10)));
        assert!(firsts.iter().any(|d| *d > Duration::from_millis(90)));
    }

    #[test]
    fn only_safe_failures_are_retried() {
        let server = GhlError::Server {
            status: 502,
            message: String::new(),
        };
        assert!(RetryPolicy::should_retry(&server, Idempotence::Idempotent));
        assert!(RetryPolicy::should_retry(&server, Idempotence::Protected));
        assert!(!RetryPolicy::should_retry(&server, Idempotence::NotIdempotent));
        let throttled = GhlError::RateLimited {
            message: String::new(),
        };
        assert!(RetryPolicy::should_retry(&throttled, Idempotence::NotIdempotent));
        assert!(RetryPolicy::should_retry(
            &GhlError::Connect("refused".into()),
            Idempotence::NotIdempotent
        ));
        assert!(!RetryPolicy::should_retry(
            &GhlError::Timeout,
            Idempotence::NotIdempotent
        ));
        let rejected = GhlError::Unprocessable { messages: vec![] };
        assert!(!RetryPolicy::should_retry(&rejected, Idempotence::Idempotent));
    }

    #[tokio::test]
    async fn deadline_stops_waiting() {
        let policy = RetryPolicy {
            reserve: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        let soon = Some(Instant::now() + Duration::from_millis(1500));
        assert!(policy.fits(Duration::from_millis(100), soon));
        assert!(!policy.fits(Duration::from_millis(600), soon));
        assert!(policy.fits(Duration::from_secs(60), None));
    }
}
