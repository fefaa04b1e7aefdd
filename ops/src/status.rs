//! `status`: what the deployment holds right now: each queue's depth (dead-letter queues first
//! among what to look at) and each daily-batch job's last run.

use std::fmt;

use aws_sdk_sqs::types::QueueAttributeName;
use lms_ghl::batch::{JobKind, RunState};
use lms_ghl::http::RateLimits;
use lms_ghl::mapping::{Mapping, Platform};
use lms_ghl::ports::{Documents, SlotSchedule};

/// The queues' environment variables, as the functions name them.
pub const QUEUES: &[&str] = &[
    "QUEUE_URL",
    "DEAD_LETTER_QUEUE_URL",
    "BATCH_QUEUE_URL",
    "BATCH_DEAD_LETTER_QUEUE_URL",
    "CONTINUATION_QUEUE_URL",
    "CONTINUATION_DEAD_LETTER_QUEUE_URL",
    // The outbox Pipe's: accepted deliveries it could not send (`outbox resend`).
    "OUTBOX_DEAD_LETTER_QUEUE_URL",
];

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("SQS GetQueueAttributes on {queue}: {detail}")]
    Sqs { queue: String, detail: String },
    #[error("reading {job}'s last run: {detail}")]
    Store { job: String, detail: String },
    #[error("reading the functions' logs: {detail}")]
    Logs { detail: String },
    #[error("reading location {location_id}'s rate budget: {detail}")]
    Budget { location_id: String, detail: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub variable: String,
    pub visible: u64,
    pub in_flight: u64,
}

#[derive(Debug, Clone)]
pub struct JobStatus {
    pub job: String,
    pub last_run: Option<RunState>,
}

/// How far one GHL location's requests are booked ahead on the shared rate budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub location_id: String,
    /// Requests already scheduled beyond now (0: the next one goes at once).
    pub booked_ahead: u64,
    pub booked_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Status {
    pub queues: Vec<QueueDepth>,
    pub budgets: Vec<Budget>,
    pub jobs: Vec<JobStatus>,
}

impl Status {
    /// Messages waiting on dead-letter queues: what needs an operator.
    pub fn parked(&self) -> u64 {
        self.queues
            .iter()
            .filter(|q| q.variable.contains("DEAD_LETTER"))
            .map(|q| q.visible + q.in_flight)
            .sum()
    }
}

/// Reads each queue named in `queues` (variable, URL) and each batch job of the mapping's
/// targets (those with an API to read learners from).
pub async fn read<T: Documents + SlotSchedule>(
    sqs: &aws_sdk_sqs::Client,
    queues: &[(String, String)],
    table: &T,
    mapping: &Mapping,
) -> Result<Status, StatusError> {
    let documents: &dyn Documents = table;
    let mut depths = Vec::new();
    for (variable, url) in queues {
        let output = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| StatusError::Sqs {
                queue: variable.clone(),
                detail: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
            })?;
        let count = |name: QueueAttributeName| {
            output
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        depths.push(QueueDepth {
            variable: variable.clone(),
            visible: count(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        });
    }
    let mut jobs = Vec::new();
    for (target, spec) in &mapping.targets {
        if *spec.platform.get_ref() == Platform::Outbound {
            continue;
        }
        for kind in [JobKind::Poll, JobKind::Reconcile] {
            let job = format!("{}:{target}", kind.as_str());
            let stored = documents
                .get(&lms_ghl::keys::batch_run(&job))
                .await
                .map_err(|e| StatusError::Store {
                    job: job.clone(),
                    detail: e.to_string(),
                })?;
            let last_run = stored.and_then(|d| serde_json::from_str::<RunState>(&d.body).ok());
            jobs.push(JobStatus { job, last_run });
        }
    }
    // Every location the mapping names, on GHL's limit (100 requests / 10 s: one slot each 100 ms).
    let limits = RateLimits::default();
    let spacing_us = (limits.interval.as_micros() / u128::from(limits.max.max(1))) as i64;
    let mut locations: Vec<&str> = mapping
        .targets
        .values()
        .map(|t| t.location_id.as_str())
        .chain(
            mapping
                .providers
                .values()
                .filter_map(|p| p.location_id.as_deref()),
        )
        .collect();
    locations.sort_unstable();
    locations.dedup();
    let now_us = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64;
    let mut budgets = Vec::new();
    for location_id in locations {
        let next = table
            .next_free(&lms_ghl::keys::ghl_location_schedule(location_id))
            .await
            .map_err(|e| StatusError::Budget {
                location_id: location_id.to_owned(),
                detail: e.to_string(),
            })?;
        let ahead_us = next.map_or(0, |n| (n - now_us).max(0));
        budgets.push(Budget {
            location_id: location_id.to_owned(),
            booked_ahead: (ahead_us / spacing_us.max(1)) as u64,
            booked_ms: (ahead_us / 1_000) as u64,
        });
    }
    Ok(Status {
        queues: depths,
        budgets,
        jobs,
    })
}

impl Status {
    /// The daily-batch jobs' part (`batch status`).
    pub fn jobs_text(&self) -> String {
        let mut text = String::from("daily-batch jobs (last run):\n");
        for j in &self.jobs {
            match &j.last_run {
                None => text.push_str(&format!("  {:<24} never run\n", j.job)),
                Some(run) => {
                    let s = &run.summary;
                    let state = match s.finished_at {
                        Some(at) => format!("finished {at}"),
                        None => format!("running since {}", s.started_at),
                    };
                    text.push_str(&format!(
                        "  {:<24} {state}: {} change(s), {} error(s), {} invocation(s)\n",
                        j.job,
                        s.changes_total(),
                        s.errors.len(),
                        s.invocations
                    ));
                }
            }
        }
        text
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "queues (visible + in flight):")?;
        for q in &self.queues {
            let flag = if q.variable.contains("DEAD_LETTER") && q.visible + q.in_flight > 0 {
                "  <- parked: lms-sync-ops dlq list"
            } else {
                ""
            };
            writeln!(f, "  {:<36} {} + {}{flag}", q.variable, q.visible, q.in_flight)?;
        }
        writeln!(
            f,
            "GHL rate budget (shared by every function; 100 requests / 10 s per location):"
        )?;
        for b in &self.budgets {
            writeln!(
                f,
                "  {:<24} {} request(s) booked ahead ({} ms)",
                b.location_id, b.booked_ahead, b.booked_ms
            )?;
        }
        f.write_str(&self.jobs_text())
    }
}

/// One error line a function logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedError {
    pub function: String,
    pub at_ms: i64,
    pub message: String,
    pub correlation_id: Option<String>,
}

/// The newest `limit` error lines (`"level":"ERROR"`) the stack's functions logged since
/// `since_ms`, from their log groups `/aws/lambda/<stack>-<function>`.
pub async fn recent_errors(
    logs: &aws_sdk_cloudwatchlogs::Client,
    stack: &str,
    since_ms: i64,
    limit: usize,
) -> Result<Vec<LoggedError>, StatusError> {
    let failed = |e: String| StatusError::Logs { detail: e };
    let prefix = format!("/aws/lambda/{stack}-");
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(&prefix)
        .send()
        .await
        .map_err(|e| failed(aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e).to_string()))?;
    let mut found = Vec::new();
    for group in groups.log_groups() {
        let Some(name) = group.log_group_name() else {
            continue;
        };
        let events = logs
            .filter_log_events()
            .log_group_name(name)
            .start_time(since_ms)
            .filter_pattern("ERROR")
            .send()
            .await
            .map_err(|e| failed(aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e).to_string()))?;
        for event in events.events() {
            let raw = event.message().unwrap_or_default();
            // The functions' JSON lines; anything else (the runtime's own) is kept as it is.
            let line: Option<serde_json::Value> = serde_json::from_str(raw).ok();
            if line.as_ref().is_some_and(|l| l["level"] != "ERROR") {
                continue;
            }
            let message = line
                .as_ref()
                .and_then(|l| l["fields"]["message"].as_str())
                .unwrap_or(raw)
                .to_owned();
            found.push(LoggedError {
                function: name.trim_start_matches(&prefix).to_owned(),
                at_ms: event.timestamp().unwrap_or_default(),
                message,
                correlation_id: line
                    .as_ref()
                    .and_then(|l| l["span"]["correlation_id"].as_str())
                    .map(str::to_owned),
            });
        }
    }
    found.sort_by_key(|e| std::cmp::Reverse(e.at_ms));
    found.truncate(limit);
    Ok(found)
}
