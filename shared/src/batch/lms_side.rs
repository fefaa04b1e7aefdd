//! Poll and reconcile, LMS → GHL: a page of the account's learners with their course progress,
//! turned into the canonical events a webhook would have produced, less what the batch queued
//! before (the learner's fingerprint) and what only echoes the sync's own write to the LMS (the
//! mirror: a learner the sync created, a course it enrolled them in).

use std::collections::BTreeSet;

use sha2::Digest;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{BatchError, BatchRunner, Change};
use crate::domain::{
    LearnerCreated, LearnerRef, MilestoneKind, MilestoneReached, Progress, SourcePlatform, SyncEvent,
};
use crate::keys;
use crate::lms::{CourseStatus, LearnerActivity, LearnerQuery, LmsAccount};
use crate::mapping::Target;
use crate::worker::Context;
use crate::worker::mirror::{Reported, echo_of_our_write};

pub(super) struct Page {
    pub changes: Vec<Change>,
    /// Fingerprints to store once the changes are queued: (key, version read, new body).
    pub remember: Vec<(String, u64, String)>,
    pub seen: u64,
    pub next: Option<String>,
}

/// What the batch has queued (or found already known) about one learner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Fingerprint {
    /// The learner is known on the GHL side (queued, or the sync made them).
    pub known: bool,
    pub started: BTreeSet<String>,
    pub completed: BTreeSet<String>,
}

const LEARNER: &str = "lms_to_ghl:learner";
const STARTED: &str = "lms_to_ghl:course_started";
const COMPLETED: &str = "lms_to_ghl:course_completed";

#[allow(clippy::too_many_arguments)]
pub(super) async fn page(
    runner: &BatchRunner,
    cx: &Context<'_>,
    name: &str,
    target: &Target,
    account: &dyn LmsAccount,
    since: Option<OffsetDateTime>,
    token: Option<&str>,
) -> Result<Page, BatchError> {
    let query = LearnerQuery {
        since,
        page_size: runner.tuning.lms_page_size,
    };
    let found = account.learners(&query, token).await?;
    let source =
        SourcePlatform::try_from(target.source().to_owned()).map_err(|e| BatchError::State(e.to_string()))?;
    let keys: Vec<String> = found
        .learners
        .iter()
        .map(|l| keys::learner_fingerprint(name, &l.user.id))
        .collect();
    let stored = runner.documents.get_many(&keys).await?;
    let mut changes = Vec::new();
    let mut remember = Vec::new();
    for (learner, key) in found.learners.iter().zip(keys) {
        let (known, version) = match stored.get(&key) {
            Some(doc) => (
                serde_json::from_str(&doc.body).map_err(|e| BatchError::State(e.to_string()))?,
                doc.version,
            ),
            None => (Fingerprint::default(), 0),
        };
        let (found, next) = learner_changes(runner, cx, name, &source, learner, &known).await?;
        changes.extend(found);
        if next != known {
            let body = serde_json::to_string(&next).map_err(|e| BatchError::State(e.to_string()))?;
            remember.push((key, version, body));
        }
    }
    changes.extend(record_drift(runner, &source, target, &found.learners).await?);
    Ok(Page {
        changes,
        remember,
        seen: found.learners.len() as u64,
        next: found.next,
    })
}

const RECORD: &str = "lms_to_ghl:learning_record";

/// The learning records that differ from what the LMS reports of the page's learners (or that
/// GHL has not been given yet: a debounced write, or a record never made), one change each. A
/// record in step costs nothing: this compares with what the sync keeps, read in one batch.
async fn record_drift(
    runner: &BatchRunner,
    source: &SourcePlatform,
    target: &Target,
    learners: &[LearnerActivity],
) -> Result<Vec<Change>, BatchError> {
    use crate::domain::CourseProgressed;
    use crate::learning::{Enrollment, Observed};

    if runner
        .mapping
        .learning_records
        .as_ref()
        .is_none_or(|r| !r.keeps(source))
    {
        return Ok(Vec::new());
    }
    let now = runner.clock.now();
    let mut readings = Vec::new();
    for a in learners {
        for status in &a.courses {
            let progress = CourseProgressed {
                source: source.clone(),
                learner: LearnerRef {
                    source_user_id: a.user.id.clone(),
                    email: a.user.email.clone(),
                    first_name: a.user.first_name.clone(),
                    last_name: a.user.last_name.clone(),
                },
                course: status.course.clone(),
                enrolled_at: status.enrolled_at,
                completed_at: status.completed_at,
                percent: status.percent,
                score: status.score.clone(),
                certificate_url: status.certificate_url.clone(),
                observed_at: now,
            };
            let (id, facts) = Observed::from_progress(&progress);
            readings.push((keys::learning_record(&target.location_id, &id), facts, progress));
        }
    }
    let keys: Vec<String> = readings.iter().map(|(k, _, _)| k.clone()).collect();
    let kept = runner.documents.get_many(&keys).await?;
    let mut changes = Vec::new();
    for (key, facts, progress) in readings {
        let in_step = match kept.get(&key) {
            Some(doc) => {
                let kept: crate::worker::KeptRecord =
                    serde_json::from_str(&doc.body).map_err(|e| BatchError::State(e.to_string()))?;
                let merged = facts.iter().fold(kept.state.clone(), |r, o| r.merge(o));
                merged == kept.state && kept.written.as_ref() == Some(&kept.state)
            }
            None => false,
        };
        if in_step {
            continue;
        }
        // The same reading of the same record is one change, whenever it is queued.
        let reading = serde_json::to_string(&Enrollment::of(&facts)).unwrap_or_default();
        let digest = hex::encode(&sha2::Sha256::digest(format!("{key}\n{reading}"))[..12]);
        changes.push(Change {
            kind: RECORD,
            idempotency_key: format!("batch:record:{digest}"),
            event: SyncEvent::CourseProgressed(progress),
        });
    }
    Ok(changes)
}

/// Stores a page's fingerprints, after its changes are queued (a crash in between only redoes
/// the page: the worker drops the repeated keys). Another writer's newer fingerprint is kept.
pub(super) async fn remember(
    runner: &BatchRunner,
    fingerprints: &[(String, u64, String)],
) -> Result<(), BatchError> {
    for (key, version, body) in fingerprints {
        runner.documents.put(key, body, *version, None).await?;
    }
    Ok(())
}

/// A learner's changes since their fingerprint, and the fingerprint once they are queued.
async fn learner_changes(
    runner: &BatchRunner,
    cx: &Context<'_>,
    name: &str,
    source: &SourcePlatform,
    a: &LearnerActivity,
    known: &Fingerprint,
) -> Result<(Vec<Change>, Fingerprint), BatchError> {
    let user = &a.user;
    let learner = LearnerRef {
        source_user_id: user.id.clone(),
        email: user.email.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
    };
    fn reported<'a>(
        source: &'a SourcePlatform,
        user: &'a crate::lms::LmsUser,
        course: Vec<&'a str>,
    ) -> Reported<'a> {
        Reported {
            source,
            user_id: &user.id,
            email: &user.email,
            first_name: user.first_name.as_deref(),
            last_name: user.last_name.as_deref(),
            fields: None,
            course,
        }
    }
    let key = |what: &str| format!("batch:{name}:{}:{what}", user.id);
    let mut changes = Vec::new();
    let mut next = known.clone();
    next.known = true;
    if !known.known
        && echo_of_our_write(cx, &reported(source, user, Vec::new()))
            .await?
            .is_none()
    {
        changes.push(Change {
            kind: LEARNER,
            idempotency_key: key("learner"),
            event: SyncEvent::LearnerCreated(LearnerCreated {
                source: source.clone(),
                source_user_id: user.id.clone(),
                email: user.email.clone(),
                first_name: user.first_name.clone(),
                last_name: user.last_name.clone(),
                phone: None,
                role: None,
                course: None,
                occurred_at: a
                    .created_at
                    .or(a.updated_at)
                    .unwrap_or_else(|| runner.clock.now()),
                custom_fields: Default::default(),
            }),
        });
    }
    for status in &a.courses {
        let id = status.course.id.as_str();
        if let Some(completed_at) = status.completed_at {
            if next.completed.insert(id.to_owned()) {
                let key = key(&format!("course:{id}:completed"));
                changes.push(milestone(
                    &learner,
                    source,
                    status,
                    Progress::Completed,
                    completed_at,
                    COMPLETED,
                    key,
                ));
            }
            continue;
        }
        if known.completed.contains(id) || !next.started.insert(id.to_owned()) {
            continue;
        }
        // An enrollment the sync made (GHL → LMS) is the LMS echoing our own write: remembered,
        // not queued.
        if echo_of_our_write(cx, &reported(source, user, status.course.ids().collect()))
            .await?
            .is_some()
        {
            continue;
        }
        let at = status
            .enrolled_at
            .or(a.updated_at)
            .unwrap_or_else(|| runner.clock.now());
        let key = key(&format!("course:{id}:started"));
        changes.push(milestone(
            &learner,
            source,
            status,
            Progress::Started,
            at,
            STARTED,
            key,
        ));
    }
    Ok((changes, next))
}

fn milestone(
    learner: &LearnerRef,
    source: &SourcePlatform,
    status: &CourseStatus,
    progress: Progress,
    at: OffsetDateTime,
    kind: &'static str,
    idempotency_key: String,
) -> Change {
    Change {
        kind,
        idempotency_key,
        event: SyncEvent::MilestoneReached(MilestoneReached {
            source: source.clone(),
            learner: learner.clone(),
            kind: MilestoneKind::Course,
            milestone_id: status.course.id.clone(),
            title: status.course.title.clone(),
            course: Some(status.course.clone()),
            progress,
            score: status.score.clone(),
            occurred_at: at,
        }),
    }
}
