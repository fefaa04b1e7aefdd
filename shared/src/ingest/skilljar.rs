//! Skilljar's native webhooks: how a delivery is authenticated and how an enrollment becomes a
//! `LearnerCreated`. Shapes from Skilljar's "Using Webhooks API" article (see
//! `tests/fixtures/README.md`); unknown fields are ignored, as Skilljar adds them freely.

use base64::Engine;
use http::HeaderMap;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{IngestError, Normalised, Trigger, derive_key, non_blank, parse_body, required_email};
use crate::domain::{CourseRef, LearnerCreated, SourcePlatform, SyncEvent};
use crate::secrets::SkilljarAuth;

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
}

#[derive(Debug, Deserialize)]
pub struct SkilljarDomain {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// What a Skilljar delivery turned out to be.
pub enum SkilljarDelivery {
    /// `POST /v1/webhooks/{id}/ping`: answer 2xx, enqueue nothing.
    Ping,
    Event(Box<Normalised>),
}

/// Checks the credentials the subscription was configured with. Every configured mechanism must
/// match; digests are compared so that neither content nor length leaks through timing.
pub fn authenticate(headers: &HeaderMap, auth: &SkilljarAuth) -> Result<(), IngestError> {
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
pub fn normalise(trigger: Trigger, body: &[u8]) -> Result<SkilljarDelivery, IngestError> {
    let event: SkilljarEvent = parse_body(body)?;
    if event.event_type == "PING" {
        return Ok(SkilljarDelivery::Ping);
    }
    match (trigger, event.event_type.as_str()) {
        (Trigger::LearnerCreated, "COURSE_ENROLLMENT" | "DOMAIN_ENROLLMENT") => {
            learner_created(event).map(|n| SkilljarDelivery::Event(Box::new(n)))
        }
        (trigger, other) => Err(IngestError::Unprocessable {
            field: "event_type".into(),
            problem: format!("{other} is not handled by {}", trigger.name()),
        }),
    }
}

/// How a Skilljar enrollment becomes a `LearnerCreated`.
fn learner_created(event: SkilljarEvent) -> Result<Normalised, IngestError> {
    let user = event.user.ok_or_else(|| IngestError::missing("user"))?;
    if user.id.trim().is_empty() {
        return Err(IngestError::missing("user.id"));
    }
    let email = required_email(user.email, "user.email")?;
    let raw_timestamp = event.timestamp.ok_or_else(|| IngestError::missing("timestamp"))?;
    let occurred_at =
        OffsetDateTime::parse(&raw_timestamp, &Rfc3339).map_err(|_| IngestError::Unprocessable {
            field: "timestamp".into(),
            problem: "not an RFC 3339 date-time".into(),
        })?;
    if event.event_type == "COURSE_ENROLLMENT" && event.course.is_none() {
        return Err(IngestError::missing("course"));
    }
    let course = event.course.map(|c| CourseRef {
        id: c.id,
        title: c.title,
    });
    let domain = event.domain.and_then(|d| d.id.or(d.name)).unwrap_or_default();

    // Skilljar sends no delivery id: a retry repeats type, learner, course, domain and timestamp.
    let idempotency_key = derive_key(&[
        SourcePlatform::SKILLJAR,
        &event.event_type,
        &user.id,
        course.as_ref().map_or("", |c| c.id.as_str()),
        &domain,
        &raw_timestamp,
    ]);
    let learner = LearnerCreated {
        source: SourcePlatform::skilljar(),
        source_user_id: user.id,
        email,
        first_name: non_blank(user.first_name),
        last_name: non_blank(user.last_name),
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
    use crate::secrets::{BasicAuth, HeaderAuth};
    use secrecy::SecretString;

    const ENROLLMENT: &str = include_str!("../../../tests/fixtures/skilljar/course_enrollment.json");

    fn event(body: &str) -> Result<Normalised, IngestError> {
        match normalise(Trigger::LearnerCreated, body.as_bytes())? {
            SkilljarDelivery::Event(n) => Ok(*n),
            SkilljarDelivery::Ping => panic!("ping"),
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
        let ping = normalise(Trigger::LearnerCreated, br#"{"event_type":"PING"}"#);
        assert!(matches!(ping, Ok(SkilljarDelivery::Ping)));
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
