//! The daily batch: scheduled jobs per LMS target (a `[targets.<name>]` of the mapping) that find
//! what the realtime path missed, and queue only that, on the batch queue the worker also reads.
//!
//! - `poll` (LMS → GHL): the account's learners changed since the job's cursor, with their course
//!   progress, become the canonical events the webhooks produce (`LearnerCreated`,
//!   `MilestoneReached`), so the worker applies them exactly once as it does any event. This is
//!   how TalentLMS and Trainual, which send no webhooks, reach GHL at all.
//! - `reconcile` (GHL ⇄ LMS): every contact of the target's location (filtered by tag or
//!   business), compared with what the target holds for it (the mirror): a difference queues the
//!   contact as a `GhlChanged`; then every learner of the account, as a poll without a cursor.
//!
//! Per learner, what was queued is remembered (a fingerprint), and an LMS report that only echoes
//! the sync's own write is recognised (the mirror), so an unchanged learner or contact queues
//! nothing, and costs no GHL call beyond its share of a search page.
//!
//! A run spans invocations: its state (phase, page cursor, counters) is saved after each page's
//! changes are queued, so a run stopped at any point resumes at the page it was on (a page redone
//! queues the same idempotency keys, which the worker drops). An invocation near its deadline
//! hands the run on with a continuation message. A lease keeps two invocations of one job from
//! working at once; a new trigger finding an unfinished run resumes it rather than starting over.

mod ghl_side;
mod lms_side;
mod state;

#[cfg(test)]
mod tests;

use crate::telemetry::metric;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::clock::Clock;
use crate::contract::{self, DeliveryHash, Envelope};
use crate::domain::SyncEvent;
use crate::ghl::{GhlClients, GhlError};
use crate::http::CallCounter;
use crate::keys;
use crate::lms::{Destinations, LmsAccounts, LmsError};
use crate::mapping::{Mapping, Platform, Target};
use crate::ports::{Documents, EntityMap, Lease, OutboundMessage, PortError, Queue};
use crate::worker::{Context, SyncError};

pub use ghl_side::query as contact_query;
pub use state::{Phase, PollCursor, RunState, RunSummary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Poll,
    Reconcile,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Poll => "poll",
            JobKind::Reconcile => "reconcile",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Queue the differences.
    #[default]
    Run,
    /// Compute the same differences and write nothing (no queue, no state, no cursor).
    Plan,
}

/// What starts (or carries on) a job: the EventBridge rule's constant input, a continuation
/// message, or a person (`scripts/run --batch`, the Lambda console).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub job: JobKind,
    /// The mapping's target name.
    pub target: String,
    #[serde(default)]
    pub mode: Mode,
    /// A poll from this time instead of the job's cursor (to re-read a period).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// Set by a continuation: the run it carries on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

impl BatchRequest {
    /// `poll:talent`, `reconcile:academy`: the name of the job's lease, state and cursor.
    pub fn job_name(&self) -> String {
        format!("{}:{}", self.job.as_str(), self.target)
    }
}

/// What an invocation came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BatchReport {
    /// The run finished in this invocation.
    Finished { summary: RunSummary },
    /// The run goes on in another invocation (a continuation was sent).
    Continues { summary: RunSummary },
    /// A plan: what a run would queue now.
    Planned { summary: RunSummary },
    /// Nothing done, and why (another invocation holds the job; a repeated continuation).
    Skipped { job: String, reason: String },
}

/// Why a batch invocation failed. The run's state is saved first: the next trigger resumes it.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("the mapping has no target {0:?}")]
    UnknownTarget(String),
    #[error("target {target} ({platform}) cannot be read: {why}")]
    Unreadable {
        target: String,
        platform: &'static str,
        why: &'static str,
    },
    #[error(transparent)]
    Ghl(#[from] GhlError),
    #[error(transparent)]
    Lms(#[from] LmsError),
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The job's stored state could not be read or written (unreadable, or changed by another
    /// invocation), or a fail point stopped the run.
    #[error("batch state: {0}")]
    State(String),
}

/// Limits of one deployment's batch.
#[derive(Debug, Clone)]
pub struct BatchTuning {
    /// Contacts per GHL search page: GHL's largest (500), since calls are the scarce resource.
    pub ghl_page_size: u32,
    /// Learners per LMS page.
    pub lms_page_size: u32,
    /// Least time left in an invocation for another page to be started.
    pub reserve: Duration,
    /// A poll's window starts this long before the previous run started: LMS clocks and
    /// `last_updated` stamps may lag, and a learner read twice queues nothing new.
    pub poll_overlap: Duration,
    /// How long run summaries are kept.
    pub summary_ttl: Duration,
}

impl Default for BatchTuning {
    fn default() -> Self {
        Self {
            ghl_page_size: 500,
            lms_page_size: 100,
            reserve: Duration::from_secs(60),
            poll_overlap: Duration::from_secs(300),
            summary_ttl: Duration::from_secs(90 * 86_400),
        }
    }
}

/// One change to queue.
pub(crate) struct Change {
    /// `direction:kind`, as the summary counts it.
    pub kind: &'static str,
    pub idempotency_key: String,
    pub event: SyncEvent,
}

/// One page's outcome.
struct PageResult {
    changes: Vec<Change>,
    /// Fingerprints to store once the changes are queued.
    remember: Vec<(String, u64, String)>,
    next: Phase,
}

/// The batch's dependencies, built once per cold start.
pub struct BatchRunner {
    pub ghl: GhlClients,
    pub entities: Arc<dyn EntityMap>,
    pub documents: Arc<dyn Documents>,
    pub lease: Arc<dyn Lease>,
    /// The batch queue: changes for the worker.
    pub queue: Arc<dyn Queue>,
    /// Where a run that outlasts its invocation sends its continuation (daily-batch reads it).
    pub continuations: Arc<dyn Queue>,
    pub mapping: Arc<Mapping>,
    pub lms: LmsAccounts,
    pub clock: Arc<dyn Clock>,
    /// Counts the GHL and LMS requests of this process (the clients' budgets report to it).
    pub calls: Arc<CallCounter>,
    pub tuning: BatchTuning,
}

impl BatchRunner {
    /// Runs (or plans, or carries on) one job until it is done or `deadline` is near.
    pub async fn run(&self, request: &BatchRequest, deadline: Instant) -> Result<BatchReport, BatchError> {
        let target = self
            .mapping
            .targets
            .get(&request.target)
            .ok_or_else(|| BatchError::UnknownTarget(request.target.clone()))?;
        if *target.platform.get_ref() == Platform::Outbound {
            return Err(BatchError::Unreadable {
                target: request.target.clone(),
                platform: "outbound",
                why: "an outbound destination has no API to read learners from",
            });
        }
        let job = request.job_name();
        if request.mode == Mode::Plan {
            return self.plan(request, target, deadline).await;
        }
        let owner = uuid::Uuid::new_v4().to_string();
        let lease = keys::batch_lease(&job);
        let ttl = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(60);
        if !self.lease.try_acquire(&lease, &owner, ttl).await? {
            info!(job, "another invocation is running this job; skipped");
            return Ok(BatchReport::Skipped {
                job,
                reason: "another invocation is running this job".into(),
            });
        }
        let result = self.run_held(request, target, &job, deadline).await;
        if let Err(e) = self.lease.release(&lease, &owner).await {
            warn!(error = %e, job, "could not release the batch lease; it expires by itself");
        }
        match &result {
            Ok(BatchReport::Finished { .. }) => {
                metric::count(metric::BATCH_RUNS_FINISHED, Some(("Job", &job)))
            }
            Err(_) => metric::count(metric::BATCH_RUNS_FAILED, Some(("Job", &job))),
            Ok(_) => {}
        }
        result
    }

    async fn run_held(
        &self,
        request: &BatchRequest,
        target: &Target,
        job: &str,
        deadline: Instant,
    ) -> Result<BatchReport, BatchError> {
        let state_key = keys::batch_run(job);
        let stored = self.documents.get(&state_key).await?;
        let mut version = stored.as_ref().map_or(0, |d| d.version);
        let previous: Option<RunState> = stored
            .map(|d| serde_json::from_str(&d.body).map_err(|e| BatchError::State(e.to_string())))
            .transpose()?;
        let mut state = match previous {
            Some(run) if run.phase != Phase::Done => {
                info!(job, run_id = %run.run_id, "resuming the unfinished run");
                run
            }
            Some(run) if request.run_id.as_deref() == Some(run.run_id.as_str()) => {
                return Ok(BatchReport::Skipped {
                    job: job.to_owned(),
                    reason: format!("run {} already finished", run.run_id),
                });
            }
            _ => self.new_run(request, job).await?,
        };
        state.summary.invocations += 1;
        let started = Instant::now();
        let result = self
            .pages(request, target, &mut state, &state_key, &mut version, deadline)
            .await;
        state.summary.duration_ms += u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        state.summary.add_calls(self.calls.take());
        state.summary.cursor = state.phase.cursor();
        if let Err(e) = result {
            state.summary.record_error(e.to_string());
            // Saved so that the next trigger resumes at this page, with the error on record.
            self.save(&state_key, &state, &mut version).await?;
            log_summary(&state.summary, "stopped by an error; the next trigger resumes it");
            return Err(e);
        }
        if state.phase == Phase::Done {
            self.finish(request, job, &mut state, &state_key, &mut version)
                .await?;
            return Ok(BatchReport::Finished {
                summary: state.summary,
            });
        }
        self.save(&state_key, &state, &mut version).await?;
        let continuation = BatchRequest {
            run_id: Some(state.run_id.clone()),
            since: None,
            ..request.clone()
        };
        let body = serde_json::to_string(&continuation).map_err(|e| BatchError::State(e.to_string()))?;
        self.continuations
            .send(&OutboundMessage {
                body,
                attributes: BTreeMap::from([("job".to_owned(), job.to_owned())]),
            })
            .await?;
        log_summary(&state.summary, "handed on to the next invocation");
        Ok(BatchReport::Continues {
            summary: state.summary,
        })
    }

    async fn new_run(&self, request: &BatchRequest, job: &str) -> Result<RunState, BatchError> {
        let now = self.clock.now();
        let since = match (request.job, request.since) {
            (JobKind::Reconcile, _) => None,
            (JobKind::Poll, Some(since)) => Some(since),
            (JobKind::Poll, None) => match self.documents.get(&keys::batch_cursor(job)).await? {
                Some(doc) => Some(
                    serde_json::from_str::<PollCursor>(&doc.body)
                        .map_err(|e| BatchError::State(e.to_string()))?
                        .since,
                ),
                None => None,
            },
        };
        let run_id = format!(
            "{}-{}",
            now.unix_timestamp(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        info!(job, run_id, ?since, "starting a run");
        Ok(RunState {
            run_id: run_id.clone(),
            since,
            phase: Phase::first(request.job),
            summary: RunSummary::new(run_id, job.to_owned(), request.target.clone(), request.mode, now),
        })
    }

    /// Pages until the run is done or the invocation's time is nearly up; the state is saved
    /// after each page's changes are queued.
    async fn pages(
        &self,
        request: &BatchRequest,
        target: &Target,
        state: &mut RunState,
        state_key: &str,
        version: &mut u64,
        deadline: Instant,
    ) -> Result<(), BatchError> {
        while state.phase != Phase::Done {
            if deadline.saturating_duration_since(Instant::now()) < self.tuning.reserve {
                return Ok(());
            }
            let PageResult {
                changes,
                remember,
                next,
            } = self.page(request, target, state, deadline).await?;
            self.enqueue(&state.run_id, &changes).await?;
            lms_side::remember(self, &remember).await?;
            for change in &changes {
                state.summary.count_change(change.kind);
            }
            state.summary.pages += 1;
            state.phase = next;
            state.summary.cursor = state.phase.cursor();
            self.save(state_key, state, version).await?;
        }
        Ok(())
    }

    /// Reads one page of the current phase and works out its changes, and the phase after it.
    async fn page(
        &self,
        request: &BatchRequest,
        target: &Target,
        state: &mut RunState,
        deadline: Instant,
    ) -> Result<PageResult, BatchError> {
        let ghl = self
            .ghl
            .for_location(Some(&target.location_id))?
            .with_deadline(deadline);
        let lms = self.lms.with_deadline(deadline);
        let outbound = Destinations::default();
        let run = crate::domain::EventId::from_idempotency_key(&state.run_id);
        let now_ms = (self.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
        let cx = Context {
            ghl: &ghl,
            entities: self.entities.as_ref(),
            mapping: &self.mapping,
            lms: &lms,
            outbound: &outbound,
            listed: Default::default(),
            // A page reads and queues; the records are kept by the worker that applies its changes.
            documents: None,
            attempt: crate::worker::Attempt {
                event_id: &run,
                now_ms,
                until_ms: now_ms,
            },
        };
        match &state.phase {
            Phase::GhlContacts { search_after } => {
                let page = ghl_side::page(
                    self,
                    &cx,
                    &request.target,
                    target,
                    &state.run_id,
                    search_after.clone(),
                )
                .await?;
                state.summary.contacts_seen += page.seen;
                let next = match page.next {
                    Some(after) => Phase::GhlContacts {
                        search_after: Some(after),
                    },
                    None => Phase::LmsLearners { page: None },
                };
                Ok(PageResult {
                    changes: page.changes,
                    remember: Vec::new(),
                    next,
                })
            }
            Phase::LmsLearners { page } => {
                let account = lms
                    .get(&request.target)
                    .ok_or_else(|| SyncError::NoAccount(request.target.clone()))?;
                let page = lms_side::page(
                    self,
                    &cx,
                    &request.target,
                    target,
                    account,
                    state.since,
                    page.as_deref(),
                )
                .await;
                let page = match page {
                    // A platform whose API cannot list learners: the LMS side is skipped, said so.
                    Err(BatchError::Lms(unsupported @ LmsError::Unsupported { .. })) => {
                        state.summary.skipped.push(unsupported.to_string());
                        return Ok(PageResult {
                            changes: Vec::new(),
                            remember: Vec::new(),
                            next: Phase::Done,
                        });
                    }
                    other => other?,
                };
                state.summary.learners_seen += page.seen;
                let next = match page.next {
                    Some(token) => Phase::LmsLearners { page: Some(token) },
                    None => Phase::Done,
                };
                Ok(PageResult {
                    changes: page.changes,
                    remember: page.remember,
                    next,
                })
            }
            Phase::Done => Ok(PageResult {
                changes: Vec::new(),
                remember: Vec::new(),
                next: Phase::Done,
            }),
        }
    }

    /// Computes what a run would queue now, writing nothing; as far as the invocation's time goes.
    async fn plan(
        &self,
        request: &BatchRequest,
        target: &Target,
        deadline: Instant,
    ) -> Result<BatchReport, BatchError> {
        let job = request.job_name();
        let mut state = self.new_run(request, &job).await?;
        state.summary.invocations = 1;
        let started = Instant::now();
        while state.phase != Phase::Done
            && deadline.saturating_duration_since(Instant::now()) >= self.tuning.reserve
        {
            let PageResult { changes, next, .. } = self.page(request, target, &mut state, deadline).await?;
            for change in &changes {
                state.summary.count_change(change.kind);
            }
            state.summary.pages += 1;
            state.phase = next;
        }
        let summary = &mut state.summary;
        summary.complete = state.phase == Phase::Done;
        summary.cursor = state.phase.cursor();
        summary.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        summary.add_calls(self.calls.take());
        summary.finished_at = Some(self.clock.now());
        log_summary(summary, "plan: nothing written");
        Ok(BatchReport::Planned {
            summary: state.summary,
        })
    }

    async fn finish(
        &self,
        request: &BatchRequest,
        job: &str,
        state: &mut RunState,
        state_key: &str,
        version: &mut u64,
    ) -> Result<(), BatchError> {
        let now = self.clock.now();
        state.summary.complete = true;
        state.summary.finished_at = Some(now);
        state.summary.cursor = None;
        if request.job == JobKind::Poll {
            // The next poll reads from when this one started (less the overlap): anything
            // changed while it ran is read again rather than missed.
            let cursor = PollCursor {
                since: state.summary.started_at - self.tuning.poll_overlap,
                run_id: state.run_id.clone(),
            };
            self.put_latest(&keys::batch_cursor(job), &cursor).await?;
        }
        let expires = (now + self.tuning.summary_ttl).unix_timestamp();
        let body = serde_json::to_string(&state.summary).map_err(|e| BatchError::State(e.to_string()))?;
        self.documents
            .put(&keys::batch_summary(job, &state.run_id), &body, 0, Some(expires))
            .await?;
        self.save(state_key, state, version).await?;
        log_summary(&state.summary, "run finished");
        Ok(())
    }

    /// Writes a document whatever version is stored (cursors: the lease makes this the only writer).
    async fn put_latest<T: Serialize>(&self, key: &str, value: &T) -> Result<(), BatchError> {
        let body = serde_json::to_string(value).map_err(|e| BatchError::State(e.to_string()))?;
        let read = self.documents.get(key).await?.map_or(0, |d| d.version);
        if !self.documents.put(key, &body, read, None).await? {
            return Err(BatchError::State(format!("{key} changed while being written")));
        }
        Ok(())
    }

    async fn save(&self, key: &str, state: &RunState, version: &mut u64) -> Result<(), BatchError> {
        let body = serde_json::to_string(state).map_err(|e| BatchError::State(e.to_string()))?;
        if !self.documents.put(key, &body, *version, None).await? {
            return Err(BatchError::State(format!(
                "run {} was changed by another invocation",
                state.run_id
            )));
        }
        *version += 1;
        Ok(())
    }

    /// Puts a page's changes on the batch queue, as ingest puts a webhook's event on the realtime
    /// one: a redone page sends the same idempotency keys, which the worker's claims drop.
    async fn enqueue(&self, run_id: &str, changes: &[Change]) -> Result<(), BatchError> {
        let now = self.clock.now();
        let mut messages = Vec::with_capacity(changes.len());
        for change in changes {
            let bytes = serde_json::to_vec(&change.event).map_err(|e| BatchError::State(e.to_string()))?;
            let envelope = Envelope::new(
                change.idempotency_key.clone(),
                format!("batch-{run_id}"),
                now,
                DeliveryHash::of(&bytes),
                change.event.clone(),
            );
            messages.push(contract::encode(&envelope).map_err(|e| BatchError::State(e.to_string()))?);
        }
        let (first, second) = messages.split_at(messages.len() / 2);
        self.queue.send_all(first).await?;
        // A crash test stops the batch here, half-way through a page's changes.
        fail::fail_point!("batch-half-page", |_| Err(BatchError::State(
            "stopped half-way through a page (fail point)".into()
        )));
        self.queue.send_all(second).await?;
        Ok(())
    }

    /// The last finished runs' summaries are kept under their run ids; this reads one.
    pub async fn summary(&self, job: &str, run_id: &str) -> Result<Option<RunSummary>, BatchError> {
        self.documents
            .get(&keys::batch_summary(job, run_id))
            .await?
            .map(|d| serde_json::from_str(&d.body).map_err(|e| BatchError::State(e.to_string())))
            .transpose()
    }

    /// The job's current or last run.
    pub async fn current_run(&self, job: &str) -> Result<Option<RunState>, BatchError> {
        self.documents
            .get(&keys::batch_run(job))
            .await?
            .map(|d| serde_json::from_str(&d.body).map_err(|e| BatchError::State(e.to_string())))
            .transpose()
    }
}

/// One JSON line per run (and per stop), for CloudWatch Logs Insights.
fn log_summary(summary: &RunSummary, message: &str) {
    let json = serde_json::to_string(summary).unwrap_or_default();
    info!(batch_summary = %json, job = %summary.job, run_id = %summary.run_id, "{message}");
}
