//! Exactly-once bookkeeping, ported from the Powertools for AWS Lambda idempotency model:
//! a key is claimed IN_PROGRESS (expiring with the invocation's deadline), then COMPLETED with a
//! TTL and the operation's result, or released so that a retry can claim it again. The payload
//! hash stored with the claim catches two different payloads that derive the same key.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::ports::{IdempotencyRecord, IdempotencyStore, PortError, PutOutcome, RecordStatus};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller owns the key and must complete or release it.
    Acquired,
    /// Done before; `data` is what the first run recorded.
    Completed { data: Option<String> },
    /// Another invocation holds the key right now, until `until_ms` (epoch ms) at the latest.
    InProgress { until_ms: i64 },
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The key is held by a claim made with another payload hash; `held` is that claim's state.
    #[error("idempotency key {key:?} was already used for a different payload")]
    PayloadMismatch {
        key: String,
        held: Claim,
        held_hash: String,
    },
    #[error(transparent)]
    Store(#[from] PortError),
}

#[derive(Clone)]
pub struct Idempotency {
    store: Arc<dyn IdempotencyStore>,
    ttl: Duration,
}

impl Idempotency {
    pub fn new(store: Arc<dyn IdempotencyStore>, ttl: Duration) -> Self {
        Self { store, ttl }
    }

    pub async fn claim(
        &self,
        key: &str,
        payload_hash: &str,
        in_progress_deadline_ms: i64,
        now: OffsetDateTime,
    ) -> Result<Claim, IdempotencyError> {
        let record = IdempotencyRecord {
            key: key.to_owned(),
            status: RecordStatus::InProgress,
            expiration: self.expiration(now),
            in_progress_expiration_ms: in_progress_deadline_ms,
            payload_hash: payload_hash.to_owned(),
            data: None,
            last_error: None,
            outbox: None,
        };
        self.put(&record, now).await
    }

    /// Takes `key` for good in one write, with the operation's result (`data`) and the queue
    /// message the table's stream sends (ingest's outbox): `Acquired` means accepted and on its
    /// way to the queue; a held key answers as [`claim`](Self::claim) does.
    pub async fn accept(
        &self,
        key: &str,
        payload_hash: &str,
        data: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> Result<Claim, IdempotencyError> {
        let record = IdempotencyRecord {
            key: key.to_owned(),
            status: RecordStatus::Completed,
            expiration: self.expiration(now),
            in_progress_expiration_ms: 0,
            payload_hash: payload_hash.to_owned(),
            data: Some(data.to_owned()),
            last_error: None,
            outbox: Some(message.to_owned()),
        };
        self.put(&record, now).await
    }

    async fn put(&self, record: &IdempotencyRecord, now: OffsetDateTime) -> Result<Claim, IdempotencyError> {
        let (key, payload_hash) = (record.key.as_str(), record.payload_hash.as_str());
        match self.store.put_if_claimable(record, now).await? {
            PutOutcome::Written => Ok(Claim::Acquired),
            PutOutcome::Held(existing) => {
                let held = match existing.status {
                    RecordStatus::Completed => Claim::Completed { data: existing.data },
                    RecordStatus::InProgress => Claim::InProgress {
                        until_ms: existing.in_progress_expiration_ms,
                    },
                };
                if existing.payload_hash == payload_hash {
                    Ok(held)
                } else {
                    Err(IdempotencyError::PayloadMismatch {
                        key: key.to_owned(),
                        held,
                        held_hash: existing.payload_hash,
                    })
                }
            }
        }
    }

    pub async fn complete(
        &self,
        key: &str,
        data: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), PortError> {
        self.store.complete(key, data, self.expiration(now)).await
    }

    /// Gives the claim back for a retry, noting why (see [`explain`]).
    pub async fn release(&self, key: &str, why: &str) -> Result<(), PortError> {
        self.store.release(key, why).await
    }

    /// What the store says about `key`, in words: see [`explain`].
    pub async fn explain(&self, key: &str, now: OffsetDateTime) -> Result<String, PortError> {
        Ok(explain(self.store.record(key).await?.as_ref(), now))
    }

    fn expiration(&self, now: OffsetDateTime) -> i64 {
        now.unix_timestamp() + self.ttl.as_secs() as i64
    }
}

/// Decides whether a stored record still holds its key at `now`; the one rule both the DynamoDB
/// condition expression and the in-memory store implement.
pub fn record_is_live(record: &IdempotencyRecord, now: OffsetDateTime) -> bool {
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let expired = record.expiration < now.unix_timestamp();
    let abandoned = record.status == RecordStatus::InProgress && record.in_progress_expiration_ms < now_ms;
    !(expired || abandoned)
}

/// Why a message may have left its queue without an answer (the redrive policy moved it after its
/// receives), read from its claim: never claimed, given back after a retryable failure (and
/// which), abandoned by an invocation that stopped mid-event, still held, or completed.
pub fn explain(record: Option<&IdempotencyRecord>, now: OffsetDateTime) -> String {
    let Some(record) = record else {
        return "never claimed: no worker started it".to_owned();
    };
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    match (record.status, &record.last_error) {
        (RecordStatus::Completed, _) => "completed: synced; its last receive was not acknowledged in time".to_owned(),
        (RecordStatus::InProgress, Some(why)) if record.in_progress_expiration_ms == 0 => {
            format!("retryable failure on its last attempt: {why}")
        }
        (RecordStatus::InProgress, _) if record.in_progress_expiration_ms < now_ms => {
            "abandoned: the invocation handling it stopped mid-event (killed or timed out); a redrive reconciles what it did".to_owned()
        }
        (RecordStatus::InProgress, _) => "in progress: an invocation holds it right now".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryIdempotencyStore;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    fn idempotency() -> Idempotency {
        Idempotency::new(
            Arc::new(MemoryIdempotencyStore::default()),
            Duration::from_secs(3600),
        )
    }

    #[tokio::test]
    async fn claim_complete_then_duplicate() -> Result<(), IdempotencyError> {
        let idem = idempotency();
        let now = at(1_000_000);
        let deadline = 1_000_000_000 + 30_000;
        assert_eq!(idem.claim("k", "h", deadline, now).await?, Claim::Acquired);
        assert_eq!(
            idem.claim("k", "h", deadline, now).await?,
            Claim::InProgress { until_ms: deadline }
        );
        idem.complete("k", Some("contact-1"), now).await?;
        assert_eq!(
            idem.claim("k", "h", deadline, now).await?,
            Claim::Completed {
                data: Some("contact-1".into())
            }
        );
        Ok(())
    }

    #[tokio::test]
    async fn abandoned_in_progress_claim_can_be_taken_over() -> Result<(), IdempotencyError> {
        let idem = idempotency();
        let now = at(1_000_000);
        assert_eq!(
            idem.claim("k", "h", 1_000_000_000 + 1_000, now).await?,
            Claim::Acquired
        );
        let later = at(1_000_002);
        assert_eq!(
            idem.claim("k", "h", 1_000_002_000 + 1_000, later).await?,
            Claim::Acquired
        );
        Ok(())
    }

    #[tokio::test]
    async fn completed_record_expires_after_ttl() -> Result<(), IdempotencyError> {
        let idem = idempotency();
        let now = at(1_000_000);
        idem.claim("k", "h", 1_000_000_000 + 1_000, now).await?;
        idem.complete("k", None, now).await?;
        let after_ttl = at(1_000_000 + 3601);
        assert_eq!(
            idem.claim("k", "h", 1_003_601_000 + 1_000, after_ttl).await?,
            Claim::Acquired
        );
        Ok(())
    }

    #[tokio::test]
    async fn released_key_can_be_claimed_again() -> Result<(), IdempotencyError> {
        let idem = idempotency();
        let now = at(1_000_000);
        idem.claim("k", "h", 1_000_000_000 + 30_000, now).await?;
        idem.release("k", "ghl_rate_limited").await?;
        assert_eq!(
            idem.explain("k", now).await?,
            "retryable failure on its last attempt: ghl_rate_limited"
        );
        assert_eq!(
            idem.claim("k", "h", 1_000_000_000 + 30_000, now).await?,
            Claim::Acquired
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_dead_letter_is_explained_by_its_claim() -> Result<(), IdempotencyError> {
        let idem = idempotency();
        let now = at(1_000_000);
        assert_eq!(
            idem.explain("k", now).await?,
            "never claimed: no worker started it"
        );
        idem.claim("k", "h", 1_000_000_000 + 1_000, now).await?;
        assert!(idem.explain("k", now).await?.starts_with("in progress"));
        // The invocation died: its claim outlived its deadline.
        assert!(idem.explain("k", at(1_000_002)).await?.starts_with("abandoned"));
        idem.claim("k", "h", 1_000_002_000 + 1_000, at(1_000_002)).await?;
        idem.complete("k", None, at(1_000_002)).await?;
        // A completed record is not reopened by a late release.
        idem.release("k", "ghl_unavailable").await?;
        assert!(idem.explain("k", at(1_000_003)).await?.starts_with("completed"));
        Ok(())
    }

    #[tokio::test]
    async fn an_accepted_key_is_done_in_one_write_and_carries_its_message() -> Result<(), IdempotencyError> {
        let store = Arc::new(MemoryIdempotencyStore::default());
        let idem = Idempotency::new(store.clone(), Duration::from_secs(3600));
        let now = at(1_000_000);
        assert_eq!(idem.accept("k", "h", "evt_1", "{}", now).await?, Claim::Acquired);
        let record = store.get("k");
        assert_eq!(record.as_ref().map(|r| r.status), Some(RecordStatus::Completed));
        assert_eq!(record.and_then(|r| r.outbox).as_deref(), Some("{}"));
        assert_eq!(
            idem.accept("k", "h", "evt_2", "{\"other\":1}", now).await?,
            Claim::Completed {
                data: Some("evt_1".into())
            }
        );
        assert_eq!(store.get("k").and_then(|r| r.outbox).as_deref(), Some("{}"));
        Ok(())
    }

    #[tokio::test]
    async fn same_key_different_payload_is_rejected() {
        let idem = idempotency();
        let now = at(1_000_000);
        let first = idem.claim("k", "h1", 1_000_000_000 + 30_000, now).await;
        assert!(matches!(first, Ok(Claim::Acquired)));
        let second = idem.claim("k", "h2", 1_000_000_000 + 30_000, now).await;
        assert!(
            matches!(second, Err(IdempotencyError::PayloadMismatch { .. })),
            "{second:?}"
        );
    }
}
