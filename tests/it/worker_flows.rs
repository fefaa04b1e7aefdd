//! Every event kind through the real worker against moto and the GHL sandbox (real state):
//! effects land once, survive redelivery, out-of-order arrival and a worker killed between GHL's
//! answer and the entity-map write.

use std::process::Command;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use ghl_sandbox::{DEFAULT_LOCATION_ID, FaultConfig, Sandbox, SandboxConfig};
use integration_tests::{Deployment, serve_records, sync_all, sync_redelivered};
use lms_ghl::domain::{
    CourseRef, Email, LearnerCreated, LearnerRef, MilestoneKind, MilestoneReached, NoteAdded, Progress,
    SourcePlatform, SyncEvent, TaskAction, TaskChanged,
};
use time::OffsetDateTime;
use tokio::time::Instant;

const USER: &str = "3gh6zcs5x2bz";
const COURSE: &str = "2wzplz3bmtxpa";

async fn setup() -> (Sandbox, Deployment) {
    let deployment = Deployment::new().await;
    let ghl = Sandbox::start(SandboxConfig::default())
        .await
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    ghl.add_private_token(DEFAULT_LOCATION_ID, &deployment.ghl_token)
        .unwrap_or_else(|e| panic!("{e}"));
    (ghl, deployment)
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_763_805_392 + secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn ada() -> LearnerRef {
    LearnerRef {
        source_user_id: USER.into(),
        email: Email::try_from("ada.lovelace@example.com".to_owned()).unwrap_or_else(|e| panic!("{e}")),
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
    }
}

fn course(progress: Progress) -> SyncEvent {
    course_of(COURSE, progress)
}

/// Ada's progress in the course `id` (the onboarding course has a rule of its own, any other the
/// mapping's rule for courses).
fn course_of(id: &str, progress: Progress) -> SyncEvent {
    SyncEvent::MilestoneReached(MilestoneReached {
        source: SourcePlatform::skilljar(),
        learner: ada(),
        kind: MilestoneKind::Course,
        milestone_id: id.into(),
        title: Some("Onboarding 101".into()),
        course: Some(CourseRef {
            id: id.into(),
            title: Some("Onboarding 101".into()),
            published_id: None,
        }),
        progress,
        score: None,
        occurred_at: at(if progress == Progress::Started { 0 } else { 86_400 }),
    })
}

fn enrollment() -> SyncEvent {
    SyncEvent::LearnerCreated(LearnerCreated {
        source: SourcePlatform::skilljar(),
        source_user_id: USER.into(),
        email: ada().email,
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        phone: None,
        role: Some("Instructor".into()),
        course: Some(CourseRef {
            id: COURSE.into(),
            title: Some("Onboarding 101".into()),
            published_id: None,
        }),
        occurred_at: at(0),
        custom_fields: [("employee_count".to_owned(), "42".to_owned())].into(),
    })
}

fn only_contact(ghl: &Sandbox) -> ghl_sandbox::Contact {
    let contacts = ghl.contacts(DEFAULT_LOCATION_ID);
    assert_eq!(contacts.len(), 1, "one learner, one contact: {contacts:?}");
    contacts
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no contact"))
}

#[tokio::test]
async fn course_completion_completes_one_task_tags_notes_and_updates_fields() {
    let (ghl, deployment) = setup().await;
    let worker = deployment.worker(&ghl.url()).await;
    let records = deployment
        .queue_event("k-completion", course(Progress::Completed))
        .await;
    sync_all(&worker, records.clone()).await;
    // SQS redelivers the same message: nothing new in GHL.
    sync_all(&worker, records).await;

    let contact = only_contact(&ghl);
    let tasks = ghl.tasks(DEFAULT_LOCATION_ID, &contact.id);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert!(tasks[0].completed);
    assert_eq!(tasks[0].title, "Ada Lovelace: finish Onboarding 101");
    assert!(
        contact.tags.contains(&"completed-onboarding-101".to_owned()),
        "{:?}",
        contact.tags
    );
    let notes = ghl.notes(DEFAULT_LOCATION_ID, &contact.id);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].body.contains("completed the course \"Onboarding 101\""),
        "{}",
        notes[0].body
    );
    let last_course = contact
        .custom_fields
        .get("3sv6UEo51C9Bmpo1cKTq")
        .and_then(|v| v.as_str());
    assert_eq!(last_course, Some("Onboarding 101"));
}

#[tokio::test]
async fn completion_before_enrollment_never_reopens_the_task() {
    let (ghl, deployment) = setup().await;
    let worker = deployment.worker(&ghl.url()).await;
    // Completion first, then the course start, then the learner's own creation event.
    sync_all(
        &worker,
        deployment
            .queue_event("k-done", course(Progress::Completed))
            .await,
    )
    .await;
    sync_all(
        &worker,
        deployment.queue_event("k-start", course(Progress::Started)).await,
    )
    .await;
    sync_all(&worker, deployment.queue_event("k-learner", enrollment()).await).await;

    let contact = only_contact(&ghl);
    let tasks = ghl.tasks(DEFAULT_LOCATION_ID, &contact.id);
    let course_tasks: Vec<_> = tasks
        .iter()
        .filter(|t| t.title.contains("finish Onboarding 101"))
        .collect();
    assert_eq!(course_tasks.len(), 1);
    assert!(
        course_tasks[0].completed,
        "a late start must not reopen a completed task"
    );
    assert!(
        tasks
            .iter()
            .any(|t| t.title == "Welcome call: Ada Lovelace" && !t.completed),
        "{tasks:?}"
    );
    assert!(
        contact.tags.contains(&"skilljar".to_owned()) && contact.tags.contains(&"lms-learner".to_owned())
    );
}

#[tokio::test]
async fn sender_tasks_follow_create_update_complete_and_notes_land_once() {
    let (ghl, deployment) = setup().await;
    let worker = deployment.worker(&ghl.url()).await;
    let source = SourcePlatform::try_from("talknotes".to_owned()).unwrap_or_else(|e| panic!("{e}"));
    let task = |action: TaskAction, title: &str| {
        SyncEvent::TaskChanged(TaskChanged {
            source: source.clone(),
            learner: ada(),
            task_id: "tn-task-7".into(),
            action,
            title: Some(title.into()),
            body: Some("From the kickoff call".into()),
            due_at: Some(at(3 * 86_400)),
            priority: Some("high".into()),
            assignee: None,
            occurred_at: at(0),
        })
    };
    // The update overtakes the create; the create then changes nothing.
    sync_all(
        &worker,
        deployment
            .queue_event("t-update", task(TaskAction::Update, "Send the workbook (v2)"))
            .await,
    )
    .await;
    sync_all(
        &worker,
        deployment
            .queue_event("t-create", task(TaskAction::Create, "Send the workbook"))
            .await,
    )
    .await;
    sync_all(
        &worker,
        deployment
            .queue_event("t-done", task(TaskAction::Complete, "Send the workbook"))
            .await,
    )
    .await;

    let note = SyncEvent::NoteAdded(NoteAdded {
        source: source.clone(),
        learner: ada(),
        note_id: "tn-note-1".into(),
        title: Some("Kickoff call".into()),
        content: "Ada wants the advanced track.".into(),
        author: Some("Grace".into()),
        occurred_at: at(60),
        context: [("department".to_owned(), "Analytical Engines".to_owned())].into(),
    });
    let records = deployment.queue_event("n-1", note).await;
    sync_all(&worker, records.clone()).await;
    sync_all(&worker, records).await;

    let contact = only_contact(&ghl);
    let tasks = ghl.tasks(DEFAULT_LOCATION_ID, &contact.id);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].title, "Send the workbook (v2)");
    assert!(tasks[0].completed);
    assert!(
        tasks[0]
            .body
            .as_deref()
            .unwrap_or_default()
            .contains("Priority: high")
    );
    let notes = ghl.notes(DEFAULT_LOCATION_ID, &contact.id);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0]
            .body
            .starts_with("Ada wants the advanced track.\n\n— Grace, via talknotes"),
        "{}",
        notes[0].body
    );
    let department = contact
        .custom_fields
        .get("DePt4mNx8QwL2rS6vYc3")
        .and_then(|v| v.as_str());
    assert_eq!(department, Some("Analytical Engines"));
}

/// Runs `records` in a separate worker process that dies right after GHL answered its first
/// create (the `after-ghl-create` fail point); returns when it started, for waiting out the dead
/// invocation's claims (they expire with its deadline, 12 s on).
async fn crash_after_ghl_create(ghl: &Sandbox, deployment: &Deployment, records: &[SqsMessage]) -> Instant {
    let event_file = std::env::temp_dir().join(format!("sqs-{}.json", uuid::Uuid::new_v4()));
    let mut event = lms_ghl::SqsEvent::default();
    event.records = records.to_vec();
    std::fs::write(&event_file, serde_json::to_string(&event).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let mut command = Command::new(env!("CARGO_BIN_EXE_worker-once"));
    command
        .arg(&event_file)
        .envs(deployment.worker_env(&ghl.url()))
        .env("FAILPOINTS", "after-ghl-create=panic")
        // Enough for the worker to start the record (it keeps 10 s in reserve) after a cold start
        // on a loaded machine (at 10.5 s a busy machine's cold start used up the margin).
        .env("DEADLINE_MS", "12000")
        .env("RUST_LOG", "error")
        .env("RUST_BACKTRACE", "0");
    // Waited for off the runtime's thread: the sandbox serving the child runs on it.
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("worker-once: {e}"));
    assert!(!status.success(), "the worker process must have died");
    let _ = std::fs::remove_file(event_file);
    started
}

/// The dead invocation's claims have expired (with its deadline) once this has passed; the child's
/// cold start delays its deadline past `started`, so a redelivery may still need to be repeated.
const CLAIM_EXPIRED: Duration = Duration::from_millis(12_100);

#[tokio::test]
async fn a_worker_killed_after_ghl_created_the_task_leaves_one_task_after_redelivery() {
    let (ghl, deployment) = setup().await;
    let records = deployment
        .queue_event("k-crash", course(Progress::Completed))
        .await;
    let started = crash_after_ghl_create(&ghl, &deployment, &records).await;
    let contact = only_contact(&ghl);
    assert_eq!(
        ghl.tasks(DEFAULT_LOCATION_ID, &contact.id).len(),
        1,
        "GHL has the task; our map does not"
    );

    // SQS redelivers after the dead invocation's claim expired.
    tokio::time::sleep_until(started + CLAIM_EXPIRED).await;
    let worker = deployment.worker(&ghl.url()).await;
    ghl.reset_stats();
    integration_tests::sync_redelivered(&worker, records, Duration::from_secs(10)).await;
    let tasks = ghl.tasks(DEFAULT_LOCATION_ID, &contact.id);
    assert_eq!(tasks.len(), 1, "still one task: {tasks:?}");
    // The dead attempt's intent sent the re-attempt to list the tasks, and it adopted the one there.
    let stats = ghl.stats();
    assert!(
        stats.route("GET", "/contacts/{contactId}/tasks") >= 1,
        "{:?}",
        stats.routes
    );
    assert_eq!(
        stats.route("POST", "/contacts/{contactId}/tasks"),
        0,
        "{:?}",
        stats.routes
    );
    assert!(tasks[0].completed);
    assert_eq!(
        ghl.notes(DEFAULT_LOCATION_ID, &contact.id).len(),
        1,
        "and one note"
    );
}

/// The crash window across events: a course completion dies right after GHL created its task;
/// another course's completion for the same contact runs in between, creating its own task and
/// note without listing (its keys were never attempted) and without taking the orphan as its own;
/// then the first event's re-attempt lists the contact's tasks once, adopts its task and creates
/// no task. One task and one note per course in the end.
#[tokio::test]
async fn another_event_between_a_crash_and_its_reattempt_duplicates_nothing() {
    let (ghl, deployment) = setup().await;
    let crashed = deployment
        .queue_event("k-crash-first", course(Progress::Completed))
        .await;
    let started = crash_after_ghl_create(&ghl, &deployment, &crashed).await;
    let contact = only_contact(&ghl);
    let orphan = ghl.tasks(DEFAULT_LOCATION_ID, &contact.id);
    assert_eq!(orphan.len(), 1, "GHL has the task; our map does not");

    let worker = deployment.worker(&ghl.url()).await;
    ghl.reset_stats();
    let other = deployment
        .queue_event("k-other-course", course_of("other-course", Progress::Completed))
        .await;
    sync_all(&worker, other).await;
    let stats = ghl.stats();
    assert_eq!(lists(&stats), 0, "{:?}", stats.routes);
    assert_eq!(
        stats.route("POST", "/contacts/{contactId}/tasks"),
        1,
        "{:?}",
        stats.routes
    );
    assert_eq!(
        stats.route("POST", "/contacts/{contactId}/notes"),
        1,
        "{:?}",
        stats.routes
    );
    assert_eq!(only_contact(&ghl).id, contact.id, "the same contact");

    tokio::time::sleep_until(started + CLAIM_EXPIRED).await;
    ghl.reset_stats();
    integration_tests::sync_redelivered(&worker, crashed, Duration::from_secs(10)).await;
    let stats = ghl.stats();
    assert_eq!(
        stats.route("GET", "/contacts/{contactId}/tasks"),
        1,
        "{:?}",
        stats.routes
    );
    assert_eq!(
        stats.route("POST", "/contacts/{contactId}/tasks"),
        0,
        "{:?}",
        stats.routes
    );
    let tasks = ghl.tasks(DEFAULT_LOCATION_ID, &contact.id);
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    assert!(
        tasks.iter().any(|t| t.id == orphan[0].id),
        "the orphan adopted: {tasks:?}"
    );
    assert!(tasks.iter().all(|t| t.completed), "{tasks:?}");
    assert_eq!(ghl.notes(DEFAULT_LOCATION_ID, &contact.id).len(), 2);
    assert_eq!(deployment.visible_messages(&deployment.dlq_url).await, 0);
}

#[tokio::test]
async fn each_lms_account_feeds_its_own_location() {
    let second = "Lo2cAt1onTw0xxxxxxxx";
    let mut config = SandboxConfig::default();
    config
        .locations
        .push(ghl_sandbox::LocationConfig::new(second).with_token("pit-second-location"));
    let ghl = Sandbox::start(config)
        .await
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    let deployment = Deployment::new().await;
    ghl.add_private_token(DEFAULT_LOCATION_ID, &deployment.ghl_token)
        .unwrap_or_else(|e| panic!("{e}"));
    let second_secret = deployment.add_ghl_secret(second, "pit-second-location").await;
    let worker = deployment
        .worker_for_locations(
            &ghl.url(),
            "tests/fixtures/mapping-two-locations.toml",
            vec![deployment.ghl_secret_id.clone(), second_secret],
        )
        .await;

    let talentlms = SourcePlatform::try_from("talentlms".to_owned()).unwrap_or_else(|e| panic!("{e}"));
    let katherine = match enrollment() {
        SyncEvent::LearnerCreated(mut l) => {
            l.source = talentlms;
            l.source_user_id = "1042".into();
            l.email = Email::try_from("katherine@example.com".to_owned()).unwrap_or_else(|e| panic!("{e}"));
            l.custom_fields.clear();
            l.role = None;
            SyncEvent::LearnerCreated(l)
        }
        other => other,
    };
    let ada = match enrollment() {
        SyncEvent::LearnerCreated(mut l) => {
            l.custom_fields.clear();
            l.role = None;
            SyncEvent::LearnerCreated(l)
        }
        other => other,
    };
    sync_all(&worker, deployment.queue_event("loc-ada", ada).await).await;
    sync_all(&worker, deployment.queue_event("loc-katherine", katherine).await).await;

    let first: Vec<_> = ghl
        .contacts(DEFAULT_LOCATION_ID)
        .into_iter()
        .filter_map(|c| c.email)
        .collect();
    let second_contacts: Vec<_> = ghl.contacts(second).into_iter().filter_map(|c| c.email).collect();
    assert_eq!(first, ["ada.lovelace@example.com"]);
    assert_eq!(second_contacts, ["katherine@example.com"]);
}

#[tokio::test]
async fn a_message_an_older_ingest_wrote_is_synced_by_this_worker() {
    let (ghl, deployment) = setup().await;
    let worker = deployment.worker(&ghl.url()).await;
    // Version 1 of the queue contract, exactly as the ingest functions wrote it before version 2.
    let v1 = integration_tests::read_root_file("tests/fixtures/queue/v1-learner-created.json");
    let records = deployment.queue_body(v1.trim_end()).await;
    sync_all(&worker, records.clone()).await;
    sync_all(&worker, records).await;

    let contact = only_contact(&ghl);
    assert_eq!(contact.email.as_deref(), Some("ada.lovelace@example.com"));
    let link = deployment.skilljar_contact(USER).await;
    assert_eq!(link.map(|l| l.contact_id), Some(contact.id));
    assert_eq!(deployment.visible_messages(&deployment.dlq_url).await, 0);
}

/// GHL calls in `stats`, leaving out the custom-field definitions (read once per cold start).
fn ghl_calls(stats: &ghl_sandbox::Stats) -> u64 {
    stats.total_requests - stats.route("GET", "/locations/{locationId}/customFields")
}

fn lists(stats: &ghl_sandbox::Stats) -> u64 {
    stats.route("GET", "/contacts/{contactId}/tasks") + stats.route("GET", "/contacts/{contactId}/notes")
}

fn talknotes_note(id: &str, context: bool) -> SyncEvent {
    let source = SourcePlatform::try_from("talknotes".to_owned()).unwrap_or_else(|e| panic!("{e}"));
    SyncEvent::NoteAdded(NoteAdded {
        source,
        learner: ada(),
        note_id: id.into(),
        title: Some("Kickoff call".into()),
        content: "Ada wants the advanced track.".into(),
        author: None,
        occurred_at: at(60),
        context: if context {
            [("department".to_owned(), "Analytical Engines".to_owned())].into()
        } else {
            Default::default()
        },
    })
}

fn talknotes_task(id: &str) -> SyncEvent {
    let source = SourcePlatform::try_from("talknotes".to_owned()).unwrap_or_else(|e| panic!("{e}"));
    SyncEvent::TaskChanged(TaskChanged {
        source,
        learner: ada(),
        task_id: id.into(),
        action: TaskAction::Create,
        title: Some("Send the workbook".into()),
        body: None,
        due_at: None,
        priority: None,
        assignee: None,
        occurred_at: at(0),
    })
}

/// The call economy, counted per event kind (docs/benchmarks.md "Calls per event"): first
/// attempts create without listing, tags are added only when missing, fields ride on an upsert
/// the event makes anyway, and a redelivered event costs nothing.
#[tokio::test]
async fn calls_per_event_kind_meet_the_budget() {
    let (ghl, deployment) = setup().await;
    let worker = deployment.worker(&ghl.url()).await;
    let mut measured = Vec::new();
    let mut step = async |name: &str, key: &str, event: SyncEvent, expected: u64| {
        ghl.reset_stats();
        let records = deployment.queue_event(key, event).await;
        sync_all(&worker, records.clone()).await;
        let stats = ghl.stats();
        assert_eq!(
            lists(&stats),
            0,
            "{name}: no list on a first attempt: {:?}",
            stats.routes
        );
        assert_eq!(ghl_calls(&stats), expected, "{name}: {:?}", stats.routes);
        measured.push((name.to_owned(), ghl_calls(&stats)));
        ghl.reset_stats();
        sync_all(&worker, records).await;
        assert_eq!(ghl.stats().total_requests, 0, "{name} redelivered: nothing to do");
    };
    // Upsert, tags, the welcome task.
    step("learner created", "e-learner", enrollment(), 3).await;
    // The same learner again (another enrollment): the upsert shows the tags, the task is mapped.
    step("learner created again", "e-learner-2", enrollment(), 1).await;
    // Task (created completed), tags, note, and the rule's `last_course` field (a known contact).
    step("milestone completed", "e-done", course(Progress::Completed), 4).await;
    // The first event from another source finds its learner by upsert (the map is per source).
    step(
        "sender task, new to the source",
        "e-task",
        talknotes_task("t-1"),
        2,
    )
    .await;
    step("sender task", "e-task-2", talknotes_task("t-2"), 1).await;
    step("note added", "e-note", talknotes_note("n-1", false), 1).await;
    step(
        "note added with context",
        "e-note-2",
        talknotes_note("n-2", true),
        2,
    )
    .await;
    eprintln!("calls per event: {measured:?}");

    let contact = only_contact(&ghl);
    assert_eq!(ghl.tasks(DEFAULT_LOCATION_ID, &contact.id).len(), 4);
    assert_eq!(ghl.notes(DEFAULT_LOCATION_ID, &contact.id).len(), 3);
}

/// An event for a learner the sync has not seen yet upserts the contact: its fields ride along.
#[tokio::test]
async fn fields_ride_on_the_upsert_of_an_unknown_learner() {
    let (ghl, deployment) = setup().await;
    let worker = deployment.worker(&ghl.url()).await;
    ghl.reset_stats();
    sync_all(
        &worker,
        deployment
            .queue_event("u-note", talknotes_note("n-9", true))
            .await,
    )
    .await;
    let stats = ghl.stats();
    assert_eq!(
        ghl_calls(&stats),
        2,
        "upsert with the field, the note: {:?}",
        stats.routes
    );
    assert_eq!(stats.route("PUT", "/contacts/{contactId}"), 0);
    let contact = only_contact(&ghl);
    assert_eq!(
        contact
            .custom_fields
            .get("DePt4mNx8QwL2rS6vYc3")
            .and_then(|v| v.as_str()),
        Some("Analytical Engines")
    );

    // A completion for a learner not yet in the map: upsert (with `last_course`), task, tags, note.
    let (ghl, deployment) = setup().await;
    let worker = deployment.worker(&ghl.url()).await;
    ghl.reset_stats();
    sync_all(
        &worker,
        deployment
            .queue_event("u-done", course(Progress::Completed))
            .await,
    )
    .await;
    let stats = ghl.stats();
    assert_eq!(ghl_calls(&stats), 4, "{:?}", stats.routes);
    assert_eq!(stats.route("PUT", "/contacts/{contactId}"), 0);
    let contact = only_contact(&ghl);
    assert_eq!(
        contact
            .custom_fields
            .get("3sv6UEo51C9Bmpo1cKTq")
            .and_then(|v| v.as_str()),
        Some("Onboarding 101")
    );
}

/// GHL creates the task but its answer is lost (a timeout or reset after GHL acted): the worker
/// must not repeat the create blindly. It looks for the task (here the list's answer is lost too,
/// so the event is redelivered), and the re-attempt adopts the task instead of making a second.
/// Found by the chaos run: creates used to be retried by the client like idempotent calls.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_adopted_not_repeated() {
    let (ghl, deployment) = setup().await;
    let worker = deployment.worker(&ghl.url()).await;
    sync_all(&worker, deployment.queue_event("e-learner", enrollment()).await).await;
    let contact = only_contact(&ghl);
    let welcome = ghl.tasks(DEFAULT_LOCATION_ID, &contact.id).len();

    ghl.set_faults(FaultConfig {
        rate_lost_answer: 1.0,
        ..FaultConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let records = deployment
        .queue_event("e-done", course(Progress::Completed))
        .await;
    let first = serve_records(&worker, records.clone()).await;
    assert_eq!(
        first.batch_item_failures.len(),
        1,
        "no answer from GHL: redelivered"
    );
    let created = ghl.tasks(DEFAULT_LOCATION_ID, &contact.id).len() - welcome;
    assert_eq!(
        created, 1,
        "GHL created the task once, and the worker did not repeat it"
    );
    assert!(
        ghl.stats().injected_lost_answers >= 2,
        "the create's and the list's answers were lost"
    );

    ghl.set_faults(FaultConfig::default())
        .unwrap_or_else(|e| panic!("{e}"));
    sync_redelivered(&worker, records, Duration::from_secs(30)).await;
    let tasks = ghl.tasks(DEFAULT_LOCATION_ID, &contact.id);
    assert_eq!(tasks.len() - welcome, 1, "adopted, not created again: {tasks:?}");
    assert!(
        tasks
            .iter()
            .any(|t| t.title == "Ada Lovelace: finish Onboarding 101" && t.completed)
    );
    assert_eq!(ghl.notes(DEFAULT_LOCATION_ID, &contact.id).len(), 1);
}
