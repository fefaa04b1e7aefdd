//! What a daily-batch job keeps between invocations: its run's phase and page cursor, the poll
//! cursor, and the run's summary. Stored as JSON documents (`ports::Documents`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{JobKind, Mode};

/// Where a run is. A reconcile reads GHL's contacts first, then the LMS's learners; a poll reads
/// the LMS only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// GHL contacts, from after this `searchAfter` value (`None`: the first page).
    GhlContacts {
        #[serde(default)]
        search_after: Option<Vec<serde_json::Value>>,
    },
    /// LMS learners, from this page token (`None`: the first page).
    LmsLearners {
        #[serde(default)]
        page: Option<String>,
    },
    Done,
}

impl Phase {
    pub fn first(job: JobKind) -> Self {
        match job {
            JobKind::Reconcile => Phase::GhlContacts { search_after: None },
            JobKind::Poll => Phase::LmsLearners { page: None },
        }
    }

    /// The cursor reached, for the summary.
    pub fn cursor(&self) -> Option<String> {
        match self {
            Phase::GhlContacts { search_after } => search_after
                .as_ref()
                .map(|a| format!("ghl:{}", serde_json::Value::Array(a.clone()))),
            Phase::LmsLearners { page } => page.as_ref().map(|p| format!("lms:{p}")),
            Phase::Done => None,
        }
    }
}

/// One run of a job, across as many invocations as it takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    pub run_id: String,
    /// The LMS learners changed since this time are read (poll); `None`: all of them.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    pub phase: Phase,
    pub summary: RunSummary,
}

/// The poll cursor: where the next run's LMS window starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollCursor {
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    pub run_id: String,
}

/// What one run did, stored per run and logged as one JSON line when it ends (or stops).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_id: String,
    pub job: String,
    pub target: String,
    pub mode: Mode,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// Finished every page (a plan or an invocation may stop early).
    pub complete: bool,
    pub invocations: u32,
    pub pages: u32,
    pub contacts_seen: u64,
    pub learners_seen: u64,
    /// Changes queued (or, in a plan, that would be), by `direction:kind`
    /// (`ghl_to_lms:contact`, `lms_to_ghl:learner`, `lms_to_ghl:course_started`, …).
    pub changes: BTreeMap<String, u64>,
    /// Requests sent per API (`ghl`, `talentlms`, …), retries included.
    pub calls: BTreeMap<String, u64>,
    pub errors: Vec<String>,
    /// Parts of the job the platform cannot do (its API cannot list learners), skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// Wall time spent working, over all invocations.
    pub duration_ms: u64,
    /// Where the run stands (the next page); `None` once complete.
    pub cursor: Option<String>,
}

impl RunSummary {
    pub fn new(run_id: String, job: String, target: String, mode: Mode, started_at: OffsetDateTime) -> Self {
        Self {
            run_id,
            job,
            target,
            mode,
            started_at,
            finished_at: None,
            complete: false,
            invocations: 0,
            pages: 0,
            contacts_seen: 0,
            learners_seen: 0,
            changes: BTreeMap::new(),
            calls: BTreeMap::new(),
            errors: Vec::new(),
            skipped: Vec::new(),
            duration_ms: 0,
            cursor: None,
        }
    }

    pub fn changes_total(&self) -> u64 {
        self.changes.values().sum()
    }

    /// Keeps the latest errors only: a run failing on every trigger for weeks must not outgrow
    /// its DynamoDB item (400 KB).
    pub(super) fn record_error(&mut self, error: String) {
        const KEPT: usize = 20;
        if self.errors.len() >= KEPT {
            self.errors.drain(..=self.errors.len() - KEPT);
        }
        self.errors.push(error);
    }

    pub(super) fn count_change(&mut self, kind: &str) {
        *self.changes.entry(kind.to_owned()).or_default() += 1;
    }

    pub(super) fn add_calls(&mut self, calls: BTreeMap<String, u64>) {
        for (api, n) in calls {
            *self.calls.entry(api).or_default() += n;
        }
    }
}
