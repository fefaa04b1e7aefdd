use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use secrecy::SecretString;
use time::OffsetDateTime;

use super::*;
use crate::clock::FixedClock;
use crate::memory::{MemoryIdempotencyStore, MemoryQueue, MemorySecrets};

const ENROLLMENT: &str = include_str!("../../../tests/fixtures/skilljar/course_enrollment.json");
const GENERIC: &str = include_str!("../../../tests/fixtures/generic/learner_created.json");
const NOW: i64 = 1_763_805_400;
const SECRETS: &str = r#"{
    "skilljar": {"basicAuth": {"username": "skilljar", "password": "sj-pass"}},
    "generic": {"signingSecrets": ["whsec_one"]}
}"#;

struct Harness {
    service: IngestService,
    queue: Arc<MemoryQueue>,
}

fn harness() -> Harness {
    let queue = Arc::new(MemoryQueue::default());
    let store = Arc::new(MemoryIdempotencyStore::default());
    let secrets = Arc::new(MemorySecrets::default().with("webhooks", SECRETS));
    let clock = Arc::new(FixedClock::new(
        OffsetDateTime::from_unix_timestamp(NOW).unwrap_or(OffsetDateTime::UNIX_EPOCH),
    ));
    let service = IngestService::new(
        Trigger::LearnerCreated,
        queue.clone(),
        Idempotency::new(store, Duration::from_secs(86_400)),
        CachedSecret::new(secrets, "webhooks", Duration::from_secs(300)),
        clock,
    );
    Harness { service, queue }
}

fn skilljar_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let creds = base64::engine::general_purpose::STANDARD.encode("skilljar:sj-pass");
    if let Ok(v) = HeaderValue::from_str(&format!("Basic {creds}")) {
        headers.insert("authorization", v);
    }
    headers
}

fn generic_headers(body: &str, at: i64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    let sig = signature::sign(&SecretString::from("whsec_one"), at, body.as_bytes());
    if let Ok(v) = HeaderValue::from_str(&sig) {
        headers.insert(signature::SIGNATURE_HEADER, v);
    }
    headers
}

async fn post(h: &Harness, path: &str, headers: &HeaderMap, body: &str) -> IngestResponse {
    h.service
        .handle(IngestRequest {
            method: &Method::POST,
            path,
            headers,
            body: body.as_bytes(),
            request_id: Some("req-1"),
            deadline_ms: None,
        })
        .await
}

fn error_of(response: &IngestResponse) -> &str {
    response.body["error"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn skilljar_enrollment_is_queued_once() {
    let h = harness();
    let first = post(&h, "/skilljar", &skilljar_headers(), ENROLLMENT).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    let event_id = first.body["event_id"].as_str().unwrap_or_default().to_owned();
    assert!(event_id.starts_with("evt_"));

    let again = post(&h, "/skilljar", &skilljar_headers(), ENROLLMENT).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(again.body["event_id"], event_id.as_str());

    let messages = h.queue.messages();
    assert_eq!(messages.len(), 1);
    let envelope: Envelope = serde_json::from_str(&messages[0].body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(envelope.event_id.as_str(), event_id);
    assert_eq!(envelope.correlation_id, "req-1");
    assert_eq!(
        messages[0].attributes.get("event_type").map(String::as_str),
        Some("LearnerCreated")
    );
}

#[tokio::test]
async fn generic_signed_event_is_queued() {
    let h = harness();
    let response = post(&h, "/generic", &generic_headers(GENERIC, NOW - 10), GENERIC).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
    assert_eq!(h.queue.messages().len(), 1);
}

#[tokio::test]
async fn every_bad_input_class_gets_its_status_and_enqueues_nothing() {
    let h = harness();
    let json_headers = {
        let mut headers = skilljar_headers();
        headers.remove("authorization");
        headers
    };
    let tampered = GENERIC.replace("Katherine", "Kathy");
    let too_big = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
    let mut text_plain = skilljar_headers();
    text_plain.insert("content-type", HeaderValue::from_static("text/plain"));
    let no_email = ENROLLMENT.replace(r#""email": "Ada.Lovelace@example.com","#, "");

    let cases: Vec<(&str, HeaderMap, String, StatusCode, &str)> = vec![
        (
            "/skilljar",
            json_headers.clone(),
            ENROLLMENT.into(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "/generic",
            generic_headers(GENERIC, NOW),
            tampered,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "/generic",
            generic_headers(GENERIC, NOW - 301),
            GENERIC.into(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "/generic",
            json_headers.clone(),
            GENERIC.into(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            "/skilljar",
            skilljar_headers(),
            "{\"event_type\": ".into(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "/skilljar",
            skilljar_headers(),
            too_big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "/skilljar",
            text_plain,
            ENROLLMENT.into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "/skilljar",
            skilljar_headers(),
            no_email,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        ),
        (
            "/moodle",
            skilljar_headers(),
            ENROLLMENT.into(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (path, headers, body, status, code) in cases {
        let response = post(&h, path, &headers, &body).await;
        assert_eq!(
            (response.status, error_of(&response)),
            (status, code),
            "{path}: {}",
            response.body
        );
        assert!(response.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    assert!(h.queue.messages().is_empty());
}

#[tokio::test]
async fn malformed_json_names_line_and_column() {
    let h = harness();
    let response = post(
        &h,
        "/skilljar",
        &skilljar_headers(),
        "{\n  \"event_type\": COURSE\n}",
    )
    .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        response.body["detail"],
        "malformed JSON: syntax error at line 2, column 17"
    );
}

#[tokio::test]
async fn unprocessable_names_the_field() {
    let h = harness();
    let body = ENROLLMENT.replace("Ada.Lovelace@example.com", "ada-at-example");
    let response = post(&h, "/skilljar", &skilljar_headers(), &body).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.body["detail"],
        "at `user.email`: not a usable email address"
    );
}

#[tokio::test]
async fn queue_outage_loses_nothing() {
    let h = harness();
    h.queue.set_failing(true);
    let refused = post(&h, "/skilljar", &skilljar_headers(), ENROLLMENT).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.body["detail"], "temporarily unavailable; retry later");
    h.queue.set_failing(false);
    // The sender's retry must be accepted, not answered as a duplicate.
    let retried = post(&h, "/skilljar", &skilljar_headers(), ENROLLMENT).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    assert_eq!(h.queue.messages().len(), 1);
}

#[tokio::test]
async fn ping_is_answered_without_enqueueing() {
    let h = harness();
    let response = post(&h, "/skilljar", &skilljar_headers(), r#"{"event_type":"PING"}"#).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(h.queue.messages().is_empty());
}

#[tokio::test]
async fn non_post_is_refused() {
    let h = harness();
    let response = h
        .service
        .handle(IngestRequest {
            method: &Method::GET,
            path: "/skilljar",
            headers: &skilljar_headers(),
            body: b"",
            request_id: None,
            deadline_ms: None,
        })
        .await;
    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn correlation_id_prefers_sane_header() {
    let mut headers = HeaderMap::new();
    headers.insert("x-correlation-id", HeaderValue::from_static("abc-123"));
    assert_eq!(correlation_id(&headers, Some("req")), "abc-123");
    headers.insert("x-correlation-id", HeaderValue::from_static("has space"));
    assert_eq!(correlation_id(&headers, Some("req")), "req");
    assert_eq!(correlation_id(&HeaderMap::new(), None).len(), 36);
}
