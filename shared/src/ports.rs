//! The small interfaces the sync logic needs from the outside world. Each has an AWS adapter
//! (`crate::aws`) and an in-memory one (`crate::memory`) for unit tests.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{Membership, SourcePlatform};
use crate::keys::EntityKey;

/// A failure of the infrastructure behind a port. Always worth retrying later: nothing about the
/// event itself is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{port} unavailable: {message}")]
pub struct PortError {
    pub port: &'static str,
    pub message: String,
}

impl PortError {
    pub fn new(port: &'static str, message: impl Into<String>) -> Self {
        Self {
            port,
            message: message.into(),
        }
    }
}

/// One message for a queue: a body and string attributes (correlation id, event type, error).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboundMessage {
    pub body: String,
    pub attributes: BTreeMap<String, String>,
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends one message; returns the queue's message id.
    async fn send(&self, message: &OutboundMessage) -> Result<String, PortError>;

    /// Sends several messages (the daily batch's page of changes); all of them or an error. A
    /// failure may leave some sent: a sender retries them all, and their ids make repeats harmless.
    async fn send_all(&self, messages: &[OutboundMessage]) -> Result<(), PortError> {
        for message in messages {
            self.send(message).await?;
        }
        Ok(())
    }
}

/// Holds a received message back from redelivery for a while (SQS: `ChangeMessageVisibility`), so
/// that a record waiting for another invocation's claim does not spend its receives meanwhile.
#[async_trait]
pub trait Redelivery: Send + Sync {
    /// `queue` is where the message came from (an SQS queue ARN), `receipt` its receipt handle.
    async fn hold(&self, queue: &str, receipt: &str, hold_for: std::time::Duration) -> Result<(), PortError>;
}

/// Lifecycle of an idempotency record, as in Powertools for AWS Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStatus {
    InProgress,
    Completed,
}

impl RecordStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::InProgress => "INPROGRESS",
            RecordStatus::Completed => "COMPLETED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "INPROGRESS" => Some(RecordStatus::InProgress),
            "COMPLETED" => Some(RecordStatus::Completed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub key: String,
    pub status: RecordStatus,
    /// Epoch seconds after which the record no longer counts (also the table's TTL attribute).
    pub expiration: i64,
    /// Epoch milliseconds after which an IN_PROGRESS claim is considered abandoned.
    pub in_progress_expiration_ms: i64,
    /// Hash of the payload that claimed the key.
    pub payload_hash: String,
    /// What the completed operation produced (e.g. the GHL contact id), for duplicate answers.
    pub data: Option<String>,
    /// Why the last attempt gave the claim back (a retryable failure's reason), so that a message
    /// the queue's redrive policy moved to the DLQ can still be explained.
    pub last_error: Option<String>,
    /// The queue message this record carries (ingest's outbox): written with the claim in one
    /// call, and sent to the realtime queue by the table's stream (an EventBridge Pipe in AWS,
    /// `devkit::outbox` locally), so that accepting a delivery is one write that cannot half-happen.
    pub outbox: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The record was written: the caller owns the key now.
    Written,
    /// A live record holds the key; here it is.
    Held(IdempotencyRecord),
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Writes `record` unless a live record holds its key: absent, expired (`expiration < now`) or
    /// abandoned (`INPROGRESS` with `in_progress_expiration < now`) records are replaced.
    async fn put_if_claimable(
        &self,
        record: &IdempotencyRecord,
        now: OffsetDateTime,
    ) -> Result<PutOutcome, PortError>;

    /// Marks the key COMPLETED with the result and a fresh expiration.
    async fn complete(&self, key: &str, data: Option<&str>, expiration: i64) -> Result<(), PortError>;

    /// Gives an IN_PROGRESS claim back so that a retry can take it again at once, noting `why`
    /// (a completed record is left as it is).
    async fn release(&self, key: &str, why: &str) -> Result<(), PortError>;

    /// The record under `key`, live or not (the ops tooling explains dead letters with it).
    async fn record(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError>;
}

/// Where an LMS learner lives in GHL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactLink {
    pub source: SourcePlatform,
    pub source_user_id: String,
    pub location_id: String,
    pub contact_id: String,
}

/// Where an LMS-side thing (a milestone's task, a sender's task or note) lives in GHL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityLink {
    pub key: EntityKey,
    pub ghl_id: String,
    /// For tasks: completed in GHL (so that a late "started" never reopens it).
    pub completed: bool,
}

impl EntityLink {
    /// What `ghl_id` holds in an intent: written before the create, replaced by the GHL id after.
    pub const PENDING: &'static str = "(pending)";

    /// The intent to create the entity behind `key`: a crash after it may have left the entity in
    /// GHL without its id here, so whoever finds it reconciles before creating.
    pub fn pending(key: &EntityKey) -> Self {
        Self {
            key: key.clone(),
            ghl_id: Self::PENDING.to_owned(),
            completed: false,
        }
    }

    pub fn is_pending(&self) -> bool {
        self.ghl_id == Self::PENDING
    }
}

/// What an LMS target (one account) last held for one GHL contact, as far as the sync knows: what
/// it wrote there, or what the LMS itself reported. Both directions compare with it before writing,
/// so that a change which only echoes the other direction's write is dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnerMirror {
    pub lms_user_id: String,
    /// Hash of the learner's email, names and mapped fields.
    pub identity: String,
    pub courses: BTreeSet<String>,
    pub memberships: BTreeSet<Membership>,
    pub active: bool,
    /// When the GHL state last applied was current (epoch ms): an older one arriving later (a
    /// redelivery, GHL's retry) must not undo a newer one.
    #[serde(default)]
    pub as_of_ms: i64,
    /// Optimistic concurrency: each write names the version it read.
    #[serde(skip)]
    pub version: u64,
}

#[async_trait]
pub trait EntityMap: Send + Sync {
    async fn contact(
        &self,
        source: &SourcePlatform,
        source_user_id: &str,
    ) -> Result<Option<ContactLink>, PortError>;

    async fn put_contact(&self, link: &ContactLink) -> Result<(), PortError>;

    async fn link(&self, key: &EntityKey) -> Result<Option<EntityLink>, PortError>;

    async fn put_link(&self, link: &EntityLink) -> Result<(), PortError>;

    /// Writes `link` only if nothing is recorded for its key yet; `false` when something is (an
    /// intent or a GHL id another invocation wrote since this one looked).
    async fn put_link_if_absent(&self, link: &EntityLink) -> Result<bool, PortError>;

    async fn mirror(&self, target: &str, contact_id: &str) -> Result<Option<LearnerMirror>, PortError>;

    /// Stores `mirror` as version `mirror.version + 1` if the stored one is still `mirror.version`
    /// (0: none stored); `false` when another writer got there first.
    async fn put_mirror(
        &self,
        target: &str,
        contact_id: &str,
        mirror: &LearnerMirror,
    ) -> Result<bool, PortError>;

    /// The mirrors of many contacts of one target (the daily batch reads a page's at once), by
    /// contact id; contacts without one are absent.
    async fn mirrors(
        &self,
        target: &str,
        contact_ids: &[&str],
    ) -> Result<BTreeMap<String, LearnerMirror>, PortError> {
        let mut found = BTreeMap::new();
        for id in contact_ids {
            if let Some(m) = self.mirror(target, id).await? {
                found.insert((*id).to_owned(), m);
            }
        }
        Ok(found)
    }
}

/// A stored JSON document and the version it was read at (0: none stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub body: String,
    pub version: u64,
}

/// Small versioned JSON documents: the daily batch's run state, cursors, run summaries and the
/// fingerprints of what it queued per learner. Keys come from `crate::keys`.
#[async_trait]
pub trait Documents: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, PortError>;

    /// Many documents at once, by key; absent ones are left out.
    async fn get_many(&self, keys: &[String]) -> Result<BTreeMap<String, Versioned>, PortError> {
        let mut found = BTreeMap::new();
        for key in keys {
            if let Some(doc) = self.get(key).await? {
                found.insert(key.clone(), doc);
            }
        }
        Ok(found)
    }

    /// Stores `body` as version `read + 1` if the stored version is still `read` (0: none
    /// stored); `false` when another writer got there first. `expires_at` (epoch seconds) lets the
    /// table forget it.
    async fn put(&self, key: &str, body: &str, read: u64, expires_at: Option<i64>)
    -> Result<bool, PortError>;
}

#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The current value of a secret, by name or ARN.
    async fn secret_string(&self, id: &str) -> Result<SecretString, PortError>;

    /// Stores a new current value (rotated OAuth tokens).
    async fn put_secret_string(&self, id: &str, value: &SecretString) -> Result<(), PortError>;
}

/// A shared schedule of request slots (the rate budget's GCRA state): each reservation takes the
/// next slot `spacing_us` after the previous one, never more than `horizon_us` ahead of now.
#[async_trait]
pub trait SlotSchedule: Send + Sync {
    /// The start of the reserved slot in epoch microseconds (≤ now means "go now"), or `None`
    /// when the schedule is booked beyond the horizon.
    async fn reserve(
        &self,
        key: &str,
        now_us: i64,
        spacing_us: i64,
        horizon_us: i64,
    ) -> Result<Option<i64>, PortError>;

    /// Where the schedule's next free slot starts (epoch microseconds), `None` for a schedule
    /// never used: how far ahead its account's requests are booked (`lms-sync-ops status`).
    async fn next_free(&self, key: &str) -> Result<Option<i64>, PortError>;
}

/// A named, expiring, exclusive lease (e.g. "only one process refreshes this OAuth token").
#[async_trait]
pub trait Lease: Send + Sync {
    /// Takes the lease if nobody holds a live one; `false` when another owner does.
    async fn try_acquire(&self, name: &str, owner: &str, ttl: std::time::Duration)
    -> Result<bool, PortError>;

    /// Gives the lease up if `owner` still holds it.
    async fn release(&self, name: &str, owner: &str) -> Result<(), PortError>;
}
