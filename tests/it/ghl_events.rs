//! `ghl-events` against moto, through the Lambda edge: every GHL sample (each webhook type, and a
//! workflow delivery) is queued once as a `GhlChanged` and answered `duplicate` when it comes
//! again, also as GHL's retry signed anew; what cannot be queued is answered 429 and the retry
//! gets through; and what the GHL sandbox sends when a contact changes is accepted as GHL's own.

use std::path::PathBuf;
use std::time::Duration;

use ghl_sandbox::{DEFAULT_PIT, Sandbox, SandboxConfig, WebhookConfig, WebhookKey};
use integration_tests::{
    Deployment, ROOT, api_request, read_root_file, response_json, sample_event, sample_event_at,
};
use lms_ghl::config::{CommonSettings, IngestSettings};
use lms_ghl::contract::Envelope;
use lms_ghl::domain::{GhlChangeKind, SyncEvent};
use lms_ghl::ghl::{ContactFields, NewTask, NoteFields};
use lms_ghl::ingest::{IngestService, Trigger};
use lms_ghl::lambda::serve_ingest;
use time::OffsetDateTime;

const ROUTE: &str = "/ghl-events/ghl";

fn samples() -> Vec<String> {
    let dir = PathBuf::from(ROOT).join("events/ghl-events");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| format!("events/ghl-events/{name}"))
        .collect()
}

/// The ghl-events service of `deployment`, with its table or webhook secret swapped for one
/// that does not exist.
fn broken(deployment: &Deployment, table: &str, webhook_secret_id: &str) -> IngestService {
    let settings = IngestSettings {
        common: CommonSettings {
            table_name: table.to_owned(),
            idempotency_ttl: Duration::from_secs(3600),
            secret_cache_ttl: Duration::from_secs(300),
        },
        webhook_secret_id: webhook_secret_id.to_owned(),
    };
    lms_ghl::app::ingest_service(Trigger::GhlEvents, &settings, &deployment.sdk)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn every_ghl_sample_is_queued_once_as_a_ghl_change() {
    let deployment = Deployment::new().await;
    let ingest = deployment.ingest_for(Trigger::GhlEvents);
    let samples = samples();
    // Every webhook type the function takes, and the workflow delivery.
    assert_eq!(samples.len(), lms_ghl::ingest::ghl::EVENT_TYPES.len() + 1);
    let mut event_ids = Vec::new();
    for sample in &samples {
        let (status, first) = response_json(serve_ingest(&ingest, sample_event(sample)).await);
        assert_eq!(status, 202, "{sample}: {first}");
        let (status, again) = response_json(serve_ingest(&ingest, sample_event(sample)).await);
        assert_eq!(
            (status, &again["status"]),
            (200, &"duplicate".into()),
            "{sample}: {again}"
        );
        // GHL's retry of a marketplace delivery: a minute later, new timestamp and signature.
        let later = OffsetDateTime::now_utc() + Duration::from_secs(60);
        let (status, retry) = response_json(serve_ingest(&ingest, sample_event_at(sample, later)).await);
        assert_eq!(
            (status, &retry["status"]),
            (200, &"duplicate".into()),
            "{sample}: {retry}"
        );
        assert_eq!(retry["event_id"], first["event_id"], "{sample}");
        event_ids.push(first["event_id"].as_str().unwrap_or_default().to_owned());
    }

    let mut records = Vec::new();
    while records.len() < samples.len() {
        let batch = deployment.receive(&deployment.queue_url).await;
        if batch.is_empty() {
            break;
        }
        records.extend(batch);
    }
    assert_eq!(records.len(), samples.len(), "one message per sample");
    let mut kinds = Vec::new();
    for record in &records {
        let envelope = integration_tests::envelope(record);
        assert!(event_ids.contains(&envelope.event_id.as_str().to_owned()));
        let SyncEvent::GhlChanged(change) = envelope.event else {
            panic!("not a GhlChanged: {}", envelope.event.kind())
        };
        assert_eq!(change.location_id, integration_tests::LOCATION_ID);
        kinds.push(change.change);
    }
    for kind in [
        GhlChangeKind::ContactCreated,
        GhlChangeKind::ContactDeleted,
        GhlChangeKind::ContactDndChanged,
        GhlChangeKind::ContactTagsChanged,
        GhlChangeKind::ContactUpdated,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
    }
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, GhlChangeKind::AppointmentCreated { .. }))
    );
}

#[tokio::test]
async fn a_delivery_that_cannot_be_accepted_is_answered_429_and_its_retry_gets_through() {
    let deployment = Deployment::new().await;
    let sample = "events/ghl-events/ghl-task-create.json";
    let missing_table = format!("{}-missing", deployment.table);
    let cases = [
        (
            missing_table.as_str(),
            deployment.webhook_secret_id.as_str(),
            "unavailable",
        ),
        (
            deployment.table.as_str(),
            "lms-sync/missing/webhooks",
            "unavailable",
        ),
    ];
    for (table, secret_id, error) in cases {
        let ingest = broken(&deployment, table, secret_id);
        let (status, body) = response_json(serve_ingest(&ingest, sample_event(sample)).await);
        assert_eq!((status, body["error"].as_str()), (429, Some(error)), "{body}");
    }
    let ingest = deployment.ingest_for(Trigger::GhlEvents);
    let (status, body) = response_json(serve_ingest(&ingest, sample_event(sample)).await);
    assert_eq!(status, 202, "nothing was taken by the failed tries: {body}");
    assert_eq!(deployment.visible_messages(&deployment.queue_url).await, 1);
}

#[tokio::test]
async fn forged_stale_and_unauthenticated_deliveries_are_refused() {
    let deployment = Deployment::new().await;
    let ingest = deployment.ingest_for(Trigger::GhlEvents);
    let signed = "events/ghl-events/ghl-contact-update.json";
    let stale = OffsetDateTime::now_utc() - Duration::from_secs(301);
    let (status, body) = response_json(serve_ingest(&ingest, sample_event_at(signed, stale)).await);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );

    let contact_update = read_root_file("tests/fixtures/ghl/contact_update.json");
    let json = ("content-type", "application/json");
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![json, ("x-ghl-signature", "bm90IGEgc2lnbmF0dXJl")],
        vec![json, ("x-wh-signature", "bm90IGEgc2lnbmF0dXJl")],
        vec![
            json,
            (
                "x-lms-sync-workflow-secret",
                "local-demo-password-ghl-workflow-not",
            ),
        ],
        vec![json],
    ];
    for headers in cases {
        let request = api_request(ROUTE, &headers, &contact_update);
        let (status, body) = response_json(serve_ingest(&ingest, request).await);
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthorized")),
            "{headers:?}: {body}"
        );
    }
    assert_eq!(deployment.visible_messages(&deployment.queue_url).await, 0);
}

#[tokio::test]
async fn what_the_ghl_sandbox_sends_when_a_contact_changes_is_accepted_as_ghls() {
    // The receiver stands in for API Gateway: it keeps each delivery's headers and bytes.
    let gateway = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(202))
        .mount(&gateway)
        .await;
    let key = WebhookKey::from_pkcs8_pem(&read_root_file(devkit::samples::GHL_TEST_KEY))
        .unwrap_or_else(|e| panic!("{e}"));
    let config =
        SandboxConfig::default().with_webhooks(WebhookConfig::new(&format!("{}{ROUTE}", gateway.uri()), key));
    let ghl = Sandbox::start(config)
        .await
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    let client = integration_tests::client_with_token(&ghl.url(), DEFAULT_PIT);
    let created = client
        .create_contact(
            &ContactFields {
                email: Some("mary.jackson@example.com".into()),
                first_name: Some("Mary".into()),
                tags: Some(vec!["lms-learner".into()]),
                ..ContactFields::default()
            },
            lms_ghl::ghl::Idempotence::NotIdempotent,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let lms_ghl::ghl::Created::New(id) = created else {
        panic!("the contact existed already: {created:?}")
    };
    fn call<T>(result: Result<T, lms_ghl::ghl::GhlError>) -> T {
        result.unwrap_or_else(|e| panic!("{e}"))
    }
    call(client.add_tags(&id, &["alumni".to_owned()]).await);
    let note = NoteFields {
        body: Some("Asked about the advanced track".into()),
        ..NoteFields::default()
    };
    call(
        client
            .create_note(&id, &note, lms_ghl::ghl::Idempotence::NotIdempotent)
            .await,
    );
    let task = NewTask {
        title: "Send the syllabus".into(),
        body: None,
        due_date: "2026-12-01T09:00:00Z".into(),
        completed: false,
        assigned_to: None,
    };
    let task = call(
        client
            .create_task(&id, &task, lms_ghl::ghl::Idempotence::NotIdempotent)
            .await,
    );
    call(client.set_task_completed(&id, &task.id, true).await);

    let expected = [
        "ContactCreate",
        "ContactTagUpdate",
        "NoteCreate",
        "TaskCreate",
        "TaskComplete",
    ];
    let sent = ghl
        .wait_for_webhooks(expected.len(), Duration::from_secs(10))
        .await;
    let types: Vec<&str> = sent.iter().map(|w| w.event_type.as_str()).collect();
    assert_eq!(types, expected);
    assert!(sent.iter().all(|w| w.status == Some(202)));

    let deployment = Deployment::new().await;
    let ingest = deployment.ingest_for(Trigger::GhlEvents);
    let received = gateway.received_requests().await.unwrap_or_default();
    assert_eq!(received.len(), expected.len());
    for delivery in &received {
        let request = integration_tests::captured_request(ROUTE, delivery);
        let (status, answer) = response_json(serve_ingest(&ingest, request).await);
        assert_eq!(status, 202, "{answer}");
    }
    let records = deployment.receive(&deployment.queue_url).await;
    assert_eq!(records.len(), expected.len());
    for record in records {
        let envelope: Envelope = serde_json::from_str(record.body.as_deref().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let SyncEvent::GhlChanged(change) = envelope.event else {
            panic!("not a GhlChanged")
        };
        assert_eq!(change.contact_id.as_deref(), Some(id.as_str()));
    }
}
