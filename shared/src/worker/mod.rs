//! The sync worker's core: one queue message in, one outcome out. It knows nothing of SQS or
//! Lambda (the batch loop and its time reserve live at the edge, `crate::lambda`), so the daily
//! batch and tests can hand it messages directly.
//!
//! Per message: read it (any contract version); claim `sync:<event_id>`; apply the event's rules
//! (one module per event, each given a small [`Context`]); mark the claim completed. Retryable
//! failures release the claim and ask for redelivery; permanent ones release the claim and park
//! the message on the dead-letter queue with the reason, so that nothing is retried in vain and
//! nothing is lost.

mod contact;
mod contact_cache;
pub mod course_progress;
mod effects;
pub mod ghl_changed;
pub mod learner_created;
mod learning_records;
/// What the sync keeps about one learning record (the daily batch compares with it).
pub use learning_records::Kept as KeptRecord;
pub mod milestone;
pub(crate) mod mirror;

pub use contact_cache::ContactCache;
/// The hash a mirror records of a learner's email, names and mapped fields.
pub use mirror::identity as learner_identity;
pub mod note_added;
pub mod task_changed;
mod templates;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{Instrument, error, info, info_span, warn};

use crate::clock::{Clock, invocation_deadline_ms};
use crate::contract::{self, ContractError, DeliveryHash, Envelope};
use crate::domain::{EventId, Origin, SyncEvent};
use crate::ghl::{GhlClient, GhlClients, GhlError};
use crate::idempotency::{Claim, Idempotency, IdempotencyError};
use crate::keys;
use crate::lms::{Destinations, LmsAccounts, LmsError};
use crate::mapping::Mapping;
use crate::ports::{Documents, EntityMap, OutboundMessage, PortError, Queue, Redelivery};
use crate::telemetry::metric;

/// Why an event could not be synced.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Ghl(#[from] GhlError),
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Lms(#[from] LmsError),
    /// The mapping names a target the deployment has no account for (cold start checks this).
    #[error("no LMS account configured for target {0}")]
    NoAccount(String),
    /// Another invocation changed what a target holds for this contact meanwhile: redo.
    #[error("concurrent update of {0}; will be redelivered")]
    Concurrent(String),
}

impl SyncError {
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Ghl(e) => e.is_retryable(),
            SyncError::Port(_) | SyncError::Concurrent(_) => true,
            SyncError::Lms(e) => e.is_retryable(),
            SyncError::NoAccount(_) => false,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            SyncError::Ghl(e) => e.reason(),
            SyncError::Port(_) => "infrastructure",
            SyncError::Lms(e) => e.reason(),
            SyncError::NoAccount(_) => "no_lms_account",
            SyncError::Concurrent(_) => "concurrent_update",
        }
    }
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    Synced {
        result: String,
    },
    AlreadySynced,
    /// Left for the queue to redeliver.
    Retry {
        reason: String,
    },
    /// Another invocation is syncing this event; its claim runs out at `until_ms` (epoch ms) at
    /// the latest. The queue should hold the message back until then rather than redeliver it
    /// (and count a receive) every visibility timeout.
    Held {
        until_ms: i64,
    },
    /// Moved to the dead-letter queue; will not be retried.
    Parked {
        reason: String,
    },
}

/// One queue message as the worker needs it, whatever queue it came from.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The queue's id for it (for logs).
    pub id: &'a str,
    pub body: &'a str,
}

/// What an event's rules may use: the GHL client of the event's location (bound to the
/// invocation's deadline), the entity map and the mapping; of the event's claim, only which event
/// it is and until when it holds. Nothing of queues.
pub struct Context<'a> {
    pub ghl: &'a GhlClient,
    pub entities: &'a dyn EntityMap,
    pub mapping: &'a Mapping,
    /// The LMS accounts the mapping's targets name.
    pub lms: &'a LmsAccounts,
    /// The outbound destinations the mapping's targets name.
    pub outbound: &'a Destinations,
    /// What this event has listed of contacts' tasks and notes (see `effects`).
    pub(crate) listed: effects::Listed,
    /// Where learning records' state is kept; records are off without it.
    pub documents: Option<&'a dyn Documents>,
    /// Which event this is and how long its claim holds, for the records' create intents.
    pub attempt: Attempt<'a>,
}

/// The event being applied, when, and until when its claim holds (epoch ms): an intent left by
/// another event whose claim still holds is that event's, not an abandoned one.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub event_id: &'a EventId,
    pub now_ms: i64,
    pub until_ms: i64,
}

/// What the worker needs to do its job; built once per cold start.
pub struct SyncWorker {
    ghl: GhlClients,
    entities: Arc<dyn EntityMap>,
    mapping: Arc<Mapping>,
    idempotency: Idempotency,
    dead_letters: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    lms: LmsAccounts,
    outbound: Destinations,
    redelivery: Option<Arc<dyn Redelivery>>,
    deadline_fallback: Duration,
    documents: Option<Arc<dyn Documents>>,
}

/// How long an IN_PROGRESS claim may live when the caller reports no usable deadline: longer than
/// the GHL timeout, shorter than the queue's visibility timeout.
pub const CLAIM_FALLBACK: Duration = Duration::from_secs(120);

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
            lms: LmsAccounts::default(),
            outbound: Destinations::default(),
            redelivery: None,
            deadline_fallback: CLAIM_FALLBACK,
            documents: None,
        }
    }

    /// Where learning records' state is kept (`[learning_records]` in the mapping needs it).
    pub fn with_documents(mut self, documents: Arc<dyn Documents>) -> Self {
        self.documents = Some(documents);
        self
    }

    /// How the queue edge holds back a message whose event another invocation is syncing.
    pub fn with_redelivery(mut self, redelivery: Arc<dyn Redelivery>) -> Self {
        self.redelivery = Some(redelivery);
        self
    }

    /// How long an invocation is taken to last when its runtime reports no usable deadline (a
    /// local emulator); [`CLAIM_FALLBACK`] by default.
    pub fn with_deadline_fallback(mut self, fallback: Duration) -> Self {
        self.deadline_fallback = fallback;
        self
    }

    pub fn deadline_fallback(&self) -> Duration {
        self.deadline_fallback
    }

    pub(crate) fn redelivery(&self) -> Option<&dyn Redelivery> {
        self.redelivery.as_deref()
    }

    /// The LMS accounts the mapping's targets write to (GHL → LMS).
    pub fn with_lms_accounts(mut self, lms: LmsAccounts) -> Self {
        self.lms = lms;
        self
    }

    /// The outbound destinations the mapping's targets name (GHL → apps without an API).
    pub fn with_destinations(mut self, outbound: Destinations) -> Self {
        self.outbound = outbound;
        self
    }

    /// The worker's clock, so that a batch loop measures time left the same way.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Handles one message inside a span that carries its ids; `deadline_ms` is when the caller's
    /// invocation ends (epoch ms).
    pub async fn handle(&self, message: Message<'_>, deadline_ms: Option<u64>) -> RecordOutcome {
        self.handle_in(message, deadline_ms, &ContactCache::default())
            .await
    }

    /// As [`handle`](Self::handle), one of the messages of an invocation that share `contacts`
    /// (made for the invocation and dropped with it).
    pub async fn handle_in(
        &self,
        message: Message<'_>,
        deadline_ms: Option<u64>,
        contacts: &ContactCache,
    ) -> RecordOutcome {
        let envelope = match contract::decode(message.body) {
            Ok(envelope) => envelope,
            Err(e) => {
                let span = info_span!(
                    "event",
                    message_id = message.id,
                    event_id = "",
                    correlation_id = ""
                );
                let outcome = self.unreadable(message.body, e).instrument(span).await;
                if matches!(outcome, RecordOutcome::Parked { .. }) {
                    metric::count(metric::EVENTS_PARKED, Some(("EventType", "Unreadable")));
                }
                return outcome;
            }
        };
        let span = info_span!(
            "event",
            message_id = message.id,
            event_id = %envelope.event_id,
            correlation_id = %envelope.correlation_id,
            event_type = envelope.event.kind(),
        );
        let outcome = self
            .process(message.body, &envelope, deadline_ms, contacts)
            .instrument(span)
            .await;
        let event_type = envelope.event.kind();
        match &outcome {
            RecordOutcome::Synced { .. } => {
                metric::count(metric::EVENTS_SYNCED, Some(("EventType", event_type)));
                let since = self.clock.now() - envelope.received_at;
                metric::millis(
                    metric::END_TO_END_LATENCY_MS,
                    since.try_into().unwrap_or_default(),
                );
            }
            RecordOutcome::AlreadySynced => {
                metric::count(metric::EVENTS_SYNCED, Some(("EventType", event_type)));
            }
            RecordOutcome::Parked { .. } => {
                metric::count(metric::EVENTS_PARKED, Some(("EventType", event_type)));
            }
            RecordOutcome::Retry { .. } | RecordOutcome::Held { .. } => {}
        }
        outcome
    }

    async fn unreadable(&self, body: &str, error: ContractError) -> RecordOutcome {
        match error {
            ContractError::Unreadable { .. } => {
                self.park(body, None, "unreadable_message", &error.to_string())
                    .await
            }
            // A newer ingest is live and this worker is not yet: leave it for the newer worker
            // (the queue's redrive policy parks it if none ever comes).
            ContractError::NewerVersion(_) => {
                warn!(error = %error, "left for a newer worker");
                RecordOutcome::Retry {
                    reason: "newer_message_version".into(),
                }
            }
        }
    }

    async fn process(
        &self,
        body: &str,
        envelope: &Envelope,
        deadline_ms: Option<u64>,
        contacts: &ContactCache,
    ) -> RecordOutcome {
        // Cold start checked that every location the mapping names has credentials.
        let location = match envelope.event.origin() {
            Origin::Lms(source) => self.mapping.location_of(source),
            // A GHL app may be installed on locations this deployment does not serve: a change
            // there concerns no target, and is neither an error nor worth a claim.
            // (A learning record's change is the records' to judge, targets or not.)
            Origin::Ghl { location_id }
                if self.mapping.targets_of(location_id).next().is_none()
                    && !envelope.event.is_record_change() =>
            {
                let result = format!("location {location_id} feeds no LMS target");
                info!(result = %result, "nothing to do");
                return RecordOutcome::Synced { result };
            }
            Origin::Ghl { location_id } => Some(location_id),
        };
        let client = match self.ghl.for_location(location) {
            Ok(client) => client,
            Err(e) => return self.park(body, Some(envelope), e.reason(), &e.to_string()).await,
        };
        let now = self.clock.now();
        let key = keys::event_claim(&envelope.event_id);
        let deadline = invocation_deadline_ms(deadline_ms, now, self.deadline_fallback);
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
            Ok(Claim::InProgress { until_ms }) => {
                info!(
                    until_ms,
                    "another invocation is syncing this event; held back until its claim runs out"
                );
                return RecordOutcome::Held { until_ms };
            }
            Err(e) => {
                warn!(error = %e, "idempotency store unavailable");
                return RecordOutcome::Retry {
                    reason: "idempotency_store".into(),
                };
            }
        }

        let until = Instant::now() + remaining(deadline, now);
        let ghl = client.with_deadline(until);
        let lms = self.lms.with_deadline(until);
        let outbound = self.outbound.with_deadline(until);
        let entities = contact_cache::CachedEntities {
            inner: self.entities.as_ref(),
            cache: contacts,
        };
        let cx = Context {
            ghl: &ghl,
            entities: &entities,
            mapping: &self.mapping,
            lms: &lms,
            outbound: &outbound,
            listed: effects::Listed::default(),
            documents: self.documents.as_deref(),
            attempt: Attempt {
                event_id: &envelope.event_id,
                now_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
                until_ms: deadline,
            },
        };
        let result = match &envelope.event {
            SyncEvent::LearnerCreated(learner) => learner_created::sync(&cx, learner).await,
            SyncEvent::MilestoneReached(milestone) => milestone::sync(&cx, milestone).await,
            SyncEvent::TaskChanged(task) => task_changed::sync(&cx, task).await,
            SyncEvent::NoteAdded(note) => note_added::sync(&cx, note).await,
            SyncEvent::GhlChanged(change) => ghl_changed::sync(&cx, &envelope.event_id, change).await,
            SyncEvent::CourseProgressed(progress) => course_progress::sync(&cx, progress).await,
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
                contacts.clear();
                if let Err(e) = self.idempotency.release(&key, err.reason()).await {
                    warn!(error = %e, "could not release claim; it expires with the deadline");
                }
                if err.is_retryable() {
                    warn!(reason = err.reason(), error = %err, "sync failed; will be redelivered");
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
                // Could not park it: let the queue redeliver; its redrive policy moves it eventually.
                warn!(error = %e, "dead-letter queue unavailable");
                RecordOutcome::Retry {
                    reason: "dead_letter_queue".into(),
                }
            }
        }
    }
}

/// Why a message is on a dead-letter queue: the reason the worker parked it with (its
/// `error_reason` attribute), or, for one the queue's redrive policy moved there after its
/// receives, what the event's claim says (the last attempt's retryable error, a worker that died
/// mid-event, ...). `None` only when the claim cannot be read.
pub async fn dead_letter_reason(
    idempotency: &Idempotency,
    body: &str,
    parked_reason: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<String, PortError> {
    if let Some(reason) = parked_reason.filter(|r| !r.is_empty()) {
        return Ok(format!("parked: {reason}"));
    }
    let envelope = match contract::decode(body) {
        Ok(envelope) => envelope,
        Err(e) => return Ok(format!("moved by the redrive policy, unreadable: {e}")),
    };
    let claim = idempotency
        .explain(&keys::event_claim(&envelope.event_id), now)
        .await?;
    Ok(format!("moved by the redrive policy; {claim}"))
}

/// A claim made with another hash: an identity that was accepted is never refused. Different
/// content under one event id is logged loudly for the operator; an older version's hash (v1
/// messages hashed the event, not the delivery) is just another way of writing the same one.
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
pub fn remaining(deadline_ms: i64, now: time::OffsetDateTime) -> Duration {
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    Duration::from_millis(u64::try_from(deadline_ms - now_ms).unwrap_or(0))
}

#[cfg(test)]
pub(crate) mod tests;
