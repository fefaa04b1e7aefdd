//! GHL's rate limits (100 requests / 10 s and 200,000 / day per location, across every worker)
//! as a budget shared by all processes.
//!
//! The shared part is GCRA: requests to a location are spaced `interval / (max · safety)` apart on
//! one schedule in DynamoDB (`SlotSchedule`), so that in any window of `interval` at most
//! `max · safety` requests leave, whichever process sends them. The in-process part, a `governor`
//! limiter, engages only after a 429 and halves this process's own rate for a while. Limits are
//! learned from GHL's `X-RateLimit-*` headers as they arrive.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::error::GhlError;
use crate::keys;
use crate::ports::SlotSchedule;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub max: u32,
    pub interval: Duration,
    pub daily: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            max: 100,
            interval: Duration::from_secs(10),
            daily: 200_000,
        }
    }
}

/// What one GHL response said about the budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub max: Option<u32>,
    pub remaining: Option<u32>,
    pub interval_ms: Option<u64>,
    pub daily_limit: Option<u32>,
    pub daily_remaining: Option<u32>,
}

impl RateHeaders {
    pub fn parse(headers: &http::HeaderMap) -> Self {
        fn get<T: std::str::FromStr>(headers: &http::HeaderMap, name: &str) -> Option<T> {
            headers.get(name)?.to_str().ok()?.trim().parse().ok()
        }
        Self {
            max: get(headers, "x-ratelimit-max"),
            remaining: get(headers, "x-ratelimit-remaining"),
            interval_ms: get(headers, "x-ratelimit-interval-milliseconds"),
            daily_limit: get(headers, "x-ratelimit-limit-daily"),
            daily_remaining: get(headers, "x-ratelimit-daily-remaining"),
        }
    }
}

#[async_trait]
pub trait RateBudget: Send + Sync {
    /// Waits until a request to `location_id` may be sent; gives up (retryable) rather than wait
    /// past `deadline`.
    async fn acquire(&self, location_id: &str, deadline: Option<Instant>) -> Result<(), GhlError>;
    /// Learns from a response's headers.
    fn observe(&self, location_id: &str, headers: &RateHeaders);
    /// GHL answered 429: slow this process down.
    fn throttled(&self, location_id: &str);
}

/// No budget at all; for tests of other behaviour.
pub struct Unlimited;

#[async_trait]
impl RateBudget for Unlimited {
    async fn acquire(&self, _: &str, _: Option<Instant>) -> Result<(), GhlError> {
        Ok(())
    }
    fn observe(&self, _: &str, _: &RateHeaders) {}
    fn throttled(&self, _: &str) {}
}

#[derive(Debug, Clone)]
pub struct BudgetConfig {
    /// Limits assumed until GHL's headers say otherwise.
    pub limits: RateLimits,
    /// Share of GHL's limit the budget aims for; the rest absorbs clock skew and network jitter.
    pub safety: f64,
    /// Longest a caller waits for a slot before giving up (retryable).
    pub max_wait: Duration,
    /// How long a 429 halves this process's rate.
    pub cut_for: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            limits: RateLimits::default(),
            safety: 0.97,
            max_wait: Duration::from_secs(30),
            cut_for: Duration::from_secs(60),
        }
    }
}

struct LocationState {
    limits: RateLimits,
    /// This process's own limiter after a 429, and until when it applies.
    cut: Option<(Instant, u32, Arc<DefaultDirectRateLimiter>)>,
    paused_until: Option<Instant>,
    daily_blocked_until: Option<Instant>,
}

pub struct SharedRateBudget {
    schedule: Arc<dyn SlotSchedule>,
    config: BudgetConfig,
    locations: Mutex<HashMap<String, LocationState>>,
}

impl SharedRateBudget {
    pub fn new(schedule: Arc<dyn SlotSchedule>, config: BudgetConfig) -> Self {
        Self {
            schedule,
            config,
            locations: Mutex::new(HashMap::new()),
        }
    }

    fn with_state<R>(&self, location_id: &str, f: impl FnOnce(&mut LocationState) -> R) -> R {
        let mut locations = self.locations.lock().unwrap_or_else(|p| p.into_inner());
        let state = locations
            .entry(location_id.to_owned())
            .or_insert_with(|| LocationState {
                limits: self.config.limits,
                cut: None,
                paused_until: None,
                daily_blocked_until: None,
            });
        f(state)
    }

    /// Microseconds between two requests to one location, all processes together.
    fn spacing_us(&self, limits: RateLimits) -> i64 {
        let per_request =
            limits.interval.as_micros() as f64 / (f64::from(limits.max.max(1)) * self.config.safety);
        per_request.ceil() as i64
    }
}

fn epoch_us() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64
}

#[async_trait]
impl RateBudget for SharedRateBudget {
    async fn acquire(&self, location_id: &str, deadline: Option<Instant>) -> Result<(), GhlError> {
        let now = Instant::now();
        let (limits, cut, paused_until, daily_blocked) = self.with_state(location_id, |s| {
            if s.cut.as_ref().is_some_and(|(until, _, _)| *until <= now) {
                s.cut = None;
            }
            (
                s.limits,
                s.cut.as_ref().map(|(_, _, l)| Arc::clone(l)),
                s.paused_until,
                s.daily_blocked_until,
            )
        });
        if daily_blocked.is_some_and(|until| until > now) {
            return Err(GhlError::DailyLimit {
                location_id: location_id.to_owned(),
            });
        }
        if let Some(until) = paused_until.filter(|u| *u > now) {
            tokio::time::sleep_until(until).await;
        }
        if let Some(limiter) = cut {
            limiter.until_ready().await;
        }

        let spacing = self.spacing_us(limits);
        let horizon = limits.interval.as_micros() as i64;
        let key = keys::ghl_location_schedule(location_id);
        let give_up = deadline.map_or(now + self.config.max_wait, |d| d.min(now + self.config.max_wait));
        loop {
            let now_us = epoch_us();
            match self.schedule.reserve(&key, now_us, spacing, horizon).await {
                Ok(Some(start_us)) => {
                    // Measured after the reservation call, so that its latency is not slept twice.
                    let wait_us = start_us - epoch_us();
                    if Instant::now() + Duration::from_micros(wait_us.max(0) as u64) > give_up {
                        // The slot stays booked and unused: a small loss that keeps the schedule simple.
                        return Err(GhlError::RateLimited {
                            message: format!(
                                "no request slot for location {location_id} before the deadline"
                            ),
                        });
                    }
                    if wait_us > 0 {
                        tokio::time::sleep(Duration::from_micros(wait_us as u64)).await;
                    }
                    return Ok(());
                }
                Ok(None) => {
                    if Instant::now() >= give_up {
                        return Err(GhlError::RateLimited {
                            message: format!(
                                "no request slot for location {location_id} within the wait limit"
                            ),
                        });
                    }
                    // Booked a whole interval ahead: come back when part of it has passed.
                    let pause = Duration::from_micros((horizon / 4).max(spacing) as u64);
                    tokio::time::sleep(pause.mul_f64(0.5 + fastrand::f64())).await;
                }
                Err(err) => {
                    // Failing open: a DynamoDB hiccup must not stop the sync; GHL's 429s and the
                    // retry policy still bound the damage.
                    warn!(error = %err, "rate budget unavailable; sending without a shared slot");
                    return Ok(());
                }
            }
        }
    }

    fn observe(&self, location_id: &str, headers: &RateHeaders) {
        let now = Instant::now();
        self.with_state(location_id, |s| {
            if let (Some(max), Some(interval_ms)) = (headers.max, headers.interval_ms)
                && max > 0
                && interval_ms > 0
            {
                let learned = RateLimits {
                    max,
                    interval: Duration::from_millis(interval_ms),
                    daily: headers.daily_limit.unwrap_or(s.limits.daily),
                };
                if learned != s.limits {
                    debug!(location_id, max, interval_ms, "rate limits learned from GHL");
                    s.limits = learned;
                }
            }
            if headers.remaining == Some(0) {
                // Something outside this budget used the window: wait out a tenth of it.
                s.paused_until = Some(now + s.limits.interval / 10);
            }
            if headers.daily_remaining == Some(0) {
                s.daily_blocked_until = Some(now + Duration::from_secs(600));
            }
        });
    }

    fn throttled(&self, location_id: &str) {
        let now = Instant::now();
        let cut_for = self.config.cut_for;
        self.with_state(location_id, |s| {
            let current = s
                .cut
                .as_ref()
                .map(|(_, per_interval, _)| *per_interval)
                .unwrap_or(s.limits.max);
            let halved = (current / 2).max(1);
            let Some(quota) = Quota::with_period(s.limits.interval / halved) else {
                return;
            };
            let limiter = Arc::new(RateLimiter::direct(quota.allow_burst(NonZeroU32::MIN)));
            warn!(
                location_id,
                per_interval = halved,
                "GHL answered 429; halving this process's rate"
            );
            s.cut = Some((now + cut_for, halved, limiter));
        });
    }
}

#[cfg(test)]
mod tests {
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
            budget.acquire("loc", deadline).await,
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
            budget.acquire("loc", None).await,
            Err(GhlError::DailyLimit { .. })
        ));
        assert!(budget.acquire("other", None).await.is_ok());
    }
}
