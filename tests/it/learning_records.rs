//! Learning records (issue 12) through the real worker against moto and the GHL sandbox's custom
//! objects: install, one record per learner and course kept current exactly once, debounced
//! progress, a location without custom objects, an attempt that died after its create; and every
//! objects call against Prism on GHL's official contract.

use ghl_sandbox::{DEFAULT_LOCATION_ID as LOC, Sandbox, SandboxConfig};
use integration_tests::{
    Deployment, client_with_token, prism_associations_url, prism_custom_fields_url, prism_objects_url,
    prism_violations, serve_records, static_client, sync_all,
};
use lms_ghl::domain::{
    CourseRef, Email, LearnerRef, MilestoneKind, MilestoneReached, Progress, SourcePlatform, SyncEvent,
};
use lms_ghl::ghl::enrollments::{EnrollmentObject, InstallStep, OFF_RECHECK, Readiness};
use lms_ghl::ghl::{GhlClient, Idempotence};
use lms_ghl::learning::RecordField;
use serde_json::{Value, json};
use time::OffsetDateTime;

const KEY: &str = "custom_objects.course_enrollments";
const MAPPING: &str = "tests/fixtures/mapping-learning-records.toml";
const USER: &str = "3gh6zcs5x2bz";
const COURSE: &str = "2wzplz3bmtxpa";

fn object() -> EnrollmentObject {
    EnrollmentObject::new("course_enrollments", RecordField::ALL)
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_763_805_392 + secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn milestone(kind: MilestoneKind, progress: Progress, id: &str, secs: i64, score: Option<&str>) -> SyncEvent {
    SyncEvent::MilestoneReached(MilestoneReached {
        source: SourcePlatform::skilljar(),
        learner: LearnerRef {
            source_user_id: USER.into(),
            email: Email::try_from("ada.lovelace@example.com".to_owned()).unwrap_or_else(|e| panic!("{e}")),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
        },
        kind,
        milestone_id: id.into(),
        title: Some(
            if kind == MilestoneKind::Course {
                "Onboarding 101"
            } else {
                "A lesson"
            }
            .into(),
        ),
        course: Some(CourseRef {
            id: COURSE.into(),
            title: Some("Onboarding 101".into()),
            published_id: None,
        }),
        progress,
        score: score.map(str::to_owned),
        occurred_at: at(secs),
    })
}

fn course(progress: Progress, secs: i64, score: Option<&str>) -> SyncEvent {
    milestone(MilestoneKind::Course, progress, COURSE, secs, score)
}

fn lesson(n: u32, secs: i64) -> SyncEvent {
    milestone(
        MilestoneKind::Lesson,
        Progress::Completed,
        &format!("lesson-{n}"),
        secs,
        None,
    )
}

/// The sandbox (with the deployment's token) and a client of its location.
async fn setup() -> (Sandbox, Deployment, GhlClient) {
    let deployment = Deployment::new().await;
    let ghl = deployment.ghl_sandbox(SandboxConfig::default()).await;
    let client = client_with_token(&ghl.url(), &deployment.ghl_token);
    (ghl, deployment, client)
}

async fn installed() -> (Sandbox, Deployment, GhlClient) {
    let (ghl, deployment, client) = setup().await;
    client
        .install_enrollment_object(&object(), false)
        .await
        .unwrap_or_else(|e| panic!("install: {e}"));
    ghl.reset_stats();
    (ghl, deployment, client)
}

fn calls(ghl: &Sandbox, method: &str, route: &str) -> u64 {
    ghl.stats().route(method, route)
}

fn the_record(ghl: &Sandbox) -> serde_json::Map<String, Value> {
    let records = ghl.records(LOC, KEY);
    assert_eq!(
        records.len(),
        1,
        "one learner, one course, one record: {records:?}"
    );
    records[0].properties.clone()
}

#[tokio::test]
async fn install_shows_its_steps_creates_them_once_and_the_location_is_then_ready() {
    let (ghl, _deployment, client) = setup().await;
    assert!(matches!(
        client.enrollment_readiness(&object()).await,
        Ok(Readiness::Off(why)) if why.contains("not installed")
    ));
    let planned = client
        .install_enrollment_object(&object(), true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(planned.first(), Some(&InstallStep::CreateObject(KEY.into())));
    let fields = planned
        .iter()
        .filter(|s| matches!(s, InstallStep::CreateField(_)))
        .count();
    assert_eq!(fields, RecordField::ALL.len());
    assert!(ghl.object_schemas(LOC).is_empty(), "a dry run creates nothing");

    let done = client
        .install_enrollment_object(&object(), false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.len(), planned.len(), "{done:?}");
    let schema = &ghl.object_schemas(LOC)[0];
    assert_eq!(
        schema.fields.len(),
        RecordField::ALL.len() + 1,
        "the fields and the unique key"
    );
    assert!(schema.searchable.contains(&format!("{KEY}.enrollment_key")));
    assert_eq!(ghl.associations(LOC).len(), 1);

    let again = client
        .install_enrollment_object(&object(), false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(again.is_empty(), "installed: nothing to do, got {again:?}");
    // A fresh client (a new cold start) finds it ready with two reads.
    let fresh = client_with_token(&ghl.url(), &_deployment.ghl_token);
    ghl.reset_stats();
    assert!(matches!(
        fresh.enrollment_readiness(&object()).await,
        Ok(Readiness::Ready { .. })
    ));
    assert!(matches!(
        fresh.enrollment_readiness(&object()).await,
        Ok(Readiness::Ready { .. })
    ));
    assert_eq!(ghl.stats().total_requests, 2, "once per cold start");
}

/// Moves the clock the readiness cache reads past `by` without pausing the HTTP calls around it
/// (a paused clock would fire the client's timeouts while it waits on the sandbox).
async fn clock_forward(by: std::time::Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

#[tokio::test]
async fn an_install_made_after_a_cold_start_is_taken_up_after_the_recheck_and_ready_is_kept() {
    let (ghl, _deployment, client) = setup().await;
    let off =
        |r: &Result<Readiness, _>| matches!(r, Ok(Readiness::Off(why)) if why.contains("not installed"));
    assert!(off(&client.enrollment_readiness(&object()).await));
    // Installed by the ops CLI in another process while this worker stays warm.
    let ops = client_with_token(&ghl.url(), &_deployment.ghl_token);
    ops.install_enrollment_object(&object(), false)
        .await
        .unwrap_or_else(|e| panic!("install: {e}"));
    ghl.reset_stats();

    assert!(
        off(&client.enrollment_readiness(&object()).await),
        "an Off answer is trusted until the recheck"
    );
    assert_eq!(ghl.stats().total_requests, 0);

    clock_forward(OFF_RECHECK).await;
    assert!(matches!(
        client.enrollment_readiness(&object()).await,
        Ok(Readiness::Ready { .. })
    ));
    assert_eq!(
        ghl.stats().total_requests,
        2,
        "asked again once the recheck is due"
    );

    clock_forward(OFF_RECHECK * 10).await;
    assert!(matches!(
        client.enrollment_readiness(&object()).await,
        Ok(Readiness::Ready { .. })
    ));
    assert_eq!(ghl.stats().total_requests, 2, "Ready holds for the process");
}

#[tokio::test]
async fn enrollment_progress_and_completion_keep_one_linked_record_that_never_goes_back() {
    let (ghl, deployment, _client) = installed().await;
    let worker = deployment.worker_with_mapping(&ghl.url(), MAPPING).await;

    sync_all(
        &worker,
        deployment
            .queue_event("start", course(Progress::Started, 0, None))
            .await,
    )
    .await;
    let record = the_record(&ghl);
    assert_eq!(record["status"], "enrolled");
    assert_eq!(record["enrollment_key"], format!("skilljar:{USER}:{COURSE}"));
    assert_eq!(record["course_title"], "Onboarding 101");
    let contact = ghl.contacts(LOC)[0].id.clone();
    let relations = ghl.relations(LOC);
    assert_eq!(relations.len(), 1);
    assert_eq!(
        (
            relations[0].first_record_id.as_str(),
            relations[0].second_record_id.as_str()
        ),
        (ghl.records(LOC, KEY)[0].id.as_str(), contact.as_str())
    );
    // Ready (2 reads), create, link.
    assert_eq!(calls(&ghl, "POST", "/objects/{key}/records"), 1);
    assert_eq!(calls(&ghl, "POST", "/associations/relations"), 1);

    sync_all(
        &worker,
        deployment.queue_event("lesson-1", lesson(1, 3_600)).await,
    )
    .await;
    assert_eq!(the_record(&ghl)["status"], "in_progress");
    let done = deployment
        .queue_event("done", course(Progress::Completed, 86_400, Some("92%")))
        .await;
    sync_all(&worker, done.clone()).await;
    let record = the_record(&ghl);
    assert_eq!(
        (
            record["status"].clone(),
            record["score"].clone(),
            record["progress_percent"].clone()
        ),
        (json!("completed"), json!(92.0), json!(100))
    );
    assert_eq!(record["completed_at"], "2025-11-23");
    assert_eq!(calls(&ghl, "PUT", "/objects/{key}/records/{id}"), 2);

    // Redelivered, a late start, a late lesson: nothing changes, nothing is written.
    ghl.reset_stats();
    sync_all(&worker, done).await;
    sync_all(
        &worker,
        deployment
            .queue_event("late-start", course(Progress::Started, -7_200, None))
            .await,
    )
    .await;
    sync_all(
        &worker,
        deployment.queue_event("late-lesson", lesson(2, 7_200)).await,
    )
    .await;
    assert_eq!(the_record(&ghl)["status"], "completed");
    for (method, route) in [
        ("POST", "/objects/{key}/records"),
        ("PUT", "/objects/{key}/records/{id}"),
        ("POST", "/associations/relations"),
        ("POST", "/objects/{key}/records/search"),
    ] {
        assert_eq!(calls(&ghl, method, route), 0, "{method} {route}");
    }
    assert_eq!(ghl.relations(LOC).len(), 1);
    let messages = deployment.receive(&deployment.dlq_url).await;
    assert!(messages.is_empty(), "{messages:?}");
}

#[tokio::test]
async fn a_lesson_storm_writes_once_per_window_and_days_without_change_write_nothing() {
    let (ghl, deployment, _client) = installed().await;
    let worker = deployment.worker_with_mapping(&ghl.url(), MAPPING).await;
    sync_all(
        &worker,
        deployment
            .queue_event("start", course(Progress::Started, 0, None))
            .await,
    )
    .await;
    ghl.reset_stats();

    // Twenty lessons in ten minutes: the first moves the record to in progress; the rest change
    // nothing GHL shows (its dates are days).
    for n in 0..20 {
        let key = format!("burst-{n}");
        sync_all(
            &worker,
            deployment
                .queue_event(&key, lesson(n, 60 + 30 * i64::from(n)))
                .await,
        )
        .await;
    }
    assert_eq!(calls(&ghl, "PUT", "/objects/{key}/records/{id}"), 1);
    // A lesson a day for ten days, with a two-day window counted from the burst's last lesson
    // (what GHL was last given): writes on days 3, 5, 7 and 9; day 10's waits.
    ghl.reset_stats();
    for day in 1..=10 {
        let key = format!("daily-{day}");
        sync_all(
            &worker,
            deployment
                .queue_event(&key, lesson(100 + day, 86_400 * i64::from(day)))
                .await,
        )
        .await;
    }
    assert_eq!(calls(&ghl, "PUT", "/objects/{key}/records/{id}"), 4);
    assert_eq!(the_record(&ghl)["last_activity_at"], "2025-12-01");
    // A status change never waits.
    sync_all(
        &worker,
        deployment
            .queue_event("done", course(Progress::Completed, 86_400 * 10 + 60, None))
            .await,
    )
    .await;
    let record = the_record(&ghl);
    assert_eq!(record["status"], "completed");
    assert_eq!(
        record["last_activity_at"], "2025-12-02",
        "the waiting day went with it"
    );
    assert_eq!(calls(&ghl, "PUT", "/objects/{key}/records/{id}"), 5);
}

#[tokio::test]
async fn a_location_without_custom_objects_gets_everything_else_and_no_record() {
    let (ghl, deployment, _client) = setup().await;
    ghl.set_custom_objects(LOC, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let worker = deployment.worker_with_mapping(&ghl.url(), MAPPING).await;
    for (key, event) in [
        ("start", course(Progress::Started, 0, None)),
        ("lesson", lesson(1, 60)),
        ("done", course(Progress::Completed, 120, None)),
    ] {
        sync_all(&worker, deployment.queue_event(key, event).await).await;
    }
    assert_eq!(ghl.contacts(LOC).len(), 1, "the learner reached GHL");
    assert!(ghl.records(LOC, KEY).is_empty());
    // Found out once per cold start, not once per event.
    assert_eq!(calls(&ghl, "GET", "/objects/{key}"), 1);
    let messages = deployment.receive(&deployment.dlq_url).await;
    assert!(messages.is_empty(), "{messages:?}");
}

#[tokio::test]
async fn an_attempt_that_died_after_its_create_is_adopted_not_repeated() {
    use lms_ghl::ports::Documents;
    let (ghl, deployment, client) = installed().await;
    // The record an earlier attempt created in GHL, and its intent here, as that attempt left them.
    let id = lms_ghl::learning::EnrollmentId {
        source: SourcePlatform::skilljar(),
        lms_user_id: USER.into(),
        course_id: COURSE.into(),
    };
    let properties = json!({"enrollment_key": id.unique_key(), "status": "enrolled"});
    let created = client
        .create_record(
            KEY,
            properties.as_object().unwrap_or(&serde_json::Map::new()),
            Idempotence::Protected,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let event_key = "start";
    let event_id = lms_ghl::domain::EventId::from_idempotency_key(event_key);
    let intent = json!({
        "state": {"status": "enrolled", "enrolled_at": "2025-11-22T09:56:32Z", "last_activity_at": "2025-11-22T09:56:32Z"},
        "creating": {"event_id": event_id.as_str(), "until_ms": 0},
    });
    let stored = deployment
        .table()
        .put(
            &lms_ghl::keys::learning_record(LOC, &id),
            &intent.to_string(),
            0,
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(stored);
    ghl.reset_stats();

    let worker = deployment.worker_with_mapping(&ghl.url(), MAPPING).await;
    sync_all(
        &worker,
        deployment
            .queue_event(event_key, course(Progress::Started, 0, None))
            .await,
    )
    .await;
    let records = ghl.records(LOC, KEY);
    assert_eq!(records.len(), 1, "adopted, not created again: {records:?}");
    assert_eq!(records[0].id, created.id);
    assert_eq!(calls(&ghl, "POST", "/objects/{key}/records/search"), 1);
    assert_eq!(calls(&ghl, "POST", "/objects/{key}/records"), 0);
    assert_eq!(ghl.relations(LOC).len(), 1, "and linked to the contact");
}

#[tokio::test]
async fn every_objects_endpoint_conforms_to_ghls_contract() -> Result<(), lms_ghl::ghl::GhlError> {
    let objects = static_client(&prism_objects_url());
    let fields = static_client(&prism_custom_fields_url());
    let associations = static_client(&prism_associations_url());

    objects.object_schema(KEY).await?;
    objects
        .create_object_schema(
            "course_enrollments",
            "Course enrollment",
            "Course enrollments",
            "LMS",
            (&format!("{KEY}.enrollment_key"), "Enrollment"),
        )
        .await?;
    objects
        .set_searchable_properties(KEY, &[format!("{KEY}.enrollment_key")])
        .await?;
    let properties = json!({"enrollment_key": "skilljar:u1:c1", "status": "enrolled"});
    let properties = properties.as_object().cloned().unwrap_or_default();
    objects
        .create_record(KEY, &properties, Idempotence::Protected)
        .await?;
    objects
        .update_record(KEY, "661c06b4ffde146bdb469442", &properties)
        .await?;
    objects
        .find_records(KEY, "enrollment_key", "skilljar:u1:c1")
        .await?;

    let folder = fields.create_field_folder(KEY, "LMS sync").await;
    assert!(
        folder.is_ok() || matches!(folder, Err(lms_ghl::ghl::GhlError::Decode { .. })),
        "{folder:?}"
    );
    fields.object_fields(KEY).await?;
    let new = lms_ghl::ghl::objects::NewObjectField {
        name: "Status".into(),
        data_type: "SINGLE_OPTIONS",
        field_key: format!("{KEY}.status"),
        options: vec![json!({"key": "enrolled", "label": "Enrolled"})],
    };
    fields.create_object_field(KEY, "folder-1", &new).await?;

    associations.associations_of(KEY).await?;
    // Not `create_association`: the contract types `firstObjectKey`, `firstObjectLabel`,
    // `secondObjectKey` and `secondObjectLabel` as objects while its own examples (and GHL's docs)
    // send strings, so a correct request cannot pass Prism. The sandbox checks it instead
    // (tests/contract/ghl-api/SOURCE.md, "Known defects").
    associations
        .create_relation("assoc-1", "661c06b4ffde146bdb469442", "contact-1")
        .await?;
    associations.relations_of("661c06b4ffde146bdb469442").await?;

    let violations = prism_violations();
    assert!(
        violations.is_empty(),
        "requests broke GHL's contract:\n{}",
        violations.join("\n")
    );
    Ok(())
}

#[tokio::test]
async fn the_daily_batch_backfills_records_repairs_drift_and_then_queues_nothing() {
    use integration_tests::batch::{batch_with_mapping, talentlms_client};
    use lms_ghl::batch::{BatchReport, BatchRequest, BatchTuning, JobKind, Mode};
    use lms_ghl::lms::LmsAccount;
    use lms_sandbox::Platform;

    let mut b = batch_with_mapping("[learning_records]\nproviders = [\"talentlms\"]\n").await;
    client_with_token(&b.ghl.url(), &b.deployment.ghl_token)
        .install_enrollment_object(
            &EnrollmentObject::new("course_enrollments", RecordField::ALL),
            false,
        )
        .await
        .unwrap_or_else(|e| panic!("install: {e}"));
    // A worker started after the install (its cold start found the object missing before).
    b.worker = b
        .deployment
        .worker_with_settings(lms_ghl::config::WorkerSettings {
            dead_letter_queue_url: b.deployment.dlq_url.clone(),
            background: false,
            ..b.settings.api.clone()
        })
        .await;
    let ada = b
        .lms
        .seed_talentlms_user("ada@example.com", "Ada", "Lovelace")
        .unwrap_or_else(|e| panic!("{e}"));
    talentlms_client(&b.lms.base_url(Platform::TalentLms))
        .enroll(&ada.id.to_string(), "101")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.lms
        .set_talentlms_progress(ada.id, 101, 40)
        .unwrap_or_else(|e| panic!("{e}"));
    let runner = b.runner(BatchTuning::default()).await;
    let reconcile = BatchRequest {
        job: JobKind::Reconcile,
        target: "talent".into(),
        mode: Mode::Run,
        since: None,
        run_id: None,
    };
    let run = || async {
        let report = runner
            .run(
                &reconcile,
                tokio::time::Instant::now() + std::time::Duration::from_secs(300),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        match report {
            BatchReport::Finished { summary } => summary,
            other => panic!("not finished: {other:?}"),
        }
    };
    let records_queued = |summary: &lms_ghl::batch::RunSummary| {
        summary
            .changes
            .get("lms_to_ghl:learning_record")
            .copied()
            .unwrap_or(0)
    };

    // A learner whose enrollment no webhook announced: the record is made from the LMS's reading.
    let first = run().await;
    assert_eq!(records_queued(&first), 1, "{first:?}");
    b.drain().await;
    let records = b.ghl.records(LOC, KEY);
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0].properties;
    assert_eq!(record["status"], "in_progress");
    assert_eq!(record["progress_percent"], 40);
    assert_eq!(record["lms"], "talentlms");
    assert_eq!(b.ghl.relations(LOC).len(), 1);

    // In step: the next reconcile queues no record change and writes nothing.
    b.ghl.reset_stats();
    let second = run().await;
    assert_eq!(records_queued(&second), 0, "{second:?}");
    b.drain().await;
    assert_eq!(calls(&b.ghl, "PUT", "/objects/{key}/records/{id}"), 0);

    // Completed in the LMS without a webhook: the next reconcile repairs the record.
    b.lms
        .set_talentlms_progress(ada.id, 101, 100)
        .unwrap_or_else(|e| panic!("{e}"));
    let third = run().await;
    assert_eq!(records_queued(&third), 1, "{third:?}");
    b.drain().await;
    let records = b.ghl.records(LOC, KEY);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].properties["status"], "completed");
    assert_eq!(records[0].properties["progress_percent"], 100);
    assert_eq!(records_queued(&run().await), 0);

    // A person sets the record to expired in GHL: the enrollment ends in TalentLMS, once; GHL's
    // next webhook about it (or the sync's own write coming back) changes nothing.
    let expired = SyncEvent::GhlChanged(lms_ghl::domain::GhlChange {
        location_id: LOC.into(),
        contact_id: None,
        change: lms_ghl::domain::GhlChangeKind::RecordUpdated {
            record_id: records[0].id.clone(),
            properties: [
                ("enrollment_key".to_owned(), format!("talentlms:{}:101", ada.id)),
                ("status".to_owned(), "expired".to_owned()),
            ]
            .into(),
        },
        contact: None,
        occurred_at: OffsetDateTime::now_utc() + std::time::Duration::from_secs(5),
    });
    let enrolled = |b: &integration_tests::batch::Batch| {
        b.lms
            .talentlms_enrollments()
            .iter()
            .any(|e| e.user_id == ada.id && e.course_id == 101)
    };
    assert!(enrolled(&b));
    sync_all(
        &b.worker,
        b.deployment.queue_event("expired-1", expired.clone()).await,
    )
    .await;
    assert!(!enrolled(&b), "the enrollment was ended in TalentLMS");
    let writes = b.lms_writes(Platform::TalentLms);
    sync_all(&b.worker, b.deployment.queue_event("expired-2", expired).await).await;
    assert_eq!(
        b.lms_writes(Platform::TalentLms),
        writes,
        "an echo writes nothing"
    );
    let parked = b.deployment.receive(&b.deployment.dlq_url).await;
    assert!(parked.is_empty(), "{parked:?}");
}

#[tokio::test]
async fn the_ops_schema_install_and_config_check_see_each_location_as_the_worker_does() {
    let (ghl, deployment, _client) = setup().await;
    let settings = deployment.worker_settings(&ghl.url(), MAPPING, vec![deployment.ghl_secret_id.clone()]);
    let check = |settings| {
        let sdk = deployment.sdk.clone();
        async move {
            let findings = lms_ghl::app::check_config(&settings, &sdk)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            ops::config::describe(&findings)
        }
    };
    let before = check(settings.clone()).await;
    assert!(
        before.contains(&format!(
            "PROBLEM    location {LOC}: learning records off: custom object {KEY} is not installed"
        )),
        "{before}"
    );

    let planned = lms_ghl::app::install_learning_records(&settings, &deployment.sdk, true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(planned.len(), 1);
    assert!(ghl.object_schemas(LOC).is_empty(), "--dry-run creates nothing");
    let done = lms_ghl::app::install_learning_records(&settings, &deployment.sdk, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let steps = done[0].1.as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        steps.len(),
        planned[0].1.as_ref().map(Vec::len).unwrap_or_default()
    );
    let again = lms_ghl::app::install_learning_records(&settings, &deployment.sdk, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(again[0].1.as_ref().is_ok_and(Vec::is_empty), "{again:?}");

    let after = check(settings).await;
    assert!(
        after.contains(&format!(
            "ok         location {LOC} has custom object {KEY} with its 12 field(s), linked to contacts"
        )),
        "{after}"
    );
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_repeated_and_the_next_attempt_adopts_it() {
    let (ghl, deployment, _client) = installed().await;
    let worker = deployment.worker_with_mapping(&ghl.url(), MAPPING).await;
    let messages = deployment
        .queue_event("start", course(Progress::Started, 0, None))
        .await;
    // GHL makes the record, and the answer never arrives.
    ghl.fail_next("POST", "/objects/{key}/records", ghl_sandbox::Fault::LostAnswer);

    let first = serve_records(&worker, messages.clone()).await;
    assert_eq!(first.batch_item_failures.len(), 1, "left for redelivery");
    assert_eq!(
        ghl.records(LOC, KEY).len(),
        1,
        "a create GHL may have carried out is not sent again in the same attempt"
    );

    sync_all(&worker, messages).await;
    let records = ghl.records(LOC, KEY);
    assert_eq!(records.len(), 1, "adopted by the next attempt: {records:?}");
    assert_eq!(calls(&ghl, "POST", "/objects/{key}/records"), 1);
    assert_eq!(calls(&ghl, "POST", "/objects/{key}/records/search"), 1);
    assert_eq!(ghl.relations(LOC).len(), 1, "and linked to the contact");
}

#[tokio::test]
async fn an_install_whose_folder_answer_was_lost_is_finished_by_the_next_run_with_one_folder() {
    let (ghl, _deployment, client) = setup().await;
    ghl.fail_next("POST", "/custom-fields/folder", ghl_sandbox::Fault::LostAnswer);
    assert!(
        client.install_enrollment_object(&object(), false).await.is_err(),
        "the run stops where GHL may have acted"
    );
    let done = client
        .install_enrollment_object(&object(), false)
        .await
        .unwrap_or_else(|e| panic!("the next run: {e}"));
    assert!(
        !done.iter().any(|s| matches!(s, InstallStep::CreateFolder(_))),
        "the folder GHL made is found, not made again: {done:?}"
    );
    let schema = &ghl.object_schemas(LOC)[0];
    assert_eq!(schema.folders.len(), 1, "{:?}", schema.folders);
    assert_eq!(schema.fields.len(), RecordField::ALL.len() + 1);
    assert!(matches!(
        client.enrollment_readiness(&object()).await,
        Ok(Readiness::Ready { .. })
    ));
}
