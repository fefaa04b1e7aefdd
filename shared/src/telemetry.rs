//! Logging: JSON lines (CloudWatch-friendly) with the current span's fields, filtered by
//! `RUST_LOG` (default `info`). `LOG_FORMAT=pretty` gives readable local output.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let pretty = std::env::var("LOG_FORMAT").is_ok_and(|v| v == "pretty");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // try_init: a second call (tests) keeps the first subscriber instead of panicking.
    let _ = if pretty {
        builder.compact().without_time().try_init()
    } else {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .try_init()
    };
}

/// The metrics collector for this process (CloudWatch Embedded Metric Format, namespace
/// [`metric::NAMESPACE`], dimension `Stage` from `STAGE`); the Lambda edge flushes it after each
/// invocation. Installed once per process: later calls return the first.
pub fn metrics() -> Result<&'static metrics_cloudwatch_embedded::Collector, String> {
    static COLLECTOR: std::sync::OnceLock<Result<&'static metrics_cloudwatch_embedded::Collector, String>> =
        std::sync::OnceLock::new();
    COLLECTOR
        .get_or_init(|| {
            let stage = std::env::var("STAGE").unwrap_or_else(|_| "local".to_owned());
            let collector = metrics_cloudwatch_embedded::Builder::new()
                .cloudwatch_namespace(metric::NAMESPACE)
                .with_dimension("Stage", stage)
                .init()
                .map_err(|e| format!("metrics: {e}"))?;
            metric::describe();
            Ok(collector)
        })
        .clone()
}

/// The metrics contract (docs/operations.md, "Metrics"): every name, unit and dimension the
/// code emits is here, so that the template's alarms and dashboard have one place to match.
pub mod metric {
    use metrics::Unit;

    pub const NAMESPACE: &str = "LmsGhlSync";

    pub const EVENTS_ACCEPTED: &str = "EventsAccepted";
    pub const EVENTS_DUPLICATE: &str = "EventsDuplicate";
    pub const EVENTS_REJECTED: &str = "EventsRejected";
    pub const EVENTS_SYNCED: &str = "EventsSynced";
    pub const EVENTS_PARKED: &str = "EventsParked";
    pub const EFFECTS_APPLIED: &str = "EffectsApplied";
    pub const GHL_CALLS: &str = "GhlCalls";
    pub const GHL_429: &str = "Ghl429";
    pub const GHL_RESPONSES: &str = "GhlResponses";
    pub const GHL_BUDGET_WAIT_MS: &str = "GhlBudgetWaitMs";
    pub const LMS_CALLS: &str = "LmsCalls";
    pub const API_RETRIES: &str = "ApiRetries";
    pub const TOKEN_REFRESH_FAILURES: &str = "TokenRefreshFailures";
    pub const END_TO_END_LATENCY_MS: &str = "EndToEndLatencyMs";
    pub const BATCH_RUNS_FINISHED: &str = "BatchRunsFinished";
    pub const BATCH_RUNS_FAILED: &str = "BatchRunsFailed";

    const COUNTS: &[&str] = &[
        EVENTS_ACCEPTED,
        EVENTS_DUPLICATE,
        EVENTS_REJECTED,
        EVENTS_SYNCED,
        EVENTS_PARKED,
        EFFECTS_APPLIED,
        GHL_CALLS,
        GHL_429,
        GHL_RESPONSES,
        LMS_CALLS,
        API_RETRIES,
        TOKEN_REFRESH_FAILURES,
        BATCH_RUNS_FINISHED,
        BATCH_RUNS_FAILED,
    ];
    const MILLIS: &[&str] = &[GHL_BUDGET_WAIT_MS, END_TO_END_LATENCY_MS];

    pub(super) fn describe() {
        for name in COUNTS {
            metrics::describe_counter!(*name, Unit::Count, "");
        }
        for name in MILLIS {
            metrics::describe_histogram!(*name, Unit::Milliseconds, "");
        }
    }

    /// One more of `name` under `[Stage]`, and under `[Stage, dimension]` when one is given (the
    /// alarms read the totals, the dashboard the breakdown).
    pub fn count(name: &'static str, by: Option<(&'static str, &str)>) {
        metrics::counter!(name).increment(1);
        if let Some((dimension, value)) = by {
            metrics::counter!(name, dimension => value.to_owned()).increment(1);
        }
    }

    /// One more of `name` under exactly these dimensions (besides `Stage`): a breakdown only.
    pub fn count_by(name: &'static str, dimensions: &[(&'static str, String)]) {
        let labels: Vec<metrics::Label> = dimensions
            .iter()
            .map(|(key, value)| metrics::Label::new(*key, value.clone()))
            .collect();
        metrics::counter!(name, labels).increment(1);
    }

    /// One value of a time in milliseconds, under `[Stage]`.
    pub fn millis(name: &'static str, value: std::time::Duration) {
        metrics::histogram!(name).record(value.as_secs_f64() * 1000.0);
    }
}
