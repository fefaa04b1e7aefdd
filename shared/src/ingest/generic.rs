//! The project's own generic signed format (schema `docs/generic-webhook.md`): how TalentLMS,
//! Trainual, TalkNotes (through Zapier / Make) and custom senders reach the service.
//!
//! Every event shares one envelope (`event_id`, `event_type`, `source`, `occurred_at`,
//! `learner`); the part an event type owns (`milestone`, `task`, `note` + `context`) is read only
//! for that type, so a field another type would own never makes a delivery fail.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::domain::{
    CourseRef, LearnerCreated, LearnerRef, MilestoneKind, MilestoneReached, NoteAdded, Progress,
    SourcePlatform, SyncEvent, TaskAction, TaskChanged,
};
use crate::ingest::error::IngestError;
use crate::ingest::parse::{self, non_blank, required_email, required_id};
use crate::ingest::provider::{Delivery, Normalised, Parsed, Provider, Trigger};
use crate::ingest::signature;
use crate::keys;

/// The generic signed format (`POST /<trigger>/generic`).
pub struct Generic;

impl Provider for Generic {
    const NAME: &'static str = "generic";
    type Auth = GenericSigning;

    fn authenticate(
        delivery: &Delivery<'_>,
        auth: &GenericSigning,
        now: OffsetDateTime,
    ) -> Result<(), IngestError> {
        let header = delivery
            .headers
            .get(signature::SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok());
        signature::verify(header, delivery.body, &auth.signing_secrets, now.unix_timestamp())
            .map_err(|e| IngestError::Unauthorized(e.to_string()))
    }

    fn normalise(trigger: Trigger, delivery: &Delivery<'_>) -> Result<Parsed, IngestError> {
        normalise(trigger, delivery.body).map(|n| Parsed::Event(Box::new(n)))
    }
}

/// The webhook secret's `generic` section: HMAC keys. More than one during a rotation: any may
/// sign.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenericSigning {
    pub signing_secrets: Vec<SecretString>,
}

#[derive(Debug, Deserialize)]
pub struct GenericEvent {
    /// The sender's unique id for this event: a resend must reuse it.
    pub event_id: String,
    pub event_type: String,
    pub source: SourcePlatform,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    #[serde(default)]
    pub learner: Option<GenericLearner>,
    #[serde(default)]
    pub course: Option<CourseRef>,
}

#[derive(Debug, Deserialize)]
pub struct GenericLearner {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub custom_fields: BTreeMap<String, Scalar>,
}

/// Custom field values as automation tools send them: text, numbers or booleans.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Number(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// A score as senders write it, `"A"`, `"85%"` or `85.5`; kept as text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Score {
    Text(String),
    Number(serde_json::Number),
}

impl Score {
    fn into_text(self) -> Option<String> {
        match self {
            Score::Text(s) => non_blank(Some(s)),
            Score::Number(n) => Some(n.to_string()),
        }
    }
}

/// `milestone.completed` / `milestone.started`. Fields are optional to serde so that a missing
/// one is reported by its full path (`milestone.id`), not as "missing field" on its parent.
#[derive(Debug, Deserialize)]
pub struct GenericMilestone {
    #[serde(default)]
    pub kind: Option<MilestoneKind>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub course: Option<CourseRef>,
    #[serde(default)]
    pub score: Option<Score>,
}

/// `task.created` / `task.updated` / `task.completed`.
#[derive(Debug, Deserialize)]
pub struct GenericTask {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub assignee: Option<String>,
}

/// `note.added`.
#[derive(Debug, Deserialize)]
pub struct GenericNote {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MilestonePart {
    #[serde(default)]
    milestone: Option<GenericMilestone>,
}

#[derive(Debug, Deserialize)]
struct TaskPart {
    #[serde(default)]
    task: Option<GenericTask>,
}

#[derive(Debug, Deserialize)]
struct NotePart {
    #[serde(default)]
    note: Option<GenericNote>,
    #[serde(default)]
    context: Option<BTreeMap<String, Scalar>>,
}

pub const LEARNER_CREATED: &str = "learner.created";
pub const MILESTONE_COMPLETED: &str = "milestone.completed";
pub const MILESTONE_STARTED: &str = "milestone.started";
pub const TASK_CREATED: &str = "task.created";
pub const TASK_UPDATED: &str = "task.updated";
pub const TASK_COMPLETED: &str = "task.completed";
pub const NOTE_ADDED: &str = "note.added";

/// Leaves room in the queue message (SQS's limit is 256 KiB) for the rest of the event and the
/// JSON escaping of the note, whatever the note holds.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

fn normalise(trigger: Trigger, body: &[u8]) -> Result<Normalised, IngestError> {
    let document = parse::document(body)?;
    let event: GenericEvent = parse::view(&document)?;
    if event.event_id.trim().is_empty() || event.event_id.len() > 256 {
        return Err(IngestError::Unprocessable {
            field: "event_id".into(),
            problem: "must be 1-256 characters".into(),
        });
    }
    match (trigger, event.event_type.as_str()) {
        (Trigger::LearnerCreated, LEARNER_CREATED) => learner_created(event),
        (Trigger::MilestoneCompleted, MILESTONE_COMPLETED) => {
            milestone_reached(event, part(&document)?, Progress::Completed)
        }
        (Trigger::MilestoneCompleted, MILESTONE_STARTED) => {
            milestone_reached(event, part(&document)?, Progress::Started)
        }
        (Trigger::MilestoneCompleted, TASK_CREATED) => {
            task_changed(event, part(&document)?, TaskAction::Create)
        }
        (Trigger::MilestoneCompleted, TASK_UPDATED) => {
            task_changed(event, part(&document)?, TaskAction::Update)
        }
        (Trigger::MilestoneCompleted, TASK_COMPLETED) => {
            task_changed(event, part(&document)?, TaskAction::Complete)
        }
        (Trigger::NoteAdded, NOTE_ADDED) => note_added(event, part(&document)?),
        (trigger, other) => Err(IngestError::Unprocessable {
            field: "event_type".into(),
            problem: format!("{other:?} is not handled by {}", trigger.name()),
        }),
    }
}

/// The view of the document that one event type owns.
fn part<T: DeserializeOwned>(document: &serde_json::Value) -> Result<T, IngestError> {
    parse::view(document)
}

/// The generic format's identity: the sender promises `event_id` is reused on every resend.
fn key(event: &GenericEvent) -> String {
    keys::delivery_claim(event.source.as_str(), &[&event.event_type, &event.event_id])
}

/// Who an event other than `learner.created` is about.
fn learner_ref(learner: Option<GenericLearner>) -> Result<LearnerRef, IngestError> {
    let learner = learner.ok_or_else(|| IngestError::missing("learner"))?;
    if learner.id.trim().is_empty() {
        return Err(IngestError::missing("learner.id"));
    }
    Ok(LearnerRef {
        email: required_email(learner.email, "learner.email")?,
        source_user_id: learner.id,
        first_name: non_blank(learner.first_name),
        last_name: non_blank(learner.last_name),
    })
}

fn learner_created(event: GenericEvent) -> Result<Normalised, IngestError> {
    let idempotency_key = key(&event);
    let learner = event.learner.ok_or_else(|| IngestError::missing("learner"))?;
    if learner.id.trim().is_empty() {
        return Err(IngestError::missing("learner.id"));
    }
    let email = required_email(learner.email, "learner.email")?;
    let learner = LearnerCreated {
        source: event.source,
        source_user_id: learner.id,
        email,
        first_name: non_blank(learner.first_name),
        last_name: non_blank(learner.last_name),
        phone: non_blank(learner.phone),
        role: non_blank(learner.role),
        course: event.course,
        occurred_at: event.occurred_at,
        custom_fields: learner
            .custom_fields
            .into_iter()
            .map(|(k, v)| (k, v.into_text()))
            .collect(),
    };
    Ok(Normalised {
        idempotency_key,
        event: SyncEvent::LearnerCreated(learner),
    })
}

fn milestone_reached(
    event: GenericEvent,
    part: MilestonePart,
    progress: Progress,
) -> Result<Normalised, IngestError> {
    let idempotency_key = key(&event);
    let learner = learner_ref(event.learner)?;
    let milestone = part.milestone.ok_or_else(|| IngestError::missing("milestone"))?;
    let kind = milestone
        .kind
        .ok_or_else(|| IngestError::missing("milestone.kind"))?;
    let milestone_id = required_id(milestone.id, "milestone.id")?;
    let course = match milestone.course {
        Some(course) => Some(CourseRef {
            id: required_id(Some(course.id), "milestone.course.id")?,
            title: non_blank(course.title),
            published_id: non_blank(course.published_id),
        }),
        None => None,
    };
    let milestone = MilestoneReached {
        source: event.source,
        learner,
        kind,
        milestone_id,
        title: non_blank(milestone.title),
        course,
        progress,
        score: milestone.score.and_then(Score::into_text),
        occurred_at: event.occurred_at,
    };
    Ok(Normalised {
        idempotency_key,
        event: SyncEvent::MilestoneReached(milestone),
    })
}

fn task_changed(event: GenericEvent, part: TaskPart, action: TaskAction) -> Result<Normalised, IngestError> {
    let idempotency_key = key(&event);
    let learner = learner_ref(event.learner)?;
    let task = part.task.ok_or_else(|| IngestError::missing("task"))?;
    let task_id = required_id(task.id, "task.id")?;
    let title = non_blank(task.title);
    // A GHL task cannot exist without a title; later changes may leave it as it was.
    if action == TaskAction::Create && title.is_none() {
        return Err(IngestError::missing("task.title"));
    }
    let task = TaskChanged {
        source: event.source,
        learner,
        task_id,
        action,
        title,
        body: non_blank(task.body),
        due_at: task.due_at,
        priority: non_blank(task.priority),
        assignee: non_blank(task.assignee),
        occurred_at: event.occurred_at,
    };
    Ok(Normalised {
        idempotency_key,
        event: SyncEvent::TaskChanged(task),
    })
}

fn note_added(event: GenericEvent, part: NotePart) -> Result<Normalised, IngestError> {
    let idempotency_key = key(&event);
    let learner = learner_ref(event.learner)?;
    let note = part.note.ok_or_else(|| IngestError::missing("note"))?;
    let note_id = required_id(note.id, "note.id")?;
    let content = note.content.ok_or_else(|| IngestError::missing("note.content"))?;
    if content.trim().is_empty() {
        return Err(IngestError::Unprocessable {
            field: "note.content".into(),
            problem: "must not be empty".into(),
        });
    }
    if content.len() > MAX_NOTE_BYTES {
        return Err(IngestError::Unprocessable {
            field: "note.content".into(),
            problem: format!("is {} bytes; the limit is {MAX_NOTE_BYTES}", content.len()),
        });
    }
    let note = NoteAdded {
        source: event.source,
        learner,
        note_id,
        title: non_blank(note.title),
        // Kept as sent: line breaks and indentation are part of meeting notes.
        content,
        author: non_blank(note.author),
        occurred_at: event.occurred_at,
        context: part
            .context
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_text()))
            .collect(),
    };
    Ok(Normalised {
        idempotency_key,
        event: SyncEvent::NoteAdded(note),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEARNER: &str = include_str!("../../../tests/fixtures/generic/learner_created.json");
    const MILESTONE: &str = include_str!("../../../tests/fixtures/generic/milestone_completed.json");
    const TASK_CREATED_BODY: &str = include_str!("../../../tests/fixtures/generic/task_created.json");
    const TASK_COMPLETED_BODY: &str = include_str!("../../../tests/fixtures/generic/task_completed.json");
    const NOTE: &str = include_str!("../../../tests/fixtures/generic/note_added.json");

    fn event_of(trigger: Trigger, body: &str) -> Result<SyncEvent, IngestError> {
        normalise(trigger, body.as_bytes()).map(|n| n.event)
    }

    fn rfc3339(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn milestone_completed_is_normalised() -> Result<(), IngestError> {
        let SyncEvent::MilestoneReached(m) = event_of(Trigger::MilestoneCompleted, MILESTONE)? else {
            panic!("not a MilestoneReached")
        };
        assert_eq!(m.source.as_str(), "talentlms");
        assert_eq!(m.learner.source_user_id, "1042");
        assert_eq!(m.learner.email.as_str(), "katherine.johnson@example.com");
        assert_eq!(m.learner.first_name.as_deref(), Some("Katherine"));
        assert_eq!((m.kind, m.progress), (MilestoneKind::Quiz, Progress::Completed));
        assert_eq!(m.milestone_id, "unit-7-exam");
        assert_eq!(m.title.as_deref(), Some("Unit 7 exam: transfer orbits"));
        assert_eq!(
            m.course,
            Some(CourseRef {
                id: "118".into(),
                title: Some("Orbital Mechanics".into()),
                published_id: None,
            })
        );
        assert_eq!(m.score.as_deref(), Some("96"));
        assert_eq!(m.occurred_at, rfc3339("2025-11-25T14:30:00Z"));
        Ok(())
    }

    #[test]
    fn milestone_started_and_custom_kinds() -> Result<(), IngestError> {
        let body = MILESTONE
            .replace("milestone.completed", "milestone.started")
            .replace(r#""kind": "quiz""#, r#""kind": "custom""#)
            .replace(r#""score": 96"#, r#""score": "B+""#);
        let SyncEvent::MilestoneReached(m) = event_of(Trigger::MilestoneCompleted, &body)? else {
            panic!("not a MilestoneReached")
        };
        assert_eq!((m.kind, m.progress), (MilestoneKind::Custom, Progress::Started));
        assert_eq!(m.score.as_deref(), Some("B+"));
        let minimal = r#"{"event_id":"e1","event_type":"milestone.completed","source":"trainual",
            "occurred_at":"2025-11-25T14:30:00+01:00","learner":{"id":"u1","email":"a@b.co"},
            "milestone":{"kind":"path","id":"p1"}}"#;
        let SyncEvent::MilestoneReached(m) = event_of(Trigger::MilestoneCompleted, minimal)? else {
            panic!("not a MilestoneReached")
        };
        assert_eq!((m.title, m.course, m.score), (None, None, None));
        assert_eq!(m.learner.first_name, None);
        Ok(())
    }

    #[test]
    fn tasks_are_normalised() -> Result<(), IngestError> {
        let SyncEvent::TaskChanged(created) = event_of(Trigger::MilestoneCompleted, TASK_CREATED_BODY)?
        else {
            panic!("not a TaskChanged")
        };
        assert_eq!(created.source.as_str(), "talknotes");
        assert_eq!(created.learner.source_user_id, "tn-user-5521");
        assert_eq!(created.task_id, "tn-task-301");
        assert_eq!(created.action, TaskAction::Create);
        assert_eq!(
            created.title.as_deref(),
            Some("Send Katherine the advanced module schedule")
        );
        assert!(
            created
                .body
                .as_deref()
                .is_some_and(|b| b.starts_with("Action item"))
        );
        assert_eq!(created.due_at, Some(rfc3339("2025-11-28T17:00:00Z")));
        assert_eq!(created.priority.as_deref(), Some("high"));
        assert_eq!(created.assignee, None);

        let SyncEvent::TaskChanged(done) = event_of(Trigger::MilestoneCompleted, TASK_COMPLETED_BODY)? else {
            panic!("not a TaskChanged")
        };
        assert_eq!(
            (done.task_id.as_str(), done.action),
            ("tn-task-301", TaskAction::Complete)
        );
        assert_eq!((done.title, done.body, done.due_at), (None, None, None));

        let updated = TASK_COMPLETED_BODY
            .replace("task.completed", "task.updated")
            .replace(
                r#""id": "tn-task-301""#,
                r#""id": "tn-task-301", "due_at": "2025-12-01T09:00:00-05:00", "assignee": "u8Jk2lPq""#,
            );
        let SyncEvent::TaskChanged(updated) = event_of(Trigger::MilestoneCompleted, &updated)? else {
            panic!("not a TaskChanged")
        };
        assert_eq!(updated.action, TaskAction::Update);
        assert_eq!(updated.due_at, Some(rfc3339("2025-12-01T14:00:00Z")));
        assert_eq!(updated.assignee.as_deref(), Some("u8Jk2lPq"));
        Ok(())
    }

    #[test]
    fn note_added_is_normalised_with_its_context() -> Result<(), IngestError> {
        let SyncEvent::NoteAdded(note) = event_of(Trigger::NoteAdded, NOTE)? else {
            panic!("not a NoteAdded")
        };
        assert_eq!(note.source.as_str(), "talknotes");
        assert_eq!(note.learner.email.as_str(), "katherine.johnson@example.com");
        assert_eq!(note.note_id, "tn-note-77");
        assert_eq!(note.title.as_deref(), Some("Coaching call, 24 Nov"));
        assert!(note.content.contains("\n\nNext: send the schedule."));
        assert_eq!(note.author.as_deref(), Some("Dorothy Vaughan"));
        let context: Vec<(&str, &str)> = note
            .context
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            context,
            [
                ("department", "Flight Research"),
                ("employee_count", "45"),
                ("is_partner", "true")
            ]
        );
        let bare = NOTE.replace(r#""context": {"#, r#""context": null, "ignored": {"#);
        let SyncEvent::NoteAdded(note) = event_of(Trigger::NoteAdded, &bare)? else {
            panic!("not a NoteAdded")
        };
        assert!(note.context.is_empty());
        let largest = NOTE.replace(
            r#""content": "Finished"#,
            &format!(r#""content": "{}Finished"#, "x".repeat(MAX_NOTE_BYTES - 153)),
        );
        assert!(event_of(Trigger::NoteAdded, &largest).is_ok());
        Ok(())
    }

    #[test]
    fn keys_are_source_type_and_event_id() -> Result<(), IngestError> {
        let key = |trigger, body: &str| normalise(trigger, body.as_bytes()).map(|n| n.idempotency_key);
        let created = key(Trigger::MilestoneCompleted, TASK_CREATED_BODY)?;
        assert!(created.starts_with("ingest:talknotes:"));
        assert_eq!(created, key(Trigger::MilestoneCompleted, TASK_CREATED_BODY)?);
        // The event id is the identity: a resend with other content is the same delivery...
        let edited = TASK_CREATED_BODY.replace("high", "low");
        assert_eq!(created, key(Trigger::MilestoneCompleted, &edited)?);
        // ...and the same id under another type or source is another one.
        let updated = TASK_CREATED_BODY.replace("task.created", "task.updated");
        assert_ne!(created, key(Trigger::MilestoneCompleted, &updated)?);
        let other_source = TASK_CREATED_BODY.replace(r#""source": "talknotes""#, r#""source": "zapier""#);
        assert_ne!(created, key(Trigger::MilestoneCompleted, &other_source)?);
        Ok(())
    }

    #[test]
    fn a_part_is_read_only_for_its_own_event_type() -> Result<(), IngestError> {
        // `task` means nothing to learner.created, so its shape cannot make that delivery fail.
        let learner = LEARNER.replace(
            r#""source": "talentlms","#,
            r#""source": "talentlms", "task": 7, "note": "x","#,
        );
        assert!(matches!(
            event_of(Trigger::LearnerCreated, &learner)?,
            SyncEvent::LearnerCreated(_)
        ));
        let note = NOTE.replace(r#""note": {"#, r#""milestone": "n/a", "task": [], "note": {"#);
        assert!(matches!(
            event_of(Trigger::NoteAdded, &note)?,
            SyncEvent::NoteAdded(_)
        ));
        Ok(())
    }

    fn assert_field(trigger: Trigger, body: &str, expected: &str) {
        match normalise(trigger, body.as_bytes()) {
            Err(IngestError::Unprocessable { field, .. }) => assert_eq!(field, expected, "{body}"),
            other => panic!(
                "expected 422 at {expected}, got {:?}",
                other.map(|n| n.idempotency_key)
            ),
        }
    }

    #[test]
    fn bad_milestones_and_tasks_name_the_field() {
        let m = Trigger::MilestoneCompleted;
        let cases = [
            (
                MILESTONE.replace(r#""milestone": {"#, r#""progress": {"#),
                "milestone",
            ),
            (MILESTONE.replace(r#""kind": "quiz","#, ""), "milestone.kind"),
            (
                MILESTONE.replace(r#""kind": "quiz""#, r#""kind": "module""#),
                "milestone.kind",
            ),
            (MILESTONE.replace(r#""id": "unit-7-exam","#, ""), "milestone.id"),
            (
                MILESTONE.replace(r#""id": "unit-7-exam""#, r#""id": "  ""#),
                "milestone.id",
            ),
            (
                MILESTONE.replace(
                    r#""id": "unit-7-exam""#,
                    &format!(r#""id": "{}""#, "i".repeat(257)),
                ),
                "milestone.id",
            ),
            (
                MILESTONE.replace(r#""score": 96"#, r#""score": true"#),
                "milestone.score",
            ),
            (
                MILESTONE.replace(r#""course": { "id": "118","#, r#""course": {"#),
                "milestone.course",
            ),
            (
                MILESTONE.replace(r#""email": "Katherine.Johnson@example.com","#, ""),
                "learner.email",
            ),
            (
                MILESTONE.replace("Katherine.Johnson@example.com", "katherine"),
                "learner.email",
            ),
            (MILESTONE.replace(r#""id": "1042""#, r#""id": """#), "learner.id"),
            (MILESTONE.replace(r#""learner": {"#, r#""user": {"#), "learner"),
            (
                MILESTONE.replace("2025-11-25T14:30:00Z", "2025-11-25"),
                "occurred_at",
            ),
            (
                MILESTONE.replace("milestone.completed", "milestone.failed"),
                "event_type",
            ),
            (
                MILESTONE.replace(r#""event_id": "tlms-evt-000187""#, r#""event_id": """#),
                "event_id",
            ),
            (
                TASK_CREATED_BODY.replace(r#""title": "Send Katherine the advanced module schedule","#, ""),
                "task.title",
            ),
            (
                TASK_CREATED_BODY.replace("Send Katherine the advanced module schedule", " "),
                "task.title",
            ),
            (
                TASK_CREATED_BODY.replace(r#""id": "tn-task-301","#, ""),
                "task.id",
            ),
            (
                TASK_CREATED_BODY.replace("2025-11-28T17:00:00Z", "next friday"),
                "task.due_at",
            ),
            (
                TASK_CREATED_BODY.replace(r#""priority": "high""#, r#""priority": 1"#),
                "task.priority",
            ),
            (
                TASK_COMPLETED_BODY.replace(r#""task": {"#, r#""todo": {"#),
                "task",
            ),
            (NOTE.to_owned(), "event_type"),
        ];
        for (body, expected) in cases {
            assert_field(m, &body, expected);
        }
    }

    #[test]
    fn bad_notes_name_the_field() {
        let n = Trigger::NoteAdded;
        let too_long = NOTE.replace(
            r#""content": "Finished"#,
            &format!(r#""content": "{}Finished"#, "x".repeat(MAX_NOTE_BYTES)),
        );
        let cases = [
            (NOTE.replace(r#""note": {"#, r#""memo": {"#), "note"),
            (NOTE.replace(r#""id": "tn-note-77","#, ""), "note.id"),
            (NOTE.replace(r#""content": "#, r#""text": "#), "note.content"),
            (
                NOTE.replace(
                    r#""content": "Finished"#,
                    r#""content": " \n\t ", "was": "Finished"#,
                ),
                "note.content",
            ),
            (too_long, "note.content"),
            (
                NOTE.replace(
                    r#""department": "Flight Research""#,
                    r#""department": {"name": "FR"}"#,
                ),
                "context.department",
            ),
            (
                NOTE.replace(r#""context": {"#, r#""context": ["employee_count"], "was": {"#),
                "context",
            ),
            (
                NOTE.replace(r#""email": "Katherine.Johnson@example.com","#, ""),
                "learner.email",
            ),
            (MILESTONE.to_owned(), "event_type"),
            (TASK_CREATED_BODY.to_owned(), "event_type"),
            (LEARNER.to_owned(), "event_type"),
        ];
        for (body, expected) in cases {
            assert_field(n, &body, expected);
        }
        // And the other way round: learner-created takes none of the new types.
        for body in [MILESTONE, TASK_CREATED_BODY, NOTE] {
            assert_field(Trigger::LearnerCreated, body, "event_type");
        }
    }

    #[test]
    fn unknown_kinds_say_what_is_expected_without_quoting_the_value() {
        let body = MILESTONE.replace(r#""kind": "quiz""#, r#""kind": "secret-kind""#);
        match normalise(Trigger::MilestoneCompleted, body.as_bytes()) {
            Err(IngestError::Unprocessable { problem, .. }) => {
                assert!(
                    problem.contains("`course`") && problem.contains("`custom`"),
                    "{problem}"
                );
                assert!(!problem.contains("secret-kind"), "{problem}");
            }
            other => panic!("expected 422, got {:?}", other.map(|n| n.idempotency_key)),
        }
    }

    #[test]
    fn generic_learner_created_is_normalised() -> Result<(), IngestError> {
        let normalised = normalise(Trigger::LearnerCreated, LEARNER.as_bytes())?;
        let SyncEvent::LearnerCreated(learner) = &normalised.event else {
            panic!("not a LearnerCreated")
        };
        assert_eq!(learner.source.as_str(), "talentlms");
        assert_eq!(learner.email.as_str(), "katherine.johnson@example.com");
        assert_eq!(learner.phone.as_deref(), Some("+1 555 0100"));
        assert_eq!(learner.role.as_deref(), Some("Instructor"));
        assert_eq!(
            learner.custom_fields.get("employee_count").map(String::as_str),
            Some("42")
        );
        assert_eq!(
            learner.custom_fields.get("is_partner").map(String::as_str),
            Some("true")
        );
        assert!(normalised.idempotency_key.starts_with("ingest:talentlms:"));
        Ok(())
    }

    #[test]
    fn bad_documents_name_the_field() {
        let cases = [
            (
                LEARNER.replace(r#""source": "talentlms""#, r#""source": "Talent LMS""#),
                "source",
            ),
            (
                LEARNER.replace(
                    r#""occurred_at": "2025-11-22T11:00:00Z""#,
                    r#""occurred_at": "yesterday""#,
                ),
                "occurred_at",
            ),
            (
                LEARNER.replace(r#""email": "Katherine.Johnson@example.com","#, ""),
                "learner.email",
            ),
            (
                LEARNER.replace("learner.created", "learner.deleted"),
                "event_type",
            ),
            (LEARNER.replace(r#""event_id": "tlms-evt-000123","#, ""), "."),
        ];
        for (body, expected) in cases {
            match normalise(Trigger::LearnerCreated, body.as_bytes()) {
                Err(IngestError::Unprocessable { field, .. }) => assert_eq!(field, expected),
                other => panic!(
                    "expected 422 at {expected}, got {:?}",
                    other.map(|n| n.idempotency_key)
                ),
            }
        }
    }
}
