//! Counters a test can assert on, per platform: what reached the sandbox and what it did to it.

use std::collections::BTreeMap;

/// A snapshot taken by `Sandbox::stats(platform)`. Paths are relative to the platform's base
/// (`Platform::base_path`): `/users/{user_id}` for Skilljar, `/api/v2/users` for TalentLMS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformStats {
    /// Every request under the platform's prefix, routed or not.
    pub total_requests: u64,
    /// `"METHOD /route/{template}"` → requests, counted before any check or fault.
    pub routes: BTreeMap<String, u64>,
    /// `"METHOD /concrete/path"` (no query) → requests, counted with `routes`.
    pub paths: BTreeMap<String, u64>,
    /// Requests refused for missing or wrong credentials.
    pub unauthorized: u64,
    /// 429s the rate limiter sent (injected ones are counted separately).
    pub rate_limited: u64,
    pub injected_429: u64,
    pub injected_5xx: u64,
    pub injected_drops: u64,
    /// Requests carried out whose answer was then dropped.
    pub injected_lost_answers: u64,
    /// Most requests the limiter admitted within one sliding interval; never above its `max`.
    pub max_admitted_in_window: u64,
    /// Most authenticated requests that reached the limiter (admitted or not) within one
    /// interval: above `max` means the client overran the platform's budget.
    pub max_attempted_in_window: u64,
}

impl PlatformStats {
    /// Requests to one route, e.g. `stats.route("GET", "/users/{user_id}")`.
    pub fn route(&self, method: &str, template: &str) -> u64 {
        self.routes
            .get(&format!("{method} {template}"))
            .copied()
            .unwrap_or(0)
    }

    /// Requests to one concrete path, e.g. `stats.path("POST", "/domains/demo.skilljar.com/users")`.
    pub fn path(&self, method: &str, path: &str) -> u64 {
        self.paths.get(&format!("{method} {path}")).copied().unwrap_or(0)
    }

    /// Requests that matched a route, whatever their outcome.
    pub fn routed(&self) -> u64 {
        self.routes.values().sum()
    }

    pub(crate) fn count(&mut self, method: &str, template: &str, path: &str) {
        *self.routes.entry(format!("{method} {template}")).or_insert(0) += 1;
        *self.paths.entry(format!("{method} {path}")).or_insert(0) += 1;
    }
}
