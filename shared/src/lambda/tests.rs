//! The SQS edge of the worker: batches, partial failures and the time reserve.

use std::sync::Arc;

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
