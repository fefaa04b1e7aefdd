//! Time as a dependency, so that expiry logic is testable and sane under `cargo lambda watch`.

use std::time::Duration;

use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still unless told otherwise; for tests.
#[derive(Debug)]
pub struct FixedClock(std::sync::Mutex<OffsetDateTime>);

impl FixedClock {
    pub fn new(at: OffsetDateTime) -> Self {
        Self(std::sync::Mutex::new(at))
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0.lock().map(|now| *now).unwrap_or_else(|p| *p.into_inner())
    }
}

/// When the current invocation must be finished, in epoch milliseconds.
///
/// `cargo lambda watch` reports a constant deadline far in the past, and a handler may run without
/// one (tests); both fall back to `now + fallback` so that in-progress claims still expire.
pub fn invocation_deadline_ms(reported_ms: Option<u64>, now: OffsetDateTime, fallback: Duration) -> i64 {
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    match reported_ms.and_then(|ms| i64::try_from(ms).ok()) {
        Some(ms) if ms > now_ms => ms,
        _ => now_ms + fallback.as_millis() as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_falls_back_when_reported_one_is_past_or_missing() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let now_ms = 1_700_000_000_000_i64;
        let fallback = Duration::from_secs(60);
        assert_eq!(
            invocation_deadline_ms(Some(600_000), now, fallback),
            now_ms + 60_000
        );
        assert_eq!(invocation_deadline_ms(None, now, fallback), now_ms + 60_000);
        assert_eq!(
            invocation_deadline_ms(Some(now_ms as u64 + 5_000), now, fallback),
            now_ms + 5_000
        );
    }
}
