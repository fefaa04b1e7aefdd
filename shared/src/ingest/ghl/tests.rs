use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use rsa::pkcs1v15;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{Keypair, SignatureEncoding, Signer as _};

use super::*;
use crate::clock::FixedClock;
use crate::contract::{DeliveryHash, Envelope};
use crate::idempotency::Idempotency;
use crate::ingest::{IngestRequest, IngestResponse, IngestService};
use crate::memory::{MemoryIdempotencyStore, MemoryQueue, MemorySecrets};
use crate::secrets::CachedSecret;

const CONTACT_CREATE: &str = include_str!("../../../../tests/fixtures/ghl/contact_create.json");
const CONTACT_UPDATE: &str = include_str!("../../../../tests/fixtures/ghl/contact_update.json");
const CONTACT_DELETE: &str = include_str!("../../../../tests/fixtures/ghl/contact_delete.json");
const CONTACT_TAG_UPDATE: &str = include_str!("../../../../tests/fixtures/ghl/contact_tag_update.json");
const CONTACT_DND_UPDATE: &str = include_str!("../../../../tests/fixtures/ghl/contact_dnd_update.json");
const NOTE_CREATE: &str = include_str!("../../../../tests/fixtures/ghl/note_create.json");
const NOTE_UPDATE: &str = include_str!("../../../../tests/fixtures/ghl/note_update.json");
const TASK_CREATE: &str = include_str!("../../../../tests/fixtures/ghl/task_create.json");
const TASK_COMPLETE: &str = include_str!("../../../../tests/fixtures/ghl/task_complete.json");
const TASK_DELETE: &str = include_str!("../../../../tests/fixtures/ghl/task_delete.json");
const APPOINTMENT_CREATE: &str = include_str!("../../../../tests/fixtures/ghl/appointment_create.json");
const RECORD_UPDATE: &str = include_str!("../../../../tests/fixtures/ghl/record_update.json");
const WORKFLOW: &str = include_str!("../../../../tests/fixtures/ghl/workflow_contact_tag_update.json");
const RSA_TEST_KEY: &str = include_str!("../../../../tests/fixtures/ghl/legacy-rsa-test-key.pem");

/// The fixtures' `timestamp`, 2025-11-22T10:00:00Z.
const SENT: i64 = 1_763_805_600;
/// Our clock: half a minute after GHL sent them.
const NOW: i64 = SENT + 30;
const WORKFLOW_HEADER: &str = "x-lms-sync-workflow-secret";
const WORKFLOW_SECRET: &str = "workflow-secret-4f2a9c81d7e3";
const PATH: &str = "/ghl-events/ghl";

fn signer() -> GhlSigner {
    GhlSigner::from_seed([7; 32])
}

fn other_signer() -> GhlSigner {
    GhlSigner::from_seed([8; 32])
}

fn rsa_signer() -> pkcs1v15::SigningKey<rsa::sha2::Sha256> {
    let der = key_der(RSA_TEST_KEY).unwrap_or_default();
    pkcs1v15::SigningKey::from_pkcs8_der(&der).unwrap_or_else(|e| panic!("RSA test key: {e}"))
}

fn rsa_public_key() -> String {
    let der = rsa_signer()
        .verifying_key()
        .to_public_key_der()
        .unwrap_or_else(|e| panic!("{e}"));
    STANDARD.encode(der.as_bytes())
}

fn rsa_sign(body: &str) -> String {
    STANDARD.encode(rsa_signer().sign(body.as_bytes()).to_bytes())
}

/// The `ghl` section the tests deploy, with `extra` fields merged in.
fn secrets(extra: Value) -> String {
    let mut ghl = serde_json::json!({
        "publicKeys": [signer().public_key()],
        "workflowHeader": { "name": WORKFLOW_HEADER, "value": WORKFLOW_SECRET },
    });
    if let (Some(ghl), Value::Object(extra)) = (ghl.as_object_mut(), extra) {
        ghl.extend(extra);
    }
    serde_json::json!({ "ghl": ghl }).to_string()
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

struct Harness {
    service: IngestService,
    queue: Arc<MemoryQueue>,
    store: Arc<MemoryIdempotencyStore>,
    clock: Arc<FixedClock>,
}

fn harness() -> Harness {
    harness_with(&secrets(Value::Null))
}

fn harness_with(secrets: &str) -> Harness {
    let queue = Arc::new(MemoryQueue::default());
    let store = Arc::new(MemoryIdempotencyStore::with_outbox(queue.clone()));
    let clock = Arc::new(FixedClock::new(at(NOW)));
    let service = IngestService::new(
        Trigger::GhlEvents,
        Idempotency::new(store.clone(), Duration::from_secs(86_400)),
        CachedSecret::new(
            Arc::new(MemorySecrets::default().with("webhooks", secrets)),
            "webhooks",
            Duration::from_secs(300),
        ),
        clock.clone(),
    );
    Harness {
        service,
        queue,
        store,
        clock,
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(*name, value);
        }
    }
    headers
}

fn signed(body: &str) -> HeaderMap {
    headers(&[(SIGNATURE_HEADER, &signer().sign(body.as_bytes()))])
}

fn from_workflow() -> HeaderMap {
    headers(&[(WORKFLOW_HEADER, WORKFLOW_SECRET)])
}

/// A fixture sent `secs` after (or before) the fixtures' own time: `timestamp` rewritten.
fn stamped(body: &str, unix: i64) -> String {
    let stamp = at(unix).format(&Rfc3339).unwrap_or_default();
    body.replace("2025-11-22T10:00:00.000Z", &stamp)
}

async fn post(h: &Harness, headers: &HeaderMap, body: &str) -> IngestResponse {
    h.service
        .handle(IngestRequest {
            method: &Method::POST,
            path: PATH,
            headers,
            body: body.as_bytes(),
            request_id: Some("req-ghl"),
        })
        .await
}

fn queued(h: &Harness) -> Vec<Envelope> {
    h.queue
        .messages()
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// The one change a signed fixture was queued as.
async fn change_of(body: &str) -> GhlChange {
    let h = harness();
    let response = post(&h, &signed(body), body).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
    match queued(&h).pop().map(|e| e.event) {
        Some(SyncEvent::GhlChanged(change)) => change,
        other => panic!("expected a GhlChanged, got {other:?}"),
    }
}

#[tokio::test]
async fn every_webhook_type_becomes_its_change() {
    let task = |id: &str| GhlChangeKind::TaskCreated { task_id: id.into() };
    let cases = [
        (
            CONTACT_CREATE,
            GhlChangeKind::ContactCreated,
            Some("nmFmQEsNgz6AVpgLVUJ0"),
        ),
        (
            CONTACT_UPDATE,
            GhlChangeKind::ContactUpdated,
            Some("nmFmQEsNgz6AVpgLVUJ0"),
        ),
        (
            CONTACT_DELETE,
            GhlChangeKind::ContactDeleted,
            Some("nmFmQEsNgz6AVpgLVUJ0"),
        ),
        (
            CONTACT_TAG_UPDATE,
            GhlChangeKind::ContactTagsChanged,
            Some("nmFmQEsNgz6AVpgLVUJ0"),
        ),
        (
            CONTACT_DND_UPDATE,
            GhlChangeKind::ContactDndChanged,
            Some("nmFmQEsNgz6AVpgLVUJ0"),
        ),
        (
            NOTE_CREATE,
            GhlChangeKind::NoteCreated {
                note_id: "otg8dTQqGLh3Q6iQI55w".into(),
            },
            Some("CWBf1PR9LvvBkcYqiXlc"),
        ),
        (
            NOTE_UPDATE,
            GhlChangeKind::NoteUpdated {
                note_id: "otg8dTQqGLh3Q6iQI55w".into(),
            },
            Some("CWBf1PR9LvvBkcYqiXlc"),
        ),
        (
            TASK_CREATE,
            task("UlRWGLSXh0ji5qbiGu4i"),
            Some("CWBf1PR9LvvBkcYqiXlc"),
        ),
        (
            TASK_COMPLETE,
            GhlChangeKind::TaskCompleted {
                task_id: "5HrB1IbmnKMBXloldFuP".into(),
            },
            Some("WFwVrSSjZ2CNHbZThQX2"),
        ),
        (
            TASK_DELETE,
            GhlChangeKind::TaskDeleted {
                task_id: "UlRWGLSXh0ji5qbiGu4i".into(),
            },
            Some("CWBf1PR9LvvBkcYqiXlc"),
        ),
        (
            APPOINTMENT_CREATE,
            GhlChangeKind::AppointmentCreated {
                appointment_id: "0007BWpSzSwfiuSl0tR2".into(),
            },
            Some("9NkT25Vor1v4aQatFsv2"),
        ),
        (
            RECORD_UPDATE,
            GhlChangeKind::RecordUpdated {
                record_id: "679b8f9bde6a0c356a0311b3".into(),
                properties: [
                    (
                        "enrollment_key".to_owned(),
                        "skilljar:3gh6zcs5x2bz:2wzplz3bmtxpa".to_owned(),
                    ),
                    ("status".to_owned(), "expired".to_owned()),
                ]
                .into(),
            },
            None,
        ),
    ];
    assert_eq!(cases.len(), EVENT_TYPES.len());
    for (body, kind, contact_id) in cases {
        let change = change_of(body).await;
        assert_eq!(change.change, kind);
        assert_eq!(change.location_id, "ve9EPM428h8vShlRW1KT");
        assert_eq!(change.contact_id.as_deref(), contact_id, "{kind:?}");
        assert_eq!(change.occurred_at, at(SENT));
        // Only contact events carry the contact; the rest is the worker's to fetch.
        let is_contact_event = matches!(
            kind,
            GhlChangeKind::ContactCreated
                | GhlChangeKind::ContactUpdated
                | GhlChangeKind::ContactDeleted
                | GhlChangeKind::ContactTagsChanged
                | GhlChangeKind::ContactDndChanged
        );
        assert_eq!(change.contact.is_some(), is_contact_event, "{kind:?}");
    }
}

#[tokio::test]
async fn contact_events_carry_the_contact_as_sent() -> Result<(), crate::domain::InvalidEmail> {
    let change = change_of(CONTACT_TAG_UPDATE).await;
    let expected = GhlContactFacts {
        email: Some(Email::try_from("JohnDeo@gmail.comm".to_owned())?),
        first_name: Some("John".into()),
        last_name: Some("Deo".into()),
        phone: Some("+919509597501".into()),
        tags: vec!["id magna sed Lorem".into(), "Duis dolor commodo aliqua".into()],
        custom_fields: [("BcdmQEsNgz6AVpgLVUJ0".to_owned(), "XYZ Corp".to_owned())].into(),
        dnd: Some(true),
        partial: false,
    };
    assert_eq!(change.contact, Some(expected));
    Ok(())
}

#[tokio::test]
async fn odd_contact_fields_are_left_out_rather_than_refused() {
    let body = CONTACT_UPDATE
        .replace(r#""JohnDeo@gmail.comm""#, r#""not an address""#)
        .replace(r#""firstName": "John""#, r#""firstName": 42"#)
        .replace(r#""value": "XYZ Corp""#, r#""value": ["a", "b"]"#);
    let facts = change_of(&body).await.contact.unwrap_or_default();
    assert_eq!((facts.email, facts.first_name), (None, None));
    assert_eq!(
        facts
            .custom_fields
            .get("BcdmQEsNgz6AVpgLVUJ0")
            .map(String::as_str),
        Some(r#"["a","b"]"#)
    );
}

#[tokio::test]
async fn a_task_without_its_contact_is_queued_for_the_worker_to_find() {
    let body = TASK_CREATE.replace(r#""contactId": "CWBf1PR9LvvBkcYqiXlc","#, "");
    assert_ne!(body, TASK_CREATE);
    let change = change_of(&body).await;
    assert_eq!(change.contact_id, None);
    assert_eq!(
        change.change,
        GhlChangeKind::TaskCreated {
            task_id: "UlRWGLSXh0ji5qbiGu4i".into()
        }
    );
}

#[tokio::test]
async fn a_replayed_webhook_id_is_a_duplicate_and_not_queued_again() {
    let h = harness();
    let first = post(&h, &signed(NOTE_CREATE), NOTE_CREATE).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    let replay = post(&h, &signed(NOTE_CREATE), NOTE_CREATE).await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.body);
    assert_eq!(replay.body["status"], "duplicate");
    assert_eq!(replay.body["event_id"], first.body["event_id"]);
    assert_eq!(queued(&h).len(), 1);
}

#[tokio::test]
async fn a_retry_signed_anew_later_is_the_same_delivery() {
    let h = harness();
    let first = post(&h, &signed(CONTACT_UPDATE), CONTACT_UPDATE).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    let key = queued(&h)[0].idempotency_key.clone();
    let held = h.store.get(&key).map(|r| r.payload_hash);
    // GHL's retry: the same webhookId, a new timestamp and signature.
    h.clock.advance(Duration::from_secs(600));
    let retry = stamped(CONTACT_UPDATE, SENT + 600);
    let again = post(&h, &signed(&retry), &retry).await;
    assert_eq!(again.body["status"], "duplicate", "{}", again.body);
    assert_eq!(queued(&h).len(), 1);
    // Its claim hash is the first one's: no "identity reused with other content" alarm.
    let retry_hash = DeliveryHash::of(&Ghl::repeated_content(&Delivery {
        headers: &signed(&retry),
        body: retry.as_bytes(),
        received_at: at(NOW),
    }));
    assert_eq!(held.as_deref(), Some(retry_hash.as_str()));
}

#[tokio::test]
async fn other_content_under_a_known_webhook_id_is_answered_as_a_duplicate() {
    let h = harness();
    let first = post(&h, &signed(TASK_CREATE), TASK_CREATE).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let changed = TASK_CREATE.replace("Loram ipsum", "Other");
    let again = post(&h, &signed(&changed), &changed).await;
    assert_eq!(
        (again.status, &again.body["status"]),
        (StatusCode::OK, &Value::from("duplicate"))
    );
    assert_eq!(queued(&h).len(), 1);
}

#[tokio::test]
async fn signatures_are_checked_over_the_raw_bytes() {
    let h = harness();
    // Same JSON, other bytes: a re-serialised body no longer matches its signature.
    let reformatted =
        serde_json::to_string(&serde_json::from_str::<Value>(CONTACT_CREATE).unwrap_or_default())
            .unwrap_or_default();
    let cases: Vec<(&str, HeaderMap, String)> = vec![
        (
            "tampered",
            signed(CONTACT_CREATE),
            CONTACT_CREATE.replace("John", "Mallory"),
        ),
        ("re-serialised", signed(CONTACT_CREATE), reformatted),
        (
            "other key",
            headers(&[(SIGNATURE_HEADER, &other_signer().sign(CONTACT_CREATE.as_bytes()))]),
            CONTACT_CREATE.to_owned(),
        ),
        (
            "not base64",
            headers(&[(SIGNATURE_HEADER, "not-a-signature!")]),
            CONTACT_CREATE.to_owned(),
        ),
        (
            "too short",
            headers(&[(SIGNATURE_HEADER, "AAAA")]),
            CONTACT_CREATE.to_owned(),
        ),
        ("unsigned", headers(&[]), CONTACT_CREATE.to_owned()),
    ];
    for (case, headers, body) in cases {
        let response = post(&h, &headers, &body).await;
        assert_eq!(
            response.status,
            StatusCode::UNAUTHORIZED,
            "{case}: {}",
            response.body
        );
        assert_eq!(response.body["error"], "unauthorized", "{case}");
    }
    assert!(h.queue.messages().is_empty());
}

#[tokio::test]
async fn any_configured_key_may_sign_and_ghls_own_is_the_default() {
    let rotation = harness_with(&secrets(serde_json::json!({
        "publicKeys": [other_signer().public_key(), signer().public_key()],
    })));
    let response = post(&rotation, &signed(NOTE_UPDATE), NOTE_UPDATE).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);

    let default = harness_with(&secrets(serde_json::json!({ "publicKeys": [] })));
    let response = post(&default, &signed(NOTE_UPDATE), NOTE_UPDATE).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{}", response.body);
    let published = GHL_KEY.as_ref().map(|k| STANDARD.encode(k.as_bytes()));
    assert_eq!(published.map(|k| k.len()), Some(44), "GHL's key parses");
}

#[tokio::test]
async fn bodies_older_or_newer_than_five_minutes_are_refused() {
    for (sent, accepted) in [
        (NOW - 301, false),
        (NOW + 301, false),
        (NOW - 300, true),
        (NOW + 300, true),
    ] {
        let h = harness();
        let body = stamped(TASK_COMPLETE, sent);
        let response = post(&h, &signed(&body), &body).await;
        let expected = if accepted {
            StatusCode::ACCEPTED
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(
            response.status,
            expected,
            "sent {}: {}",
            sent - NOW,
            response.body
        );
    }
    let h = harness();
    let no_timestamp = TASK_COMPLETE.replace(r#""timestamp": "2025-11-22T10:00:00.000Z","#, "");
    let response = post(&h, &signed(&no_timestamp), &no_timestamp).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{}", response.body);
    let millis = TASK_COMPLETE.replace(r#""2025-11-22T10:00:00.000Z""#, &format!("{}", SENT * 1000));
    let response = post(&h, &signed(&millis), &millis).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
    assert!(response.body["status"] == "accepted");
}

#[tokio::test]
async fn legacy_rsa_signatures_count_only_when_enabled() {
    let legacy = headers(&[(LEGACY_SIGNATURE_HEADER, &rsa_sign(CONTACT_UPDATE))]);
    let refused = post(&harness(), &legacy, CONTACT_UPDATE).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("deprecated")),
        "{}",
        refused.body
    );

    let enabled = harness_with(&secrets(serde_json::json!({
        "acceptLegacyRsa": true,
        "legacyRsaPublicKey": rsa_public_key(),
    })));
    let accepted = post(&enabled, &legacy, CONTACT_UPDATE).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let tampered = CONTACT_UPDATE.replace("John", "Mallory");
    let response = post(&enabled, &legacy, &tampered).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{}", response.body);
    // Enabled, but GHL's own legacy key by default: our test key's signature does not match it.
    let ghl_key = harness_with(&secrets(serde_json::json!({ "acceptLegacyRsa": true })));
    let response = post(&ghl_key, &legacy, CONTACT_UPDATE).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{}", response.body);
    // When both are sent, the current scheme decides.
    let both = headers(&[
        (LEGACY_SIGNATURE_HEADER, &rsa_sign(CONTACT_DELETE)),
        (SIGNATURE_HEADER, &other_signer().sign(CONTACT_DELETE.as_bytes())),
    ]);
    let response = post(&enabled, &both, CONTACT_DELETE).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{}", response.body);
}

#[tokio::test]
async fn workflow_deliveries_need_the_secret_header() {
    let h = harness();
    let accepted = post(&h, &from_workflow(), WORKFLOW).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let cases = [
        (
            "wrong",
            headers(&[(WORKFLOW_HEADER, "workflow-secret-4f2a9c81d7e4")]),
        ),
        ("prefix", headers(&[(WORKFLOW_HEADER, "workflow-secret")])),
        ("missing", headers(&[])),
        ("other header", headers(&[("x-other", WORKFLOW_SECRET)])),
    ];
    for (case, headers) in cases {
        let response = post(&h, &headers, WORKFLOW).await;
        assert_eq!(
            response.status,
            StatusCode::UNAUTHORIZED,
            "{case}: {}",
            response.body
        );
        let detail = response.body["detail"].as_str().unwrap_or_default();
        assert!(!detail.contains(WORKFLOW_SECRET), "{detail}");
    }
    // No workflow header configured: the channel is closed.
    let closed = harness_with(r#"{"ghl": {}}"#);
    let response = post(&closed, &from_workflow(), WORKFLOW).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{}", response.body);
    assert_eq!(queued(&h).len(), 1);
}

#[tokio::test]
async fn a_workflow_delivery_becomes_the_change_its_custom_data_names()
-> Result<(), crate::domain::InvalidEmail> {
    let h = harness();
    let response = post(&h, &from_workflow(), WORKFLOW).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
    let Some(SyncEvent::GhlChanged(change)) = queued(&h).pop().map(|e| e.event) else {
        panic!("not a GhlChanged")
    };
    assert_eq!(change.change, GhlChangeKind::ContactTagsChanged);
    assert_eq!(change.location_id, "ve9EPM428h8vShlRW1KT");
    assert_eq!(change.contact_id.as_deref(), Some("nmFmQEsNgz6AVpgLVUJ0"));
    assert_eq!(
        change.occurred_at,
        at(NOW),
        "the body has no time: when it arrived"
    );
    let facts = change.contact.unwrap_or_default();
    assert_eq!(
        facts.email,
        Some(Email::try_from("johndeo@gmail.comm".to_owned())?)
    );
    assert_eq!(
        facts.tags,
        ["id magna sed lorem", "duis dolor commodo aliqua", "lms-learner"]
    );

    // The same body again (GHL's retry) is a duplicate; another body is another run.
    let again = post(&h, &from_workflow(), WORKFLOW).await;
    assert_eq!(again.body["status"], "duplicate", "{}", again.body);
    let other_run = WORKFLOW.replace(",lms-learner", "");
    let response = post(&h, &from_workflow(), &other_run).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);

    let task = WORKFLOW.replace(
        r#""event": "ContactTagUpdate""#,
        r#""event": "TaskComplete", "id": "task-77""#,
    );
    let response = post(&h, &from_workflow(), &task).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
    let Some(SyncEvent::GhlChanged(change)) = queued(&h).pop().map(|e| e.event) else {
        panic!("not a GhlChanged")
    };
    assert_eq!(
        change.change,
        GhlChangeKind::TaskCompleted {
            task_id: "task-77".into()
        }
    );
    let default = WORKFLOW.replace(r#""customData": {"#, r#""customData": {}, "was": {"#);
    let response = post(&h, &from_workflow(), &default).await;
    assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
    let Some(SyncEvent::GhlChanged(change)) = queued(&h).pop().map(|e| e.event) else {
        panic!("not a GhlChanged")
    };
    assert_eq!(change.change, GhlChangeKind::ContactUpdated);
    Ok(())
}

#[tokio::test]
async fn bad_bodies_name_the_field() {
    let h = harness();
    let marketplace = |body: String| (signed(&body), body);
    let workflow = |body: String| (from_workflow(), body);
    let cases = [
        (
            marketplace(CONTACT_CREATE.replace(r#""locationId": "ve9EPM428h8vShlRW1KT","#, "")),
            "locationId",
        ),
        (
            marketplace(CONTACT_CREATE.replace(r#""id": "nmFmQEsNgz6AVpgLVUJ0","#, "")),
            "id",
        ),
        (
            marketplace(NOTE_CREATE.replace(r#""id": "otg8dTQqGLh3Q6iQI55w","#, "")),
            "id",
        ),
        (
            marketplace(APPOINTMENT_CREATE.replace(r#""appointment": {"#, r#""meeting": {"#)),
            "appointment",
        ),
        (
            marketplace(TASK_DELETE.replace(r#""2025-11-22T10:00:00.000Z""#, r#""yesterday""#)),
            "timestamp",
        ),
        (
            workflow(WORKFLOW.replace(r#""contact_id""#, r#""contact_ref""#)),
            "contact_id",
        ),
        (
            workflow(WORKFLOW.replace(r#""id": "ve9EPM428h8vShlRW1KT""#, r#""name2": "x""#)),
            "location.id",
        ),
        (
            workflow(WORKFLOW.replace("ContactTagUpdate", "ContactMerged")),
            "customData.event",
        ),
        (
            workflow(WORKFLOW.replace("ContactTagUpdate", "NoteCreate")),
            "customData.id",
        ),
    ];
    for ((headers, body), field) in cases {
        let response = post(&h, &headers, &body).await;
        assert_eq!(
            (response.status, response.body["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("unprocessable")),
            "{field}: {}",
            response.body
        );
        let detail = response.body["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with(&format!("at `{field}`")), "{field}: {detail}");
    }
    let not_json = "{\"type\": ";
    let response = post(&h, &signed(not_json), not_json).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{}", response.body);
    assert!(h.queue.messages().is_empty());
}

#[tokio::test]
async fn event_types_the_sync_does_not_take_are_acknowledged_and_ignored() {
    let h = harness();
    for body in [
        NOTE_CREATE.replace("NoteCreate", "NoteDelete"),
        CONTACT_CREATE.replace("ContactCreate", "OpportunityCreate"),
    ] {
        let response = post(&h, &signed(&body), &body).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        assert_eq!(response.body["status"], "ignored");
    }
    assert!(h.queue.messages().is_empty());
}

#[tokio::test]
async fn whatever_keeps_a_delivery_from_the_queue_is_answered_429() {
    // The table (where the outbox is written): refused with 429, and the retry is accepted.
    let h = harness();
    h.store.set_failing(true);
    let refused = post(&h, &signed(CONTACT_CREATE), CONTACT_CREATE).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.body);
    assert_eq!(refused.body["error"], "unavailable");
    h.store.set_failing(false);
    let retried = post(&h, &signed(CONTACT_CREATE), CONTACT_CREATE).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);

    // The secret: unreachable, or without a usable `ghl` section.
    for secrets in [
        "",
        r#"{"generic": {"signingSecrets": ["s"]}}"#,
        r#"{"ghl": {"publicKeys": ["nope"]}}"#,
    ] {
        let h = if secrets.is_empty() {
            harness_with_secret_id_missing()
        } else {
            harness_with(secrets)
        };
        let response = post(&h, &signed(CONTACT_CREATE), CONTACT_CREATE).await;
        assert_eq!(
            response.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{secrets}: {}",
            response.body
        );
        assert!(h.queue.messages().is_empty());
    }
    let short =
        secrets(serde_json::json!({ "workflowHeader": { "name": WORKFLOW_HEADER, "value": "short" } }));
    let response = post(
        &harness_with(&short),
        &headers(&[(WORKFLOW_HEADER, "short")]),
        WORKFLOW,
    )
    .await;
    assert_eq!(
        response.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        response.body
    );
    assert_eq!(response.body["error"], "misconfigured");

    // The same delivery mid-flight elsewhere.
    let h = harness();
    let key = keys::delivery_claim("ghl", &["f0c3a2b1-7d4e-4b8a-9c6d-000000000001"]);
    let claimed = Idempotency::new(h.store.clone(), Duration::from_secs(60))
        .claim(&key, "sha256:other", (NOW + 60) * 1000, at(NOW))
        .await;
    assert!(claimed.is_ok(), "{claimed:?}");
    let response = post(&h, &signed(CONTACT_CREATE), CONTACT_CREATE).await;
    assert_eq!(
        response.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        response.body
    );
    assert_eq!(response.body["error"], "in_progress");
}

fn harness_with_secret_id_missing() -> Harness {
    let h = harness();
    Harness {
        service: IngestService::new(
            Trigger::GhlEvents,
            Idempotency::new(h.store.clone(), Duration::from_secs(86_400)),
            CachedSecret::new(
                Arc::new(MemorySecrets::default()),
                "webhooks",
                Duration::from_secs(300),
            ),
            h.clock.clone(),
        ),
        ..h
    }
}

#[test]
fn the_secret_section_never_prints_the_workflow_secret() {
    let auth: Result<GhlAuth, _> = crate::secrets::parse_secret(
        "webhooks#ghl",
        &SecretString::from(format!(
            r#"{{"workflowHeader": {{"name": "{WORKFLOW_HEADER}", "value": "{WORKFLOW_SECRET}"}}}}"#
        )),
    );
    let printed = format!("{auth:?}");
    assert!(
        printed.contains(WORKFLOW_HEADER) && !printed.contains(WORKFLOW_SECRET),
        "{printed}"
    );
    let bad: Result<GhlAuth, _> =
        crate::secrets::parse_secret("webhooks#ghl", &SecretString::from(r#"{"publicKeys": ["MCow"]}"#));
    let message = bad.err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        message,
        "secret webhooks#ghl is malformed at `publicKeys[0]`: invalid value"
    );
}

#[test]
fn keys_are_read_from_pem_or_base64_der() {
    let pem = format!(
        "explanatory text\n-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        signer().public_key()
    );
    assert!(ed25519_key(&pem).is_some());
    assert!(ed25519_key(&signer().public_key()).is_some());
    assert!(ed25519_key(GHL_PUBLIC_KEY).is_some());
    assert!(rsa_key(GHL_LEGACY_RSA_KEY).is_some());
    assert!(ed25519_key("MCow").is_none() && rsa_key(GHL_PUBLIC_KEY).is_none());
    let local = GhlSigner::from_pkcs8(include_str!("../../../../config/local/ghl-webhook-test-key.pem"));
    assert!(local.is_some(), "the local test key parses");
}

/// Both schemes agree with OpenSSL (and so with GHL's Node `crypto`), byte for byte:
/// `openssl pkeyutl -sign -rawin` with the local test key over `contact_create.json`, and
/// `openssl dgst -sha256 -sign` with the RSA test key over `contact_update.json`.
#[tokio::test]
async fn signatures_made_by_openssl_verify() {
    const ED25519_BY_OPENSSL: &str =
        "FvEYsZkmWCxBbStTGzHHP57fswcuyM8Cad0Qo0nR2dHgLXve6Vnd21R4m/shaOaNGh1Ajw9sgwfA/tQlDNIKAg==";
    const RSA_BY_OPENSSL: &str = "iaIBONoKEup0dkP4jC/SrB5qDl8e5Qa/3Qc7yJAG/kuHh/OstZ7BbDxaiRf4+9cl5l7YypVPMk2EeLyuQk4lMe1Vm1cr6LzMAtQo3l8xSQB2vL4W7PaGAe/p9OlXwySliJDsIzzvKFsZHeT3j9490tQnU2rpWZ+gX5vNhGlliTF3VLkn/oJr3ecQzF0/Cc8dL6MhOjZ2YzNAS+QoeC5RYxCAfFHkhm3hMN2+1RUMQGkqBL1Ml1UULJsC1xJpLy39lRT1bxtlhsxK+AExwpzBkRAaZP8jiy6Ckv1QxIc88+u2maUBVs2QB0xzepkmZtGOipEatnnWG4bhRO+XqjrMdw==";
    let local = GhlSigner::from_pkcs8(include_str!("../../../../config/local/ghl-webhook-test-key.pem"));
    let Some(local) = local else {
        panic!("the local test key parses")
    };
    assert_eq!(local.sign(CONTACT_CREATE.as_bytes()), ED25519_BY_OPENSSL);
    assert_eq!(rsa_sign(CONTACT_UPDATE), RSA_BY_OPENSSL);

    let h = harness_with(&secrets(serde_json::json!({
        "publicKeys": [local.public_key()],
        "acceptLegacyRsa": true,
        "legacyRsaPublicKey": rsa_public_key(),
    })));
    for (header, signature, body) in [
        (SIGNATURE_HEADER, ED25519_BY_OPENSSL, CONTACT_CREATE),
        (LEGACY_SIGNATURE_HEADER, RSA_BY_OPENSSL, CONTACT_UPDATE),
    ] {
        let response = post(&h, &headers(&[(header, signature)]), body).await;
        assert_eq!(
            response.status,
            StatusCode::ACCEPTED,
            "{header}: {}",
            response.body
        );
    }
}

#[test]
fn every_listed_event_type_has_its_change_and_no_other_does() {
    // Record changes are read from their own body, never through `change_kind`.
    for event_type in EVENT_TYPES.iter().filter(|t| **t != "RecordUpdate") {
        let change = change_kind(event_type, || Ok("x".to_owned()));
        assert!(matches!(change, Ok(Some(_))), "{event_type}");
    }
    for other in ["NoteDelete", "OpportunityCreate", "contactcreate", ""] {
        assert!(
            matches!(change_kind(other, || Ok("x".to_owned())), Ok(None)),
            "{other}"
        );
    }
}
