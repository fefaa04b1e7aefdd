//! In-memory adapters of the ports, for unit tests and examples. Same semantics as the AWS ones.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::domain::SourcePlatform;
use crate::idempotency::record_is_live;
use crate::keys::{self, EntityKey};
use crate::ports::{
    ContactLink, EntityLink, EntityMap, IdempotencyRecord, IdempotencyStore, LearnerMirror, OutboundMessage,
    PortError, PutOutcome, Queue, RecordStatus, SecretSource, SlotSchedule,
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

    /// The messages sent since the last take, removed from the queue (a long property run would
    /// otherwise copy every earlier message at each look).
    pub fn take(&self) -> Vec<OutboundMessage> {
        self.messages
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
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

/// Notes each hold (queue, receipt, how long) instead of making it.
#[derive(Debug, Default)]
pub struct MemoryRedelivery {
    holds: Mutex<Vec<(String, String, std::time::Duration)>>,
}

impl MemoryRedelivery {
    pub fn holds(&self) -> Vec<(String, String, std::time::Duration)> {
        self.holds.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl crate::ports::Redelivery for MemoryRedelivery {
    async fn hold(&self, queue: &str, receipt: &str, hold_for: std::time::Duration) -> Result<(), PortError> {
        self.holds.lock().map_err(|_| poisoned("redelivery"))?.push((
            queue.to_owned(),
            receipt.to_owned(),
            hold_for,
        ));
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct MemoryIdempotencyStore {
    records: Mutex<HashMap<String, IdempotencyRecord>>,
    /// Where written records' outbox messages go, as the table's stream and its Pipe send them.
    stream_to: Option<Arc<MemoryQueue>>,
    failing: AtomicBool,
}

impl MemoryIdempotencyStore {
    /// A store whose records' outbox messages reach `queue` when written (the stream's relay).
    pub fn with_outbox(queue: Arc<MemoryQueue>) -> Self {
        Self {
            stream_to: Some(queue),
            ..Self::default()
        }
    }

    /// Makes every following write fail, as an unreachable table would.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn get(&self, key: &str) -> Option<IdempotencyRecord> {
        self.records.lock().ok()?.get(key).cloned()
    }

    /// Drops a record whatever its state, as its TTL would.
    pub fn forget(&self, key: &str) {
        if let Ok(mut records) = self.records.lock() {
            records.remove(key);
        }
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn put_if_claimable(
        &self,
        record: &IdempotencyRecord,
        now: OffsetDateTime,
    ) -> Result<PutOutcome, PortError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(PortError::new("idempotency store", "injected failure"));
        }
        let mut records = self.records.lock().map_err(|_| poisoned("idempotency store"))?;
        if let Some(existing) = records.get(&record.key)
            && record_is_live(existing, now)
        {
            return Ok(PutOutcome::Held(existing.clone()));
        }
        records.insert(record.key.clone(), record.clone());
        if let (Some(queue), Some(body)) = (&self.stream_to, &record.outbox) {
            queue
                .messages
                .lock()
                .map_err(|_| poisoned("queue"))?
                .push(OutboundMessage {
                    body: body.clone(),
                    attributes: Default::default(),
                });
        }
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

    async fn release(&self, key: &str, why: &str) -> Result<(), PortError> {
        let mut records = self.records.lock().map_err(|_| poisoned("idempotency store"))?;
        if let Some(record) = records.get_mut(key)
            && record.status == RecordStatus::InProgress
        {
            record.in_progress_expiration_ms = 0;
            record.last_error = Some(why.to_owned());
        }
        Ok(())
    }

    async fn record(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError> {
        Ok(self
            .records
            .lock()
            .map_err(|_| poisoned("idempotency store"))?
            .get(key)
            .cloned())
    }
}

/// Keyed like the table, by `keys`, so that key collisions would show here too.
#[derive(Debug, Default)]
pub struct MemoryEntityMap {
    contacts: Mutex<HashMap<String, ContactLink>>,
    /// Contact link reads, as the table would bill them (the per-invocation cache is tested by it).
    contact_reads: AtomicUsize,
    links: Mutex<HashMap<String, EntityLink>>,
    mirrors: Mutex<HashMap<String, LearnerMirror>>,
}

impl MemoryEntityMap {
    /// How many contact links were read so far.
    pub fn contact_reads(&self) -> usize {
        self.contact_reads.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl EntityMap for MemoryEntityMap {
    async fn contact(
        &self,
        source: &SourcePlatform,
        source_user_id: &str,
    ) -> Result<Option<ContactLink>, PortError> {
        self.contact_reads.fetch_add(1, Ordering::Relaxed);
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

    async fn put_link_if_absent(&self, link: &EntityLink) -> Result<bool, PortError> {
        let mut links = self.links.lock().map_err(|_| poisoned("entity map"))?;
        let key = keys::link(&link.key);
        if links.contains_key(&key) {
            return Ok(false);
        }
        links.insert(key, link.clone());
        Ok(true)
    }

    async fn mirror(&self, target: &str, contact_id: &str) -> Result<Option<LearnerMirror>, PortError> {
        let mirrors = self.mirrors.lock().map_err(|_| poisoned("entity map"))?;
        Ok(mirrors.get(&keys::mirror(target, contact_id)).cloned())
    }

    async fn put_mirror(
        &self,
        target: &str,
        contact_id: &str,
        mirror: &LearnerMirror,
    ) -> Result<bool, PortError> {
        let mut mirrors = self.mirrors.lock().map_err(|_| poisoned("entity map"))?;
        let key = keys::mirror(target, contact_id);
        let stored = mirrors.get(&key).map_or(0, |m| m.version);
        if stored != mirror.version {
            return Ok(false);
        }
        let next = LearnerMirror {
            version: mirror.version + 1,
            ..mirror.clone()
        };
        mirrors.insert(key, next);
        Ok(true)
    }
}

/// Versioned documents in a map: the same compare-and-set as the DynamoDB table's.
#[derive(Debug, Default)]
pub struct MemoryDocuments {
    docs: Mutex<HashMap<String, (String, u64)>>,
}

#[async_trait]
impl crate::ports::Documents for MemoryDocuments {
    async fn get(&self, key: &str) -> Result<Option<crate::ports::Versioned>, PortError> {
        let docs = self
            .docs
            .lock()
            .map_err(|_| PortError::new("documents", "lock poisoned"))?;
        Ok(docs.get(key).map(|(body, version)| crate::ports::Versioned {
            body: body.clone(),
            version: *version,
        }))
    }

    async fn put(
        &self,
        key: &str,
        body: &str,
        read: u64,
        _expires_at: Option<i64>,
    ) -> Result<bool, PortError> {
        let mut docs = self
            .docs
            .lock()
            .map_err(|_| PortError::new("documents", "lock poisoned"))?;
        let stored = docs.get(key).map_or(0, |(_, v)| *v);
        if stored != read {
            return Ok(false);
        }
        docs.insert(key.to_owned(), (body.to_owned(), read + 1));
        Ok(true)
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

    async fn next_free(&self, key: &str) -> Result<Option<i64>, PortError> {
        let next = self.next.lock().map_err(|_| poisoned("slots"))?;
        Ok(next.get(key).copied())
    }
}

/// An LMS account in memory: learners by email, enrollments, memberships, and every call made,
/// so that tests can count what a change cost. Grants of `unsupported` kinds answer
/// `LmsError::Unsupported`, as a platform without them would.
#[derive(Debug, Default)]
pub struct MemoryLms {
    // Shared by the copies `with_deadline` makes: a test reads what every invocation wrote.
    state: std::sync::Arc<Mutex<MemoryLmsState>>,
    pub unsupported: Vec<&'static str>,
    /// Every learner upsert answers this, as an account that refuses or is down would.
    pub failing: Option<crate::lms::LmsError>,
}

#[derive(Debug, Default, Clone)]
pub struct MemoryLmsState {
    /// Learner id → (email, first, last, active).
    pub users: std::collections::BTreeMap<String, (String, Option<String>, Option<String>, bool)>,
    pub enrollments: std::collections::BTreeSet<(String, String)>,
    pub memberships: std::collections::BTreeSet<(String, crate::domain::Membership)>,
    /// (learner id, course id) → progress, set with `MemoryLms::set_progress`.
    pub progress: std::collections::BTreeMap<(String, String), crate::lms::CourseStatus>,
    /// `operation user-or-email …`, in order.
    pub calls: Vec<String>,
}

impl MemoryLms {
    pub fn state(&self) -> MemoryLmsState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// An account whose every learner upsert answers `error`.
    pub fn failing(error: crate::lms::LmsError) -> Self {
        Self {
            failing: Some(error),
            ..Self::default()
        }
    }

    /// Enrolls the learner in `status.course` (if not already) with this progress, which
    /// `learners` then reports.
    pub fn set_progress(&self, user_id: &str, status: crate::lms::CourseStatus) {
        if let Ok(mut state) = self.state.lock() {
            let key = (user_id.to_owned(), status.course.id.clone());
            state.enrollments.insert(key.clone());
            state.progress.insert(key, status);
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut MemoryLmsState) -> T) -> Result<T, crate::lms::LmsError> {
        let mut state = self.state.lock().map_err(|_| crate::lms::LmsError::Transport {
            platform: "memory",
            message: "lock poisoned".into(),
        })?;
        Ok(f(&mut state))
    }

    fn user(state: &MemoryLmsState, id: &str) -> Option<crate::lms::LmsUser> {
        let (email, first, last, active) = state.users.get(id)?;
        Some(crate::lms::LmsUser {
            id: id.to_owned(),
            email: crate::domain::Email::try_from(email.clone()).ok()?,
            first_name: first.clone(),
            last_name: last.clone(),
            active: *active,
            raw: serde_json::Value::Null,
        })
    }

    fn kind(membership: &crate::domain::Membership) -> &'static str {
        match membership {
            crate::domain::Membership::Group(_) => "group",
            crate::domain::Membership::Branch(_) => "branch",
            crate::domain::Membership::Role(_) => "role",
            crate::domain::Membership::Subject(_) => "subject",
        }
    }
}

#[async_trait]
impl crate::lms::LmsAccount for MemoryLms {
    fn platform(&self) -> &'static str {
        "memory"
    }

    /// Every course and membership exists in memory, unless the test says lookups are unsupported.
    async fn missing(
        &self,
        _courses: &[String],
        _memberships: &[crate::domain::Membership],
    ) -> Result<Vec<String>, crate::lms::LmsError> {
        if self.unsupported.contains(&"missing") {
            return Err(crate::lms::LmsError::Unsupported {
                platform: "memory",
                what: "look up ids",
            });
        }
        Ok(Vec::new())
    }

    fn with_deadline(&self, _deadline: tokio::time::Instant) -> std::sync::Arc<dyn crate::lms::LmsAccount> {
        std::sync::Arc::new(MemoryLms {
            state: self.state.clone(),
            unsupported: self.unsupported.clone(),
            failing: self.failing.clone(),
        })
    }

    async fn find_user_by_email(
        &self,
        email: &crate::domain::Email,
    ) -> Result<Option<crate::lms::LmsUser>, crate::lms::LmsError> {
        self.with(|s| {
            s.calls.push(format!("find {}", email.as_str()));
            let id = s
                .users
                .iter()
                .find(|(_, u)| u.0 == email.as_str())
                .map(|(id, _)| id.clone());
            id.and_then(|id| Self::user(s, &id))
        })
    }

    async fn upsert_user(
        &self,
        fields: &crate::lms::LearnerFields,
    ) -> Result<crate::lms::LmsUser, crate::lms::LmsError> {
        if let Some(e) = &self.failing {
            return Err(e.clone());
        }
        let user = self.with(|s| {
            s.calls.push(format!("upsert {}", fields.email.as_str()));
            let existing = s
                .users
                .iter()
                .find(|(_, u)| u.0 == fields.email.as_str())
                .map(|(id, _)| id.clone());
            let id = existing.unwrap_or_else(|| format!("lms-{}", s.users.len() + 1));
            s.users.insert(
                id.clone(),
                (
                    fields.email.as_str().to_owned(),
                    fields.first_name.clone(),
                    fields.last_name.clone(),
                    true,
                ),
            );
            Self::user(s, &id)
        })?;
        user.ok_or_else(|| crate::lms::LmsError::Transport {
            platform: "memory",
            message: "user vanished".into(),
        })
    }

    async fn enroll(&self, user_id: &str, course_id: &str) -> Result<(), crate::lms::LmsError> {
        self.with(|s| {
            s.calls.push(format!("enroll {user_id} {course_id}"));
            s.enrollments.insert((user_id.to_owned(), course_id.to_owned()));
        })
    }

    async fn unenroll(&self, user_id: &str, course_id: &str) -> Result<(), crate::lms::LmsError> {
        self.with(|s| {
            s.calls.push(format!("unenroll {user_id} {course_id}"));
            let key = (user_id.to_owned(), course_id.to_owned());
            s.enrollments.remove(&key);
            s.progress.remove(&key);
        })
    }

    async fn grant(
        &self,
        user_id: &str,
        membership: &crate::domain::Membership,
    ) -> Result<(), crate::lms::LmsError> {
        if self.unsupported.contains(&Self::kind(membership)) {
            return Err(crate::lms::LmsError::Unsupported {
                platform: "memory",
                what: "grant this membership",
            });
        }
        self.with(|s| {
            s.calls.push(format!("grant {user_id} {membership:?}"));
            s.memberships.insert((user_id.to_owned(), membership.clone()));
        })
    }

    async fn revoke(
        &self,
        user_id: &str,
        membership: &crate::domain::Membership,
    ) -> Result<(), crate::lms::LmsError> {
        self.with(|s| {
            s.calls.push(format!("revoke {user_id} {membership:?}"));
            s.memberships.remove(&(user_id.to_owned(), membership.clone()));
        })
    }

    async fn deactivate(&self, user_id: &str) -> Result<(), crate::lms::LmsError> {
        self.with(|s| {
            s.calls.push(format!("deactivate {user_id}"));
            if let Some(user) = s.users.get_mut(user_id) {
                user.3 = false;
            }
        })
    }

    /// Every learner on one page (`next: None`), by id, each enrollment a course: with the
    /// progress `set_progress` gave it, else only its id. Nothing here is dated, so `since`
    /// filters nothing, as on a platform without such a filter.
    async fn learners(
        &self,
        query: &crate::lms::LearnerQuery,
        page: Option<&str>,
    ) -> Result<crate::lms::LearnerPage, crate::lms::LmsError> {
        let _ = query;
        self.with(|s| {
            s.calls.push(format!("learners {}", page.unwrap_or("first")));
            let learners = s
                .users
                .keys()
                .filter_map(|id| Self::user(s, id))
                .map(|user| {
                    let courses = s
                        .enrollments
                        .iter()
                        .filter(|(learner, _)| *learner == user.id)
                        .map(|key| {
                            s.progress
                                .get(key)
                                .cloned()
                                .unwrap_or_else(|| crate::lms::CourseStatus {
                                    course: crate::domain::CourseRef {
                                        id: key.1.clone(),
                                        title: None,
                                        published_id: None,
                                    },
                                    enrolled_at: None,
                                    completed_at: None,
                                    percent: None,
                                    score: None,
                                    certificate_url: None,
                                })
                        })
                        .collect();
                    crate::lms::LearnerActivity {
                        user,
                        created_at: None,
                        updated_at: None,
                        courses,
                    }
                })
                .collect();
            crate::lms::LearnerPage { learners, next: None }
        })
    }
}
