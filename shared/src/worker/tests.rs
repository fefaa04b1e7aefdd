use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::clock::SystemClock;
use crate::domain::{CourseRef, Email, LearnerCreated, SourcePlatform};
use crate::ghl::{Credentials, GhlConfig, LocationAuth};
use crate::memory::{MemoryEntityMap, MemoryIdempotencyStore, MemoryQueue};

struct NoCredentials;

#[async_trait::async_trait]
impl Credentials for NoCredentials {
    async fn location_auth(&self) -> Result<LocationAuth, GhlError> {
        Err(GhlError::Credentials("not in unit tests".into()))
    }
}

fn learner() -> LearnerCreated {
    LearnerCreated {
        source: SourcePlatform::skilljar(),
        source_user_id: "u1".into(),
        email: Email::try_from("ada@example.com".to_owned()).unwrap_or_else(|e| panic!("{e}")),
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        phone: Some("+1 555 0100".into()),
        role: Some("Instructor".into()),
        course: Some(CourseRef {
            id: "c1".into(),
            title: None,
        }),
        occurred_at: time::OffsetDateTime::UNIX_EPOCH,
        custom_fields: [
            ("employee_count".to_owned(), "42".to_owned()),
            ("unmapped".to_owned(), "x".to_owned()),
        ]
        .into(),
    }
}

#[test]
fn upsert_request_maps_names_contact_role_and_only_mapped_custom_fields() -> Result<(), String> {
    let mapping = Mapping::parse(
        "[contact]\nsource = \"Academy\"\nrole_field = \"lms_role\"\n[contact.custom_fields]\nemployee_count = { id = \"fld1\" }\n",
    )?;
    let request = learner_created::upsert_request(&learner(), &mapping);
    let json = serde_json::to_value(&request).map_err(|e| e.to_string())?;
    assert_eq!(
        json,
        serde_json::json!({
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada@example.com",
            "phone": "+1 555 0100",
            "source": "Academy"
        })
    );
    let fields: Vec<_> = learner_created::mapped_fields(&learner(), &mapping)
        .into_iter()
        .map(|(field, value)| (field.clone(), value))
        .collect();
    assert_eq!(
        fields,
        [
            (
                crate::domain::FieldRef::Key("lms_role".into()),
                "Instructor".to_owned()
            ),
            (crate::domain::FieldRef::Id { id: "fld1".into() }, "42".to_owned()),
        ]
    );
    Ok(())
}

fn worker(dead_letters: Arc<MemoryQueue>) -> Result<SyncWorker, GhlError> {
    let config = GhlConfig {
        base_url: "http://127.0.0.1:9".into(),
        timeout: Duration::from_secs(1),
        ..GhlConfig::default()
    };
    let client =
        crate::ghl::GhlClient::new(&config, Arc::new(NoCredentials), Arc::new(crate::ghl::Unlimited))?;
    let ghl = crate::ghl::GhlClients::single("loc-1", client);
    Ok(SyncWorker::new(
        ghl,
        Arc::new(MemoryEntityMap::default()),
        Arc::new(Mapping::default()),
        Idempotency::new(
            Arc::new(MemoryIdempotencyStore::default()),
            Duration::from_secs(60),
        ),
        dead_letters,
        Arc::new(SystemClock),
    ))
}

fn record(id: &str, body: &str) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = Some(body.to_owned());
    message
}

#[tokio::test]
async fn unreadable_message_is_parked_not_retried() -> Result<(), GhlError> {
    let dlq = Arc::new(MemoryQueue::default());
    let worker = worker(dlq.clone())?;
    let mut event = SqsEvent::default();
    event.records = vec![record("m1", "not json")];
    let response = worker.handle_batch(event, None).await;
    assert!(response.batch_item_failures.is_empty());
    let parked = dlq.messages();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].body, "not json");
    assert_eq!(
        parked[0].attributes.get("error_reason").map(String::as_str),
        Some("unreadable_message")
    );
    Ok(())
}

#[tokio::test]
async fn unavailable_credentials_fail_the_item_for_redelivery() -> Result<(), GhlError> {
    let dlq = Arc::new(MemoryQueue::default());
    let worker = worker(dlq.clone())?;
    let envelope = Envelope::new(
        "ingest:skilljar:k".into(),
        "corr".into(),
        time::OffsetDateTime::UNIX_EPOCH,
        DeliveryHash::of(b"a delivery"),
        SyncEvent::LearnerCreated(learner()),
    );
    let body = serde_json::to_string(&envelope).map_err(|e| GhlError::Transport(e.to_string()))?;
    let mut event = SqsEvent::default();
    event.records = vec![record("m1", &body), record("m2", "{}")];
    let response = worker.handle_batch(event, None).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, ["m1"]);
    assert_eq!(dlq.messages().len(), 1, "only the unreadable m2 is parked");
    Ok(())
}

#[tokio::test]
async fn records_are_left_for_redelivery_when_the_invocation_is_almost_over() -> Result<(), GhlError> {
    let dlq = Arc::new(MemoryQueue::default());
    let worker = worker(dlq.clone())?;
    let mut event = SqsEvent::default();
    event.records = vec![record("m1", "not json"), record("m2", "not json")];
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64;
    let response = worker.handle_batch(event, Some(now_ms + 5_000)).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, ["m1", "m2"]);
    assert!(
        dlq.messages().is_empty(),
        "nothing was started, so nothing was parked"
    );
    Ok(())
}
