//! Counters a test can assert on: what reached the sandbox and what the sandbox did to it.

use std::collections::BTreeMap;

/// A snapshot taken by `Sandbox::stats()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every request that reached the server, routed or not.
    pub total_requests: u64,
    /// `"METHOD /route/{template}"` (OpenAPI path syntax, e.g. `"GET /contacts/{contactId}"`)
    /// → requests, counted before any check or fault.
    pub routes: BTreeMap<String, u64>,
    /// `POST /oauth/token` calls that reached the handler (not faulted away).
    pub token_requests: u64,
    pub token_success: u64,
    pub token_invalid_grant: u64,
    /// 429s the rate limiter sent (injected ones are counted separately).
    pub rate_limited: u64,
    pub injected_429: u64,
    pub injected_5xx: u64,
    pub injected_drops: u64,
    /// Requests carried out whose answer was then dropped.
    pub injected_lost_answers: u64,
    /// Most requests admitted by the limiter within any one sliding interval, over all
    /// locations; never above the configured `max`.
    pub max_admitted_in_window: u64,
    /// Most authenticated requests that reached the limiter (admitted or refused) within any one
    /// interval: above `max` means the client overran its budget.
    pub max_attempted_in_window: u64,
    /// Per location: (max admitted, max attempted) within any one interval.
    pub windows_by_location: BTreeMap<String, (u64, u64)>,
}

impl Stats {
    /// Requests to one route, e.g. `stats.route("POST", "/contacts/upsert")`.
    pub fn route(&self, method: &str, template: &str) -> u64 {
        self.routes
            .get(&format!("{method} {template}"))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn count_route(&mut self, method: &str, template: &str) {
        *self.routes.entry(format!("{method} {template}")).or_insert(0) += 1;
    }
}
