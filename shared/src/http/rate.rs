//! The rate budget every API call waits on: one schedule per API account (a GHL location, an LMS
//! account, an outbound destination), shared by every process, with each API's own limits.
//!
//! The shared part is GCRA: requests to one account are spaced `interval / (max · safety)` apart
//! on one schedule in DynamoDB (`SlotSchedule`, keyed by `keys`), so that in any window of
//! `interval` at most `max · safety` requests leave, whichever process sends them. The in-process
//! part, a `governor` limiter, engages only after a 429 and halves this process's own rate for a
//! while. Limits are learned from the answers' headers as they arrive: GHL's
//! `X-RateLimit-Max / -Remaining / -Interval-Milliseconds / -Limit-Daily / -Daily-Remaining`,
//! and the common `X-RateLimit-Limit / -Remaining / -Reset` (TalentLMS) and `Retry-After`.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::keys;
use crate::ports::SlotSchedule;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub max: u32,
    pub interval: Duration,
    /// Requests per day where the API has such a limit (learned from GHL's headers).
    pub daily: u32,
}

/// The longest a `Retry-After` is believed: a day (any longer is a broken header).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);
/// GHL's: 100 requests / 10 s and 200,000 / day per location. The default because GHL was the
/// budget's first API; the LMS clients name their own.
impl Default for RateLimits {
    fn default() -> Self {
        Self {
            max: 100,
            interval: Duration::from_secs(10),
            daily: 200_000,
        }
    }
}

/// Whose accounts a budget schedules, which says where their schedules live in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetScope {
    /// GHL: one schedule per location.
    GhlLocation,
    /// One schedule per account of this platform (`skilljar`, `talentlms`, `trainual`,
    /// `outbound` destinations).
    LmsAccount(&'static str),
}

impl BudgetScope {
    fn schedule_key(self, account: &str) -> String {
        match self {
            BudgetScope::GhlLocation => keys::ghl_location_schedule(account),
            BudgetScope::LmsAccount(platform) => keys::lms_account_schedule(platform, account),
        }
    }
}

impl fmt::Display for BudgetScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetScope::GhlLocation => f.write_str("location"),
            BudgetScope::LmsAccount(platform) => write!(f, "{platform} account"),
        }
    }
}

/// What one response said about the budget. Each API sends some of these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// GHL's `X-RateLimit-Max`: requests per `interval_ms`.
    pub max: Option<u32>,
    pub remaining: Option<u32>,
    pub interval_ms: Option<u64>,
    pub daily_limit: Option<u32>,
    pub daily_remaining: Option<u32>,
    /// `X-RateLimit-Limit`: requests per window, the window being the API's own (TalentLMS: an
    /// hour).
    pub limit: Option<u32>,
    /// `X-RateLimit-Reset`: when the window restarts, in epoch seconds or seconds from now.
    pub reset: Option<u64>,
    /// `Retry-After`, in seconds or as an HTTP date.
    pub retry_after: Option<Duration>,
}

impl RateHeaders {
    pub fn parse(headers: &HeaderMap) -> Self {
        fn text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
            Some(headers.get(name)?.to_str().ok()?.trim())
        }
        fn get<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Option<T> {
            text(headers, name)?.parse().ok()
        }
        // Capped: a server's "come back in 10^19 s" must not overflow an instant (a panic).
        let retry_after = text(headers, "retry-after")
            .and_then(|value| match value.parse::<u64>() {
                Ok(secs) => Some(Duration::from_secs(secs)),
                Err(_) => httpdate::parse_http_date(value)
                    .ok()
                    .map(|at| at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO)),
            })
            .map(|asked| asked.min(MAX_RETRY_AFTER));
        Self {
            max: get(headers, "x-ratelimit-max"),
            remaining: get(headers, "x-ratelimit-remaining"),
            interval_ms: get(headers, "x-ratelimit-interval-milliseconds"),
            daily_limit: get(headers, "x-ratelimit-limit-daily"),
            daily_remaining: get(headers, "x-ratelimit-daily-remaining"),
            limit: get(headers, "x-ratelimit-limit"),
            reset: get(headers, "x-ratelimit-reset"),
            retry_after,
        }
    }

    /// How long until the window restarts, if the answer said.
    fn reset_in(&self) -> Option<Duration> {
        // Values this large are epoch seconds (2001 on); smaller ones count from now.
        const EPOCH_FLOOR: u64 = 1_000_000_000;
        let reset = self.reset?;
        if reset >= EPOCH_FLOOR {
            let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).ok()?;
            Some(Duration::from_secs(reset).saturating_sub(now))
        } else {
            Some(Duration::from_secs(reset))
        }
    }
}

/// Why the budget let no request go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// Retryable: the account is busy for longer than the caller may wait.
    #[error("no request slot for {scope} {account} {bound}")]
    NoSlot {
        scope: BudgetScope,
        account: String,
        bound: WaitBound,
    },
    /// Retryable later: the API said the day's requests are spent.
    #[error("the daily request budget of {scope} {account} is spent")]
    DailySpent { scope: BudgetScope, account: String },
}

/// Which limit a refused wait ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitBound {
    Deadline,
    WaitLimit,
}

impl fmt::Display for WaitBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitBound::Deadline => "before the deadline",
            WaitBound::WaitLimit => "within the wait limit",
        })
    }
}

#[async_trait]
pub trait RateBudget: Send + Sync {
    /// Waits until a request to `account` may be sent; gives up (retryable) rather than wait past
    /// `deadline`.
    async fn acquire(&self, account: &str, deadline: Option<Instant>) -> Result<(), BudgetError>;
    /// Learns from a response's headers.
    fn observe(&self, account: &str, headers: &RateHeaders);
    /// The API answered 429: slow this process down.
    fn throttled(&self, account: &str);
}

/// Requests let through, per API: the daily batch's run summary reports its calls from them.
#[derive(Debug, Default)]
pub struct CallCounter(Mutex<std::collections::BTreeMap<String, u64>>);

impl CallCounter {
    /// The counts since the last `take`, and a fresh start.
    pub fn take(&self) -> std::collections::BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn add(&self, api: &str) {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry(api.to_owned()).or_default() += 1;
    }
}

/// A budget that counts what it lets through as `api`.
pub struct Counted {
    pub inner: Arc<dyn RateBudget>,
    pub api: &'static str,
    pub counter: Arc<CallCounter>,
}

#[async_trait]
impl RateBudget for Counted {
    async fn acquire(&self, account: &str, deadline: Option<Instant>) -> Result<(), BudgetError> {
        self.inner.acquire(account, deadline).await?;
        self.counter.add(self.api);
        Ok(())
    }
    fn observe(&self, account: &str, headers: &RateHeaders) {
        self.inner.observe(account, headers);
    }
    fn throttled(&self, account: &str) {
        self.inner.throttled(account);
    }
}

/// No budget at all; for tests of other behaviour.
pub struct Unlimited;

#[async_trait]
impl RateBudget for Unlimited {
    async fn acquire(&self, _: &str, _: Option<Instant>) -> Result<(), BudgetError> {
        Ok(())
    }
    fn observe(&self, _: &str, _: &RateHeaders) {}
    fn throttled(&self, _: &str) {}
}

#[derive(Debug, Clone)]
pub struct BudgetConfig {
    /// Whose accounts this budget schedules.
    pub scope: BudgetScope,
    /// Limits assumed until the API's headers say otherwise.
    pub limits: RateLimits,
    /// Share of the API's limit the budget aims for; the rest absorbs clock skew and network
    /// jitter.
    pub safety: f64,
    /// Longest a caller waits for a slot before giving up (retryable).
    pub max_wait: Duration,
    /// How long a 429 halves this process's rate.
    pub cut_for: Duration,
    /// How long `X-RateLimit-Remaining: 0` pauses an account when the answer does not say when
    /// the window restarts; `None`: a tenth of `limits.interval` (right for GHL, whose headers
    /// state the interval).
    pub spent_pause: Option<Duration>,
    /// Background work (the daily batch): books a slot only while the shared schedule is booked
    /// less than this far ahead, else waits; so that when realtime traffic is queueing for the
    /// location, the batch steps back instead of taking its turns. `None`: realtime.
    pub yield_beyond: Option<Duration>,
}

/// GHL's budget (see `RateLimits::default`).
impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            scope: BudgetScope::GhlLocation,
            limits: RateLimits::default(),
            safety: 0.97,
            max_wait: Duration::from_secs(30),
            cut_for: Duration::from_secs(60),
            spent_pause: None,
            yield_beyond: None,
        }
    }
}

impl BudgetConfig {
    /// The same budget for background work: yields to queued realtime requests, and waits
    /// longer for its turn (it has no sender waiting on it).
    pub fn background(self) -> Self {
        Self {
            yield_beyond: Some(Duration::from_millis(500)),
            max_wait: Duration::from_secs(120),
            ..self
        }
    }
}

impl BudgetConfig {
    /// The budget of one LMS platform's accounts, with that platform's limits.
    pub fn lms(platform: &'static str, limits: RateLimits) -> Self {
        Self {
            scope: BudgetScope::LmsAccount(platform),
            limits,
            ..Self::default()
        }
    }
}

struct AccountState {
    limits: RateLimits,
    /// This process's own limiter after a 429, and until when it applies.
    cut: Option<(Instant, u32, Arc<DefaultDirectRateLimiter>)>,
    paused_until: Option<Instant>,
    daily_blocked_until: Option<Instant>,
}

pub struct SharedRateBudget {
    schedule: Arc<dyn SlotSchedule>,
    config: BudgetConfig,
    accounts: Mutex<HashMap<String, AccountState>>,
}

impl SharedRateBudget {
    pub fn new(schedule: Arc<dyn SlotSchedule>, config: BudgetConfig) -> Self {
        Self {
            schedule,
            config,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    fn with_state<R>(&self, account: &str, f: impl FnOnce(&mut AccountState) -> R) -> R {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        let state = accounts
            .entry(account.to_owned())
            .or_insert_with(|| AccountState {
                limits: self.config.limits,
                cut: None,
                paused_until: None,
                daily_blocked_until: None,
            });
        f(state)
    }

    /// Microseconds between two requests to one account, all processes together.
    fn spacing_us(&self, limits: RateLimits) -> i64 {
        let per_request =
            limits.interval.as_micros() as f64 / (f64::from(limits.max.max(1)) * self.config.safety);
        per_request.ceil() as i64
    }

    fn no_slot(&self, account: &str, bound: WaitBound) -> BudgetError {
        BudgetError::NoSlot {
            scope: self.config.scope,
            account: account.to_owned(),
            bound,
        }
    }
}

fn epoch_us() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64
}

#[async_trait]
impl RateBudget for SharedRateBudget {
    async fn acquire(&self, account: &str, deadline: Option<Instant>) -> Result<(), BudgetError> {
        let now = Instant::now();
        let (limits, cut, paused_until, daily_blocked) = self.with_state(account, |s| {
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
            return Err(BudgetError::DailySpent {
                scope: self.config.scope,
                account: account.to_owned(),
            });
        }
        let give_up = deadline.map_or(now + self.config.max_wait, |d| d.min(now + self.config.max_wait));
        let bound = if deadline.is_some_and(|d| d < now + self.config.max_wait) {
            WaitBound::Deadline
        } else {
            WaitBound::WaitLimit
        };
        if let Some(until) = paused_until.filter(|u| *u > now) {
            // A pause can be long (an hourly window spent): refuse at once rather than sleep
            // through the caller's time.
            if until > give_up {
                return Err(self.no_slot(account, bound));
            }
            tokio::time::sleep_until(until).await;
        }
        if let Some(limiter) = cut
            && tokio::time::timeout_at(give_up, limiter.until_ready())
                .await
                .is_err()
        {
            return Err(self.no_slot(account, bound));
        }

        let spacing = self.spacing_us(limits);
        let interval_us = limits.interval.as_micros() as i64;
        let key = self.config.scope.schedule_key(account);
        loop {
            // Never book a slot later than this caller may wait for: a refused caller's slot
            // would be lost, and on a slow API (an hour's window) lost slots add up.
            let room_us = give_up.saturating_duration_since(Instant::now()).as_micros() as i64;
            let reach_us = self
                .config
                .yield_beyond
                .map_or(interval_us, |y| y.as_micros() as i64);
            let horizon = reach_us.min(room_us);
            let now_us = epoch_us();
            match self.schedule.reserve(&key, now_us, spacing, horizon).await {
                Ok(Some(start_us)) => {
                    // Measured after the reservation call, so that its latency is not slept twice.
                    let wait_us = start_us - epoch_us();
                    if Instant::now() + Duration::from_micros(wait_us.max(0) as u64) > give_up {
                        // Only the reservation's own latency gets here; the slot stays unused.
                        return Err(self.no_slot(account, WaitBound::Deadline));
                    }
                    if wait_us > 0 {
                        tokio::time::sleep(Duration::from_micros(wait_us as u64)).await;
                    }
                    return Ok(());
                }
                Ok(None) if self.config.yield_beyond.is_some() => {
                    // Realtime requests are queueing: let them go first.
                    if Instant::now() >= give_up {
                        return Err(self.no_slot(account, bound));
                    }
                    let pause = Duration::from_micros((reach_us / 2).max(spacing) as u64);
                    tokio::time::sleep(pause.mul_f64(0.5 + fastrand::f64())).await;
                }
                Ok(None) => {
                    // The next free slot is later than the caller may wait: waiting cannot help.
                    if room_us <= interval_us || Instant::now() >= give_up {
                        return Err(self.no_slot(account, bound));
                    }
                    // Booked a whole interval ahead: come back when part of it has passed.
                    let pause = Duration::from_micros((interval_us / 4).max(spacing) as u64);
                    tokio::time::sleep(pause.mul_f64(0.5 + fastrand::f64())).await;
                }
                Err(err) => {
                    // Failing open: a DynamoDB hiccup must not stop the sync; the API's 429s and
                    // the retry policy still bound the damage.
                    warn!(error = %err, "rate budget unavailable; sending without a shared slot");
                    return Ok(());
                }
            }
        }
    }

    fn observe(&self, account: &str, headers: &RateHeaders) {
        let now = Instant::now();
        let scope = self.config.scope;
        let spent_pause = self.config.spent_pause;
        self.with_state(account, |s| {
            let learned = match (headers.max, headers.interval_ms, headers.limit) {
                (Some(max), Some(interval_ms), _) if max > 0 && interval_ms > 0 => Some(RateLimits {
                    max,
                    interval: Duration::from_millis(interval_ms),
                    daily: headers.daily_limit.unwrap_or(s.limits.daily),
                }),
                // A window size without its length is trusted only to raise the limit over the
                // configured window (a larger plan): a smaller figure is a shorter window's, which
                // the configured spacing already keeps to.
                (None, _, Some(limit)) if limit > s.limits.max => Some(RateLimits {
                    max: limit,
                    ..s.limits
                }),
                _ => None,
            };
            if let Some(learned) = learned
                && learned != s.limits
            {
                debug!(%scope, account, max = learned.max, interval_ms = learned.interval.as_millis() as u64, "rate limits learned from the API");
                s.limits = learned;
            }
            if headers.remaining == Some(0) {
                // Something outside this budget used the window: wait until it restarts if the
                // answer says when, else the API's own guess.
                let pause = headers.reset_in().map_or_else(
                    || spent_pause.unwrap_or(s.limits.interval / 10),
                    |reset| reset.min(s.limits.interval),
                );
                s.paused_until = Some(now + pause);
            }
            if let Some(asked) = headers.retry_after {
                let until = now + asked;
                if s.paused_until.is_none_or(|p| p < until) {
                    s.paused_until = Some(until);
                }
            }
            if headers.daily_remaining == Some(0) {
                s.daily_blocked_until = Some(now + Duration::from_secs(600));
            }
        });
    }

    fn throttled(&self, account: &str) {
        let now = Instant::now();
        let cut_for = self.config.cut_for;
        let scope = self.config.scope;
        self.with_state(account, |s| {
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
            warn!(%scope, account, per_interval = halved, "the API answered 429; halving this process's rate");
            s.cut = Some((now + cut_for, halved, limiter));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemorySlots;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = value.parse() {
                map.insert(*name, value);
            }
        }
        map
    }

    fn talentlms(max: u32, interval_ms: u64) -> SharedRateBudget {
        SharedRateBudget::new(
            Arc::new(MemorySlots::default()),
            BudgetConfig {
                safety: 1.0,
                max_wait: Duration::from_secs(2),
                ..BudgetConfig::lms(
                    "talentlms",
                    RateLimits {
                        max,
                        interval: Duration::from_millis(interval_ms),
                        daily: u32::MAX,
                    },
                )
            },
        )
    }

    #[test]
    fn an_absurd_retry_after_is_capped() {
        let parsed = RateHeaders::parse(&headers(&[("retry-after", "10000000000000000000")]));
        assert_eq!(parsed.retry_after, Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn parses_the_common_headers_and_retry_after() {
        let parsed = RateHeaders::parse(&headers(&[
            ("x-ratelimit-limit", "10000"),
            ("x-ratelimit-remaining", " 9876 "),
            ("x-ratelimit-reset", "1763800000"),
            ("retry-after", "7"),
        ]));
        assert_eq!(parsed.limit, Some(10_000));
        assert_eq!(parsed.remaining, Some(9876));
        assert_eq!(parsed.reset, Some(1_763_800_000));
        assert_eq!(parsed.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(parsed.max, None);

        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let parsed = RateHeaders::parse(&headers(&[("retry-after", &later)]));
        let asked = parsed.retry_after.unwrap_or_default();
        assert!(
            asked > Duration::from_secs(110) && asked <= Duration::from_secs(120),
            "{asked:?}"
        );
        assert_eq!(
            RateHeaders::parse(&headers(&[("retry-after", "soon")])).retry_after,
            None
        );
    }

    #[tokio::test]
    async fn a_window_size_alone_only_raises_the_configured_limit() -> Result<(), BudgetError> {
        // 5 per second configured; a smaller figure (a shorter window's) is not learned, a larger
        // one (a larger plan) is.
        let budget = talentlms(5, 1000);
        budget.observe(
            "acme",
            &RateHeaders {
                limit: Some(2),
                remaining: Some(1),
                ..RateHeaders::default()
            },
        );
        let start = Instant::now();
        for _ in 0..4 {
            budget.acquire("acme", None).await?;
        }
        let at_five = start.elapsed();
        assert!(
            at_five >= Duration::from_millis(590) && at_five < Duration::from_millis(1000),
            "{at_five:?}"
        );
        budget.observe(
            "acme",
            &RateHeaders {
                limit: Some(50),
                remaining: Some(40),
                ..RateHeaders::default()
            },
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        let start = Instant::now();
        for _ in 0..6 {
            budget.acquire("acme", None).await?;
        }
        assert!(
            start.elapsed() < Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_spent_window_without_a_reset_pauses_for_the_platform_s_guess() -> Result<(), BudgetError> {
        let budget = SharedRateBudget::new(
            Arc::new(MemorySlots::default()),
            BudgetConfig {
                spent_pause: Some(Duration::from_millis(300)),
                ..BudgetConfig::lms(
                    "talentlms",
                    RateLimits {
                        max: 1000,
                        interval: Duration::from_secs(3600),
                        daily: u32::MAX,
                    },
                )
            },
        );
        budget.observe(
            "acme",
            &RateHeaders {
                remaining: Some(0),
                ..RateHeaders::default()
            },
        );
        let start = Instant::now();
        budget.acquire("acme", None).await?;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(290) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_spent_window_longer_than_the_wait_is_refused_at_once() {
        let budget = talentlms(2000, 3_600_000);
        budget.observe(
            "acme",
            &RateHeaders {
                limit: Some(2000),
                remaining: Some(0),
                reset: Some(1800),
                ..RateHeaders::default()
            },
        );
        let started = Instant::now();
        let refused = budget.acquire("acme", None).await;
        assert!(matches!(refused, Err(BudgetError::NoSlot { .. })), "{refused:?}");
        assert!(started.elapsed() < Duration::from_millis(100));
        assert_eq!(
            refused.err().map(|e| e.to_string()).as_deref(),
            Some("no request slot for talentlms account acme within the wait limit")
        );
        assert!(budget.acquire("other", None).await.is_ok(), "accounts are apart");
    }

    #[tokio::test]
    async fn retry_after_pauses_the_account() -> Result<(), BudgetError> {
        let budget = talentlms(1000, 1000);
        budget.observe(
            "acme",
            &RateHeaders {
                retry_after: Some(Duration::from_millis(300)),
                ..RateHeaders::default()
            },
        );
        let start = Instant::now();
        budget.acquire("acme", None).await?;
        assert!(
            start.elapsed() >= Duration::from_millis(290),
            "{:?}",
            start.elapsed()
        );
        Ok(())
    }

    #[tokio::test]
    async fn slots_are_never_booked_beyond_the_wait_limit() {
        // One slot per 100 ms over an hour's window, and a 500 ms wait limit: of 20 callers at
        // once, those past the limit are refused at once and without booking, so the schedule
        // ends about 500 ms ahead rather than the 2 s that booking every caller would take.
        let slots = Arc::new(MemorySlots::default());
        let budget = SharedRateBudget::new(
            slots.clone(),
            BudgetConfig {
                safety: 1.0,
                max_wait: Duration::from_millis(500),
                ..BudgetConfig::lms(
                    "skilljar",
                    RateLimits {
                        max: 36_000,
                        interval: Duration::from_secs(3600),
                        daily: u32::MAX,
                    },
                )
            },
        );
        let started_us = epoch_us();
        let answers = futures_util::future::join_all((0..20).map(|_| budget.acquire("acme", None))).await;
        let granted = answers.iter().filter(|a| a.is_ok()).count();
        assert!((5..=7).contains(&granted), "{granted} granted");
        let key = keys::lms_account_schedule("skilljar", "acme");
        let next = slots
            .reserve(&key, epoch_us(), 0, 3_600_000_000)
            .await
            .ok()
            .flatten();
        let booked = next.map(|n| n - started_us).unwrap_or_default();
        assert!(booked <= 700_000, "schedule booked {booked} µs ahead");
    }

    #[tokio::test]
    async fn background_work_lets_queued_realtime_requests_go_first() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let schedule: Arc<MemorySlots> = Arc::new(MemorySlots::default());
        let config = BudgetConfig {
            safety: 1.0,
            max_wait: Duration::from_secs(5),
            limits: RateLimits {
                max: 20,
                interval: Duration::from_secs(1),
                daily: u32::MAX,
            },
            ..BudgetConfig::default()
        };
        let realtime = Arc::new(SharedRateBudget::new(schedule.clone(), config.clone()));
        let background = Arc::new(SharedRateBudget::new(schedule, config.background()));
        // Each request notes when it got through (1st, 2nd, …).
        let order = Arc::new(AtomicUsize::new(0));
        let go = |budget: Arc<SharedRateBudget>| {
            let order = order.clone();
            tokio::spawn(async move {
                let result = budget.acquire("loc", None).await;
                (order.fetch_add(1, Ordering::SeqCst), result.is_ok())
            })
        };
        // Realtime traffic books the next second of the location's schedule; then the batch
        // asks; then ten more webhooks' requests arrive.
        let early: Vec<_> = (0..20).map(|_| go(realtime.clone())).collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let batch = go(background.clone());
        tokio::time::sleep(Duration::from_millis(20)).await;
        let late: Vec<_> = (0..10).map(|_| go(realtime.clone())).collect();
        let mut late_places = Vec::new();
        for task in early.into_iter().chain(late) {
            let (place, ok) = task.await.unwrap_or((usize::MAX, false));
            assert!(ok);
            late_places.push(place);
        }
        let (batch_place, ok) = batch.await.unwrap_or((0, false));
        assert!(ok);
        // Without yielding it would have booked the 21st slot, ahead of the late ten.
        assert_eq!(batch_place, 30, "realtime places: {late_places:?}");
    }
}
