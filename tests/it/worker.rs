//! `sync-worker` against moto and a GHL that answers as told (wiremock): exactly-once effects,
//! retryable failures reported for redelivery, permanent ones parked on the DLQ.

use std::time::Duration;

use integration_tests::{Deployment, LOCATION_ID, sample_event};
use lms_ghl::SqsEvent;
use lms_ghl::idempotency::Idempotency;
use lms_ghl::lambda::{handle_batch, serve_ingest};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn upsert_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "new": true,
        "contact": {"id": "ghl-contact-1", "locationId": LOCATION_ID, "email": "ada.lovelace@example.com"},
        "traceId": "trace-1"
    }))
}

/// GHL's custom field list, as the mapping's keys need it resolved (same fields as the sandbox).
async fn mount_custom_fields(ghl: &MockServer) {
    let fields: Vec<_> = [
        ("6dvNaf7VhkQ9snc5vnjJ", "employee_count"),
        ("MgobCB14YMVKuE4Ka8p1", "lms_user_id"),
        ("3sv6UEo51C9Bmpo1cKTq", "last_course"),
        ("RoLe7lmsK2xq9TzP0aB1", "lms_role"),
        ("DePt4mNx8QwL2rS6vYc3", "department"),
    ]
    .iter()
    .map(|(id, key)| serde_json::json!({"id": id, "name": key, "fieldKey": format!("contact.{key}"), "dataType": "TEXT"}))
    .collect();
    Mock::given(method("GET"))
        .and(path(format!("/locations/{LOCATION_ID}/customFields")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "customFields": fields })))
        .mount(ghl)
        .await;
    // The learner has no welcome task yet.
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex("^/contacts/[^/]+/tasks$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "tasks": [] })))
        .mount(ghl)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex("^/contacts/[^/]+/tasks$"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({ "task": {"id": "task-1", "title": "Welcome"} })),
        )
        .mount(ghl)
        .await;
}

/// What `xtask parked` says of a message the redrive policy moved to a DLQ with this body.
async fn dead_letter_reason(deployment: &Deployment, body: &str) -> String {
    let claims = Idempotency::new(std::sync::Arc::new(deployment.table()), Duration::ZERO);
    lms_ghl::worker::dead_letter_reason(&claims, body, None, time::OffsetDateTime::now_utc())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A record whose event another invocation is syncing is held off the queue until that claim
/// runs out (not redelivered every visibility timeout, spending its receives), then taken over.
#[tokio::test]
async fn a_record_held_by_a_live_claim_waits_off_the_queue_until_the_claim_runs_out() {
    let (deployment, event) = queued_enrollment().await;
    // Built first: the claim's 6 s must not be spent on the worker's cold start (slow under load).
    let worker = deployment.worker("http://127.0.0.1:9").await;
    let body = event.records[0].body.clone().unwrap_or_default();
    let envelope = lms_ghl::contract::decode(&body).unwrap_or_else(|e| panic!("{e}"));
    let claims = Idempotency::new(std::sync::Arc::new(deployment.table()), Duration::from_secs(3600));
    let now = time::OffsetDateTime::now_utc();
    let until_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64 + 6_000;
    let key = lms_ghl::keys::event_claim(&envelope.event_id);
    let claimed = claims
        .claim(&key, "sha256:another-invocation", until_ms, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claimed, lms_ghl::idempotency::Claim::Acquired);
    assert!(
        dead_letter_reason(&deployment, &body)
            .await
            .contains("in progress")
    );

    let response = handle_batch(&worker, event, None).await;
    assert_eq!(response.batch_item_failures.len(), 1, "left for redelivery");
    // The queue's visibility timeout is 30 s; the hold brought the message back after the claim's
    // 6 s (and a second's margin) instead, and it was received twice in all, not once per wait.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        deployment.receive(&deployment.queue_url).await.is_empty(),
        "held back"
    );
    let started = tokio::time::Instant::now();
    let again = loop {
        let records = deployment.receive(&deployment.queue_url).await;
        if !records.is_empty() || started.elapsed() > Duration::from_secs(15) {
            break records;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        again.len(),
        1,
        "back once the claim ran out, well before the 30 s visibility timeout"
    );
    assert_eq!(
        again[0]
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str),
        Some("2")
    );
    assert!(dead_letter_reason(&deployment, &body).await.contains("abandoned"));
}

/// A deployment with one enrollment queued; returns it and the queued records.
async fn queued_enrollment() -> (Deployment, SqsEvent) {
    let deployment = Deployment::new().await;
    let request = sample_event("events/learner-created/skilljar-course-enrollment.json");
    let response = serve_ingest(&deployment.ingest(), request).await;
    assert_eq!(response.status().as_u16(), 202);
    let mut event = SqsEvent::default();
    event.records = deployment.receive(&deployment.queue_url).await;
    assert_eq!(event.records.len(), 1);
    (deployment, event)
}

#[tokio::test]
async fn redelivered_message_makes_no_second_ghl_call() {
    let ghl = MockServer::start().await;
    mount_custom_fields(&ghl).await;
    Mock::given(method("POST"))
        .and(path("/contacts/upsert"))
        .and(header("version", "2021-07-28"))
        .and(body_partial_json(serde_json::json!({
            "locationId": LOCATION_ID, "email": "ada.lovelace@example.com", "firstName": "Ada", "source": "LMS sync"
        })))
        .respond_with(upsert_ok())
        .expect(1)
        .mount(&ghl)
        .await;
    Mock::given(method("POST"))
        .and(path("/contacts/ghl-contact-1/tags"))
        .and(body_partial_json(
            serde_json::json!({"tags": ["lms-learner", "skilljar", "course-onboarding-101"]}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"tags": ["lms-learner"]})))
        .expect(1)
        .mount(&ghl)
        .await;

    let (deployment, event) = queued_enrollment().await;
    let worker = deployment.worker(&ghl.uri()).await;
    let first = handle_batch(&worker, event.clone(), None).await;
    assert!(first.batch_item_failures.is_empty());
    // SQS redelivers the same message (e.g. the delete was lost): no second GHL call.
    let again = handle_batch(&worker, event, None).await;
    assert!(again.batch_item_failures.is_empty());

    let requests = ghl.received_requests().await.unwrap_or_default();
    let bearer = requests[0]
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(bearer.starts_with("Bearer pit-test-"), "{bearer}");
    let link = deployment.skilljar_contact("3gh6zcs5x2bz").await;
    assert_eq!(link.map(|l| l.contact_id).as_deref(), Some("ghl-contact-1"));
    ghl.verify().await;
}

#[tokio::test]
async fn ghl_429_and_500_fail_the_item_once_retries_are_spent_and_a_later_delivery_succeeds() {
    // The client retries 4 times in-process (full-jitter backoff); a fifth failure fails the item.
    for status in [429u16, 500] {
        let ghl = MockServer::start().await;
        mount_custom_fields(&ghl).await;
        Mock::given(method("POST"))
            .and(path("/contacts/upsert"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(serde_json::json!({"statusCode": status, "message": "busy"})),
            )
            .up_to_n_times(5)
            .expect(5)
            .mount(&ghl)
            .await;
        Mock::given(method("POST"))
            .and(path("/contacts/upsert"))
            .respond_with(upsert_ok())
            .mount(&ghl)
            .await;
        Mock::given(method("POST"))
            .and(path("/contacts/ghl-contact-1/tags"))
            .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"tags": []})))
            .mount(&ghl)
            .await;

        let (deployment, event) = queued_enrollment().await;
        let message_id = event.records[0].message_id.clone().unwrap_or_default();
        let worker = deployment.worker(&ghl.uri()).await;
        let failed = handle_batch(&worker, event.clone(), None).await;
        let ids: Vec<_> = failed
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(ids, [message_id.as_str()], "GHL {status} must fail the item");
        assert_eq!(deployment.visible_messages(&deployment.dlq_url).await, 0);
        // Had the redrive policy moved it to the DLQ now, its claim would tell why.
        let why = dead_letter_reason(&deployment, event.records[0].body.as_deref().unwrap_or_default()).await;
        assert!(
            why.contains("retryable failure on its last attempt: ") && !why.ends_with(": "),
            "GHL {status}: {why}"
        );

        // SQS redelivers: the claim was released, so this delivery does the work.
        let retried = handle_batch(&worker, event, None).await;
        assert!(
            retried.batch_item_failures.is_empty(),
            "GHL {status}: retry failed"
        );
        let link = deployment.skilljar_contact("3gh6zcs5x2bz").await;
        assert!(link.is_some(), "GHL {status}: contact not recorded after retry");
        ghl.verify().await;
    }
}

#[tokio::test]
async fn ghl_422_is_parked_on_the_dlq_and_not_retried() {
    let ghl = MockServer::start().await;
    mount_custom_fields(&ghl).await;
    Mock::given(method("POST"))
        .and(path("/contacts/upsert"))
        .respond_with(ResponseTemplate::new(422).set_body_json(serde_json::json!({
            "statusCode": 422, "message": ["email must be an email"], "error": "Unprocessable Entity"
        })))
        .expect(1)
        .mount(&ghl)
        .await;

    let (deployment, event) = queued_enrollment().await;
    let worker = deployment.worker(&ghl.uri()).await;
    let response = handle_batch(&worker, event.clone(), None).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "a permanent failure must not be redelivered"
    );

    let parked = deployment.receive(&deployment.dlq_url).await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].body, event.records[0].body);
    let attribute = |name: &str| {
        parked[0]
            .message_attributes
            .get(name)
            .and_then(|a| a.string_value.clone())
    };
    assert_eq!(attribute("error_reason").as_deref(), Some("unprocessable"));
    assert!(
        attribute("error_detail")
            .unwrap_or_default()
            .contains("email must be an email")
    );
    ghl.verify().await;
}
