//! Both directions live at once, against moto and the GHL sandbox, with an in-memory LMS account:
//! a change that only echoes the other direction's write is written nowhere.

use std::sync::Arc;
use std::time::Duration;

use ghl_sandbox::{ContactSeed, DEFAULT_LOCATION_ID, Sandbox, SandboxConfig};
use integration_tests::{Deployment, ROOT, StaticCredentials, sync_all};
use lms_ghl::clock::SystemClock;
use lms_ghl::domain::{
    CourseRef, Email, GhlChange, GhlChangeKind, GhlContactFacts, LearnerCreated, LearnerRef, Membership,
    MilestoneKind, MilestoneReached, Progress, SourcePlatform, SyncEvent,
};
use lms_ghl::idempotency::Idempotency;
use lms_ghl::lms::LmsAccounts;
use lms_ghl::mapping::Mapping;
use lms_ghl::memory::MemoryLms;
use lms_ghl::worker::SyncWorker;
use time::OffsetDateTime;

const COURSE: &str = "2wzplz3bmtxpa";

struct TwoWay {
    ghl: Sandbox,
    deployment: Deployment,
    lms: Arc<MemoryLms>,
    worker: SyncWorker,
}

async fn two_way() -> TwoWay {
    let deployment = Deployment::new().await;
    let ghl = Sandbox::start(SandboxConfig::default())
        .await
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    ghl.add_private_token(DEFAULT_LOCATION_ID, &deployment.ghl_token)
        .unwrap_or_else(|e| panic!("{e}"));
    let config = lms_ghl::ghl::GhlConfig {
        base_url: ghl.url(),
        ..Default::default()
    };
    let auth = lms_ghl::ghl::LocationAuth {
        location_id: DEFAULT_LOCATION_ID.to_owned(),
        token: secrecy::SecretString::from(deployment.ghl_token.clone()),
    };
    let client = lms_ghl::ghl::GhlClient::new(
        &config,
        Arc::new(StaticCredentials(auth)),
        Arc::new(lms_ghl::ghl::Unlimited),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mapping = Mapping::load(&std::path::PathBuf::from(ROOT).join("tests/fixtures/mapping-targets.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let lms = Arc::new(MemoryLms::default());
    let mut accounts = LmsAccounts::default();
    accounts.insert("academy", lms.clone());
    let table = Arc::new(deployment.table());
    let worker = SyncWorker::new(
        lms_ghl::ghl::GhlClients::single(DEFAULT_LOCATION_ID, client),
        table.clone(),
        Arc::new(mapping),
        Idempotency::new(table, Duration::from_secs(3600)),
        Arc::new(lms_ghl::aws::SqsQueue::new(
            deployment.json(),
            &deployment.dlq_url,
        )),
        Arc::new(SystemClock),
    )
    .with_lms_accounts(accounts);
    TwoWay {
        ghl,
        deployment,
        lms,
        worker,
    }
}

/// The default course as Skilljar's webhooks name it: its own id, and the published id the
/// sync enrolls by (the mapping's `default_courses`).
fn skilljar_course() -> CourseRef {
    CourseRef {
        id: "1n0ib5mtxxzrz".into(),
        title: None,
        published_id: Some(COURSE.into()),
    }
}

fn email(e: &str) -> Email {
    Email::try_from(e.to_owned()).unwrap_or_else(|_| panic!("{e}"))
}

impl TwoWay {
    /// GHL's webhook about a contact as the sandbox holds it now.
    async fn ghl_webhook(&self, contact_id: &str, change: GhlChangeKind, key: &str) {
        let contact = self
            .ghl
            .contact(DEFAULT_LOCATION_ID, contact_id)
            .unwrap_or_else(|| panic!("no contact {contact_id}"));
        let event = SyncEvent::GhlChanged(GhlChange {
            location_id: DEFAULT_LOCATION_ID.into(),
            contact_id: Some(contact_id.into()),
            change,
            contact: Some(GhlContactFacts {
                email: contact.email.clone().and_then(|e| Email::try_from(e).ok()),
                first_name: contact.first_name.clone(),
                last_name: contact.last_name.clone(),
                tags: contact.tags.clone(),
                ..Default::default()
            }),
            occurred_at: OffsetDateTime::now_utc(),
        });
        sync_all(&self.worker, self.deployment.queue_event(key, event).await).await;
    }

    fn ghl_requests(&self) -> u64 {
        self.ghl.stats().total_requests
    }
}

#[tokio::test]
async fn an_lms_enrollment_reaches_ghl_and_ghl_s_webhook_about_it_writes_nothing() {
    let t = two_way().await;
    let ada = SyncEvent::LearnerCreated(LearnerCreated {
        source: SourcePlatform::skilljar(),
        source_user_id: "sj-ada".into(),
        email: email("ada.lovelace@example.com"),
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        phone: None,
        role: None,
        course: Some(CourseRef {
            id: COURSE.into(),
            title: Some("Onboarding 101".into()),
            published_id: None,
        }),
        occurred_at: OffsetDateTime::now_utc(),
        custom_fields: Default::default(),
    });
    sync_all(&t.worker, t.deployment.queue_event("k-ada", ada).await).await;
    let contacts = t.ghl.contacts(DEFAULT_LOCATION_ID);
    assert_eq!(contacts.len(), 1);
    let contact_id = contacts[0].id.clone();
    let ghl_before = t.ghl_requests();

    // GHL tells us about the contact we wrote (created, then tagged): the LMS already has it all.
    t.ghl_webhook(&contact_id, GhlChangeKind::ContactCreated, "wh-1")
        .await;
    t.ghl_webhook(&contact_id, GhlChangeKind::ContactTagsChanged, "wh-2")
        .await;
    assert!(t.lms.state().calls.is_empty(), "{:?}", t.lms.state().calls);
    assert_eq!(t.ghl_requests(), ghl_before, "the webhooks cost no GHL call");
}

#[tokio::test]
async fn a_ghl_contact_becomes_a_learner_and_the_lms_webhooks_about_it_write_nothing() {
    let t = two_way().await;
    let seeded = t
        .ghl
        .seed_contacts(
            DEFAULT_LOCATION_ID,
            [ContactSeed {
                first_name: Some("Grace".into()),
                last_name: Some("Hopper".into()),
                tags: vec!["lms-learner".into(), "vip".into()],
                ..ContactSeed::email("grace.hopper@example.com")
            }],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let contact_id = seeded[0].id.clone();
    t.ghl_webhook(&contact_id, GhlChangeKind::ContactCreated, "wh-grace")
        .await;
    let lms = t.lms.state();
    let (user_id, _) = lms
        .users
        .iter()
        .next()
        .unwrap_or_else(|| panic!("no learner: {:?}", lms.calls));
    assert!(lms.enrollments.contains(&(user_id.clone(), COURSE.to_owned())));
    assert!(
        lms.memberships
            .contains(&(user_id.clone(), Membership::Group("g-vip".into())))
    );
    let lms_calls = lms.calls.len();
    let ghl_before = t.ghl_requests();

    // The LMS fires its own webhooks about the learner and enrollment the sync made there.
    let grace = LearnerRef {
        source_user_id: user_id.clone(),
        email: email("grace.hopper@example.com"),
        first_name: Some("Grace".into()),
        last_name: Some("Hopper".into()),
    };
    let created = SyncEvent::LearnerCreated(LearnerCreated {
        source: SourcePlatform::skilljar(),
        source_user_id: user_id.clone(),
        email: grace.email.clone(),
        first_name: grace.first_name.clone(),
        last_name: grace.last_name.clone(),
        phone: None,
        role: None,
        // Skilljar's webhook names the course by its id; the sync enrolled by the published id.
        course: Some(skilljar_course()),
        occurred_at: OffsetDateTime::now_utc(),
        custom_fields: Default::default(),
    });
    let started = SyncEvent::MilestoneReached(MilestoneReached {
        source: SourcePlatform::skilljar(),
        learner: grace,
        kind: MilestoneKind::Course,
        milestone_id: skilljar_course().id,
        title: None,
        course: Some(skilljar_course()),
        progress: Progress::Started,
        score: None,
        occurred_at: OffsetDateTime::now_utc(),
    });
    sync_all(&t.worker, t.deployment.queue_event("sj-created", created).await).await;
    sync_all(&t.worker, t.deployment.queue_event("sj-started", started).await).await;
    assert_eq!(t.ghl_requests(), ghl_before, "no GHL write for the LMS's echo");
    assert_eq!(
        t.lms.state().calls.len(),
        lms_calls,
        "and nothing more in the LMS"
    );
    assert_eq!(t.ghl.contacts(DEFAULT_LOCATION_ID).len(), 1);
}
