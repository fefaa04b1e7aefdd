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
            published_id: None,
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

/// A worker with in-memory ports, no usable GHL credentials, and the given dead-letter queue and
/// claim store.
pub(crate) fn worker_with(
    dead_letters: Arc<MemoryQueue>,
    claims: Arc<MemoryIdempotencyStore>,
) -> Result<SyncWorker, GhlError> {
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
        Idempotency::new(claims, Duration::from_secs(60)),
        dead_letters,
        Arc::new(SystemClock),
    ))
}

pub(crate) fn worker(dead_letters: Arc<MemoryQueue>) -> Result<SyncWorker, GhlError> {
    worker_with(dead_letters, Arc::new(MemoryIdempotencyStore::default()))
}

/// A queued learner-created message, as ingest writes it.
pub(crate) fn learner_message() -> Result<String, serde_json::Error> {
    let envelope = Envelope::new(
        "ingest:skilljar:k".into(),
        "corr".into(),
        time::OffsetDateTime::UNIX_EPOCH,
        DeliveryHash::of(b"a delivery"),
        SyncEvent::LearnerCreated(learner()),
    );
    serde_json::to_string(&envelope)
}

fn message(body: &str) -> Message<'_> {
    Message { id: "m1", body }
}

#[tokio::test]
async fn a_claim_made_with_another_delivery_hash_is_already_synced_not_parked() -> Result<(), String> {
    use crate::ports::{IdempotencyRecord, IdempotencyStore, RecordStatus};
    let dlq = Arc::new(MemoryQueue::default());
    let claims = Arc::new(MemoryIdempotencyStore::default());
    let worker = worker_with(dlq.clone(), claims.clone()).map_err(|e| e.to_string())?;
    let body = learner_message().map_err(|e| e.to_string())?;
    let event_id = crate::domain::EventId::from_idempotency_key("ingest:skilljar:k");
    let now = time::OffsetDateTime::now_utc();
    for hash in ["sha256:another-delivery", "0123abcd (a v1 event hash)"] {
        let key = crate::keys::event_claim(&event_id);
        claims.forget(&key);
        let record = IdempotencyRecord {
            key: key.clone(),
            status: RecordStatus::InProgress,
            expiration: now.unix_timestamp() + 3600,
            in_progress_expiration_ms: (now.unix_timestamp() + 60) * 1000,
            payload_hash: hash.to_owned(),
            data: None,
            last_error: None,
            outbox: None,
        };
        claims
            .put_if_claimable(&record, now)
            .await
            .map_err(|e| e.to_string())?;
        claims
            .complete(&key, Some("contact-1"), now.unix_timestamp() + 3600)
            .await
            .map_err(|e| e.to_string())?;
        let outcome = worker.handle(message(&body), None).await;
        assert_eq!(outcome, RecordOutcome::AlreadySynced, "held with {hash}");
    }
    assert!(
        dlq.messages().is_empty(),
        "an identity accepted before is never parked"
    );
    Ok(())
}

#[tokio::test]
async fn a_newer_message_version_is_left_for_a_newer_worker() -> Result<(), String> {
    let dlq = Arc::new(MemoryQueue::default());
    let worker = worker(dlq.clone()).map_err(|e| e.to_string())?;
    let body = learner_message()
        .map_err(|e| e.to_string())?
        .replacen(r#""version":2"#, r#""version":4"#, 1);
    let outcome = worker.handle(message(&body), None).await;
    assert_eq!(
        outcome,
        RecordOutcome::Retry {
            reason: "newer_message_version".into()
        }
    );
    assert!(dlq.messages().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_stored_v1_message_is_read_and_reaches_its_rules() -> Result<(), String> {
    let dlq = Arc::new(MemoryQueue::default());
    let worker = worker(dlq.clone()).map_err(|e| e.to_string())?;
    let v1 = include_str!("../../../tests/fixtures/queue/v1-learner-created.json");
    // No GHL credentials here: reaching the learner's rules means a retryable credentials failure,
    // where an unreadable message would have been parked.
    let outcome = worker.handle(message(v1), None).await;
    assert_eq!(
        outcome,
        RecordOutcome::Retry {
            reason: "credentials_unavailable".into()
        }
    );
    assert!(dlq.messages().is_empty());
    Ok(())
}

// GHL → LMS: a contact's changes applied to a target through the memory LMS.

const TARGETS: &str = r#"
[targets.academy]
platform = "skilljar"
secret_id = "lms/academy"
location_id = "loc-1"
qualify = { tag = "lms-learner" }
default_courses = ["c1"]
on_delete = "deactivate"
[[targets.academy.tag_rules]]
tag = "vip"
group = "g-vip"
remove_when_untagged = true
[[targets.academy.tag_rules]]
tag = "alumni"
group = "g-alumni"
"#;

struct GhlHarness {
    worker: SyncWorker,
    lms: Arc<crate::memory::MemoryLms>,
    entities: Arc<MemoryEntityMap>,
    dlq: Arc<MemoryQueue>,
    documents: Arc<crate::memory::MemoryDocuments>,
    sent: std::sync::atomic::AtomicUsize,
}

fn ghl_harness() -> Result<GhlHarness, String> {
    ghl_harness_with(TARGETS, crate::memory::MemoryLms::default(), &[])
}

/// The harness over `targets`, whose `academy` is `lms`, and the `others` accounts by name.
fn ghl_harness_with(
    targets: &str,
    lms: crate::memory::MemoryLms,
    others: &[(&str, Arc<crate::memory::MemoryLms>)],
) -> Result<GhlHarness, String> {
    let dlq = Arc::new(MemoryQueue::default());
    let entities = Arc::new(MemoryEntityMap::default());
    let documents = Arc::new(crate::memory::MemoryDocuments::default());
    let lms = Arc::new(lms);
    let config = GhlConfig {
        base_url: "http://127.0.0.1:9".into(),
        timeout: Duration::from_secs(1),
        ..GhlConfig::default()
    };
    let client =
        crate::ghl::GhlClient::new(&config, Arc::new(NoCredentials), Arc::new(crate::ghl::Unlimited))
            .map_err(|e| e.to_string())?;
    let mut accounts = crate::lms::LmsAccounts::default();
    accounts.insert("academy", lms.clone());
    for (name, account) in others {
        accounts.insert(*name, account.clone());
    }
    let worker = SyncWorker::new(
        crate::ghl::GhlClients::single("loc-1", client),
        entities.clone(),
        Arc::new(Mapping::parse(targets)?),
        Idempotency::new(
            Arc::new(MemoryIdempotencyStore::default()),
            Duration::from_secs(60),
        ),
        dlq.clone(),
        Arc::new(SystemClock),
    )
    .with_lms_accounts(accounts)
    .with_documents(documents.clone());
    Ok(GhlHarness {
        worker,
        lms,
        entities,
        dlq,
        documents,
        sent: std::sync::atomic::AtomicUsize::new(0),
    })
}

impl GhlHarness {
    /// Delivers a contact change (a new delivery each time, as GHL's webhooks are).
    async fn change(&self, kind: crate::domain::GhlChangeKind, tags: &[&str]) -> RecordOutcome {
        let n = self.sent.load(std::sync::atomic::Ordering::SeqCst) as i64;
        self.change_at(kind, "ada@example.com", tags, 100 + n).await
    }

    /// A change of Ada's contact as GHL had it `at` seconds after the epoch.
    async fn change_at(
        &self,
        kind: crate::domain::GhlChangeKind,
        email: &str,
        tags: &[&str],
        at: i64,
    ) -> RecordOutcome {
        let n = self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let change = crate::domain::GhlChange {
            location_id: "loc-1".into(),
            contact_id: Some("contact-ada".into()),
            change: kind,
            contact: Some(crate::domain::GhlContactFacts {
                email: Email::try_from(email.to_owned()).ok(),
                first_name: Some("Ada".into()),
                last_name: Some("Lovelace".into()),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                ..Default::default()
            }),
            occurred_at: time::OffsetDateTime::from_unix_timestamp(at)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        };
        let envelope = Envelope::new(
            format!("ingest:ghl:webhook-{n}"),
            "corr".into(),
            time::OffsetDateTime::UNIX_EPOCH,
            DeliveryHash::of(format!("webhook-{n}").as_bytes()),
            SyncEvent::GhlChanged(change),
        );
        let body = serde_json::to_string(&envelope).unwrap_or_default();
        self.worker.handle(Message { id: "m", body: &body }, None).await
    }

    fn calls(&self) -> Vec<String> {
        self.lms.state().calls
    }
}

fn synced(outcome: &RecordOutcome) -> bool {
    matches!(outcome, RecordOutcome::Synced { .. })
}

#[tokio::test]
async fn a_tagged_contact_becomes_a_learner_enrolled_and_grouped_once() -> Result<(), String> {
    use crate::domain::{GhlChangeKind, Membership};
    let h = ghl_harness()?;
    let outcome = h
        .change(GhlChangeKind::ContactCreated, &["lms-learner", "vip"])
        .await;
    assert!(synced(&outcome), "{outcome:?}");
    assert_eq!(
        h.calls(),
        [
            "upsert ada@example.com",
            "enroll lms-1 c1",
            "grant lms-1 Group(\"g-vip\")"
        ]
    );
    let state = h.lms.state();
    assert!(state.enrollments.contains(&("lms-1".into(), "c1".into())));
    assert!(
        state
            .memberships
            .contains(&("lms-1".into(), Membership::Group("g-vip".into())))
    );
    // The learner is known to the LMS → GHL direction as this contact.
    let link = h
        .entities
        .contact(&SourcePlatform::skilljar(), "lms-1")
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(link.map(|l| l.contact_id).as_deref(), Some("contact-ada"));

    // GHL's next webhooks about the same state (an update, a tag event): nothing written.
    for kind in [GhlChangeKind::ContactUpdated, GhlChangeKind::ContactTagsChanged] {
        let outcome = h.change(kind, &["lms-learner", "vip"]).await;
        assert!(synced(&outcome), "{outcome:?}");
    }
    assert_eq!(
        h.calls().len(),
        3,
        "no call for a change that adds nothing: {:?}",
        h.calls()
    );
    assert!(h.dlq.messages().is_empty());
    Ok(())
}

#[tokio::test]
async fn untagging_removes_only_the_groups_the_mapping_says() -> Result<(), String> {
    use crate::domain::{GhlChangeKind, Membership};
    let h = ghl_harness()?;
    h.change(GhlChangeKind::ContactCreated, &["lms-learner", "vip", "alumni"])
        .await;
    let before = h.calls().len();
    let outcome = h
        .change(GhlChangeKind::ContactTagsChanged, &["lms-learner"])
        .await;
    assert!(synced(&outcome), "{outcome:?}");
    assert_eq!(h.calls()[before..], ["revoke lms-1 Group(\"g-vip\")"]);
    let memberships = h.lms.state().memberships;
    assert!(!memberships.contains(&("lms-1".into(), Membership::Group("g-vip".into()))));
    assert!(memberships.contains(&("lms-1".into(), Membership::Group("g-alumni".into()))));
    Ok(())
}

#[tokio::test]
async fn contacts_that_do_not_qualify_and_notes_cost_no_lms_call() -> Result<(), String> {
    use crate::domain::GhlChangeKind;
    let h = ghl_harness()?;
    let outcome = h.change(GhlChangeKind::ContactCreated, &["prospect"]).await;
    assert!(synced(&outcome), "{outcome:?}");
    let outcome = h
        .change(GhlChangeKind::NoteCreated { note_id: "n1".into() }, &[])
        .await;
    assert!(synced(&outcome), "{outcome:?}");
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    Ok(())
}

#[tokio::test]
async fn a_deleted_contact_deactivates_the_learner_when_the_mapping_says_so() -> Result<(), String> {
    use crate::domain::GhlChangeKind;
    let h = ghl_harness()?;
    h.change(GhlChangeKind::ContactCreated, &["lms-learner"]).await;
    let outcome = h.change(GhlChangeKind::ContactDeleted, &["lms-learner"]).await;
    assert!(synced(&outcome), "{outcome:?}");
    assert_eq!(h.calls().last().map(String::as_str), Some("deactivate lms-1"));
    let again = h.change(GhlChangeKind::ContactDeleted, &["lms-learner"]).await;
    assert!(synced(&again), "{again:?}");
    assert_eq!(
        h.calls().iter().filter(|c| c.starts_with("deactivate")).count(),
        1
    );
    assert_eq!(h.lms.state().users.get("lms-1").map(|u| u.3), Some(false));
    Ok(())
}

#[tokio::test]
async fn an_older_change_arriving_late_does_not_undo_a_newer_one() -> Result<(), String> {
    use crate::domain::{GhlChangeKind, Membership};
    let h = ghl_harness()?;
    let tagged = h
        .change_at(
            GhlChangeKind::ContactTagsChanged,
            "ada@example.com",
            &["lms-learner", "vip"],
            1_000,
        )
        .await;
    assert!(synced(&tagged), "{tagged:?}");
    let untagged = h
        .change_at(
            GhlChangeKind::ContactTagsChanged,
            "ada@example.com",
            &["lms-learner"],
            3_000,
        )
        .await;
    assert!(synced(&untagged), "{untagged:?}");
    let calls = h.calls().len();
    // The first change again, redelivered after the second (or GHL's retry of it): skipped.
    let late = h
        .change_at(
            GhlChangeKind::ContactTagsChanged,
            "ada@example.com",
            &["lms-learner", "vip"],
            2_000,
        )
        .await;
    assert!(synced(&late), "{late:?}");
    assert_eq!(h.calls().len(), calls, "{:?}", h.calls());
    assert!(
        !h.lms
            .state()
            .memberships
            .contains(&("lms-1".into(), Membership::Group("g-vip".into())))
    );
    Ok(())
}

#[tokio::test]
async fn a_changed_email_makes_a_learner_that_gets_every_course_and_group() -> Result<(), String> {
    use crate::domain::{GhlChangeKind, Membership};
    let h = ghl_harness()?;
    h.change(GhlChangeKind::ContactCreated, &["lms-learner", "vip"])
        .await;
    let outcome = h
        .change_at(
            GhlChangeKind::ContactUpdated,
            "ada.king@example.com",
            &["lms-learner", "vip"],
            5_000,
        )
        .await;
    assert!(synced(&outcome), "{outcome:?}");
    let state = h.lms.state();
    assert!(
        state.enrollments.contains(&("lms-2".into(), "c1".into())),
        "{:?}",
        state.calls
    );
    assert!(
        state
            .memberships
            .contains(&("lms-2".into(), Membership::Group("g-vip".into())))
    );
    Ok(())
}

#[tokio::test]
async fn a_target_that_fails_does_not_keep_the_others_from_the_change() -> Result<(), String> {
    use crate::domain::GhlChangeKind;
    let second = format!(
        "{TARGETS}\n[targets.second]\nplatform = \"talentlms\"\nsecret_id = \"lms/second\"\nlocation_id = \"loc-1\"\nqualify = {{ tag = \"lms-learner\" }}\ndefault_courses = [\"101\"]\n"
    );
    let refusing = crate::memory::MemoryLms::failing(crate::lms::LmsError::Rejected {
        platform: "memory",
        status: 400,
        message: "refused".into(),
    });
    let other = Arc::new(crate::memory::MemoryLms::default());
    let h = ghl_harness_with(&second, refusing, &[("second", other.clone())])?;
    let outcome = h.change(GhlChangeKind::ContactCreated, &["lms-learner"]).await;
    assert_eq!(
        outcome,
        RecordOutcome::Parked {
            reason: "lms_rejected".into()
        }
    );
    assert_eq!(
        other.state().calls,
        ["upsert ada@example.com", "enroll lms-1 101"]
    );
    assert_eq!(h.dlq.messages().len(), 1);
    Ok(())
}

// GHL → LMS: a learning record a person set to "expired" (issue 12).

/// Ada's record as the sync wrote it: enrolled in course 101 of the academy's Skilljar.
async fn kept_record(h: &GhlHarness) -> Result<(), String> {
    use crate::learning::{Enrollment, EnrollmentId, Fact, Observed};
    use crate::ports::Documents;
    let id = EnrollmentId {
        source: SourcePlatform::skilljar(),
        lms_user_id: "lms-1".into(),
        course_id: "101".into(),
    };
    let state = Enrollment::new(&Observed {
        fact: Fact::Enrolled,
        at: time::OffsetDateTime::from_unix_timestamp(50).unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        course_title: None,
    });
    let body =
        serde_json::json!({ "state": state, "written": state, "record_id": "rec-1", "associated": true });
    let stored = h
        .documents
        .put(
            &crate::keys::learning_record("loc-1", &id),
            &body.to_string(),
            0,
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    assert!(stored);
    h.lms.set_progress(
        "lms-1",
        crate::lms::CourseStatus {
            course: CourseRef {
                id: "101".into(),
                title: None,
                published_id: None,
            },
            enrolled_at: None,
            completed_at: None,
            percent: None,
            score: None,
            certificate_url: None,
        },
    );
    Ok(())
}

fn record_change(status: &str) -> crate::domain::GhlChangeKind {
    crate::domain::GhlChangeKind::RecordUpdated {
        record_id: "rec-1".into(),
        properties: [
            ("enrollment_key".to_owned(), "skilljar:lms-1:101".to_owned()),
            ("status".to_owned(), status.to_owned()),
        ]
        .into(),
    }
}

#[tokio::test]
async fn a_record_set_to_expired_in_ghl_ends_the_enrollment_once_and_its_echo_does_nothing()
-> Result<(), String> {
    let targets = format!("{TARGETS}\n[learning_records]\n");
    let h = ghl_harness_with(&targets, crate::memory::MemoryLms::default(), &[])?;
    kept_record(&h).await?;

    // The sync's own write coming back: nothing.
    let echo = h.change(record_change("enrolled"), &[]).await;
    assert!(synced(&echo), "{echo:?}");
    assert!(h.calls().is_empty(), "{:?}", h.calls());

    // A person sets it to expired: the enrollment ends in the LMS, once.
    let expired = h.change(record_change("expired"), &[]).await;
    assert!(synced(&expired), "{expired:?}");
    assert_eq!(h.calls(), ["unenroll lms-1 101"]);
    assert!(h.lms.state().enrollments.is_empty());

    // GHL's webhook for it again (another delivery): now an echo of what is kept.
    let again = h.change(record_change("expired"), &[]).await;
    assert!(synced(&again), "{again:?}");
    assert_eq!(h.calls(), ["unenroll lms-1 101"]);

    // Another status by hand is not taken to the LMS; a record the sync does not keep neither.
    assert!(synced(&h.change(record_change("completed"), &[]).await));
    let stranger = crate::domain::GhlChangeKind::RecordUpdated {
        record_id: "rec-2".into(),
        properties: [("status".to_owned(), "expired".to_owned())].into(),
    };
    assert!(synced(&h.change(stranger, &[]).await));
    assert_eq!(h.calls(), ["unenroll lms-1 101"]);
    assert!(h.dlq.messages().is_empty());
    Ok(())
}
