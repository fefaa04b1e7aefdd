//! Canonical events: what the sync understands, whatever platform sent it.
//! Nothing here knows about AWS, HTTP, GHL or a particular LMS's wire format.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// A CRM custom field, named by key (`employee_count`, or `contact.employee_count` as GHL lists it)
/// or as `{ id = "…" }`. The mapping names fields this way; the GHL client resolves keys to ids,
/// because GHL writes fields by id only.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum FieldRef {
    Key(String),
    Id { id: String },
}

/// The platform an event came from, as a lowercase slug (`skilljar`, `talentlms`, `trainual`,
/// `talknotes`, or a custom sender's own name). Mapping rules (tags, locations) key on it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourcePlatform(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("source platform must be 1-32 characters of a-z, 0-9, '-' or '_', got {0:?}")]
pub struct InvalidSourcePlatform(pub String);

impl SourcePlatform {
    pub const SKILLJAR: &'static str = "skilljar";

    pub fn skilljar() -> Self {
        Self(Self::SKILLJAR.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SourcePlatform {
    type Error = InvalidSourcePlatform;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let ok = (1..=32).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(value))
        } else {
            Err(InvalidSourcePlatform(value))
        }
    }
}

impl From<SourcePlatform> for String {
    fn from(value: SourcePlatform) -> Self {
        value.0
    }
}

impl fmt::Display for SourcePlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address as far as a CRM contact needs one: trimmed, lowercased, one `@` with text on
/// both sides and a dot in the domain. Deliverability is GHL's business, not ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a usable email address: {0:?}")]
pub struct InvalidEmail(pub String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidEmail;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let normalised = value.trim().to_lowercase();
        let valid = match normalised.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !normalised.chars().any(char::is_whitespace)
                    && normalised.len() <= 254
            }
            None => false,
        };
        if valid {
            Ok(Self(normalised))
        } else {
            Err(InvalidEmail(value))
        }
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The platform's id for the course as published where learners enroll (Skilljar's
    /// `published_course_id`, which its enrollment API takes), when it has one apart from `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_id: Option<String>,
}

impl CourseRef {
    /// Every id the course goes by: an enrollment the sync made names one of them.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.published_id.as_deref())
    }
}

/// A learner appeared on a training platform (account created, or first enrollment seen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnerCreated {
    pub source: SourcePlatform,
    pub source_user_id: String,
    pub email: Email,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course: Option<CourseRef>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// Platform-side custom fields by their platform key; the mapping decides which reach GHL.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, String>,
}

/// Who an event is about, as the LMS knows them. The email lets the worker find or create the
/// contact when an event arrives before the learner's own (events may come out of order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnerRef {
    pub source_user_id: String,
    pub email: Email,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MilestoneKind {
    Course,
    Lesson,
    Quiz,
    Path,
    /// A sender's own milestone (generic format).
    Custom,
}

impl MilestoneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MilestoneKind::Course => "course",
            MilestoneKind::Lesson => "lesson",
            MilestoneKind::Quiz => "quiz",
            MilestoneKind::Path => "path",
            MilestoneKind::Custom => "custom",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Progress {
    Started,
    Completed,
}

/// A learner started or completed a course, lesson, quiz, path or custom milestone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneReached {
    pub source: SourcePlatform,
    pub learner: LearnerRef,
    pub kind: MilestoneKind,
    pub milestone_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The course a lesson or quiz belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub course: Option<CourseRef>,
    pub progress: Progress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskAction {
    Create,
    Update,
    Complete,
}

/// A sender's own task about a learner (a TalkNotes action item, an instructor's reminder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskChanged {
    pub source: SourcePlatform,
    pub learner: LearnerRef,
    /// The sender's id for the task: the same task across create, update and complete.
    pub task_id: String,
    pub action: TaskAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub due_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// GHL user id to assign the task to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
}

/// A note about a learner (meeting notes, an instructor's remark, a TalkNotes transcript).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteAdded {
    pub source: SourcePlatform,
    pub learner: LearnerRef,
    /// The sender's id for the note.
    pub note_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// Contact context the sender wants refreshed (by LMS field key; the mapping decides).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, String>,
}

impl LearnerCreated {
    /// The learner as other events refer to them.
    pub fn learner_ref(&self) -> LearnerRef {
        LearnerRef {
            source_user_id: self.source_user_id.clone(),
            email: self.email.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
        }
    }
}

/// One learner's progress in one course as an LMS reports it when asked (the daily batch's
/// reconcile), for the learner's learning record: not a change, a reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseProgressed {
    pub source: SourcePlatform,
    pub learner: LearnerRef,
    pub course: CourseRef,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub enrolled_at: Option<OffsetDateTime>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub completed_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_url: Option<String>,
    /// When the LMS was read.
    #[serde(with = "time::serde::rfc3339")]
    pub observed_at: OffsetDateTime,
}

/// Something that changed in GHL about a contact, as GHL's webhook (or an agency's workflow)
/// reported it. Thin on purpose: webhook bodies often lack what the LMS side needs (note events
/// carry no contact fields, `TaskCreate` may carry no `contactId`), so the worker reads a contact
/// snapshot with as few calls as the change needs, instead of trusting the delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GhlChange {
    pub location_id: String,
    /// Absent on some task webhooks; the worker finds it through the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    pub change: GhlChangeKind,
    /// What the delivery said about the contact (contact events carry the whole contact); a
    /// hint for the worker, which decides whether it is enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<GhlContactFacts>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
}

/// What kind of change, with the id of the thing that changed where it is not the contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GhlChangeKind {
    ContactCreated,
    ContactUpdated,
    ContactDeleted,
    ContactTagsChanged,
    ContactDndChanged,
    NoteCreated {
        note_id: String,
    },
    NoteUpdated {
        note_id: String,
    },
    TaskCreated {
        task_id: String,
    },
    TaskCompleted {
        task_id: String,
    },
    TaskDeleted {
        task_id: String,
    },
    AppointmentCreated {
        appointment_id: String,
    },
    /// A custom-object record changed (`RecordUpdate`): the worker acts on the learning records
    /// it keeps, found by their unique key among the properties.
    RecordUpdated {
        record_id: String,
        /// As the delivery listed them: property key → value as text.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        properties: BTreeMap<String, String>,
    },
}

impl GhlChangeKind {
    /// Whether a queue message carrying this needs a worker of contract version 3 or later.
    pub fn is_record_change(&self) -> bool {
        matches!(self, GhlChangeKind::RecordUpdated { .. })
    }
}

/// Contact fields as a GHL delivery carried them. Custom fields are by GHL field id (webhooks do
/// not carry keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GhlContactFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnd: Option<bool>,
    /// The delivery carries only some of the contact (a workflow's: no custom fields): a rule
    /// that reads more must read the contact from GHL.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// Something a tag rule can grant a learner; each platform supports some kinds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Membership {
    /// Skilljar groups, TalentLMS groups.
    Group(String),
    /// TalentLMS branches.
    Branch(String),
    /// Trainual roles.
    Role(String),
    /// Trainual subjects (assigned training).
    Subject(String),
}

/// A GHL contact as the GHL → LMS rules see it, read with the fewest calls the change allows
/// (a contact webhook carries the whole contact: no call at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSnapshot {
    pub location_id: String,
    pub contact_id: String,
    pub email: Option<Email>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub tags: std::collections::BTreeSet<String>,
    /// By GHL custom field id.
    pub custom_fields: BTreeMap<String, String>,
    pub deleted: bool,
    /// When this was GHL's state (the change's time).
    pub as_of: OffsetDateTime,
}

/// Everything the worker can be asked to do. Tagged so that the queue message says what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SyncEvent {
    LearnerCreated(LearnerCreated),
    MilestoneReached(MilestoneReached),
    TaskChanged(TaskChanged),
    NoteAdded(NoteAdded),
    /// GHL → LMS: a change in GHL to apply to the LMS targets its location feeds.
    GhlChanged(GhlChange),
    /// LMS → GHL: a course's progress as read by the daily batch, for the learning record.
    CourseProgressed(CourseProgressed),
}

/// Where an event comes from, which decides the GHL location it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    /// An LMS (or sender) by its slug; the mapping places it in a location.
    Lms(&'a SourcePlatform),
    /// GHL itself, naming its location.
    Ghl { location_id: &'a str },
}

impl SyncEvent {
    pub fn origin(&self) -> Origin<'_> {
        match self {
            SyncEvent::LearnerCreated(e) => Origin::Lms(&e.source),
            SyncEvent::MilestoneReached(e) => Origin::Lms(&e.source),
            SyncEvent::TaskChanged(e) => Origin::Lms(&e.source),
            SyncEvent::NoteAdded(e) => Origin::Lms(&e.source),
            SyncEvent::GhlChanged(e) => Origin::Ghl {
                location_id: &e.location_id,
            },
            SyncEvent::CourseProgressed(e) => Origin::Lms(&e.source),
        }
    }

    /// Whether this is a change to a GHL custom-object record (not to a contact).
    pub fn is_record_change(&self) -> bool {
        matches!(self, SyncEvent::GhlChanged(c) if c.change.is_record_change())
    }

    /// Whether only a worker of queue contract version 3 or later reads this (the learning
    /// records' events).
    pub fn needs_contract_v3(&self) -> bool {
        self.is_record_change() || matches!(self, SyncEvent::CourseProgressed(_))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SyncEvent::LearnerCreated(_) => "LearnerCreated",
            SyncEvent::MilestoneReached(_) => "MilestoneReached",
            SyncEvent::TaskChanged(_) => "TaskChanged",
            SyncEvent::NoteAdded(_) => "NoteAdded",
            SyncEvent::GhlChanged(_) => "GhlChanged",
            SyncEvent::CourseProgressed(_) => "CourseProgressed",
        }
    }
}

/// Identity of one accepted delivery. Derived from the idempotency key, so that a redelivery that
/// slips past ingest dedupe (e.g. after a crash) still carries the same id to the worker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    pub fn from_idempotency_key(key: &str) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        Self(format!("evt_{}", hex::encode(&digest[..16])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_and_checked() {
        let email = Email::try_from("  Ada.Lovelace@Example.COM ".to_owned()).map(String::from);
        assert_eq!(email.as_deref(), Ok("ada.lovelace@example.com"));
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "a da@example.com",
            "a@b@c.com",
        ] {
            assert!(Email::try_from(bad.to_owned()).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn source_platform_is_a_slug() {
        assert!(SourcePlatform::try_from("talentlms".to_owned()).is_ok());
        assert!(SourcePlatform::try_from("my_lms-2".to_owned()).is_ok());
        for bad in ["", "TalentLMS", "has space", &"x".repeat(33)] {
            assert!(
                SourcePlatform::try_from(bad.to_owned()).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn event_id_is_stable_per_key() {
        let a = EventId::from_idempotency_key("skilljar:abc");
        assert_eq!(a, EventId::from_idempotency_key("skilljar:abc"));
        assert_ne!(a, EventId::from_idempotency_key("skilljar:abd"));
        assert!(a.as_str().starts_with("evt_") && a.as_str().len() == 36);
    }
}
