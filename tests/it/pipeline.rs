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
        records[0]
            .message_attributes
            .get("event_id")
            .and_then(|a| a.string_value.as_deref()),
        Some(event_id.as_str())
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

#[tokio::test]
async fn every_sample_event_is_accepted_and_synced() {
    let deployment = Deployment::new().await;
    let ingest = deployment.ingest();
    let mut samples: Vec<_> =
        std::fs::read_dir(format!("{}/events/learner-created", integration_tests::ROOT))
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
    samples.sort();
    assert!(
        samples.len() >= 3,
        "expected Skilljar and generic samples, found {samples:?}"
    );
    for sample in &samples {
        let path = sample
            .strip_prefix(integration_tests::ROOT)
            .unwrap_or(sample)
            .to_string_lossy();
        let path = path.trim_start_matches('/');
        let (status, body) = response_json(serve_ingest(&ingest, sample_event(path)).await);
        assert_eq!(status, 202, "{path}: {body}");
    }
    let records = deployment.receive(&deployment.queue_url).await;
    assert_eq!(records.len(), samples.len());

    sync_all(
        &deployment.worker_with_mapping(&prism_url(), PRISM_MAPPING).await,
        records,
    )
    .await;
    assert!(prism_violations().is_empty(), "{:?}", prism_violations());
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
