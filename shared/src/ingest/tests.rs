use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use secrecy::SecretString;
use time::OffsetDateTime;

use serde_json::json;

use super::*;
use crate::clock::FixedClock;
use crate::contract::{DeliveryHash, Envelope};
use crate::idempotency::Idempotency;
use crate::memory::{MemoryIdempotencyStore, MemoryQueue, MemorySecrets};
use crate::secrets::CachedSecret;

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
    store: Arc<MemoryIdempotencyStore>,
}

fn harness() -> Harness {
    harness_for(Trigger::LearnerCreated)
}

fn harness_for(trigger: Trigger) -> Harness {
    let queue = Arc::new(MemoryQueue::default());
    let store = Arc::new(MemoryIdempotencyStore::with_outbox(queue.clone()));
    let secrets = Arc::new(MemorySecrets::default().with("webhooks", SECRETS));
    let clock = Arc::new(FixedClock::new(
        OffsetDateTime::from_unix_timestamp(NOW).unwrap_or(OffsetDateTime::UNIX_EPOCH),
    ));
    let service = IngestService::new(
        trigger,
        Idempotency::new(store.clone(), Duration::from_secs(86_400)),
        CachedSecret::new(secrets, "webhooks", Duration::from_secs(300)),
        clock,
    );
    Harness {
        service,
        queue,
        store,
    }
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
    assert_eq!(envelope.event.kind(), "LearnerCreated");
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
async fn a_table_outage_loses_nothing() {
    let h = harness();
    h.store.set_failing(true);
    let refused = post(&h, "/skilljar", &skilljar_headers(), ENROLLMENT).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.body["detail"], "temporarily unavailable; retry later");
    h.store.set_failing(false);
    // The sender's retry must be accepted, not answered as a duplicate.
    let retried = post(&h, "/skilljar", &skilljar_headers(), ENROLLMENT).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    assert_eq!(h.queue.messages().len(), 1);
}

#[tokio::test]
async fn each_function_routes_only_to_its_own_providers() {
    let ghl = harness_for(Trigger::GhlEvents);
    let response = post(&ghl, "/ghl-events/skilljar", &skilljar_headers(), ENROLLMENT).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND, "{}", response.body);
    let lms = harness();
    let response = post(&lms, "/learner-created/ghl", &skilljar_headers(), ENROLLMENT).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND, "{}", response.body);
    assert!(ghl.queue.messages().is_empty() && lms.queue.messages().is_empty());
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

const SKILLJAR_MILESTONES: [&str; 6] = [
    ENROLLMENT,
    include_str!("../../../tests/fixtures/skilljar/path_enrollment.json"),
    include_str!("../../../tests/fixtures/skilljar/lesson_completion.json"),
    include_str!("../../../tests/fixtures/skilljar/quiz_completion.json"),
    include_str!("../../../tests/fixtures/skilljar/course_completion.json"),
    include_str!("../../../tests/fixtures/skilljar/path_completion.json"),
];
const GENERIC_MILESTONE: &str = include_str!("../../../tests/fixtures/generic/milestone_completed.json");
const GENERIC_TASK_CREATED: &str = include_str!("../../../tests/fixtures/generic/task_created.json");
const GENERIC_TASK_COMPLETED: &str = include_str!("../../../tests/fixtures/generic/task_completed.json");
const GENERIC_NOTE: &str = include_str!("../../../tests/fixtures/generic/note_added.json");

/// Posts each delivery twice and checks: accepted, then a duplicate with the same event id, and
/// one message per delivery carrying the event type the worker dispatches on.
async fn queued_once(h: &Harness, deliveries: &[(&str, &str, &str)]) {
    for (path, body, _) in deliveries {
        let headers = match *path {
            "/skilljar" => skilljar_headers(),
            _ => generic_headers(body, NOW - 10),
        };
        let first = post(h, path, &headers, body).await;
        assert_eq!(first.status, StatusCode::ACCEPTED, "{path}: {}", first.body);
        let again = post(h, path, &headers, body).await;
        assert_eq!(again.status, StatusCode::OK, "{path}: {}", again.body);
        assert_eq!(again.body["status"], "duplicate");
        assert_eq!(again.body["event_id"], first.body["event_id"]);
    }
    let kinds: Vec<String> = h
        .queue
        .messages()
        .iter()
        .map(|m| match serde_json::from_str::<Envelope>(&m.body) {
            Ok(envelope) => envelope.event.kind().to_owned(),
            Err(e) => format!("<unreadable: {e}>"),
        })
        .collect();
    let expected: Vec<&str> = deliveries.iter().map(|(_, _, kind)| *kind).collect();
    assert_eq!(kinds, expected);
}

#[tokio::test]
async fn milestone_completed_queues_each_delivery_once() {
    let h = harness_for(Trigger::MilestoneCompleted);
    let mut deliveries: Vec<(&str, &str, &str)> = SKILLJAR_MILESTONES
        .iter()
        .map(|body| ("/skilljar", *body, "MilestoneReached"))
        .collect();
    deliveries.extend([
        ("/generic", GENERIC_MILESTONE, "MilestoneReached"),
        ("/generic", GENERIC_TASK_CREATED, "TaskChanged"),
        ("/generic", GENERIC_TASK_COMPLETED, "TaskChanged"),
    ]);
    queued_once(&h, &deliveries).await;
}

#[tokio::test]
async fn note_added_queues_a_note_once() {
    let h = harness_for(Trigger::NoteAdded);
    queued_once(&h, &[("/generic", GENERIC_NOTE, "NoteAdded")]).await;
}

#[tokio::test]
async fn skilljar_ping_to_milestone_completed_is_answered_without_enqueueing() {
    let h = harness_for(Trigger::MilestoneCompleted);
    let response = post(&h, "/skilljar", &skilljar_headers(), r#"{"event_type":"PING"}"#).await;
    assert_eq!(
        (response.status, &response.body["status"]),
        (StatusCode::OK, &json!("pong"))
    );
    assert!(h.queue.messages().is_empty());
}

/// Path, headers, body, status, error code, and for 422 the field the detail must name.
type Case = (
    &'static str,
    HeaderMap,
    String,
    StatusCode,
    &'static str,
    Option<&'static str>,
);

/// The bad-input classes every ingest trigger answers the same way, built on `body` (a delivery
/// the trigger accepts at `path`).
fn shared_bad_inputs(path: &'static str, body: &str) -> Vec<Case> {
    let good_headers = match path {
        "/skilljar" => skilljar_headers(),
        _ => generic_headers(body, NOW - 10),
    };
    let mut no_auth = good_headers.clone();
    no_auth.remove("authorization");
    no_auth.remove(signature::SIGNATURE_HEADER);
    let mut text_plain = good_headers.clone();
    text_plain.insert("content-type", HeaderValue::from_static("text/plain"));
    let too_big = body.replacen('{', &format!("{{\"pad\":\"{}\",", "x".repeat(MAX_BODY_BYTES)), 1);
    let truncated = body[..body.len() / 2].to_owned();
    let truncated_headers = match path {
        "/skilljar" => skilljar_headers(),
        _ => generic_headers(&truncated, NOW - 10),
    };
    vec![
        (
            path,
            no_auth,
            body.into(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            None,
        ),
        (
            path,
            truncated_headers,
            truncated,
            StatusCode::BAD_REQUEST,
            "malformed_json",
            None,
        ),
        (
            path,
            good_headers,
            too_big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        ),
        (
            path,
            text_plain,
            body.into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            None,
        ),
    ]
}

fn unprocessable(path: &'static str, body: String, field: &'static str) -> Case {
    let headers = match path {
        "/skilljar" => skilljar_headers(),
        _ => generic_headers(&body, NOW - 10),
    };
    (
        path,
        headers,
        body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
        Some(field),
    )
}

async fn refused_without_enqueueing(h: &Harness, cases: Vec<Case>) {
    for (path, headers, body, status, code, field) in cases {
        let response = post(h, path, &headers, &body).await;
        assert_eq!(
            (response.status, error_of(&response)),
            (status, code),
            "{path}: {}",
            response.body
        );
        let detail = response.body["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty());
        if let Some(field) = field {
            assert!(detail.starts_with(&format!("at `{field}`:")), "{field}: {detail}");
        }
    }
    assert!(h.queue.messages().is_empty());
}

#[tokio::test]
async fn milestone_completed_refuses_every_bad_input_class_and_enqueues_nothing() {
    let h = harness_for(Trigger::MilestoneCompleted);
    let completion = SKILLJAR_MILESTONES[4];
    let quiz = SKILLJAR_MILESTONES[3];
    let mut cases = shared_bad_inputs("/skilljar", completion);
    cases.extend(shared_bad_inputs("/generic", GENERIC_MILESTONE));
    let mut wrong_password = skilljar_headers();
    let creds = base64::engine::general_purpose::STANDARD.encode("skilljar:guess");
    if let Ok(v) = HeaderValue::from_str(&format!("Basic {creds}")) {
        wrong_password.insert("authorization", v);
    }
    cases.extend([
        (
            "/skilljar",
            wrong_password,
            completion.into(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            None,
        ),
        (
            "/generic",
            generic_headers(GENERIC_TASK_CREATED, NOW),
            GENERIC_TASK_CREATED.replace("high", "low"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            None,
        ),
        (
            "/generic",
            generic_headers(GENERIC_TASK_CREATED, NOW - 301),
            GENERIC_TASK_CREATED.into(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            None,
        ),
        unprocessable(
            "/skilljar",
            completion.replace(r#""email": "Ada.Lovelace@example.com","#, ""),
            "user.email",
        ),
        unprocessable("/skilljar", quiz.replace(r#""quiz": {"#, r#""exam": {"#), "quiz"),
        unprocessable(
            "/skilljar",
            completion.replace("COURSE_COMPLETION", "DOMAIN_ENROLLMENT"),
            "event_type",
        ),
        unprocessable(
            "/generic",
            GENERIC_MILESTONE.replace(r#""kind": "quiz","#, ""),
            "milestone.kind",
        ),
        unprocessable(
            "/generic",
            GENERIC_TASK_CREATED.replace(r#""title": "Send Katherine the advanced module schedule","#, ""),
            "task.title",
        ),
        unprocessable(
            "/generic",
            GENERIC_TASK_CREATED.replace("2025-11-28T17:00:00Z", "soon"),
            "task.due_at",
        ),
        unprocessable("/generic", GENERIC_NOTE.into(), "event_type"),
    ]);
    refused_without_enqueueing(&h, cases).await;
}

#[tokio::test]
async fn note_added_refuses_every_bad_input_class_and_enqueues_nothing() {
    let h = harness_for(Trigger::NoteAdded);
    let mut cases = shared_bad_inputs("/generic", GENERIC_NOTE);
    let long = GENERIC_NOTE.replace(
        r#""content": "Finished"#,
        &format!(r#""content": "{}Finished"#, "x".repeat(64 * 1024)),
    );
    cases.extend([
        (
            "/generic",
            generic_headers(GENERIC_NOTE, NOW),
            GENERIC_NOTE.replace("Dorothy", "Mallory"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            None,
        ),
        unprocessable(
            "/generic",
            GENERIC_NOTE.replace(r#""content": "#, r#""body": "#),
            "note.content",
        ),
        unprocessable("/generic", long, "note.content"),
        unprocessable(
            "/generic",
            GENERIC_NOTE.replace(r#""is_partner": true"#, r#""is_partner": [true]"#),
            "context.is_partner",
        ),
        unprocessable(
            "/generic",
            GENERIC_NOTE.replace("Katherine.Johnson@example.com", "katherine@"),
            "learner.email",
        ),
        unprocessable("/generic", GENERIC_MILESTONE.into(), "event_type"),
        // Skilljar has no notes: whatever it sends to note-added is refused, naming the type.
        unprocessable("/skilljar", SKILLJAR_MILESTONES[4].into(), "event_type"),
        unprocessable("/skilljar", ENROLLMENT.into(), "event_type"),
    ]);
    refused_without_enqueueing(&h, cases).await;
    let response = post(&h, "/skilljar", &skilljar_headers(), SKILLJAR_MILESTONES[4]).await;
    assert_eq!(
        response.body["detail"],
        "at `event_type`: COURSE_COMPLETION is not handled by note-added"
    );
}

/// The queue contract as ingest writes it: each fixture delivery becomes exactly the stored v2
/// message (`UPDATE_QUEUE_FIXTURES=1` rewrites them, for a deliberate new version only).
#[tokio::test]
async fn ingest_writes_the_stored_v2_messages() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/queue");
    let cases = [
        (
            Trigger::LearnerCreated,
            "/skilljar",
            ENROLLMENT,
            "v2-learner-created.json",
        ),
        (
            Trigger::MilestoneCompleted,
            "/generic",
            GENERIC_MILESTONE,
            "v2-milestone-reached.json",
        ),
        (
            Trigger::MilestoneCompleted,
            "/generic",
            GENERIC_TASK_CREATED,
            "v2-task-changed.json",
        ),
        (Trigger::NoteAdded, "/generic", GENERIC_NOTE, "v2-note-added.json"),
    ];
    for (trigger, path, body, name) in cases {
        let h = harness_for(trigger);
        let headers = match path {
            "/skilljar" => skilljar_headers(),
            _ => generic_headers(body, NOW - 10),
        };
        let response = post(&h, path, &headers, body).await;
        assert_eq!(response.status, StatusCode::ACCEPTED, "{name}: {}", response.body);
        let written = format!("{}\n", h.queue.messages()[0].body);
        if std::env::var_os("UPDATE_QUEUE_FIXTURES").is_some() {
            std::fs::write(dir.join(name), &written).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let stored = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            written, stored,
            "{name}: the queue message changed; see tests/fixtures/queue/README.md"
        );
    }
}

/// Holds `key` as an earlier claim would: made with `hash`, completed or still in progress.
async fn held_claim(h: &Harness, key: &str, hash: &str, completed: bool) {
    use crate::ports::{IdempotencyRecord, IdempotencyStore, RecordStatus};
    let record = IdempotencyRecord {
        key: key.to_owned(),
        status: RecordStatus::InProgress,
        expiration: NOW + 3600,
        in_progress_expiration_ms: (NOW + 60) * 1000,
        payload_hash: hash.to_owned(),
        data: None,
        last_error: None,
        outbox: None,
    };
    let now = OffsetDateTime::from_unix_timestamp(NOW).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let written = h.store.put_if_claimable(&record, now).await;
    assert!(
        matches!(written, Ok(crate::ports::PutOutcome::Written)),
        "{written:?}"
    );
    if completed {
        let done = h.store.complete(key, Some("evt"), NOW + 3600).await;
        assert!(done.is_ok(), "{done:?}");
    }
}

/// The v1 key of the Skilljar enrollment fixture (see tests/fixtures/queue/v1-learner-created.json).
const ENROLLMENT_KEY: &str =
    "ingest:skilljar:e9f4c03772675e702ea9cb7e97162b745110897e87cecaccc28f93dd075a9fcf";

#[tokio::test]
async fn a_retry_of_a_delivery_accepted_before_a_deploy_is_a_duplicate() {
    let h = harness();
    // v1 hashed the normalised event (bare hex), so a new build's hash of the same delivery differs.
    held_claim(&h, ENROLLMENT_KEY, &"ab".repeat(32), true).await;
    let response = post(&h, "/skilljar", &skilljar_headers(), ENROLLMENT).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(response.body["status"], "duplicate");
    assert!(h.queue.messages().is_empty());
}

#[tokio::test]
async fn an_identity_reused_with_other_content_is_never_answered_with_a_4xx() {
    let h = harness();
    let first = post(&h, "/generic", &generic_headers(GENERIC, NOW - 10), GENERIC).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    // Same sender event id, different content: refused with a 4xx, a sender may stop sending.
    let changed = GENERIC.replace("Katherine", "Kate");
    assert_ne!(changed, GENERIC);
    let again = post(&h, "/generic", &generic_headers(&changed, NOW - 5), &changed).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["status"], "duplicate");
    assert_eq!(again.body["event_id"], first.body["event_id"]);
    assert_eq!(
        h.queue.messages().len(),
        1,
        "the first content stays the one queued"
    );
}

#[tokio::test]
async fn a_different_delivery_under_a_claim_in_progress_is_told_to_retry() {
    let h = harness();
    held_claim(&h, ENROLLMENT_KEY, "sha256:00", false).await;
    let response = post(&h, "/skilljar", &skilljar_headers(), ENROLLMENT).await;
    assert_eq!(
        response.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        response.body
    );
    assert_eq!(error_of(&response), "in_progress");
    assert!(h.queue.messages().is_empty());
}

#[tokio::test]
async fn the_claim_hash_is_of_the_delivery_as_received() {
    let h = harness();
    let response = post(&h, "/skilljar", &skilljar_headers(), ENROLLMENT).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
    let record = h.store.get(ENROLLMENT_KEY);
    assert_eq!(
        record.map(|r| r.payload_hash),
        Some(DeliveryHash::of(ENROLLMENT.as_bytes()).as_str().to_owned())
    );
}
