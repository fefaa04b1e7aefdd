//! Skilljar's native webhooks: how a delivery is authenticated, how an enrollment becomes a
//! `LearnerCreated` and how enrollments and completions become a `MilestoneReached`. Shapes from
//! Skilljar's "Using Webhooks API" article (see `tests/fixtures/README.md`); unknown fields are
//! ignored, as Skilljar adds them freely.

use base64::Engine;
use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::{
    CourseRef, LearnerCreated, LearnerRef, MilestoneKind, MilestoneReached, Progress, SourcePlatform,
    SyncEvent,
};
use crate::ingest::error::IngestError;
use crate::ingest::parse::{self, non_blank, required_email, required_id};
use crate::ingest::provider::{Delivery, Normalised, Parsed, Provider, Trigger};
use crate::keys;

/// Skilljar's native webhooks (`POST /<trigger>/skilljar`).
pub struct Skilljar;

impl Provider for Skilljar {
    const NAME: &'static str = "skilljar";
    type Auth = SkilljarAuth;

    fn authenticate(
        delivery: &Delivery<'_>,
        auth: &SkilljarAuth,
        _now: OffsetDateTime,
    ) -> Result<(), IngestError> {
        authenticate(delivery.headers, auth)
    }

    fn normalise(trigger: Trigger, delivery: &Delivery<'_>) -> Result<Parsed, IngestError> {
        normalise(trigger, delivery.body)
    }
}

/// The webhook secret's `skilljar` section: what the subscription was configured with, Basic
/// credentials, a custom header, or both (then both must match).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkilljarAuth {
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub header: Option<HeaderAuth>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BasicAuth {
    pub username: String,
    pub password: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderAuth {
    pub name: String,
    pub value: SecretString,
}

#[derive(Debug, Deserialize)]
pub struct SkilljarEvent {
    pub event_type: String,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub user: Option<SkilljarUser>,
    #[serde(default)]
    pub course: Option<SkilljarCourse>,
    #[serde(default)]
    pub domain: Option<SkilljarDomain>,
    // Skilljar documents no body for these; they are read leniently (see `item`, `score_text`)
    // because a 4xx makes Skilljar deactivate the whole subscription.
    #[serde(default)]
    pub lesson: Option<serde_json::Value>,
    #[serde(default)]
    pub quiz: Option<serde_json::Value>,
    #[serde(default)]
    pub path: Option<serde_json::Value>,
    #[serde(default)]
    pub score: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct SkilljarUser {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SkilljarCourse {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub published_course_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SkilljarDomain {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// Checks the credentials the subscription was configured with. Every configured mechanism must
/// match; digests are compared so that neither content nor length leaks through timing.
fn authenticate(headers: &HeaderMap, auth: &SkilljarAuth) -> Result<(), IngestError> {
    if auth.basic_auth.is_none() && auth.header.is_none() {
        return Err(IngestError::Misconfigured(
            "Skilljar auth has neither basicAuth nor header".into(),
        ));
    }
    if let Some(basic) = &auth.basic_auth {
        let presented = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
            .ok_or_else(|| IngestError::Unauthorized("missing or malformed Basic credentials".into()))?;
        let expected = format!("{}:{}", basic.username, basic.password.expose_secret());
        if !digest_eq(&presented, expected.as_bytes()) {
            return Err(IngestError::Unauthorized("Basic credentials do not match".into()));
        }
    }
    if let Some(header) = &auth.header {
        let presented = headers
            .get(header.name.as_str())
            .ok_or_else(|| IngestError::Unauthorized(format!("missing {} header", header.name)))?;
        if !digest_eq(presented.as_bytes(), header.value.expose_secret().as_bytes()) {
            return Err(IngestError::Unauthorized(format!(
                "{} header does not match",
                header.name
            )));
        }
    }
    Ok(())
}

fn digest_eq(a: &[u8], b: &[u8]) -> bool {
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

/// Parses a delivery for `trigger`. Event types that the trigger does not handle are refused
/// with 422 so that a misrouted subscription shows up at once.
fn normalise(trigger: Trigger, body: &[u8]) -> Result<Parsed, IngestError> {
    let event: SkilljarEvent = parse::body(body)?;
    if event.event_type == "PING" {
        return Ok(Parsed::Ping);
    }
    let normalised = match trigger {
        Trigger::LearnerCreated
            if matches!(
                event.event_type.as_str(),
                "COURSE_ENROLLMENT" | "DOMAIN_ENROLLMENT"
            ) =>
        {
            learner_created(event)?
        }
        Trigger::MilestoneCompleted => match milestone_of(&event.event_type) {
            Some((kind, progress)) => milestone_reached(event, kind, progress)?,
            None => return Err(not_handled(trigger, &event.event_type)),
        },
        _ => return Err(not_handled(trigger, &event.event_type)),
    };
    Ok(Parsed::Event(Box::new(normalised)))
}

fn not_handled(trigger: Trigger, event_type: &str) -> IngestError {
    IngestError::Unprocessable {
        field: "event_type".into(),
        problem: format!("{event_type} is not handled by {}", trigger.name()),
    }
}

/// Skilljar event types that mark progress. An enrollment is a start: whether a start is worth a
/// GHL task is the mapping's call, not ingest's.
fn milestone_of(event_type: &str) -> Option<(MilestoneKind, Progress)> {
    match event_type {
        "COURSE_ENROLLMENT" => Some((MilestoneKind::Course, Progress::Started)),
        "COURSE_COMPLETION" => Some((MilestoneKind::Course, Progress::Completed)),
        "LESSON_COMPLETION" => Some((MilestoneKind::Lesson, Progress::Completed)),
        "QUIZ_COMPLETION" => Some((MilestoneKind::Quiz, Progress::Completed)),
        "PATH_ENROLLMENT" => Some((MilestoneKind::Path, Progress::Started)),
        "PATH_COMPLETION" => Some((MilestoneKind::Path, Progress::Completed)),
        _ => None,
    }
}

/// The `user` and `timestamp` every Skilljar event carries, checked the same way for every trigger.
fn learner_and_time(
    user: Option<SkilljarUser>,
    timestamp: Option<String>,
) -> Result<(LearnerRef, String, OffsetDateTime), IngestError> {
    let user = user.ok_or_else(|| IngestError::missing("user"))?;
    if user.id.trim().is_empty() {
        return Err(IngestError::missing("user.id"));
    }
    let email = required_email(user.email, "user.email")?;
    let (raw_timestamp, occurred_at) = timestamp_of(timestamp)?;
    let learner = LearnerRef {
        source_user_id: user.id,
        email,
        first_name: non_blank(user.first_name),
        last_name: non_blank(user.last_name),
    };
    Ok((learner, raw_timestamp, occurred_at))
}

/// The raw `timestamp` (part of the delivery's identity) and the instant it names.
fn timestamp_of(timestamp: Option<String>) -> Result<(String, OffsetDateTime), IngestError> {
    let raw = timestamp.ok_or_else(|| IngestError::missing("timestamp"))?;
    let at = OffsetDateTime::parse(&raw, &Rfc3339).map_err(|_| IngestError::Unprocessable {
        field: "timestamp".into(),
        problem: "not an RFC 3339 date-time".into(),
    })?;
    Ok((raw, at))
}

/// How a Skilljar enrollment or completion becomes a `MilestoneReached`.
fn milestone_reached(
    event: SkilljarEvent,
    kind: MilestoneKind,
    progress: Progress,
) -> Result<Normalised, IngestError> {
    let (learner, raw_timestamp, occurred_at) = learner_and_time(event.user, event.timestamp)?;
    let course = event.course.map(|c| CourseRef {
        id: c.id,
        title: non_blank(c.title),
        published_id: non_blank(c.published_course_id),
    });
    let (milestone_id, title) = match kind {
        MilestoneKind::Course => {
            let course = course.as_ref().ok_or_else(|| IngestError::missing("course"))?;
            let id = required_id(Some(course.id.clone()), "course.id")?;
            (id, course.title.clone())
        }
        MilestoneKind::Lesson => item(event.lesson.as_ref(), "lesson")?,
        MilestoneKind::Quiz => item(event.quiz.as_ref(), "quiz")?,
        MilestoneKind::Path => item(event.path.as_ref(), "path")?,
        // `milestone_of` never yields it: custom milestones exist in the generic format only.
        MilestoneKind::Custom => return Err(not_handled(Trigger::MilestoneCompleted, &event.event_type)),
    };
    let score = match kind {
        MilestoneKind::Quiz => event
            .quiz
            .as_ref()
            .and_then(|q| q.get("score"))
            .and_then(score_text)
            .or_else(|| event.score.as_ref().and_then(score_text)),
        _ => event.score.as_ref().and_then(score_text),
    };

    // Skilljar sends no delivery id: a retry repeats type, learner, milestone and timestamp.
    let idempotency_key = keys::delivery_claim(
        SourcePlatform::SKILLJAR,
        &[
            &event.event_type,
            &learner.source_user_id,
            &milestone_id,
            &raw_timestamp,
        ],
    );
    let milestone = MilestoneReached {
        source: SourcePlatform::skilljar(),
        learner,
        kind,
        milestone_id,
        title,
        course,
        progress,
        score,
        occurred_at,
    };
    Ok(Normalised {
        idempotency_key,
        event: SyncEvent::MilestoneReached(milestone),
    })
}

/// `{id, title?}` of an object Skilljar does not document: the id may be a string or a number,
/// a title of any other type is dropped rather than refused.
fn item(value: Option<&serde_json::Value>, field: &str) -> Result<(String, Option<String>), IngestError> {
    let object = value
        .filter(|v| !v.is_null())
        .ok_or_else(|| IngestError::missing(field))?
        .as_object()
        .ok_or_else(|| IngestError::Unprocessable {
            field: field.into(),
            problem: "expected an object".into(),
        })?;
    let id_field = format!("{field}.id");
    let id = match object.get("id") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            return Err(IngestError::Unprocessable {
                field: id_field,
                problem: "expected a string or a number".into(),
            });
        }
    };
    let id = required_id(id, &id_field)?;
    let title = non_blank(object.get("title").and_then(|t| t.as_str()).map(str::to_owned));
    Ok((id, title))
}

/// A score as text, whether Skilljar sends `"85"`, `85` or `85.5`; anything else is no score.
fn score_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => non_blank(Some(s.clone())),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// How a Skilljar enrollment becomes a `LearnerCreated`.
fn learner_created(event: SkilljarEvent) -> Result<Normalised, IngestError> {
    let (learner, raw_timestamp, occurred_at) = learner_and_time(event.user, event.timestamp)?;
    if event.event_type == "COURSE_ENROLLMENT" && event.course.is_none() {
        return Err(IngestError::missing("course"));
    }
    let course = event.course.map(|c| CourseRef {
        id: c.id,
        title: c.title,
        published_id: non_blank(c.published_course_id),
    });
    let domain = event.domain.and_then(|d| d.id.or(d.name)).unwrap_or_default();

    // Skilljar sends no delivery id: a retry repeats type, learner, course, domain and timestamp.
    let idempotency_key = keys::delivery_claim(
        SourcePlatform::SKILLJAR,
        &[
            &event.event_type,
            &learner.source_user_id,
            course.as_ref().map_or("", |c| c.id.as_str()),
            &domain,
            &raw_timestamp,
        ],
    );
    let learner = LearnerCreated {
        source: SourcePlatform::skilljar(),
        source_user_id: learner.source_user_id,
        email: learner.email,
        first_name: learner.first_name,
        last_name: learner.last_name,
        phone: None,
        role: None,
        course,
        occurred_at,
        custom_fields: Default::default(),
    };
    Ok(Normalised {
        idempotency_key,
        event: SyncEvent::LearnerCreated(learner),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    const ENROLLMENT: &str = include_str!("../../../tests/fixtures/skilljar/course_enrollment.json");

    fn event(body: &str) -> Result<Normalised, IngestError> {
        match normalise(Trigger::LearnerCreated, body.as_bytes())? {
            Parsed::Event(n) => Ok(*n),
            Parsed::Ping | Parsed::Ignored(_) => panic!("not an event"),
        }
    }

    #[test]
    fn course_enrollment_becomes_learner_created() -> Result<(), IngestError> {
        let normalised = event(ENROLLMENT)?;
        let SyncEvent::LearnerCreated(learner) = &normalised.event else {
            panic!("not a LearnerCreated")
        };
        assert_eq!(learner.source.as_str(), "skilljar");
        assert_eq!(learner.source_user_id, "3gh6zcs5x2bz");
        assert_eq!(learner.email.as_str(), "ada.lovelace@example.com");
        assert_eq!(learner.first_name.as_deref(), Some("Ada"));
        assert_eq!(
            learner.course.as_ref().map(|c| c.id.as_str()),
            Some("2wzplz3bmtxpa")
        );
        assert_eq!(learner.occurred_at.unix_timestamp(), 1_763_805_392);
        assert!(normalised.idempotency_key.starts_with("ingest:skilljar:"));
        Ok(())
    }

    #[test]
    fn key_is_stable_and_sensitive_to_identity() -> Result<(), IngestError> {
        let a = event(ENROLLMENT)?.idempotency_key;
        assert_eq!(a, event(ENROLLMENT)?.idempotency_key);
        let other_time = ENROLLMENT.replace("2025-11-22T09:56:32.539Z", "2025-11-22T09:56:33Z");
        assert_ne!(a, event(&other_time)?.idempotency_key);
        let other_user = ENROLLMENT.replace("3gh6zcs5x2bz", "zzz");
        assert_ne!(a, event(&other_user)?.idempotency_key);
        Ok(())
    }

    #[test]
    fn missing_or_bad_learner_data_is_unprocessable() {
        let no_email = ENROLLMENT.replace(r#""email": "Ada.Lovelace@example.com","#, "");
        assert!(
            matches!(event(&no_email), Err(IngestError::Unprocessable { field, .. }) if field == "user.email")
        );
        let bad_email = ENROLLMENT.replace("Ada.Lovelace@example.com", "not-an-email");
        assert!(
            matches!(event(&bad_email), Err(IngestError::Unprocessable { field, .. }) if field == "user.email")
        );
        let completion = ENROLLMENT.replace("COURSE_ENROLLMENT", "COURSE_COMPLETION");
        assert!(
            matches!(event(&completion), Err(IngestError::Unprocessable { field, .. }) if field == "event_type")
        );
    }

    #[test]
    fn ping_is_recognised() {
        for trigger in [Trigger::LearnerCreated, Trigger::MilestoneCompleted] {
            let ping = normalise(trigger, br#"{"event_type":"PING"}"#);
            assert!(matches!(ping, Ok(Parsed::Ping)));
        }
    }

    const COURSE_COMPLETION: &str = include_str!("../../../tests/fixtures/skilljar/course_completion.json");
    const LESSON_COMPLETION: &str = include_str!("../../../tests/fixtures/skilljar/lesson_completion.json");
    const QUIZ_COMPLETION: &str = include_str!("../../../tests/fixtures/skilljar/quiz_completion.json");
    const PATH_ENROLLMENT: &str = include_str!("../../../tests/fixtures/skilljar/path_enrollment.json");
    const PATH_COMPLETION: &str = include_str!("../../../tests/fixtures/skilljar/path_completion.json");

    fn milestone_delivery(body: &str) -> Result<Normalised, IngestError> {
        match normalise(Trigger::MilestoneCompleted, body.as_bytes())? {
            Parsed::Event(n) => Ok(*n),
            Parsed::Ping | Parsed::Ignored(_) => panic!("not an event"),
        }
    }

    fn milestone(body: &str) -> Result<MilestoneReached, IngestError> {
        match milestone_delivery(body)?.event {
            SyncEvent::MilestoneReached(m) => Ok(m),
            other => panic!("not a MilestoneReached: {}", other.kind()),
        }
    }

    fn field_of(result: Result<MilestoneReached, IngestError>) -> String {
        match result {
            Err(IngestError::Unprocessable { field, .. }) => field,
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn course_completion_becomes_a_completed_course_milestone() -> Result<(), IngestError> {
        let m = milestone(COURSE_COMPLETION)?;
        assert_eq!(m.source.as_str(), "skilljar");
        assert_eq!(m.learner.source_user_id, "3gh6zcs5x2bz");
        assert_eq!(m.learner.email.as_str(), "ada.lovelace@example.com");
        assert_eq!(m.learner.first_name.as_deref(), Some("Ada"));
        assert_eq!(m.learner.last_name.as_deref(), Some("Lovelace"));
        assert_eq!((m.kind, m.progress), (MilestoneKind::Course, Progress::Completed));
        assert_eq!(m.milestone_id, "2wzplz3bmtxpa");
        assert_eq!(m.title.as_deref(), Some("Onboarding 101"));
        assert_eq!(m.course.as_ref().map(|c| c.id.as_str()), Some("2wzplz3bmtxpa"));
        assert_eq!(m.score, None);
        assert_eq!(
            m.occurred_at,
            OffsetDateTime::parse("2025-11-24T15:41:07.212Z", &Rfc3339).unwrap_or(OffsetDateTime::UNIX_EPOCH)
        );
        Ok(())
    }

    #[test]
    fn enrollments_become_started_milestones() -> Result<(), IngestError> {
        let course = milestone(ENROLLMENT)?;
        assert_eq!(
            (course.kind, course.progress),
            (MilestoneKind::Course, Progress::Started)
        );
        assert_eq!(course.milestone_id, "2wzplz3bmtxpa");
        let path = milestone(PATH_ENROLLMENT)?;
        assert_eq!(
            (path.kind, path.progress),
            (MilestoneKind::Path, Progress::Started)
        );
        assert_eq!(path.milestone_id, "1p8a7thxq0kzm");
        assert_eq!(path.title.as_deref(), Some("Customer Success Track"));
        assert_eq!(path.course, None);
        Ok(())
    }

    #[test]
    fn lesson_and_quiz_completions_keep_their_course() -> Result<(), IngestError> {
        let lesson = milestone(LESSON_COMPLETION)?;
        assert_eq!(
            (lesson.kind, lesson.progress),
            (MilestoneKind::Lesson, Progress::Completed)
        );
        assert_eq!(lesson.milestone_id, "4lmx9q2p7w1ab");
        assert_eq!(lesson.title.as_deref(), Some("Setting up your workspace"));
        assert_eq!(
            lesson.course,
            Some(CourseRef {
                id: "2wzplz3bmtxpa".into(),
                title: Some("Onboarding 101".into()),
                published_id: Some("1ds9ejbaqhfkp".into()),
            })
        );
        let quiz = milestone(QUIZ_COMPLETION)?;
        assert_eq!(
            (quiz.kind, quiz.progress),
            (MilestoneKind::Quiz, Progress::Completed)
        );
        assert_eq!(quiz.milestone_id, "9qz3kd81mvn2c");
        assert_eq!(quiz.score.as_deref(), Some("92"));
        assert_eq!(quiz.course.map(|c| c.id).as_deref(), Some("2wzplz3bmtxpa"));
        let path = milestone(PATH_COMPLETION)?;
        assert_eq!(
            (path.kind, path.progress),
            (MilestoneKind::Path, Progress::Completed)
        );
        Ok(())
    }

    #[test]
    fn score_is_text_from_the_quiz_or_the_top_level() -> Result<(), IngestError> {
        let as_string = QUIZ_COMPLETION.replace(r#""score": 92"#, r#""score": "88.5""#);
        assert_eq!(milestone(&as_string)?.score.as_deref(), Some("88.5"));
        let fractional = QUIZ_COMPLETION.replace(r#""score": 92"#, r#""score": 88.5"#);
        assert_eq!(milestone(&fractional)?.score.as_deref(), Some("88.5"));
        let top_level = QUIZ_COMPLETION
            .replace(
                r#""title": "Onboarding final check","#,
                r#""title": "Onboarding final check""#,
            )
            .replace(r#""score": 92"#, "")
            .replace(
                r#""event_type": "QUIZ_COMPLETION","#,
                r#""event_type": "QUIZ_COMPLETION", "score": "75","#,
            );
        assert_eq!(milestone(&top_level)?.score.as_deref(), Some("75"));
        let both = QUIZ_COMPLETION.replace(
            r#""event_type": "QUIZ_COMPLETION","#,
            r#""event_type": "QUIZ_COMPLETION", "score": 10,"#,
        );
        assert_eq!(milestone(&both)?.score.as_deref(), Some("92"));
        // Skilljar documents no score: an unexpected shape is no score, not a refused delivery.
        let odd = QUIZ_COMPLETION.replace(r#""score": 92"#, r#""score": {"raw": 92}"#);
        assert_eq!(milestone(&odd)?.score, None);
        Ok(())
    }

    #[test]
    fn undocumented_objects_are_read_leniently() -> Result<(), IngestError> {
        let numeric_id = LESSON_COMPLETION.replace(r#""id": "4lmx9q2p7w1ab""#, r#""id": 4017"#);
        assert_eq!(milestone(&numeric_id)?.milestone_id, "4017");
        let odd_title = LESSON_COMPLETION.replace(
            r#""title": "Setting up your workspace""#,
            r#""title": {"en": "Setting up"}, "extra": [1, 2]"#,
        );
        let lesson = milestone(&odd_title)?;
        assert_eq!(
            (lesson.milestone_id.as_str(), lesson.title),
            ("4lmx9q2p7w1ab", None)
        );
        let no_course = LESSON_COMPLETION.replace(r#""course": {"#, r#""unrelated": {"#);
        assert_eq!(milestone(&no_course)?.course, None);
        Ok(())
    }

    #[test]
    fn milestone_keys_follow_the_delivery_identity() -> Result<(), IngestError> {
        let key = |body: &str| milestone_delivery(body).map(|n| n.idempotency_key);
        let a = key(LESSON_COMPLETION)?;
        assert!(a.starts_with("ingest:skilljar:"));
        assert_eq!(a, key(LESSON_COMPLETION)?);
        for (from, to) in [
            ("4lmx9q2p7w1ab", "4lmx9q2p7w1ac"),
            ("3gh6zcs5x2bz", "3gh6zcs5x2by"),
            ("2025-11-23T08:12:45.870Z", "2025-11-23T08:12:46Z"),
        ] {
            assert_ne!(a, key(&LESSON_COMPLETION.replace(from, to))?, "{from}");
        }
        // A title or the course is not part of the identity.
        assert_eq!(a, key(&LESSON_COMPLETION.replace("Setting up", "Preparing"))?);
        // One COURSE_ENROLLMENT sent to both functions is two deliveries, not a conflict.
        assert_ne!(key(ENROLLMENT)?, event(ENROLLMENT)?.idempotency_key);
        Ok(())
    }

    #[test]
    fn milestones_without_what_they_need_name_the_field() {
        let cases = [
            (
                COURSE_COMPLETION.replace(r#""email": "Ada.Lovelace@example.com","#, ""),
                "user.email",
            ),
            (
                COURSE_COMPLETION.replace("Ada.Lovelace@example.com", "ada.lovelace"),
                "user.email",
            ),
            (
                COURSE_COMPLETION.replace(r#""id": "3gh6zcs5x2bz""#, r#""id": " ""#),
                "user.id",
            ),
            (
                COURSE_COMPLETION.replace(r#""user": {"#, r#""member": {"#),
                "user",
            ),
            (
                COURSE_COMPLETION.replace(r#""timestamp""#, r#""time""#),
                "timestamp",
            ),
            (
                COURSE_COMPLETION.replace("2025-11-24T15:41:07.212Z", "last tuesday"),
                "timestamp",
            ),
            (
                COURSE_COMPLETION.replace(r#""course": {"#, r#""programme": {"#),
                "course",
            ),
            (
                COURSE_COMPLETION.replace(r#""id": "2wzplz3bmtxpa""#, r#""id": """#),
                "course.id",
            ),
            (
                LESSON_COMPLETION.replace(r#""lesson": {"#, r#""module": {"#),
                "lesson",
            ),
            (
                LESSON_COMPLETION.replace(r#""id": "4lmx9q2p7w1ab","#, ""),
                "lesson.id",
            ),
            (
                LESSON_COMPLETION.replace(r#""id": "4lmx9q2p7w1ab""#, r#""id": ["x"]"#),
                "lesson.id",
            ),
            (
                QUIZ_COMPLETION.replace(r#""quiz": {"#, r#""quiz": null, "q": {"#),
                "quiz",
            ),
            (
                PATH_COMPLETION.replace(r#""path": {"#, r#""path": "1p8a7thxq0kzm", "p": {"#),
                "path",
            ),
            (
                COURSE_COMPLETION.replace("COURSE_COMPLETION", "DOMAIN_ENROLLMENT"),
                "event_type",
            ),
            (
                COURSE_COMPLETION.replace("COURSE_COMPLETION", "CERTIFICATE_ISSUED"),
                "event_type",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(field_of(milestone(&body)), expected, "{body}");
        }
    }

    #[test]
    fn note_added_takes_nothing_from_skilljar() {
        for body in [COURSE_COMPLETION, ENROLLMENT, LESSON_COMPLETION] {
            match normalise(Trigger::NoteAdded, body.as_bytes()) {
                Err(IngestError::Unprocessable { field, problem }) => {
                    assert_eq!(field, "event_type");
                    assert!(problem.ends_with("is not handled by note-added"), "{problem}");
                }
                _ => panic!("note-added accepted a Skilljar delivery"),
            }
        }
    }

    fn auth(basic: Option<(&str, &str)>, header: Option<(&str, &str)>) -> SkilljarAuth {
        SkilljarAuth {
            basic_auth: basic.map(|(u, p)| BasicAuth {
                username: u.into(),
                password: SecretString::from(p),
            }),
            header: header.map(|(n, v)| HeaderAuth {
                name: n.into(),
                value: SecretString::from(v),
            }),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(v) = value.parse() {
                map.insert(*name, v);
            }
        }
        map
    }

    #[test]
    fn basic_and_header_auth() {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("sj:pw")
        );
        let wrong = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("sj:nope")
        );
        let cfg = auth(Some(("sj", "pw")), None);
        assert!(authenticate(&headers(&[("authorization", &basic)]), &cfg).is_ok());
        assert!(authenticate(&headers(&[("authorization", &wrong)]), &cfg).is_err());
        assert!(authenticate(&headers(&[]), &cfg).is_err());

        let cfg = auth(None, Some(("x-skilljar-token", "tok")));
        assert!(authenticate(&headers(&[("x-skilljar-token", "tok")]), &cfg).is_ok());
        assert!(authenticate(&headers(&[("x-skilljar-token", "tok2")]), &cfg).is_err());

        let both = auth(Some(("sj", "pw")), Some(("x-skilljar-token", "tok")));
        assert!(authenticate(&headers(&[("authorization", &basic)]), &both).is_err());
        assert!(
            authenticate(
                &headers(&[("authorization", &basic), ("x-skilljar-token", "tok")]),
                &both
            )
            .is_ok()
        );
        assert!(matches!(
            authenticate(&headers(&[]), &auth(None, None)),
            Err(IngestError::Misconfigured(_))
        ));
    }
}
