//! The retry policy GHL calls share with every other API (`crate::http::retry`), and what each
//! GHL failure means to it.

pub use crate::http::retry::{Attempts, Failure, Idempotence, RetryClass, RetryPolicy};

use super::error::GhlError;

impl RetryClass for GhlError {
    fn failure(&self) -> Failure {
        match self {
            GhlError::RateLimited { .. } => Failure::Throttled,
            GhlError::Connect(_) => Failure::NotSent,
            GhlError::Server { .. } | GhlError::Timeout | GhlError::Transport(_) => Failure::MaybeActed,
            _ => Failure::Final,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
