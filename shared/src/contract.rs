//! The queue contract: the message an ingest function (and later the batch) puts on a queue and
//! the worker reads. Versioned, because a queue holds messages across deploys: a new worker must
//! read what an older ingest wrote, and an older worker must not guess at a newer message.
//!
//! | version | fields | written |
//! |---|---|---|
//! | 1 | `event_id`, `idempotency_key`, `correlation_id`, `received_at`, `event` (no `version`) | until November 2026 |
//! | 2 | `version: 2`, the same, and `delivery_hash` | now, for the events a v2 worker reads |
//! | 3 | `version: 3`, the same fields | now, for events a v2 worker cannot read (the learning records': a GHL record change, a course's progress read by the batch) |
//!
//! A message is written at the lowest version whose worker can read it: a worker of the previous
//! build leaves a newer one on the queue for the new worker instead of parking it as unreadable.
//!
//! The event inside is the domain's serde form. `tests/fixtures/queue/` holds stored messages of
//! each version; tests decode every one and encode the v2 ones byte for byte, so a change to the
//! wire form fails until the version is raised and the old one stays readable.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::domain::{EventId, SyncEvent};
use crate::json_error;
use crate::ports::OutboundMessage;

/// The newest version this build writes and reads.
pub const CURRENT_VERSION: u32 = 3;

/// The lowest version whose worker reads `event`.
fn version_for(event: &SyncEvent) -> u32 {
    if event.needs_contract_v3() { 3 } else { 2 }
}

/// Hash of a delivery as the sender sent it (the raw body), not of our normalised event: a deploy
/// that changes normalisation must still recognise a sender's retry of an accepted delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeliveryHash(String);

/// Prefix of the current scheme; v1 stored a bare hex hash of the normalised event.
const HASH_SCHEME: &str = "sha256:";

impl DeliveryHash {
    /// The hash of the bytes a sender delivered (a webhook body, an LMS record as fetched).
    pub fn of(delivered: &[u8]) -> Self {
        Self(format!("{HASH_SCHEME}{}", hex::encode(Sha256::digest(delivered))))
    }

    /// What version 1 used in its place: the hash of the normalised event's serde form.
    fn of_v1_event(event: &SyncEvent) -> Self {
        // Serialising a struct of owned fields and BTreeMaps is deterministic.
        let bytes = serde_json::to_vec(event).unwrap_or_default();
        Self(hex::encode(Sha256::digest(&bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a stored hash was made by the current scheme, so that a difference from it means
    /// different content rather than an older version's way of hashing.
    pub fn comparable_with(stored: &str) -> bool {
        stored.starts_with(HASH_SCHEME)
    }
}

/// What travels on the queue: the event plus what is needed to apply it exactly once and to trace
/// it end to end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Incoming", into = "Outgoing")]
pub struct Envelope {
    pub event_id: EventId,
    pub idempotency_key: String,
    pub correlation_id: String,
    pub received_at: OffsetDateTime,
    /// The claim hash for both ingest and worker (v1 messages: the v1 event hash).
    pub delivery_hash: DeliveryHash,
    pub event: SyncEvent,
}

impl Envelope {
    pub fn new(
        idempotency_key: String,
        correlation_id: String,
        received_at: OffsetDateTime,
        delivery_hash: DeliveryHash,
        event: SyncEvent,
    ) -> Self {
        Self {
            event_id: EventId::from_idempotency_key(&idempotency_key),
            idempotency_key,
            correlation_id,
            received_at,
            delivery_hash,
            event,
        }
    }
}

/// The wire form this build writes.
#[derive(Serialize)]
struct Outgoing {
    version: u32,
    event_id: EventId,
    idempotency_key: String,
    correlation_id: String,
    #[serde(with = "time::serde::rfc3339")]
    received_at: OffsetDateTime,
    delivery_hash: String,
    event: SyncEvent,
}

impl From<Envelope> for Outgoing {
    fn from(e: Envelope) -> Self {
        Self {
            version: version_for(&e.event),
            event_id: e.event_id,
            idempotency_key: e.idempotency_key,
            correlation_id: e.correlation_id,
            received_at: e.received_at,
            delivery_hash: e.delivery_hash.0,
            event: e.event,
        }
    }
}

/// Every readable version's wire form: v1 lacks `version` and `delivery_hash`.
#[derive(Deserialize)]
struct Incoming {
    #[serde(default)]
    version: Option<u32>,
    event_id: EventId,
    idempotency_key: String,
    correlation_id: String,
    #[serde(with = "time::serde::rfc3339")]
    received_at: OffsetDateTime,
    #[serde(default)]
    delivery_hash: Option<String>,
    event: SyncEvent,
}

impl TryFrom<Incoming> for Envelope {
    type Error = String;

    fn try_from(m: Incoming) -> Result<Self, Self::Error> {
        let delivery_hash = match (m.version.unwrap_or(1), m.delivery_hash) {
            (1, _) => DeliveryHash::of_v1_event(&m.event),
            (2 | 3, Some(hash)) => DeliveryHash(hash),
            (2 | 3, None) => return Err("missing field delivery_hash".into()),
            (other, _) => return Err(format!("version {other} is not one this worker reads")),
        };
        Ok(Self {
            event_id: m.event_id,
            idempotency_key: m.idempotency_key,
            correlation_id: m.correlation_id,
            received_at: m.received_at,
            delivery_hash,
            event: m.event,
        })
    }
}

/// Why a queue message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// Not a message of any version: retrying cannot help.
    #[error("unreadable message at `{path}`: {problem}")]
    Unreadable { path: String, problem: String },
    /// Written by a newer build (a deploy in progress): the newer worker will read it.
    #[error("message version {0} is newer than this worker reads (up to {CURRENT_VERSION})")]
    NewerVersion(u32),
}

/// The queue message for an envelope; attributes let operators filter without parsing bodies
/// where SQS carries them (the daily batch's sends, parked messages). The outbox's Pipe sends the
/// body only, so nothing may depend on them.
pub fn encode(envelope: &Envelope) -> Result<OutboundMessage, serde_json::Error> {
    Ok(OutboundMessage {
        body: serde_json::to_string(envelope)?,
        attributes: [
            ("correlation_id".to_owned(), envelope.correlation_id.clone()),
            ("event_type".to_owned(), envelope.event.kind().to_owned()),
            ("event_id".to_owned(), envelope.event_id.to_string()),
        ]
        .into(),
    })
}

/// Reads a message of any version this build knows.
pub fn decode(body: &str) -> Result<Envelope, ContractError> {
    #[derive(Deserialize)]
    struct Version {
        #[serde(default)]
        version: Option<u32>,
    }
    // The version first: a newer message may hold what this build cannot parse.
    let unreadable = |err: serde_path_to_error::Error<serde_json::Error>| {
        let (path, problem) = json_error::describe(err);
        ContractError::Unreadable { path, problem }
    };
    let peek: Version = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(body))
        .map_err(unreadable)?;
    match peek.version {
        Some(v) if v > CURRENT_VERSION => Err(ContractError::NewerVersion(v)),
        _ => serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(body))
            .map_err(unreadable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: [&str; 4] = [
        include_str!("../../tests/fixtures/queue/v1-learner-created.json"),
        include_str!("../../tests/fixtures/queue/v1-milestone-reached.json"),
        include_str!("../../tests/fixtures/queue/v1-task-changed.json"),
        include_str!("../../tests/fixtures/queue/v1-note-added.json"),
    ];
    const V2: [&str; 4] = [
        include_str!("../../tests/fixtures/queue/v2-learner-created.json"),
        include_str!("../../tests/fixtures/queue/v2-milestone-reached.json"),
        include_str!("../../tests/fixtures/queue/v2-task-changed.json"),
        include_str!("../../tests/fixtures/queue/v2-note-added.json"),
    ];

    #[test]
    fn stored_v1_messages_are_read_with_their_v1_claim_hash() -> Result<(), ContractError> {
        let kinds: Vec<&str> = V1
            .iter()
            .map(|body| decode(body).map(|e| e.event.kind()))
            .collect::<Result<_, _>>()?;
        assert_eq!(
            kinds,
            ["LearnerCreated", "MilestoneReached", "TaskChanged", "NoteAdded"]
        );
        let learner = decode(V1[0])?;
        assert_eq!(learner.event_id.as_str(), "evt_647df0ddeca4a3af2dc85ecc985fc7ba");
        assert_eq!(learner.correlation_id, "req-1");
        // v1 ingest and workers claimed with the event's hash: a new worker must match them.
        assert!(!DeliveryHash::comparable_with(learner.delivery_hash.as_str()));
        assert_eq!(learner.delivery_hash, DeliveryHash::of_v1_event(&learner.event));
        Ok(())
    }

    #[test]
    fn stored_v2_messages_round_trip_byte_for_byte() -> Result<(), String> {
        for body in V2 {
            let envelope = decode(body).map_err(|e| e.to_string())?;
            assert!(DeliveryHash::comparable_with(envelope.delivery_hash.as_str()));
            let encoded = encode(&envelope).map_err(|e| e.to_string())?;
            assert_eq!(encoded.body, body.trim_end(), "the v2 wire form changed");
        }
        Ok(())
    }

    #[test]
    fn a_v1_message_re_encoded_is_v2_with_the_same_event() -> Result<(), String> {
        let v1 = decode(V1[1]).map_err(|e| e.to_string())?;
        let again = decode(&encode(&v1).map_err(|e| e.to_string())?.body).map_err(|e| e.to_string())?;
        assert_eq!(again, v1);
        Ok(())
    }

    #[test]
    fn newer_and_unreadable_messages_say_which() {
        let newer = V2[0].replacen(r#""version":2"#, r#""version":4"#, 1);
        assert_eq!(decode(&newer), Err(ContractError::NewerVersion(4)));
        let newer_and_strange = r#"{"version":7,"payload":{"anything":"goes"}}"#;
        assert_eq!(decode(newer_and_strange), Err(ContractError::NewerVersion(7)));
        assert!(matches!(
            decode("not json"),
            Err(ContractError::Unreadable { .. })
        ));
        let no_hash = V2[0].replacen(r#""delivery_hash""#, r#""other_hash""#, 1);
        assert!(matches!(decode(&no_hash), Err(ContractError::Unreadable { .. })));
        let bad_email = V1[0].replacen("ada.lovelace@example.com", "not-an-email", 1);
        match decode(&bad_email) {
            Err(ContractError::Unreadable { path, problem }) => {
                // Inside the internally tagged event serde cannot say which field: the event is named.
                assert!(path.starts_with("event"), "{path}");
                assert!(!problem.contains("not-an-email"), "{problem}");
            }
            other => panic!("{other:?}"),
        }
    }

    const V3_RECORD: &str = include_str!("../../tests/fixtures/queue/v3-ghl-record-updated.json");

    #[test]
    fn a_record_change_is_written_as_v3_and_everything_else_as_v2() -> Result<(), String> {
        let envelope = decode(V3_RECORD).map_err(|e| e.to_string())?;
        assert!(envelope.event.is_record_change());
        let encoded = encode(&envelope).map_err(|e| e.to_string())?;
        assert_eq!(encoded.body, V3_RECORD.trim_end(), "the v3 wire form changed");
        for body in V2 {
            let encoded = encode(&decode(body).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
            assert!(encoded.body.starts_with(r#"{"version":2,"#), "{}", encoded.body);
        }
        Ok(())
    }

    #[test]
    fn delivery_hashes_are_of_the_bytes_as_sent() {
        let a = DeliveryHash::of(br#"{"a":1}"#);
        assert_eq!(a, DeliveryHash::of(br#"{"a":1}"#));
        assert_ne!(a, DeliveryHash::of(br#"{"a": 1}"#));
        assert!(a.as_str().starts_with("sha256:") && a.as_str().len() == 7 + 64);
    }
}
