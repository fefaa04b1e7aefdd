//! The project's own generic signed format (schema `docs/generic-webhook.md`): how TalentLMS,
//! Trainual, TalkNotes (through Zapier / Make) and custom senders reach the service.

use std::collections::BTreeMap;

use serde::Deserialize;
use time::OffsetDateTime;

use super::{IngestError, Normalised, Trigger, derive_key, non_blank, parse_body, required_email};
use crate::domain::{CourseRef, LearnerCreated, SourcePlatform, SyncEvent};

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

pub const LEARNER_CREATED: &str = "learner.created";

pub fn normalise(trigger: Trigger, body: &[u8]) -> Result<Normalised, IngestError> {
    let event: GenericEvent = parse_body(body)?;
    if event.event_id.trim().is_empty() || event.event_id.len() > 256 {
        return Err(IngestError::Unprocessable {
            field: "event_id".into(),
            problem: "must be 1-256 characters".into(),
        });
    }
    match (trigger, event.event_type.as_str()) {
        (Trigger::LearnerCreated, LEARNER_CREATED) => learner_created(event),
        (trigger, other) => Err(IngestError::Unprocessable {
            field: "event_type".into(),
            problem: format!("{other:?} is not handled by {}", trigger.name()),
        }),
    }
}

fn learner_created(event: GenericEvent) -> Result<Normalised, IngestError> {
    let learner = event.learner.ok_or_else(|| IngestError::missing("learner"))?;
    if learner.id.trim().is_empty() {
        return Err(IngestError::missing("learner.id"));
    }
    let email = required_email(learner.email, "learner.email")?;
    let idempotency_key = derive_key(&[event.source.as_str(), &event.event_type, &event.event_id]);
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

#[cfg(test)]
mod tests {
    use super::*;

    const LEARNER: &str = include_str!("../../../tests/fixtures/generic/learner_created.json");

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
