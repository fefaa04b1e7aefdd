//! In-memory adapters of the ports, for unit tests and examples. Same semantics as the AWS ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::domain::SourcePlatform;
use crate::idempotency::record_is_live;
use crate::keys::{self, EntityKey};
use crate::ports::{
    ContactLink, EntityLink, EntityMap, IdempotencyRecord, IdempotencyStore, OutboundMessage, PortError,
    PutOutcome, Queue, RecordStatus, SecretSource, SlotSchedule,
};

fn poisoned(port: &'static str) -> PortError {
    PortError::new(port, "lock poisoned")
}

#[derive(Debug, Default)]
pub struct MemoryQueue {
    messages: Mutex<Vec<OutboundMessage>>,
    failing: AtomicBool,
}

impl MemoryQueue {
    pub fn messages(&self) -> Vec<OutboundMessage> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Makes every following send fail, as an unreachable queue would.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, message: &OutboundMessage) -> Result<String, PortError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(PortError::new("queue", "injected failure"));
        }
        let mut messages = self.messages.lock().map_err(|_| poisoned("queue"))?;
        messages.push(message.clone());
        Ok(format!("msg-{}", messages.len()))
    }
}

#[derive(Debug, Default)]
pub struct MemoryIdempotencyStore {
    records: Mutex<HashMap<String, IdempotencyRecord>>,
}

impl MemoryIdempotencyStore {
    pub fn get(&self, key: &str) -> Option<IdempotencyRecord> {
        self.records.lock().ok()?.get(key).cloned()
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn put_if_claimable(
        &self,
        record: &IdempotencyRecord,
        now: OffsetDateTime,
    ) -> Result<PutOutcome, PortError> {
        let mut records = self.records.lock().map_err(|_| poisoned("idempotency store"))?;
        if let Some(existing) = records.get(&record.key)
            && record_is_live(existing, now)
        {
            return Ok(PutOutcome::Held(existing.clone()));
        }
        records.insert(record.key.clone(), record.clone());
        Ok(PutOutcome::Written)
    }

    async fn complete(&self, key: &str, data: Option<&str>, expiration: i64) -> Result<(), PortError> {
        let mut records = self.records.lock().map_err(|_| poisoned("idempotency store"))?;
        let record = records
            .get_mut(key)
            .ok_or_else(|| PortError::new("idempotency store", format!("no record for {key}")))?;
        record.status = RecordStatus::Completed;
        record.data = data.map(str::to_owned);
        record.expiration = expiration;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), PortError> {
        self.records
            .lock()
            .map_err(|_| poisoned("idempotency store"))?
            .remove(key);
        Ok(())
    }
}

/// Keyed like the table, by `keys`, so that key collisions would show here too.
#[derive(Debug, Default)]
pub struct MemoryEntityMap {
    contacts: Mutex<HashMap<String, ContactLink>>,
    links: Mutex<HashMap<String, EntityLink>>,
}

#[async_trait]
impl EntityMap for MemoryEntityMap {
    async fn contact(
        &self,
        source: &SourcePlatform,
        source_user_id: &str,
    ) -> Result<Option<ContactLink>, PortError> {
        let contacts = self.contacts.lock().map_err(|_| poisoned("entity map"))?;
        Ok(contacts.get(&keys::contact(source, source_user_id)).cloned())
    }

    async fn put_contact(&self, link: &ContactLink) -> Result<(), PortError> {
        let mut contacts = self.contacts.lock().map_err(|_| poisoned("entity map"))?;
        contacts.insert(keys::contact(&link.source, &link.source_user_id), link.clone());
        Ok(())
    }

    async fn link(&self, key: &EntityKey) -> Result<Option<EntityLink>, PortError> {
        Ok(self
            .links
            .lock()
            .map_err(|_| poisoned("entity map"))?
            .get(&keys::link(key))
            .cloned())
    }

    async fn put_link(&self, link: &EntityLink) -> Result<(), PortError> {
        self.links
            .lock()
            .map_err(|_| poisoned("entity map"))?
            .insert(keys::link(&link.key), link.clone());
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct MemorySecrets {
    values: Mutex<HashMap<String, String>>,
}

impl MemorySecrets {
    pub fn with(self, id: &str, value: &str) -> Self {
        if let Ok(mut values) = self.values.lock() {
            values.insert(id.to_owned(), value.to_owned());
        }
        self
    }
}

#[async_trait]
impl SecretSource for MemorySecrets {
    async fn secret_string(&self, id: &str) -> Result<SecretString, PortError> {
        let values = self.values.lock().map_err(|_| poisoned("secrets"))?;
        values
            .get(id)
            .map(|v| SecretString::from(v.clone()))
            .ok_or_else(|| PortError::new("secrets", format!("secret {id} not found")))
    }

    async fn put_secret_string(&self, id: &str, value: &SecretString) -> Result<(), PortError> {
        use secrecy::ExposeSecret;
        let mut values = self.values.lock().map_err(|_| poisoned("secrets"))?;
        values.insert(id.to_owned(), value.expose_secret().to_owned());
        Ok(())
    }
}

/// The GCRA schedule in memory: one "theoretical arrival time" per key.
#[derive(Debug, Default)]
pub struct MemorySlots {
    next: Mutex<HashMap<String, i64>>,
}

#[async_trait]
impl SlotSchedule for MemorySlots {
    async fn reserve(
        &self,
        key: &str,
        now_us: i64,
        spacing_us: i64,
        horizon_us: i64,
    ) -> Result<Option<i64>, PortError> {
        let mut next = self.next.lock().map_err(|_| poisoned("slots"))?;
        let tat = next.get(key).copied().unwrap_or(i64::MIN);
        let start = tat.max(now_us);
        if start > now_us + horizon_us {
            return Ok(None);
        }
        next.insert(key.to_owned(), start + spacing_us);
        Ok(Some(start))
    }
}
