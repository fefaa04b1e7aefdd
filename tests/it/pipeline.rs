//! Webhook → queue → worker → GHL (Prism on the official spec), end to end.

use integration_tests::{Deployment, prism_url, prism_violations, response_json, sample_event, sync_all};
use lms_ghl::lambda::serve_ingest;

/// Prism serves only the contacts spec: custom fields by id, no key lookups.
const PRISM_MAPPING: &str = "tests/fixtures/mapping-ids-only.toml";

#[tokio::test]
async fn skilljar_enrollment_becomes_a_ghl_contact() {
    let deployment = Deployment::new().await;
    let ingest = deployment.ingest();

    let request = sample_event("events/learner-created/skilljar-course-enrollment.json");
    let (status, body) = response_json(serve_ingest(&ingest, request).await);
    assert_eq!(status, 202, "{body}");
    let event_id = body["event_id"].as_str().unwrap_or_default().to_owned();

    let records = deployment.receive(&deployment.queue_url).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        integration_tests::envelope(&records[0]).event_id.as_str(),
        event_id
    );

    sync_all(
        &deployment.worker_with_mapping(&prism_url(), PRISM_MAPPING).await,
        records,
    )
    .await;

    let link = deployment.skilljar_contact("3gh6zcs5x2bz").await;
    let link = link.unwrap_or_else(|| panic!("no entity map entry for the learner"));
    assert_eq!(link.location_id, integration_tests::LOCATION_ID);
    assert!(!link.contact_id.is_empty());

    let violations = prism_violations();
    assert!(
        violations.is_empty(),
        "Prism saw requests that break GHL's contract:\n{}",
        violations.join("\n")
    );
}

/// Every provider × trigger sample in `events/`, through its ingest function, the queue and the
/// worker, into the GHL sandbox (real state): every effect lands and nothing is parked.
#[tokio::test]
async fn every_sample_event_is_accepted_and_synced() {
    use lms_ghl::ingest::Trigger;
    let deployment = Deployment::new().await;
    let ghl = ghl_sandbox::Sandbox::start(ghl_sandbox::SandboxConfig::default())
        .await
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    ghl.add_private_token(ghl_sandbox::DEFAULT_LOCATION_ID, &deployment.ghl_token)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut accepted = 0;
    for (dir, trigger) in [
        ("learner-created", Trigger::LearnerCreated),
        ("milestone-completed", Trigger::MilestoneCompleted),
        ("note-added", Trigger::NoteAdded),
    ] {
        let ingest = deployment.ingest_for(trigger);
        let mut samples: Vec<_> = std::fs::read_dir(format!("{}/events/{dir}", integration_tests::ROOT))
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|name| name.ends_with(".json"))
            .collect();
        samples.sort();
        assert!(!samples.is_empty(), "no samples in events/{dir}");
        for name in samples {
            let path = format!("events/{dir}/{name}");
            let (status, body) = response_json(serve_ingest(&ingest, sample_event(&path)).await);
            assert_eq!(status, 202, "{path}: {body}");
            accepted += 1;
        }
    }
    let worker = deployment.worker(&ghl.url()).await;
    let mut synced = 0;
    loop {
        let records = deployment.receive(&deployment.queue_url).await;
        if records.is_empty() {
            break;
        }
        synced += records.len();
        sync_all(&worker, records).await;
    }
    assert_eq!(synced, accepted);
    assert_eq!(
        deployment.visible_messages(&deployment.dlq_url).await,
        0,
        "nothing was parked"
    );
    let stats = ghl.stats();
    assert!(
        stats.routes.keys().any(|r| r.contains("tasks")),
        "{:?}",
        stats.routes
    );
    assert!(
        stats.routes.keys().any(|r| r.contains("notes")),
        "{:?}",
        stats.routes
    );
}

#[tokio::test]
async fn milestone_task_and_note_calls_conform_to_the_contract() {
    use lms_ghl::domain::{
        Email, LearnerRef, MilestoneKind, MilestoneReached, NoteAdded, Progress, SourcePlatform, SyncEvent,
        TaskAction, TaskChanged,
    };
    let deployment = Deployment::new().await;
    let learner = LearnerRef {
        source_user_id: "u-contract".into(),
        email: Email::try_from("contract@example.com".to_owned()).unwrap_or_else(|e| panic!("{e}")),
        first_name: Some("Con".into()),
        last_name: None,
    };
    let now = time::OffsetDateTime::now_utc();
    let source = SourcePlatform::try_from("talentlms".to_owned()).unwrap_or_else(|e| panic!("{e}"));
    let events = [
        SyncEvent::MilestoneReached(MilestoneReached {
            source: source.clone(),
            learner: learner.clone(),
            kind: MilestoneKind::Course,
            milestone_id: "118".into(),
            title: Some("Orbital Mechanics".into()),
            course: None,
            progress: Progress::Completed,
            score: None,
            occurred_at: now,
        }),
        SyncEvent::TaskChanged(TaskChanged {
            source: source.clone(),
            learner: learner.clone(),
            task_id: "t-1".into(),
            action: TaskAction::Complete,
            title: Some("Send the workbook".into()),
            body: None,
            due_at: None,
            priority: None,
            assignee: None,
            occurred_at: now,
        }),
        SyncEvent::NoteAdded(NoteAdded {
            source,
            learner,
            note_id: "n-1".into(),
            title: Some("Kickoff".into()),
            content: "Wants the advanced track.".into(),
            author: Some("Grace".into()),
            occurred_at: now,
            context: [("department".to_owned(), "Flight Research".to_owned())].into(),
        }),
    ];
    let worker = deployment.worker_with_mapping(&prism_url(), PRISM_MAPPING).await;
    for (i, event) in events.into_iter().enumerate() {
        let records = deployment.queue_event(&format!("contract-{i}"), event).await;
        sync_all(&worker, records).await;
    }
    assert_eq!(
        deployment.visible_messages(&deployment.dlq_url).await,
        0,
        "nothing was parked"
    );
    let violations = prism_violations();
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
