//! GHL's rate limits (100 requests / 10 s and 200,000 / day per location, across every worker),
//! kept by the shared budget in `crate::http::rate` with GHL's limits and header names; here is
//! what a budget refusal means to a GHL caller.

pub use crate::http::rate::{
    BudgetConfig, BudgetError, BudgetScope, RateBudget, RateHeaders, RateLimits, SharedRateBudget, Unlimited,
};

use super::error::GhlError;

impl From<BudgetError> for GhlError {
    fn from(err: BudgetError) -> Self {
        match err {
            no_slot @ BudgetError::NoSlot { .. } => GhlError::RateLimited {
                message: no_slot.to_string(),
            },
            BudgetError::DailySpent { account, .. } => GhlError::DailyLimit { location_id: account },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;
    use crate::memory::MemorySlots;

    fn budget(max: u32, interval_ms: u64) -> SharedRateBudget {
        SharedRateBudget::new(
            Arc::new(MemorySlots::default()),
            BudgetConfig {
                limits: RateLimits {
                    max,
                    interval: Duration::from_millis(interval_ms),
                    daily: 1000,
                },
                safety: 1.0,
                max_wait: Duration::from_secs(5),
                cut_for: Duration::from_secs(1),
                ..BudgetConfig::default()
            },
        )
    }

    #[test]
    fn parses_ghl_headers() {
        let mut headers = http::HeaderMap::new();
        for (k, v) in [
            ("x-ratelimit-max", "100"),
            ("x-ratelimit-remaining", "97"),
            ("x-ratelimit-interval-milliseconds", "10000"),
            ("x-ratelimit-limit-daily", "200000"),
            ("x-ratelimit-daily-remaining", "199990"),
        ] {
            headers.insert(k, http::HeaderValue::from_static(v));
        }
        let parsed = RateHeaders::parse(&headers);
        assert_eq!(parsed.max, Some(100));
        assert_eq!(parsed.remaining, Some(97));
        assert_eq!(parsed.interval_ms, Some(10_000));
        assert_eq!(parsed.daily_remaining, Some(199_990));
    }

    #[tokio::test]
    async fn requests_are_spaced_by_the_budget() -> Result<(), GhlError> {
        let budget = budget(20, 200); // one slot every 10 ms
        let start = Instant::now();
        for _ in 0..21 {
            budget.acquire("loc", None).await?;
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(195), "21 slots in {elapsed:?}");
        Ok(())
    }

    #[tokio::test]
    async fn learned_limits_change_the_spacing() -> Result<(), GhlError> {
        let budget = budget(1000, 1000);
        budget.observe(
            "loc",
            &RateHeaders {
                max: Some(10),
                interval_ms: Some(200),
                remaining: Some(9),
                ..RateHeaders::default()
            },
        );
        let start = Instant::now();
        for _ in 0..6 {
            budget.acquire("loc", None).await?;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(95),
            "{:?}",
            start.elapsed()
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_slot_past_the_deadline_is_refused_in_time() -> Result<(), GhlError> {
        let budget = budget(2, 1000); // one slot every 500 ms
        let deadline = Some(Instant::now() + Duration::from_millis(700));
        budget.acquire("loc", deadline).await?;
        budget.acquire("loc", deadline).await?;
        let started = Instant::now();
        assert!(matches!(
            budget.acquire("loc", deadline).await.map_err(GhlError::from),
            Err(GhlError::RateLimited { .. })
        ));
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "gave up without waiting"
        );
        Ok(())
    }

    #[tokio::test]
    async fn exhausted_daily_budget_is_refused() {
        let budget = budget(10, 100);
        budget.observe(
            "loc",
            &RateHeaders {
                daily_remaining: Some(0),
                ..RateHeaders::default()
            },
        );
        assert!(matches!(
            budget.acquire("loc", None).await.map_err(GhlError::from),
            Err(GhlError::DailyLimit { .. })
        ));
        assert!(budget.acquire("other", None).await.is_ok());
    }
}
