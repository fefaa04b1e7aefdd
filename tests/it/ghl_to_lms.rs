//! GHL → LMS end to end: a contact created and tagged in the GHL sandbox, whose own signed
//! webhooks go through `ghl-events` (the real ingest service) and the queue to the worker as its
//! binary builds it, into the LMS sandbox's Skilljar, TalentLMS and Trainual. Calls are counted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ghl_sandbox::{DEFAULT_LOCATION_ID, DEFAULT_PIT, Sandbox, SandboxConfig, WebhookConfig, WebhookKey};
use integration_tests::{Deployment, read_root_file, response_json, sync_all};
use lms_ghl::ghl::{ContactFields, GhlClient};
use lms_ghl::ingest::Trigger;
use lms_ghl::lambda::serve_ingest;
use lms_ghl::worker::SyncWorker;
use lms_sandbox::{
    DEFAULT_SKILLJAR_API_KEY, DEFAULT_SKILLJAR_DOMAIN, DEFAULT_TALENTLMS_API_KEY, DEFAULT_TRAINUAL_PASSWORD,
    DEFAULT_TRAINUAL_USERNAME, Platform,
};

const ROUTE: &str = "/ghl-events/ghl";
const SJ_COURSE: &str = "3x5sl8stqd2r";
const SJ_GROUP: &str = "4ekqyk3w1qp2";
const GRACE: &str = "grace.hopper@example.com";

struct Chain {
    deployment: Deployment,
    ghl: Sandbox,
    lms: lms_sandbox::Sandbox,
    gateway: wiremock::MockServer,
    worker: SyncWorker,
    client: GhlClient,
    /// Webhooks handed to `ghl-events` so far.
    delivered: AtomicUsize,
    mapping_file: std::path::PathBuf,
}

/// The mapping's targets for this deployment's secrets (names carry its suffix: moto is shared).
fn mapping(suffix: &str) -> String {
    let bundled = read_root_file("config/mapping.toml");
    format!(
        r#"{bundled}
[targets.academy]
platform = "skilljar"
secret_id = "{suffix}/academy"
location_id = "{DEFAULT_LOCATION_ID}"
qualify = {{ tag = "enroll" }}
default_courses = ["{SJ_COURSE}"]
[[targets.academy.tag_rules]]
tag = "vip"
group = "{SJ_GROUP}"
remove_when_untagged = true

[targets.talent]
platform = "talentlms"
secret_id = "{suffix}/talent"
location_id = "{DEFAULT_LOCATION_ID}"
qualify = {{ tag = "enroll" }}
default_courses = ["101"]
[[targets.talent.tag_rules]]
tag = "vip"
group = "1"

[targets.handbook]
platform = "trainual"
secret_id = "{suffix}/handbook"
location_id = "{DEFAULT_LOCATION_ID}"
qualify = {{ tag = "enroll" }}
[[targets.handbook.tag_rules]]
tag = "enroll"
subject = "11"
[[targets.handbook.tag_rules]]
tag = "vip"
role = "2"
"#
    )
}

/// The LMS sandbox, and each of the mapping's three LMS accounts' secret on the deployment
/// (`<suffix>/<target>`); the suffix is returned for the mapping's `secret_id`s.
async fn lms_accounts(deployment: &Deployment) -> (lms_sandbox::Sandbox, String) {
    let lms = lms_sandbox::Sandbox::start(lms_sandbox::SandboxConfig::default())
        .await
        .unwrap_or_else(|e| panic!("lms sandbox: {e}"));
    let suffix = deployment.table.clone();
    for (name, secret) in [
        (
            "academy",
            format!(r#"{{"apiKey":"{DEFAULT_SKILLJAR_API_KEY}","domain":"{DEFAULT_SKILLJAR_DOMAIN}"}}"#),
        ),
        (
            "talent",
            format!(r#"{{"domain":"sandbox","apiKey":"{DEFAULT_TALENTLMS_API_KEY}"}}"#),
        ),
        (
            "handbook",
            format!(r#"{{"email":"{DEFAULT_TRAINUAL_USERNAME}","password":"{DEFAULT_TRAINUAL_PASSWORD}"}}"#),
        ),
    ] {
        deployment.put_secret(&format!("{suffix}/{name}"), &secret).await;
    }
    (lms, suffix)
}

/// The worker's settings with `mapping_file` and the LMS sandbox's base URLs.
fn lms_settings(
    deployment: &Deployment,
    ghl: &Sandbox,
    lms: &lms_sandbox::Sandbox,
    mapping_file: std::path::PathBuf,
) -> lms_ghl::config::WorkerSettings {
    let mut settings = deployment.worker_settings(
        &ghl.url(),
        "config/mapping.toml",
        vec![deployment.ghl_secret_id.clone()],
    );
    settings.mapping_file = Some(mapping_file);
    settings.lms_base_urls = [
        ("skilljar", lms.base_url(Platform::Skilljar)),
        ("talentlms", lms.base_url(Platform::TalentLms)),
        ("trainual", lms.base_url(Platform::Trainual)),
    ]
    .into_iter()
    .collect();
    settings
}

async fn chain() -> Chain {
    chain_with("").await
}

/// The chain with more mapping text after the LMS targets (e.g. an outbound target).
async fn chain_with(extra_targets: &str) -> Chain {
    let deployment = Deployment::new().await;
    let gateway = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(202))
        .mount(&gateway)
        .await;
    let key = WebhookKey::from_pkcs8_pem(&read_root_file(devkit::samples::GHL_TEST_KEY))
        .unwrap_or_else(|e| panic!("{e}"));
    let ghl = Sandbox::start(
        SandboxConfig::default().with_webhooks(WebhookConfig::new(&format!("{}{ROUTE}", gateway.uri()), key)),
    )
    .await
    .unwrap_or_else(|e| panic!("sandbox: {e}"));
    ghl.add_private_token(DEFAULT_LOCATION_ID, &deployment.ghl_token)
        .unwrap_or_else(|e| panic!("{e}"));
    let (lms, suffix) = lms_accounts(&deployment).await;
    let mapping_file = std::env::temp_dir().join(format!("{suffix}-mapping.toml"));
    let text = format!(
        "{}{}",
        mapping(&suffix),
        extra_targets.replace("{suffix}", &suffix)
    );
    std::fs::write(&mapping_file, text).unwrap_or_else(|e| panic!("{e}"));
    let settings = lms_settings(&deployment, &ghl, &lms, mapping_file.clone());
    let worker = deployment.worker_with_settings(settings).await;
    let client = integration_tests::client_with_token(&ghl.url(), DEFAULT_PIT);
    Chain {
        deployment,
        ghl,
        lms,
        gateway,
        worker,
        client,
        delivered: AtomicUsize::new(0),
        mapping_file,
    }
}

impl Chain {
    /// Every webhook the GHL sandbox has sent since the last call, through `ghl-events` (as API
    /// Gateway would hand them over) and the queue to the worker.
    async fn deliver_webhooks(&self, expected: usize) {
        let total = self.delivered.fetch_add(expected, Ordering::SeqCst) + expected;
        let sent = self.ghl.wait_for_webhooks(total, Duration::from_secs(10)).await;
        assert_eq!(sent.len(), total, "{sent:?}");
        let ingest = self.deployment.ingest_for(Trigger::GhlEvents);
        let received = self.gateway.received_requests().await.unwrap_or_default();
        for delivery in &received[received.len() - expected..] {
            let request = integration_tests::captured_request(ROUTE, delivery);
            let (status, answer) = response_json(serve_ingest(&ingest, request).await);
            assert_eq!(status, 202, "{answer}");
        }
        let records = self.deployment.receive(&self.deployment.queue_url).await;
        assert_eq!(records.len(), expected);
        sync_all(&self.worker, records.clone()).await;
        // SQS may deliver them again: nothing more may happen.
        let calls = self.lms_calls();
        sync_all(&self.worker, records).await;
        assert_eq!(self.lms_calls(), calls, "a redelivery made LMS calls");
    }

    fn lms_calls(&self) -> [u64; 3] {
        Platform::ALL.map(|p| self.lms.stats(p).total_requests)
    }
}

fn call<T>(result: Result<T, lms_ghl::ghl::GhlError>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_ghl_contact_created_and_tagged_becomes_a_learner_in_every_lms() {
    let c = chain().await;
    let created = call(
        c.client
            .create_contact(
                &ContactFields {
                    email: Some(GRACE.into()),
                    first_name: Some("Grace".into()),
                    last_name: Some("Hopper".into()),
                    tags: Some(vec!["enroll".into()]),
                    ..ContactFields::default()
                },
                lms_ghl::ghl::Idempotence::NotIdempotent,
            )
            .await,
    );
    let lms_ghl::ghl::Created::New(contact_id) = created else {
        panic!("existed: {created:?}")
    };
    call(c.client.add_tags(&contact_id, &["vip".to_owned()]).await);
    c.ghl.reset_stats();

    c.deliver_webhooks(2).await;
    let [skilljar, talentlms, trainual] = c.lms_calls();
    println!(
        "ContactCreate + ContactTagUpdate → LMS calls: skilljar {skilljar}, talentlms {talentlms}, trainual {trainual}"
    );
    assert_eq!(
        c.ghl.stats().total_requests,
        0,
        "contact webhooks cost no GHL call"
    );

    let sj = c
        .lms
        .skilljar_user_by_email(GRACE)
        .unwrap_or_else(|| panic!("no Skilljar learner"));
    assert!(
        c.lms
            .skilljar_enrollments()
            .iter()
            .any(|e| e.user_id == sj.id && e.published_course_id == SJ_COURSE),
        "not enrolled in the default course"
    );
    assert!(
        c.lms
            .skilljar_group_members(SJ_GROUP)
            .iter()
            .any(|m| m.user_id == sj.id),
        "not in the vip group"
    );
    let tl = c
        .lms
        .talentlms_user_by_email(GRACE)
        .unwrap_or_else(|| panic!("no TalentLMS user"));
    assert!(
        c.lms
            .talentlms_enrollments()
            .iter()
            .any(|e| e.user_id == tl.id && e.course_id == 101)
    );
    let tr = c
        .lms
        .trainual_user_by_email(GRACE)
        .unwrap_or_else(|| panic!("no Trainual user"));
    assert!(
        tr.subjects.contains_key(&11) && tr.role_ids.contains(&2),
        "{tr:?}"
    );

    // The tag goes: the Skilljar group goes with it (the mapping says so); nothing else moves.
    call(c.client.remove_tags(&contact_id, &["vip".to_owned()]).await);
    let before = c.lms_calls();
    c.deliver_webhooks(1).await;
    assert!(
        !c.lms
            .skilljar_group_members(SJ_GROUP)
            .iter()
            .any(|m| m.user_id == sj.id),
        "still in the vip group"
    );
    let after = c.lms_calls();
    println!(
        "ContactTagUpdate (vip removed) → LMS calls: skilljar {}, talentlms {}, trainual {}",
        after[0] - before[0],
        after[1] - before[1],
        after[2] - before[2]
    );
    assert_eq!(
        after[1..],
        before[1..],
        "TalentLMS and Trainual keep what no rule removes"
    );
    assert_eq!(c.lms.skilljar_users().len(), 1, "one learner");
}

#[tokio::test]
async fn a_worker_killed_between_the_lms_create_and_the_mirror_write_leaves_one_learner() {
    let c = chain().await;
    let change = lms_ghl::domain::SyncEvent::GhlChanged(lms_ghl::domain::GhlChange {
        location_id: DEFAULT_LOCATION_ID.into(),
        contact_id: Some("contact-grace".into()),
        change: lms_ghl::domain::GhlChangeKind::ContactCreated,
        contact: Some(lms_ghl::domain::GhlContactFacts {
            email: lms_ghl::domain::Email::try_from(GRACE.to_owned()).ok(),
            first_name: Some("Grace".into()),
            last_name: Some("Hopper".into()),
            tags: vec!["enroll".into()],
            ..Default::default()
        }),
        occurred_at: time::OffsetDateTime::now_utc(),
    });
    let records = c.deployment.queue_event("wh-crash", change).await;
    let event_file = std::env::temp_dir().join(format!("sqs-{}.json", uuid::Uuid::new_v4()));
    let mut event = lms_ghl::SqsEvent::default();
    event.records = records.clone();
    std::fs::write(&event_file, serde_json::to_string(&event).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));

    // A separate worker process dies right after Skilljar answered the learner's create.
    let started = tokio::time::Instant::now();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_worker-once"));
    command
        .arg(&event_file)
        .envs(c.deployment.worker_env(&c.ghl.url()))
        .env("MAPPING_FILE", &c.mapping_file)
        .env("SKILLJAR_BASE_URL", c.lms.base_url(Platform::Skilljar))
        .env("TALENTLMS_BASE_URL", c.lms.base_url(Platform::TalentLms))
        .env("TRAINUAL_BASE_URL", c.lms.base_url(Platform::Trainual))
        .env("FAILPOINTS", "after-lms-upsert=panic")
        .env("DEADLINE_MS", "10500")
        .env("RUST_LOG", "error")
        .env("RUST_BACKTRACE", "0");
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("worker-once: {e}"));
    assert!(!status.success(), "the worker process must have died");
    assert_eq!(
        c.lms.skilljar_users().len(),
        1,
        "Skilljar has the learner; the mirror does not"
    );
    assert!(c.lms.skilljar_enrollments().is_empty());

    // The queue redelivers once the dead invocation's claim has expired with its deadline.
    tokio::time::sleep_until(started + Duration::from_millis(10_600)).await;
    integration_tests::sync_redelivered(&c.worker, records, Duration::from_secs(10)).await;
    let users = c.lms.skilljar_users();
    assert_eq!(users.len(), 1, "still one learner: {users:?}");
    assert!(
        c.lms
            .skilljar_enrollments()
            .iter()
            .any(|e| e.user_id == users[0].id && e.published_course_id == SJ_COURSE)
    );
    assert!(c.lms.talentlms_user_by_email(GRACE).is_some() && c.lms.trainual_user_by_email(GRACE).is_some());
    let _ = std::fs::remove_file(event_file);
}

#[tokio::test]
async fn an_app_without_an_api_gets_each_change_once_as_a_signed_document() {
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let c = chain_with(
        "\n[targets.talknotes]\nplatform = \"outbound\"\nsecret_id = \"{suffix}/talknotes\"\nlocation_id = \"ve9EPM428h8vShlRW1KT\"\n",
    )
    .await;
    let signing = "outbound-test-signing-secret";
    c.deployment
        .put_secret(
            &format!("{}/talknotes", c.deployment.table),
            &format!(
                r#"{{"url":"{}/hook","signingSecret":"{signing}"}}"#,
                receiver.uri()
            ),
        )
        .await;
    // A note in GHL: nothing an LMS account keeps, everything the outbound app is sent.
    let note = lms_ghl::domain::SyncEvent::GhlChanged(lms_ghl::domain::GhlChange {
        location_id: DEFAULT_LOCATION_ID.into(),
        contact_id: Some("contact-grace".into()),
        change: lms_ghl::domain::GhlChangeKind::NoteCreated {
            note_id: "note-1".into(),
        },
        contact: None,
        occurred_at: time::OffsetDateTime::now_utc(),
    });
    let records = c.deployment.queue_event("wh-note", note).await;
    sync_all(&c.worker, records.clone()).await;
    sync_all(&c.worker, records).await;

    let received = receiver.received_requests().await.unwrap_or_default();
    assert_eq!(received.len(), 1, "one document, whatever the redeliveries");
    let header = received[0]
        .headers
        .get(lms_ghl::ingest::signature::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let verified = lms_ghl::ingest::signature::verify(
        header.as_deref(),
        &received[0].body,
        &[secrecy::SecretString::from(signing)],
        time::OffsetDateTime::now_utc().unix_timestamp(),
    );
    assert_eq!(verified, Ok(()));
    let document: serde_json::Value =
        serde_json::from_slice(&received[0].body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(document["type"], "note.created", "{document}");
    assert!(
        document["id"]
            .as_str()
            .is_some_and(|id| id.ends_with(":talknotes")),
        "{document}"
    );
    assert_eq!(c.lms_calls(), [0, 0, 0], "no LMS account keeps notes");
}

#[tokio::test]
async fn every_ghl_webhook_type_makes_the_right_lms_calls() {
    let c = chain().await;
    let ingest = c.deployment.ingest_for(Trigger::GhlEvents);
    let dir = std::path::PathBuf::from(integration_tests::ROOT).join("events/ghl-events");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    // The contact is made first; then every other kind of change about it, in GHL's own order.
    names.sort_by_key(|n| (n != "ghl-contact-create.json", n.clone()));
    let mut table = Vec::new();
    for name in &names {
        let mut event = devkit::samples::read(&dir.join(name)).unwrap_or_else(|e| panic!("{e:?}"));
        // GHL's example contact, made to qualify for the targets (they take contacts tagged `enroll`).
        event.body = event.body.map(|b| {
            b.replacen("id magna sed Lorem", "enroll", 1)
                .replacen("id magna sed lorem", "enroll", 1)
        });
        devkit::samples::resign(
            &mut event,
            &integration_tests::signers(),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let json = serde_json::to_string(&event).unwrap_or_else(|e| panic!("{e}"));
        let request = lambda_http::request::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        let (status, answer) = response_json(serve_ingest(&ingest, request).await);
        assert_eq!(status, 202, "{name}: {answer}");
        let before = c.lms_calls();
        let records = c.deployment.receive(&c.deployment.queue_url).await;
        sync_all(&c.worker, records).await;
        let after = c.lms_calls();
        table.push((name.clone(), [0, 1, 2].map(|i| after[i] - before[i])));
    }
    for (name, calls) in &table {
        println!(
            "{name:40} skilljar {} talentlms {} trainual {}",
            calls[0], calls[1], calls[2]
        );
    }
    assert_eq!(
        c.deployment.visible_messages(&c.deployment.dlq_url).await,
        0,
        "nothing parked"
    );
    let email = "johndeo@gmail.comm";
    assert!(c.lms.skilljar_user_by_email(email).is_some());
    assert!(c.lms.talentlms_user_by_email(email).is_some());
    assert!(c.lms.trainual_user_by_email(email).is_some());
    for (name, calls) in &table {
        if name == "ghl-contact-create.json" {
            assert!(calls.iter().all(|n| *n > 0), "{name}: {calls:?}");
        } else {
            // The same contact again (an update, tags, DND, a deletion the mapping leaves alone),
            // or what no LMS keeps (notes, tasks, appointments): nothing to write.
            assert_eq!(calls, &[0, 0, 0], "{name}");
        }
    }
}

/// `lms-sync-ops config check` against the LMS sandbox: a group and a role the accounts do not
/// have are named; TalentLMS, which has no lookup, is said to be unchecked.
#[tokio::test]
async fn config_check_names_the_courses_and_memberships_an_lms_account_lacks() {
    let deployment = Deployment::new().await;
    let ghl = deployment.ghl_sandbox(SandboxConfig::default()).await;
    let (lms, suffix) = lms_accounts(&deployment).await;
    let check = |text: String| {
        let mapping_file = std::env::temp_dir().join(format!("{suffix}-check-{}.toml", text.len()));
        std::fs::write(&mapping_file, text).unwrap_or_else(|e| panic!("{e}"));
        lms_settings(&deployment, &ghl, &lms, mapping_file)
    };

    let good = check(mapping(&suffix));
    let findings = lms_ghl::app::check_config(&good, &deployment.sdk)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = ops::config::describe(&findings);
    assert_eq!(ops::config::problems(&findings), 0, "{text}");
    assert!(
        text.contains("ok         target academy (skilljar) has its 1 course(s) and 1 membership(s)"),
        "{text}"
    );
    assert!(
        text.contains("ok         target handbook (trainual) has its 0 course(s) and 2 membership(s)"),
        "{text}"
    );
    assert!(
        text.contains("unchecked  target talent: talentlms cannot look up"),
        "{text}"
    );

    let wrong = mapping(&suffix)
        .replace(&format!("group = \"{SJ_GROUP}\""), "group = \"nosuchgroup1\"")
        .replace(
            &format!("default_courses = [\"{SJ_COURSE}\"]"),
            "default_courses = [\"nosuchcourse\"]",
        )
        .replace("role = \"2\"", "role = \"99\"");
    let findings = lms_ghl::app::check_config(&check(wrong), &deployment.sdk)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = ops::config::describe(&findings);
    assert_eq!(ops::config::problems(&findings), 2, "{text}");
    assert!(
        text.contains(
            "PROBLEM    target academy (skilljar) has no course nosuchcourse, no group nosuchgroup1"
        ),
        "{text}"
    );
    assert!(
        text.contains("PROBLEM    target handbook (trainual) has no role 99"),
        "{text}"
    );
}
