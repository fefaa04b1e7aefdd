use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::{Signature, VerifyingKey};
use ghl_sandbox::{SandboxConfig, WebhookConfig, WebhookKey};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::common::{Client, LOC, start};

/// What the receiver saw: the `x-ghl-signature` header and the body's bytes.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook endpoint on a free port that answers 429 to its first `too_many` requests.
async fn receiver(too_many: usize) -> (String, Received) {
    let received: Received = Arc::default();
    let refusals = Arc::new(AtomicUsize::new(too_many));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let log = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (log, refusals) = (log.clone(), refusals.clone());
            let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let (log, refusals) = (log.clone(), refusals.clone());
                async move {
                    let signature = header(request.headers(), "x-ghl-signature");
                    let body = axum::body::to_bytes(axum::body::Body::new(request.into_body()), usize::MAX)
                        .await
                        .unwrap_or_default();
                    log.lock()
                        .unwrap()
                        .push((signature, String::from_utf8_lossy(&body).into_owned()));
                    let refuse = refusals
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    let status = if refuse {
                        StatusCode::TOO_MANY_REQUESTS
                    } else {
                        StatusCode::ACCEPTED
                    };
                    let mut response = http::Response::new(axum::body::Body::empty());
                    *response.status_mut() = status;
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (url, received)
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn key() -> WebhookKey {
    WebhookKey::from_seed([9; 32])
}

fn config(url: &str) -> SandboxConfig {
    let mut webhooks = WebhookConfig::new(url, key());
    webhooks.retry_delay = Duration::from_millis(10);
    SandboxConfig::default().with_webhooks(webhooks)
}

/// The signature checks out over the body's exact bytes with the configured key's public half.
fn assert_signed(signature: &str, body: &str) {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .unwrap();
    let signature = Signature::from_slice(&bytes).unwrap();
    let public = VerifyingKey::from_bytes(&key().public_key_bytes()).unwrap();
    public
        .verify_strict(body.as_bytes(), &signature)
        .unwrap_or_else(|e| panic!("bad signature on {body}: {e}"));
}

/// The fields GHL's own example of the event type has (`tests/contract/ghl-api/webhook-events`),
/// plus the two every marketplace delivery carries.
fn ghl_fields(event_type: &str) -> HashSet<String> {
    let path = format!(
        "{}/../contract/ghl-api/webhook-events/{event_type}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut fields: HashSet<String> = spec["schema"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    fields.extend(["webhookId".to_owned(), "timestamp".to_owned()]);
    fields
}

#[tokio::test]
async fn every_change_is_announced_signed_in_ghls_shape() {
    let (url, received) = receiver(0).await;
    let sandbox = start(config(&url)).await;
    let ghl = Client::new(&sandbox);
    let created = ghl
        .post(
            "/contacts/",
            json!({"locationId": LOC, "firstName": "Ada", "email": "ada@example.com", "tags": ["lms"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["contact"]["id"].as_str().unwrap().to_owned();
    let contact = format!("/contacts/{id}");
    let steps = [
        ghl.put(&contact, json!({"tags": ["lms", "vip"]})).await,
        ghl.put(&contact, json!({"dnd": true})).await,
        ghl.post(&format!("{contact}/tags"), json!({"tags": ["alumni"]}))
            .await,
        ghl.delete(&format!("{contact}/tags"), Some(json!({"tags": ["vip"]})))
            .await,
    ];
    assert!(steps.iter().all(|a| a.status < 300));
    let note = ghl
        .post(&format!("{contact}/notes"), json!({"body": "Called Ada"}))
        .await;
    let note_id = note.body["note"]["id"].as_str().unwrap().to_owned();
    ghl.put(
        &format!("{contact}/notes/{note_id}"),
        json!({"body": "Called Ada twice"}),
    )
    .await;
    let task = ghl
        .post(
            &format!("{contact}/tasks"),
            json!({"title": "Send the syllabus", "dueDate": "2026-12-01T09:00:00Z", "completed": false}),
        )
        .await;
    let task_id = task.body["task"]["id"].as_str().unwrap().to_owned();
    ghl.put(
        &format!("{contact}/tasks/{task_id}/completed"),
        json!({"completed": true}),
    )
    .await;
    ghl.delete(&format!("{contact}/tasks/{task_id}"), None).await;
    ghl.delete(&contact, None).await;

    let expected = [
        "ContactCreate",
        "ContactUpdate",
        "ContactTagUpdate",
        "ContactUpdate",
        "ContactDndUpdate",
        "ContactTagUpdate",
        "ContactTagUpdate",
        "NoteCreate",
        "NoteUpdate",
        "TaskCreate",
        "TaskComplete",
        "TaskDelete",
        "ContactDelete",
    ];
    let sent = sandbox
        .wait_for_webhooks(expected.len(), Duration::from_secs(10))
        .await;
    let types: Vec<&str> = sent.iter().map(|w| w.event_type.as_str()).collect();
    assert_eq!(types, expected);
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), expected.len());
    let mut webhook_ids = HashSet::new();
    for ((signature, body), event_type) in received.iter().zip(expected) {
        assert_signed(signature, body);
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["type"], event_type);
        assert_eq!(body["locationId"], LOC);
        assert!(webhook_ids.insert(body["webhookId"].as_str().unwrap().to_owned()));
        let stamped = time::OffsetDateTime::parse(
            body["timestamp"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!((time::OffsetDateTime::now_utc() - stamped).whole_seconds().abs() < 60);
        let allowed = ghl_fields(event_type);
        for field in body.as_object().unwrap().keys() {
            assert!(
                allowed.contains(field),
                "{event_type} has {field}, which GHL's does not"
            );
        }
        let subject = if event_type.starts_with("Contact") {
            &body["id"]
        } else {
            &body["contactId"]
        };
        assert_eq!(subject, id.as_str(), "{event_type}");
    }
    let tag_update = serde_json::from_str::<Value>(&received[6].1).unwrap();
    assert_eq!(tag_update["tags"], json!(["lms", "alumni"]));
    assert_eq!(
        serde_json::from_str::<Value>(&received[4].1).unwrap()["dnd"],
        true
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn only_a_429_is_retried_with_the_same_webhook_id_signed_anew() {
    let (url, received) = receiver(2).await;
    let sandbox = start(config(&url)).await;
    let created = Client::new(&sandbox)
        .post(
            "/contacts/",
            json!({"locationId": LOC, "email": "grace@example.com"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let sent = sandbox.wait_for_webhooks(1, Duration::from_secs(10)).await;
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].attempts, sent[0].status), (3, Some(202)));
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    let ids: HashSet<String> = received
        .iter()
        .map(|(signature, body)| {
            assert_signed(signature, body);
            let body: Value = serde_json::from_str(body).unwrap();
            body["webhookId"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every attempt carries the same webhookId");

    // After the last retry the delivery is given up, as GHL gives it up.
    let (url, received) = receiver(usize::MAX).await;
    let mut config = config(&url);
    if let Some(webhooks) = config.webhooks.as_mut() {
        webhooks.retries = 2;
    }
    let sandbox = start(config).await;
    Client::new(&sandbox)
        .post(
            "/contacts/",
            json!({"locationId": LOC, "email": "lin@example.com"}),
        )
        .await;
    let sent = sandbox.wait_for_webhooks(1, Duration::from_secs(10)).await;
    assert_eq!((sent[0].attempts, sent[0].status), (3, Some(429)));
    assert_eq!(received.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn without_a_webhook_url_nothing_is_sent() {
    let sandbox = start(SandboxConfig::default()).await;
    Client::new(&sandbox)
        .post(
            "/contacts/",
            json!({"locationId": LOC, "email": "ann@example.com"}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(sandbox.webhooks().is_empty());
}

#[tokio::test]
async fn record_creates_and_updates_are_announced_in_ghls_shape() {
    let (url, received) = receiver(0).await;
    let sandbox = start(config(&url)).await;
    let ghl = Client::new(&sandbox);
    let key = "custom_objects.course_enrollments";
    let schema = ghl
        .post(
            "/objects/",
            json!({"labels": {"singular": "Course enrollment", "plural": "Course enrollments"}, "key": "course_enrollments",
                   "locationId": LOC, "primaryDisplayPropertyDetails": {"key": "enrollment_key", "name": "Enrollment", "dataType": "TEXT"}}),
        )
        .await;
    assert_eq!(schema.status, 201, "{}", schema.body);
    let records = format!("/objects/{key}/records");
    let created = ghl
        .post(
            &records,
            json!({"locationId": LOC, "properties": {"enrollment_key": "skilljar:u1:c1"}, "owner": ["user-1"], "followers": ["user-2"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["record"]["id"].as_str().unwrap().to_owned();
    let updated = ghl
        .put(
            &format!("{records}/{id}?locationId={LOC}"),
            json!({"properties": {"enrollment_key": "skilljar:u1:c2"}}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);

    let sent = sandbox.wait_for_webhooks(2, Duration::from_secs(10)).await;
    let types: Vec<&str> = sent.iter().map(|w| w.event_type.as_str()).collect();
    assert_eq!(types, ["RecordCreate", "RecordUpdate"]);
    let received = received.lock().unwrap().clone();
    for ((signature, body), (event_type, value)) in received.iter().zip([
        ("RecordCreate", "skilljar:u1:c1"),
        ("RecordUpdate", "skilljar:u1:c2"),
    ]) {
        assert_signed(signature, body);
        let body: Value = serde_json::from_str(body).unwrap();
        let allowed = ghl_fields(event_type);
        for field in body.as_object().unwrap().keys() {
            assert!(
                allowed.contains(field),
                "{event_type} has {field}, which GHL's does not"
            );
        }
        assert_eq!(body["type"], event_type);
        assert_eq!(body["locationId"], LOC);
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["owners"], json!(["user-1"]));
        assert_eq!(body["followers"], json!(["user-2"]));
        assert_eq!(
            body["properties"],
            json!([{"key": "enrollment_key", "valueString": value}])
        );
    }
    sandbox.shutdown().await;
}
