//! The one retry policy for every API call: which failures are retried, how long to wait
//! (exponential backoff with full jitter, from `tokio-retry2`), and when to stop so that an
//! invocation never runs out of time in the middle of a wait.
//!
//! Each API's error type says what a failure means for a retry ([`RetryClass`]); the policy
//! decides from that and from whether the request may be repeated ([`Idempotence`]).

use std::time::Duration;

use tokio::time::Instant;
use tokio_retry2::strategy::{ExponentialFactorBackoff, jitter_with_bounds};

/// Whether repeating a request can duplicate its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotence {
    /// GET, PUT, DELETE, upserts, membership adds/removes: repeating changes nothing more.
    Idempotent,
    /// Creates: repeated only when the server certainly did not act on them, unless the caller
    /// holds an idempotency record for the effect (`Protected`).
    NotIdempotent,
    /// A create guarded by the caller's own idempotency record (or the receiver's, on an id the
    /// request carries): safe to repeat.
    Protected,
}

/// What a failed attempt says about the request, as far as retrying it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The server refused to act for now (429, or our own budget had no slot).
    Throttled,
    /// The request never reached the server (connection refused, DNS).
    NotSent,
    /// The server may have acted: 5xx, timeout, a broken answer.
    MaybeActed,
    /// Repeating it unchanged cannot succeed.
    Final,
}

/// Implemented by each API's error type.
pub trait RetryClass {
    fn failure(&self) -> Failure;

    /// How long the server asked us to wait (`Retry-After`), if it did.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
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
    pub fn should_retry<E: RetryClass>(error: &E, idempotence: Idempotence) -> bool {
        match error.failure() {
            // The server did not act on a throttled request, nor on one that never reached it.
            Failure::Throttled | Failure::NotSent => true,
            Failure::MaybeActed => idempotence != Idempotence::NotIdempotent,
            Failure::Final => false,
        }
    }

    /// Whether there is time to wait `delay` and still make one more request before `deadline`.
    pub fn fits(&self, delay: Duration, deadline: Option<Instant>) -> bool {
        deadline.is_none_or(|d| Instant::now() + delay + self.reserve < d)
    }

    /// The retries one request may still take.
    pub fn attempts(&self, deadline: Option<Instant>) -> Attempts<'_> {
        Attempts {
            policy: self,
            delays: Box::new(self.delays()),
            deadline,
        }
    }
}

/// The retries left to one request: ask [`Attempts::next_wait`] after each failure.
pub struct Attempts<'a> {
    policy: &'a RetryPolicy,
    delays: Box<dyn Iterator<Item = Duration> + Send>,
    deadline: Option<Instant>,
}

impl Attempts<'_> {
    /// How long to wait before trying again after `error`, or `None` to give up: not worth
    /// retrying, retries spent, or no time left before the deadline. A server asking for a longer
    /// pause than our longest backoff gets it from the queue's redelivery instead of a sleeping
    /// Lambda.
    pub fn next_wait<E: RetryClass>(&mut self, error: &E, idempotence: Idempotence) -> Option<Duration> {
        if !RetryPolicy::should_retry(error, idempotence) {
            return None;
        }
        let mut delay = self.delays.next()?;
        if let Some(asked) = error.retry_after() {
            if asked > self.policy.max_delay {
                return None;
            }
            delay = delay.max(asked);
        }
        self.policy.fits(delay, self.deadline).then_some(delay)
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

    struct Answer(Failure, Option<Duration>);

    impl RetryClass for Answer {
        fn failure(&self) -> Failure {
            self.0
        }
        fn retry_after(&self) -> Option<Duration> {
            self.1
        }
    }

    #[test]
    fn attempts_run_out_and_honour_retry_after() {
        let policy = RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(2),
            reserve: Duration::ZERO,
        };
        let mut attempts = policy.attempts(None);
        let throttled = Answer(Failure::Throttled, Some(Duration::from_secs(1)));
        assert_eq!(
            attempts.next_wait(&throttled, Idempotence::NotIdempotent),
            Some(Duration::from_secs(1))
        );
        let server = Answer(Failure::MaybeActed, None);
        assert_eq!(attempts.next_wait(&server, Idempotence::NotIdempotent), None);
        assert!(attempts.next_wait(&server, Idempotence::Idempotent).is_some());
        assert_eq!(
            attempts.next_wait(&server, Idempotence::Idempotent),
            None,
            "spent"
        );

        let mut attempts = policy.attempts(None);
        let too_long = Answer(Failure::Throttled, Some(Duration::from_secs(3)));
        assert_eq!(attempts.next_wait(&too_long, Idempotence::Idempotent), None);
        let final_ = Answer(Failure::Final, None);
        assert_eq!(attempts.next_wait(&final_, Idempotence::Idempotent), None);
    }
}
