//! Every key the one DynamoDB table holds, built here and nowhere else: delivery and event claims,
//! the entity map (contacts and links to created tasks and notes), leases and rate-budget slots.
//!
//! Ids from outside (LMS user ids, senders' task ids, secret ARNs) are escaped before they are
//! joined, so that two different identities can never build the same key (`a:b` + `c` against
//! `a` + `b:c`), and an id too long for a key is replaced by its hash. An id made of ordinary
//! characters comes out exactly as it did before this module existed, so stored keys, and the
//! task and note markers derived from entity keys, stay valid across the change.

use std::borrow::Cow;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::domain::{EventId, MilestoneKind, SourcePlatform};

/// Longer ids are hashed: a composite key stays far below DynamoDB's 2048-byte partition key.
const MAX_ID_BYTES: usize = 512;

/// One id as a key part: `%`, `:` and `#` percent-escaped, or `%h<sha256>` when too long. The
/// hashed form starts with `%`, which an escaped id never does, so the two cannot meet.
fn part(id: &str) -> Cow<'_, str> {
    if id.len() > MAX_ID_BYTES {
        return Cow::Owned(format!("%h{}", hex::encode(Sha256::digest(id.as_bytes()))));
    }
    if !id.contains(['%', ':', '#']) {
        return Cow::Borrowed(id);
    }
    let mut escaped = String::with_capacity(id.len() + 8);
    for c in id.chars() {
        match c {
            '%' => escaped.push_str("%25"),
            ':' => escaped.push_str("%3A"),
            '#' => escaped.push_str("%23"),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// The claim on one delivery at ingest: `ingest:<source>:<sha256 of the identity parts>`. The
/// parts are the sender's own identity fields (its event id, or what a retry repeats), hashed so
/// the key has a bounded length whatever they hold.
pub fn delivery_claim(source: &str, identity: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for value in std::iter::once(&source).chain(identity) {
        hasher.update(value.as_bytes());
        hasher.update([0u8]);
    }
    format!("ingest:{source}:{}", hex::encode(hasher.finalize()))
}

/// The worker's claim on one event.
pub fn event_claim(event_id: &EventId) -> String {
    format!("sync:{event_id}")
}

/// Where an LMS learner's GHL contact is recorded.
pub fn contact(source: &SourcePlatform, source_user_id: &str) -> String {
    format!("contact#{source}#{}", part(source_user_id))
}

/// Where the GHL id of something the sync created is recorded.
pub fn link(entity: &EntityKey) -> String {
    format!("link#{entity}")
}

/// What an LMS target last held for a GHL contact, as far as the sync knows (see
/// `ports::LearnerMirror`).
pub fn mirror(target: &str, contact_id: &str) -> String {
    format!("mirror#{}#{}", part(target), part(contact_id))
}

/// What the sync keeps about one learning record (`worker::learning_records`): per location,
/// because each location has its own record.
pub fn learning_record(location_id: &str, enrollment: &crate::learning::EnrollmentId) -> String {
    format!(
        "record#{}#{}#{}#{}",
        part(location_id),
        enrollment.source,
        part(&enrollment.lms_user_id),
        part(&enrollment.course_id)
    )
}

/// A named lease (e.g. "only one process refreshes this OAuth token").
pub fn lease(name: &str) -> String {
    format!("lease#{name}")
}

/// The lease name for refreshing the OAuth tokens in one secret.
pub fn oauth_refresh_lease(secret_id: &str) -> String {
    format!("oauth-refresh#{}", part(secret_id))
}

/// The state of a daily-batch job's current (or last) run: phase, page cursor, counters.
pub fn batch_run(job: &str) -> String {
    format!("batch-run#{}", part(job))
}

/// Where a daily-batch job's next poll starts (the LMS's `since`), advanced when a run finishes.
pub fn batch_cursor(job: &str) -> String {
    format!("batch-cursor#{}", part(job))
}

/// One finished run's summary.
pub fn batch_summary(job: &str, run_id: &str) -> String {
    format!("batch-summary#{}#{}", part(job), part(run_id))
}

/// The lease one invocation of a daily-batch job holds while it works.
pub fn batch_lease(job: &str) -> String {
    format!("batch#{}", part(job))
}

/// What the daily batch last queued about one LMS learner of a target (its fingerprint).
pub fn learner_fingerprint(target: &str, user_id: &str) -> String {
    format!("fingerprint#{}#{}", part(target), part(user_id))
}

/// A shared schedule of request slots (the rate budget), per API and account.
pub fn slots(schedule: &str) -> String {
    format!("slots#{schedule}")
}

/// The rate-budget schedule of one GHL location.
pub fn ghl_location_schedule(location_id: &str) -> String {
    format!("ghl#{}", part(location_id))
}

/// The rate-budget schedule of one LMS account (or outbound destination) of a platform. Prefixed
/// apart from GHL's, so that no account id can share a location's schedule.
pub fn lms_account_schedule(platform: &str, account: &str) -> String {
    format!("lms#{}#{}", part(platform), part(account))
}

/// Identity of something the sync creates in GHL (a task or a note) for something on the LMS
/// side. Its text also seeds the marker a created task or note carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityKey(String);

impl EntityKey {
    /// The task that follows a learner's milestone (opened on start, completed on completion).
    pub fn milestone_task(
        source: &SourcePlatform,
        source_user_id: &str,
        kind: MilestoneKind,
        milestone_id: &str,
    ) -> Self {
        Self(format!(
            "task:{source}:{}:{}:{}",
            part(source_user_id),
            kind.as_str(),
            part(milestone_id)
        ))
    }

    /// The note written when that milestone completes.
    pub fn milestone_note(
        source: &SourcePlatform,
        source_user_id: &str,
        kind: MilestoneKind,
        milestone_id: &str,
    ) -> Self {
        let task = Self::milestone_task(source, source_user_id, kind, milestone_id);
        Self(format!("{task}:note"))
    }

    /// A task the mapping creates for every new learner, by template name.
    pub fn welcome_task(source: &SourcePlatform, source_user_id: &str, template: &str) -> Self {
        Self(format!(
            "task:{source}:{}:welcome:{}",
            part(source_user_id),
            part(template)
        ))
    }

    /// A sender's own task, by the sender's id for it.
    pub fn sender_task(source: &SourcePlatform, task_id: &str) -> Self {
        Self(format!("task:{source}:sent:{}", part(task_id)))
    }

    /// A sender's own note, by the sender's id for it.
    pub fn sender_note(source: &SourcePlatform, note_id: &str) -> Self {
        Self(format!("note:{source}:{}", part(note_id)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(s: &str) -> SourcePlatform {
        SourcePlatform::try_from(s.to_owned()).unwrap_or_else(|_| SourcePlatform::skilljar())
    }

    #[test]
    fn ordinary_ids_build_the_keys_stored_before_this_module() {
        let sj = SourcePlatform::skilljar();
        assert_eq!(contact(&sj, "3gh6zcs5x2bz"), "contact#skilljar#3gh6zcs5x2bz");
        assert_eq!(
            EntityKey::milestone_task(&sj, "u1", MilestoneKind::Course, "c1").as_str(),
            "task:skilljar:u1:course:c1"
        );
        assert_eq!(
            EntityKey::milestone_note(&sj, "u1", MilestoneKind::Quiz, "q-7").as_str(),
            "task:skilljar:u1:quiz:q-7:note"
        );
        assert_eq!(
            EntityKey::welcome_task(&sj, "u1", "welcome_call").as_str(),
            "task:skilljar:u1:welcome:welcome_call"
        );
        assert_eq!(
            EntityKey::sender_task(&source("talknotes"), "tn-task-301").as_str(),
            "task:talknotes:sent:tn-task-301"
        );
        assert_eq!(
            EntityKey::sender_note(&source("talknotes"), "tn-note-77").as_str(),
            "note:talknotes:tn-note-77"
        );
        assert_eq!(
            link(&EntityKey::sender_note(&source("talknotes"), "n1")),
            "link#note:talknotes:n1"
        );
        assert_eq!(slots(&ghl_location_schedule("loc1")), "slots#ghl#loc1");
        assert_eq!(
            slots(&lms_account_schedule("talentlms", "acme")),
            "slots#lms#talentlms#acme"
        );
        assert_eq!(
            lease(&oauth_refresh_lease("lms-sync/ghl")),
            "lease#oauth-refresh#lms-sync/ghl"
        );
        // The v1 ingest key of the stored message tests/fixtures/queue/v1-learner-created.json.
        assert_eq!(
            delivery_claim(
                "skilljar",
                &[
                    "COURSE_ENROLLMENT",
                    "3gh6zcs5x2bz",
                    "2wzplz3bmtxpa",
                    "3e7jrikv6ix7l",
                    "2025-11-22T09:56:32.539Z"
                ]
            ),
            "ingest:skilljar:e9f4c03772675e702ea9cb7e97162b745110897e87cecaccc28f93dd075a9fcf"
        );
    }

    #[test]
    fn ids_holding_separators_cannot_build_another_identity_s_key() {
        let sj = SourcePlatform::skilljar();
        let a = EntityKey::milestone_task(&sj, "u:1", MilestoneKind::Course, "c");
        let b = EntityKey::milestone_task(&sj, "u", MilestoneKind::Course, "1:course:c");
        assert_ne!(a, b);
        assert_eq!(a.as_str(), "task:skilljar:u%3A1:course:c");
        assert_ne!(contact(&sj, "a#b"), contact(&sj, "a%23b"));
        assert_ne!(
            lms_account_schedule("skilljar", "a#b"),
            lms_account_schedule("skilljar#a", "b")
        );
        assert_ne!(lms_account_schedule("ghl", "x"), ghl_location_schedule("x"));
        assert_ne!(
            EntityKey::sender_task(&sj, "x:sent:y"),
            EntityKey::sender_task(&sj, "x%3Asent%3Ay")
        );
    }

    #[test]
    fn long_ids_are_hashed_and_stay_distinct() {
        let sj = SourcePlatform::skilljar();
        let long = "x".repeat(MAX_ID_BYTES + 1);
        let key = contact(&sj, &long);
        assert!(key.starts_with("contact#skilljar#%h") && key.len() < 100, "{key}");
        assert_ne!(key, contact(&sj, &"x".repeat(MAX_ID_BYTES + 2)));
        assert_eq!(contact(&sj, &"y".repeat(MAX_ID_BYTES)).len(), 17 + MAX_ID_BYTES);
    }
}
