//! The sync worker: takes queued envelopes and makes their effects in GHL exactly once.
//!
//! Per SQS record: claim `sync:<event_id>`; do the event's work; mark it completed. Retryable
//! failures release the claim and report the record failed (SQS redelivers it later); permanent
//! ones release the claim and park the message on the dead-letter queue with the reason, so that
//! nothing is retried in vain and nothing is lost.

mod contact;
mod effects;
pub mod learner_created;
pub mod milestone;
pub mod note_added;
pub mod task_changed;
mod templates;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use tokio::time::Instant;
use tracing::{Instrument, error, info, info_span, warn};

use crate::clock::{Clock, invocation_deadline_ms};
use crate::contract::{self, ContractError, DeliveryHash, Envelope};
use crate::domain::SyncEvent;
use crate::ghl::{GhlClients, GhlError};
use crate::idempotency::{Claim, Idempotency, IdempotencyError};
use crate::keys;
use crate::mapping::Mapping;
use crate::ports::{EntityMap, OutboundMessage, PortError, Queue};

/// Why an event could not be synced.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Ghl(#[from] GhlError),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl SyncError {
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Ghl(e) => e.is_retryable(),
            SyncError::Port(_) => true,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            SyncError::Ghl(e) => e.reason(),
            SyncError::Port(_) => "infrastructure",
        }
    }
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    Synced {
        result: String,
    },
    AlreadySynced,
    /// Left for SQS to redeliver.
    Retry {
        reason: String,
    },
    /// Moved to the dead-letter queue; will not be retried.
    Parked {
        reason: String,
    },
}

/// What the worker needs to do its job; built once per cold start.
pub struct SyncWorker {
    pub(crate) ghl: GhlClients,
    pub(crate) entities: Arc<dyn EntityMap>,
    pub(crate) mapping: Arc<Mapping>,
    idempotency: Idempotency,
    dead_letters: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
}

/// How long an IN_PROGRESS claim may live when Lambda reports no usable deadline: longer than
/// the GHL timeout, shorter than the queue's visibility timeout.
const CLAIM_FALLBACK: Duration = Duration::from_secs(120);

/// Least time left in the invocation for a record to be started.
const RECORD_RESERVE: Duration = Duration::from_secs(10);

impl SyncWorker {
    pub fn new(
        ghl: GhlClients,
        entities: Arc<dyn EntityMap>,
        mapping: Arc<Mapping>,
        idempotency: Idempotency,
        dead_letters: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            ghl,
            entities,
            mapping,
            idempotency,
            dead_letters,
            clock,
        }
    }

    /// Handles an SQS batch; failed records are listed for redelivery (`ReportBatchItemFailures`).
    pub async fn handle_batch(&self, event: SqsEvent, deadline_ms: Option<u64>) -> SqsBatchResponse {
        let deadline = invocation_deadline_ms(deadline_ms, self.clock.now(), CLAIM_FALLBACK);
        let mut response = SqsBatchResponse::default();
        for record in &event.records {
            let message_id = record.message_id.clone().unwrap_or_default();
            // Starting a record the invocation cannot finish would only leave a claim to expire:
            // leave it, and the rest of the batch, to SQS's redelivery instead.
            if remaining(deadline, self.clock.now()) < RECORD_RESERVE {
                info!(
                    message_id,
                    "too little time left in this invocation; left for redelivery"
                );
                response.add_failure(message_id);
                continue;
            }
            if let RecordOutcome::Retry { .. } =
                self.handle_record(record, u64::try_from(deadline).ok()).await
            {
                response.add_failure(message_id);
            }
        }
        response
    }

    pub async fn handle_record(&self, record: &SqsMessage, deadline_ms: Option<u64>) -> RecordOutcome {
        let message_id = record.message_id.as_deref().unwrap_or("");
        let body = record.body.as_deref().unwrap_or("");
        let envelope = match contract::decode(body) {
            Ok(envelope) => envelope,
            Err(e) => {
                let span = info_span!("event", message_id, event_id = "", correlation_id = "");
                return match e {
                    ContractError::Unreadable { .. } => {
                        self.park(body, None, "unreadable_message", &e.to_string())
                            .instrument(span)
                            .await
                    }
                    // A newer ingest is live and this worker is not yet: leave it for the newer
                    // worker (the queue's redrive policy parks it if none ever comes).
                    ContractError::NewerVersion(_) => {
                        let _entered = span.enter();
                        warn!(error = %e, "left for a newer worker");
                        RecordOutcome::Retry {
                            reason: "newer_message_version".into(),
                        }
                    }
                };
            }
        };
        let span = info_span!(
            "event",
            message_id,
            event_id = %envelope.event_id,
            correlation_id = %envelope.correlation_id,
            event_type = envelope.event.kind(),
        );
        self.process(body, &envelope, deadline_ms).instrument(span).await
    }

    async fn process(&self, body: &str, envelope: &Envelope, deadline_ms: Option<u64>) -> RecordOutcome {
        // Cold start checked that every location the mapping names has credentials.
        let source = envelope.event.source().as_str();
        let location = self
            .mapping
            .providers
            .get(source)
            .and_then(|p| p.location_id.as_deref());
        let client = match self.ghl.for_location(location) {
            Ok(client) => client,
            Err(e) => return self.park(body, Some(envelope), e.reason(), &e.to_string()).await,
        };
        let now = self.clock.now();
        let key = keys::event_claim(&envelope.event_id);
        let deadline = invocation_deadline_ms(deadline_ms, now, CLAIM_FALLBACK);
        match self
            .idempotency
            .claim(&key, envelope.delivery_hash.as_str(), deadline, now)
            .await
            .or_else(accept_held_claim)
        {
            Ok(Claim::Acquired) => {}
            Ok(Claim::Completed { data }) => {
                info!(
                    result = data.as_deref().unwrap_or(""),
                    "already synced; nothing to do"
                );
                return RecordOutcome::AlreadySynced;
            }
            Ok(Claim::InProgress) => {
                info!("another invocation is syncing this event; retry later");
                return RecordOutcome::Retry {
                    reason: "in_progress".into(),
                };
            }
            Err(e) => {
                warn!(error = %e, "idempotency store unavailable");
                return RecordOutcome::Retry {
                    reason: "idempotency_store".into(),
                };
            }
        }

        let ghl = client.with_deadline(Instant::now() + remaining(deadline, now));
        let result = match &envelope.event {
            SyncEvent::LearnerCreated(learner) => learner_created::sync(self, &ghl, learner).await,
            SyncEvent::MilestoneReached(milestone) => milestone::sync(self, &ghl, milestone).await,
            SyncEvent::TaskChanged(task) => task_changed::sync(self, &ghl, task).await,
            SyncEvent::NoteAdded(note) => note_added::sync(self, &ghl, note).await,
        };
        match result {
            Ok(result) => {
                if let Err(e) = self
                    .idempotency
                    .complete(&key, Some(&result), self.clock.now())
                    .await
                {
                    // The effect happened; the claim expires, and a redelivery finds the entity
                    // map (or the created entities' markers) and repeats only idempotent calls.
                    warn!(error = %e, "synced, but could not mark the claim completed");
                }
                info!(result = %result, "synced");
                RecordOutcome::Synced { result }
            }
            Err(err) => {
                if let Err(e) = self.idempotency.release(&key).await {
                    warn!(error = %e, "could not release claim; it expires with the deadline");
                }
                if err.is_retryable() {
                    warn!(reason = err.reason(), error = %err, "sync failed; SQS will redeliver");
                    RecordOutcome::Retry {
                        reason: err.reason().into(),
                    }
                } else {
                    self.park(body, Some(envelope), err.reason(), &err.to_string())
                        .await
                }
            }
        }
    }

    /// Sends a message that can never succeed as it is to the dead-letter queue, with why.
    async fn park(
        &self,
        body: &str,
        envelope: Option<&Envelope>,
        reason: &str,
        detail: &str,
    ) -> RecordOutcome {
        error!(
            reason,
            detail, "permanent failure; parking message on the dead-letter queue"
        );
        let mut attributes = std::collections::BTreeMap::from([
            ("error_reason".to_owned(), reason.to_owned()),
            ("error_detail".to_owned(), detail.chars().take(1000).collect()),
        ]);
        if let Some(envelope) = envelope {
            attributes.insert("event_id".into(), envelope.event_id.to_string());
            attributes.insert("correlation_id".into(), envelope.correlation_id.clone());
        }
        let message = OutboundMessage {
            body: body.to_owned(),
            attributes,
        };
        match self.dead_letters.send(&message).await {
            Ok(_) => RecordOutcome::Parked {
                reason: reason.to_owned(),
            },
            Err(e) => {
                // Could not park it: let SQS redeliver; the redrive policy moves it eventually.
                warn!(error = %e, "dead-letter queue unavailable");
                RecordOutcome::Retry {
                    reason: "dead_letter_queue".into(),
                }
            }
        }
    }
}

/// A claim made with another hash: an identity that was accepted is never refused. Different
/// content under one event id is logged loudly for the operator; an older version's hash (v1
/// messages hashed the event, not the delivery) is simply another way of writing the same one.
fn accept_held_claim(err: IdempotencyError) -> Result<Claim, PortError> {
    match err {
        IdempotencyError::PayloadMismatch { held, held_hash, .. } => {
            if DeliveryHash::comparable_with(&held_hash) {
                error!("event id reused with a different delivery; treated as the one claimed first");
            }
            Ok(held)
        }
        IdempotencyError::Store(e) => Err(e),
    }
}

/// Time left until `deadline_ms` (epoch ms) as seen at `now`.
fn remaining(deadline_ms: i64, now: time::OffsetDateTime) -> Duration {
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    Duration::from_millis(u64::try_from(deadline_ms - now_ms).unwrap_or(0))
}

#[cfg(test)]
mod tests;
