//! The SQS edge of the worker: batches, partial failures and the time reserve.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};

use super::handle_batch;
use crate::ghl::GhlError;
use crate::idempotency::{Claim, Idempotency};
use crate::memory::{MemoryIdempotencyStore, MemoryQueue, MemoryRedelivery};
use crate::worker::tests::{learner_message, worker, worker_with};

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
    let response = handle_batch(&worker, event, None).await;
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
    let body = learner_message().map_err(|e| GhlError::Transport(e.to_string()))?;
    let mut event = SqsEvent::default();
    event.records = vec![record("m1", &body), record("m2", "{}")];
    let response = handle_batch(&worker, event, None).await;
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
    let response = handle_batch(&worker, event, Some(now_ms + 5_000)).await;
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

/// A record whose event another invocation is syncing waits off the queue until that claim runs
/// out, instead of coming back (and counting a receive) every visibility timeout.
#[tokio::test]
async fn a_record_held_by_another_invocation_is_kept_back_until_its_claim_expires() -> Result<(), String> {
    let claims = Arc::new(MemoryIdempotencyStore::default());
    let redelivery = Arc::new(MemoryRedelivery::default());
    let worker = worker_with(Arc::new(MemoryQueue::default()), claims.clone())
        .map_err(|e| e.to_string())?
        .with_redelivery(redelivery.clone());
    let now = time::OffsetDateTime::now_utc();
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let key = crate::keys::event_claim(&crate::domain::EventId::from_idempotency_key("ingest:skilljar:k"));
    let other = Idempotency::new(claims, std::time::Duration::from_secs(3600));
    let claimed = other
        .claim(&key, "sha256:x", now_ms + 40_000, now)
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(claimed, Claim::Acquired);

    let mut held = record("m1", &learner_message().map_err(|e| e.to_string())?);
    held.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:lms-sync".into());
    held.receipt_handle = Some("receipt-1".into());
    let mut event = SqsEvent::default();
    event.records = vec![held];
    let response = handle_batch(&worker, event, None).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m1"], "left for redelivery");
    let holds = redelivery.holds();
    assert_eq!(holds.len(), 1, "{holds:?}");
    let (queue, receipt, hold_for) = &holds[0];
    assert_eq!(queue, "arn:aws:sqs:us-east-1:123456789012:lms-sync");
    assert_eq!(receipt, "receipt-1");
    // The claim's 40 s and a second's margin, less the time the test took.
    assert!(
        (std::time::Duration::from_secs(38)..=std::time::Duration::from_secs(41)).contains(hold_for),
        "{hold_for:?}"
    );
    Ok(())
}

/// A worker on the memory adapters (`entities` given) and the GHL sandbox, with the bundled
/// mapping.
fn sandbox_worker(
    sandbox: &ghl_sandbox::Sandbox,
    entities: Arc<crate::memory::MemoryEntityMap>,
) -> Result<crate::worker::SyncWorker, GhlError> {
    use crate::ghl::{GhlClient, GhlClients, GhlConfig, PrivateIntegrationToken, Unlimited};
    use crate::memory::{MemoryIdempotencyStore, MemorySecrets};
    let credentials = PrivateIntegrationToken(crate::secrets::CachedSecret::new(
        Arc::new(MemorySecrets::default().with("ghl", include_str!("../../../config/local/ghl.json"))),
        "ghl",
        Duration::from_secs(300),
    ));
    let config = GhlConfig {
        base_url: sandbox.url(),
        timeout: Duration::from_secs(5),
        ..GhlConfig::default()
    };
    let client = GhlClient::new(&config, Arc::new(credentials), Arc::new(Unlimited))?;
    let mapping = crate::mapping::Mapping::parse(include_str!("../../../config/mapping.toml"))
        .map_err(GhlError::Transport)?;
    Ok(crate::worker::SyncWorker::new(
        GhlClients::single(ghl_sandbox::DEFAULT_LOCATION_ID, client),
        entities,
        Arc::new(mapping),
        crate::idempotency::Idempotency::new(
            Arc::new(MemoryIdempotencyStore::default()),
            Duration::from_secs(60),
        ),
        Arc::new(MemoryQueue::default()),
        Arc::new(crate::clock::SystemClock),
    ))
}

/// Ten course completions (ten courses) of the learner `user_id`, as queue messages.
fn ten_completions(user_id: &str) -> Result<Vec<SqsMessage>, serde_json::Error> {
    use crate::contract::{DeliveryHash, Envelope};
    use crate::domain::{
        Email, LearnerRef, MilestoneKind, MilestoneReached, Progress, SourcePlatform, SyncEvent,
    };
    let email = Email::try_from(format!("{user_id}@example.com")).map_err(serde::de::Error::custom)?;
    (0..10)
        .map(|n| {
            let event = SyncEvent::MilestoneReached(MilestoneReached {
                source: SourcePlatform::skilljar(),
                learner: LearnerRef {
                    source_user_id: user_id.to_owned(),
                    email: email.clone(),
                    first_name: Some("Ada".into()),
                    last_name: None,
                },
                kind: MilestoneKind::Course,
                milestone_id: format!("course-{n}"),
                title: Some(format!("Course {n}")),
                course: None,
                progress: Progress::Completed,
                score: None,
                occurred_at: time::OffsetDateTime::UNIX_EPOCH,
            });
            let key = format!("ingest:skilljar:{user_id}-{n}");
            let envelope = Envelope::new(
                key.clone(),
                "corr".into(),
                time::OffsetDateTime::UNIX_EPOCH,
                DeliveryHash::of(key.as_bytes()),
                event,
            );
            Ok(record(&key, &serde_json::to_string(&envelope)?))
        })
        .collect()
}

/// GHL calls in `stats`, leaving out the custom-field definitions (read once per cold start).
fn ghl_calls(stats: &ghl_sandbox::Stats) -> u64 {
    stats.total_requests - stats.route("GET", "/locations/{locationId}/customFields")
}

/// The per-invocation contact cache: ten milestone events for one learner in one SQS batch read
/// the learner's contact link once, where the same ten handled one invocation each (as before the
/// cache) read it ten times; GHL calls and effects are the same either way (docs/benchmarks.md,
/// "Calls per event").
#[tokio::test]
async fn a_batch_of_one_learners_events_reads_the_contact_once() -> Result<(), String> {
    use crate::worker::Message;
    use crate::worker::RecordOutcome;
    let sandbox = ghl_sandbox::Sandbox::start(ghl_sandbox::SandboxConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let entities = Arc::new(crate::memory::MemoryEntityMap::default());
    let worker = sandbox_worker(&sandbox, entities.clone()).map_err(|e| e.to_string())?;

    // One batch: the first event upserts the contact and writes its link; the other nine reuse it.
    sandbox.reset_stats();
    let mut event = SqsEvent::default();
    event.records = ten_completions("batched").map_err(|e| e.to_string())?;
    let response = Box::pin(handle_batch(&worker, event, None)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    let batched_reads = entities.contact_reads();
    let batched_calls = ghl_calls(&sandbox.stats());

    // The same ten events for another learner, one per invocation: each reads the link.
    sandbox.reset_stats();
    for message in ten_completions("alone").map_err(|e| e.to_string())? {
        let body = message.body.unwrap_or_default();
        let outcome = Box::pin(worker.handle(Message { id: "m", body: &body }, None)).await;
        assert!(matches!(outcome, RecordOutcome::Synced { .. }), "{outcome:?}");
    }
    let alone_reads = entities.contact_reads() - batched_reads;
    let alone_calls = ghl_calls(&sandbox.stats());

    eprintln!(
        "ten completions: contact reads {batched_reads} batched / {alone_reads} alone; GHL calls {batched_calls} / {alone_calls}"
    );
    assert_eq!(batched_reads, 1);
    assert_eq!(alone_reads, 10);
    assert!(batched_calls <= alone_calls, "{batched_calls} > {alone_calls}");
    // Nothing lost or duplicated: each learner has one contact with ten tasks and ten notes.
    let contacts = sandbox.contacts(ghl_sandbox::DEFAULT_LOCATION_ID);
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    for contact in contacts {
        let tasks = sandbox.tasks(ghl_sandbox::DEFAULT_LOCATION_ID, &contact.id);
        let notes = sandbox.notes(ghl_sandbox::DEFAULT_LOCATION_ID, &contact.id);
        assert_eq!((tasks.len(), notes.len()), (10, 10), "{:?}", contact.email);
    }
    sandbox.shutdown().await;
    Ok(())
}
