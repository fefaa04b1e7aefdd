//! GHL's per-location budget: a burst limit and a daily limit, reported on every answer.
//!
//! The burst limit is a sliding window log: a request is admitted only if fewer than `max`
//! were admitted in the `interval` before it. That is the strictest reading of "100 per 10 s",
//! so a client that never sees a 429 here stays inside a fixed-window limiter too. The daily
//! limit is a fixed window of `daily_window` counted from the sandbox's start.

use std::collections::VecDeque;
use std::time::Duration;

use http::HeaderMap;
use http::header::HeaderValue;
use tokio::time::Instant;

use crate::config::RateLimitConfig;

/// The budget values of one answer. `apply` writes them under GHL's `X-RateLimit-*` names; other
/// sandboxes read the fields and write their own platform's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateHeaders {
    pub max: u32,
    pub remaining: u64,
    pub interval_ms: u128,
    pub daily_limit: u64,
    pub daily_remaining: u64,
}

impl RateHeaders {
    pub fn apply(&self, headers: &mut HeaderMap) {
        let pairs = [
            ("x-ratelimit-max", self.max.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-interval-milliseconds", self.interval_ms.to_string()),
            ("x-ratelimit-limit-daily", self.daily_limit.to_string()),
            ("x-ratelimit-daily-remaining", self.daily_remaining.to_string()),
        ];
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
}

#[derive(Debug)]
pub struct Limiter {
    config: RateLimitConfig,
    admitted: VecDeque<Instant>,
    /// Every authenticated request that reached the limiter, admitted or not: how hard the
    /// client actually pushed.
    attempted: VecDeque<Instant>,
    day_start: Instant,
    day_count: u64,
    pub max_admitted: u64,
    pub max_attempted: u64,
}

impl Limiter {
    pub fn new(config: RateLimitConfig, start: Instant) -> Self {
        Self {
            config,
            admitted: VecDeque::new(),
            attempted: VecDeque::new(),
            day_start: start,
            day_count: 0,
            max_admitted: 0,
            max_attempted: 0,
        }
    }

    /// Counts the request; `Err` carries the headers of the 429.
    pub fn admit(&mut self, now: Instant) -> Result<RateHeaders, RateHeaders> {
        self.roll(now);
        self.attempted.push_back(now);
        self.max_attempted = self.max_attempted.max(self.attempted.len() as u64);
        let burst_full = self.admitted.len() >= self.config.max as usize;
        let day_full = self.day_count >= self.config.daily_limit;
        if burst_full || day_full {
            return Err(self.headers());
        }
        self.admitted.push_back(now);
        self.day_count += 1;
        self.max_admitted = self.max_admitted.max(self.admitted.len() as u64);
        Ok(self.headers())
    }

    /// The current values without counting a request, for answers that never reach the limiter.
    pub fn peek(&mut self, now: Instant) -> RateHeaders {
        self.roll(now);
        self.headers()
    }

    /// How long until a request would be admitted again (zero when it would be now), for a
    /// `Retry-After`: the oldest admission leaving the sliding window, or the daily window's end.
    pub fn retry_after(&mut self, now: Instant) -> Duration {
        self.roll(now);
        let mut wait = Duration::ZERO;
        if self.admitted.len() >= self.config.max as usize
            && let Some(oldest) = self.admitted.front()
        {
            wait = (*oldest + self.config.interval).saturating_duration_since(now);
        }
        if self.day_count >= self.config.daily_limit {
            let day_end = self.day_start + self.config.daily_window;
            wait = wait.max(day_end.saturating_duration_since(now));
        }
        wait
    }

    fn roll(&mut self, now: Instant) {
        let interval = self.config.interval;
        let expired = |t: &Instant| now.saturating_duration_since(*t) >= interval;
        while self.admitted.front().is_some_and(expired) {
            self.admitted.pop_front();
        }
        while self.attempted.front().is_some_and(expired) {
            self.attempted.pop_front();
        }
        let window = self.config.daily_window.max(Duration::from_millis(1));
        let since = now.saturating_duration_since(self.day_start);
        if since >= window {
            let windows = since.as_nanos() / window.as_nanos();
            let advance = window.saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX));
            self.day_start += advance;
            self.day_count = 0;
        }
    }

    fn headers(&self) -> RateHeaders {
        RateHeaders {
            max: self.config.max,
            remaining: (self.config.max as u64).saturating_sub(self.admitted.len() as u64),
            interval_ms: self.config.interval.as_millis(),
            daily_limit: self.config.daily_limit,
            daily_remaining: self.config.daily_limit.saturating_sub(self.day_count),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max: u32, interval_ms: u64, daily: u64) -> (Limiter, Instant) {
        let start = Instant::now();
        let config = RateLimitConfig {
            max,
            interval: Duration::from_millis(interval_ms),
            daily_limit: daily,
            daily_window: Duration::from_secs(60),
        };
        (Limiter::new(config, start), start)
    }

    #[test]
    fn sliding_window_admits_max_then_refuses_until_the_oldest_expires() {
        let (mut l, t0) = limiter(3, 1000, 100);
        for i in 0..3 {
            assert!(l.admit(t0 + Duration::from_millis(i * 100)).is_ok());
        }
        assert!(l.admit(t0 + Duration::from_millis(999)).is_err());
        // The first admission (t0) has left the window; the second (t0+100ms) has not.
        assert!(l.admit(t0 + Duration::from_millis(1000)).is_ok());
        assert!(l.admit(t0 + Duration::from_millis(1050)).is_err());
        assert_eq!(l.max_admitted, 3);
        // t0+100ms … t0+1050ms: five attempts within one interval, two of them refused.
        assert_eq!(l.max_attempted, 5);
        assert_eq!(
            l.retry_after(t0 + Duration::from_millis(1050)),
            Duration::from_millis(50),
            "the t0+100ms admission leaves at t0+1100ms"
        );
    }

    #[test]
    fn daily_limit_resets_with_the_window() {
        let (mut l, t0) = limiter(100, 10, 2);
        assert!(l.admit(t0).is_ok());
        assert!(l.admit(t0 + Duration::from_millis(20)).is_ok());
        let refused = l.admit(t0 + Duration::from_millis(40));
        assert!(matches!(refused, Err(h) if h.daily_remaining == 0));
        assert!(l.admit(t0 + Duration::from_secs(61)).is_ok());
    }
}
