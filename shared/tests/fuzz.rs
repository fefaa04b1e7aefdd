//! Fuzzing on stable: property tests over every parser and verifier a sender (or a secret's
//! author) reaches through the public API, and over the worker's handling of any well-formed
//! queue message (against the GHL sandbox, in process). `cargo fuzz` needs a nightly toolchain; `proptest` runs
//! on the pinned stable one, in the ordinary test command, and shrinks a failure to a small case.
//!
//! Each property runs `PROPTEST_CASES` cases (256 by default). A long run, as recorded in
//! `docs/reliability.md`:
//!
//! ```text
//! PROPTEST_CASES=40000 cargo test -p lms-ghl-shared --test fuzz -- --test-threads=2
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestRunner;
use rsa::pkcs1v15;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{Keypair, SignatureEncoding, Signer as _};
use secrecy::SecretString;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use ghl_sandbox::{DEFAULT_LOCATION_ID, Sandbox, SandboxConfig};
use lms_ghl::clock::{FixedClock, SystemClock};
use lms_ghl::contract::{self, DeliveryHash, Envelope};
use lms_ghl::domain::{
    CourseRef, Email, GhlChange, GhlChangeKind, GhlContactFacts, LearnerCreated, LearnerRef, MilestoneKind,
    MilestoneReached, NoteAdded, Progress, SourcePlatform, SyncEvent, TaskAction, TaskChanged,
};
use lms_ghl::ghl::auth::GhlSecret;
use lms_ghl::ghl::{GhlClient, GhlClients, GhlConfig, PrivateIntegrationToken, Unlimited};
use lms_ghl::idempotency::Idempotency;
use lms_ghl::ingest::generic::GenericSigning;
use lms_ghl::ingest::ghl::{Ghl, GhlAuth, GhlSigner, LEGACY_SIGNATURE_HEADER, SIGNATURE_HEADER, key_der};
use lms_ghl::ingest::signature::{self, SignatureError};
use lms_ghl::ingest::skilljar::SkilljarAuth;
use lms_ghl::ingest::{Delivery, IngestRequest, IngestService, Provider, Trigger, WebhookSecrets};
use lms_ghl::lms::{LmsAccounts, OutboundSecret, SkilljarSecret, TalentLmsSecret, TrainualSecret};
use lms_ghl::mapping::{Mapping, Placeholder};
use lms_ghl::memory::{MemoryEntityMap, MemoryIdempotencyStore, MemoryLms, MemoryQueue, MemorySecrets};
use lms_ghl::secrets::{CachedSecret, parse_secret};
use lms_ghl::worker::{Message, RecordOutcome, SyncWorker};

const NOW: i64 = 1_763_805_400;
const MAPPING: &str = include_str!("../../config/mapping.toml");

fn flip_bit(bytes: &mut [u8], bit: usize) {
    bytes[bit / 8] ^= 1 << (bit % 8);
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

// ---------------------------------------------------------------------------------------------
// 1. A flipped bit never verifies.
// ---------------------------------------------------------------------------------------------

fn generic_secret() -> SecretString {
    SecretString::from("whsec_fuzz_one")
}

proptest! {
    /// The generic signed format: any single bit of the body flipped → `Mismatch`.
    #[test]
    fn generic_signature_refuses_a_flipped_body_bit(
        body in vec(any::<u8>(), 1..1024),
        bit in any::<Index>(),
        skew in -signature::TOLERANCE_SECS..=signature::TOLERANCE_SECS,
    ) {
        let secrets = [generic_secret()];
        let header = signature::sign(&secrets[0], NOW + skew, &body);
        prop_assert_eq!(signature::verify(Some(&header), &body, &secrets, NOW), Ok(()));
        let mut tampered = body.clone();
        flip_bit(&mut tampered, bit.index(body.len() * 8));
        prop_assert_eq!(
            signature::verify(Some(&header), &tampered, &secrets, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    /// Any single bit of the `X-Webhook-Signature` header flipped → refused. The one exception is
    /// a flip that only changes the case of a hex letter: hex is case-insensitive, so the header
    /// still carries the same timestamp and the same MAC (no new message is accepted).
    #[test]
    fn generic_signature_refuses_a_flipped_header_bit(
        body in vec(any::<u8>(), 0..256),
        bit in any::<Index>(),
        skew in -signature::TOLERANCE_SECS..=signature::TOLERANCE_SECS,
    ) {
        let secrets = [generic_secret()];
        let header = signature::sign(&secrets[0], NOW + skew, &body);
        let mut bytes = header.clone().into_bytes();
        let bit = bit.index(bytes.len() * 8);
        flip_bit(&mut bytes, bit);
        // A header that is not text never reaches the verifier (`HeaderValue::to_str` fails).
        if let Ok(flipped) = String::from_utf8(bytes) {
            let verdict = signature::verify(Some(&flipped), &body, &secrets, NOW);
            let in_mac = header.find(",v1=").is_some_and(|start| bit / 8 >= start + 4);
            if in_mac && flipped.to_ascii_lowercase() == header {
                prop_assert_eq!(verdict, Ok(()), "a case change of hex is the same MAC");
            } else {
                prop_assert!(verdict.is_err(), "{flipped:?} accepted for {header:?}");
            }
        }
    }

    /// Any single bit of the signed timestamp flipped (the MAC left as signed) → refused.
    #[test]
    fn generic_signature_refuses_a_flipped_timestamp_bit(
        body in vec(any::<u8>(), 0..256),
        bit in 0u32..64,
        skew in -signature::TOLERANCE_SECS..=signature::TOLERANCE_SECS,
    ) {
        let secrets = [generic_secret()];
        let timestamp = NOW + skew;
        let header = signature::sign(&secrets[0], timestamp, &body);
        let mac = header.split_once(",v1=").map(|(_, mac)| mac.to_owned()).unwrap_or_default();
        let flipped = timestamp ^ (1i64 << bit);
        let forged = format!("t={flipped},v1={mac}");
        prop_assert!(signature::verify(Some(&forged), &body, &secrets, NOW).is_err());
    }
}

/// The local GHL test key (`config/local/ghl-webhook-test-key.pem`), read once.
fn ghl_signer() -> &'static (GhlSigner, GhlAuth) {
    static SIGNER: OnceLock<(GhlSigner, GhlAuth)> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config/local/ghl-webhook-test-key.pem"
        );
        let pem = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let signer =
            GhlSigner::from_pkcs8(&pem).unwrap_or_else(|| panic!("{path} is not a PKCS#8 Ed25519 key"));
        let doc = json!({ "publicKeys": [signer.public_key()] }).to_string();
        let auth = parse_secret("webhooks#ghl", &SecretString::from(doc)).unwrap_or_else(|e| panic!("{e}"));
        (signer, auth)
    })
}

fn ghl_authenticate(auth: &GhlAuth, signature: &[u8], body: &[u8]) -> bool {
    ghl_authenticate_as(SIGNATURE_HEADER, auth, signature, body)
}

fn ghl_authenticate_as(header: &'static str, auth: &GhlAuth, signature: &[u8], body: &[u8]) -> bool {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    match HeaderValue::from_bytes(signature) {
        Ok(value) => headers.insert(header, value),
        // Not a header value: the delivery never reaches the function.
        Err(_) => return false,
    };
    let delivery = Delivery {
        headers: &headers,
        body,
        received_at: at(NOW),
    };
    Ghl::authenticate(&delivery, auth, at(NOW)).is_ok()
}

/// A marketplace body GHL could sign: a fresh `timestamp` and some content.
fn ghl_body() -> impl Strategy<Value = Vec<u8>> {
    (any::<String>(), -300i64..=300).prop_map(|(content, skew)| {
        let timestamp = at(NOW + skew).format(&Rfc3339).unwrap_or_default();
        json!({ "type": "ContactCreate", "timestamp": timestamp, "content": content })
            .to_string()
            .into_bytes()
    })
}

proptest! {
    /// GHL's Ed25519 `x-ghl-signature`, signed with the local test key: the signed body is
    /// accepted, and any single bit flipped in the body or in the signature header is refused.
    #[test]
    fn ghl_signature_refuses_a_flipped_bit(body in ghl_body(), bit in any::<Index>(), in_body: bool) {
        let (signer, auth) = ghl_signer();
        let signature = signer.sign(&body).into_bytes();
        prop_assert!(ghl_authenticate(auth, &signature, &body));
        if in_body {
            let mut tampered = body.clone();
            flip_bit(&mut tampered, bit.index(body.len() * 8));
            prop_assert!(!ghl_authenticate(auth, &signature, &tampered));
        } else {
            let mut tampered = signature.clone();
            flip_bit(&mut tampered, bit.index(signature.len() * 8));
            prop_assert!(!ghl_authenticate(auth, &tampered, &body));
        }
    }
}

/// The vendored legacy RSA test key (`tests/fixtures/ghl/legacy-rsa-test-key.pem`, made for the
/// unit tests; GHL's private key is GHL's), and the `ghl` section that accepts it, read once.
fn rsa_signer() -> &'static (pkcs1v15::SigningKey<rsa::sha2::Sha256>, GhlAuth) {
    static SIGNER: OnceLock<(pkcs1v15::SigningKey<rsa::sha2::Sha256>, GhlAuth)> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let pem = include_str!("../../tests/fixtures/ghl/legacy-rsa-test-key.pem");
        let der = key_der(pem).unwrap_or_default();
        let signer = pkcs1v15::SigningKey::<rsa::sha2::Sha256>::from_pkcs8_der(&der)
            .unwrap_or_else(|e| panic!("RSA test key: {e}"));
        let public = signer
            .verifying_key()
            .to_public_key_der()
            .unwrap_or_else(|e| panic!("{e}"));
        let doc = json!({
            "acceptLegacyRsa": true,
            "legacyRsaPublicKey": STANDARD.encode(public.as_bytes()),
        })
        .to_string();
        let auth = parse_secret("webhooks#ghl", &SecretString::from(doc)).unwrap_or_else(|e| panic!("{e}"));
        (signer, auth)
    })
}

proptest! {

    /// GHL's legacy `x-wh-signature` (RSA PKCS#1 v1.5 SHA-256), accepted because the secret says
    /// so: the signed body is accepted, and any single bit flipped in the body or in the signature
    /// header is refused.
    #[test]
    fn legacy_rsa_signature_refuses_a_flipped_bit(body in ghl_body(), bit in any::<Index>(), in_body: bool) {
        let (signer, auth) = rsa_signer();
        let signature = STANDARD.encode(signer.sign(&body).to_bytes()).into_bytes();
        prop_assert!(ghl_authenticate_as(LEGACY_SIGNATURE_HEADER, auth, &signature, &body));
        if in_body {
            let mut tampered = body.clone();
            flip_bit(&mut tampered, bit.index(body.len() * 8));
            prop_assert!(!ghl_authenticate_as(LEGACY_SIGNATURE_HEADER, auth, &signature, &tampered));
        } else {
            let mut tampered = signature.clone();
            flip_bit(&mut tampered, bit.index(signature.len() * 8));
            prop_assert!(!ghl_authenticate_as(LEGACY_SIGNATURE_HEADER, auth, &tampered, &body));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. No panic on arbitrary input.
// ---------------------------------------------------------------------------------------------

/// Arbitrary JSON value trees, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z_]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Value::Array),
            btree_map(json_key(), inner, 0..8).prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Object keys: mostly the ones the parsers look for, so that trees get past the first field.
fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "event_id", "event_type", "source", "occurred_at", "learner", "milestone", "task",
            "note", "id", "email", "first_name", "last_name", "kind", "title", "score", "version",
            "eventId", "eventType", "correlationId", "receivedAt", "deliveryHash", "event",
            "idempotencyKey", "type", "timestamp", "locationId", "contactId", "body", "user",
            "course", "apiKey", "domain", "signingSecrets", "basicAuth", "publicKeys",
            "privateIntegrationToken", "clientId", "clientSecret", "accessToken", "refreshToken",
            "expiresAt", "username", "password", "signingSecret", "url", "accountId", "apiVersion",
            "header", "name", "value", "workflowHeader", "acceptLegacyRsa", "legacyRsaPublicKey",
            "generic", "skilljar", "ghl",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Queue message bodies of every contract version, for mutation.
const QUEUE_SEEDS: &[&str] = &[
    include_str!("../../tests/fixtures/queue/v1-learner-created.json"),
    include_str!("../../tests/fixtures/queue/v1-milestone-reached.json"),
    include_str!("../../tests/fixtures/queue/v1-note-added.json"),
    include_str!("../../tests/fixtures/queue/v1-task-changed.json"),
    include_str!("../../tests/fixtures/queue/v2-learner-created.json"),
    include_str!("../../tests/fixtures/queue/v2-milestone-reached.json"),
    include_str!("../../tests/fixtures/queue/v2-note-added.json"),
    include_str!("../../tests/fixtures/queue/v2-task-changed.json"),
];

proptest! {
    #[test]
    fn contract_decode_takes_any_text(text in any::<String>()) {
        let _ = contract::decode(&text);
    }

    #[test]
    fn contract_decode_takes_any_json(value in json_value()) {
        let _ = contract::decode(&value.to_string());
    }

    #[test]
    fn contract_decode_takes_a_mutated_envelope(
        bytes in prop::sample::select(QUEUE_SEEDS).prop_flat_map(|seed| mutated(seed.as_bytes().to_vec())),
    ) {
        let _ = contract::decode(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mapping_parse_takes_any_text(text in any::<String>()) {
        let _ = Mapping::parse(&text);
    }

    #[test]
    fn mapping_parse_takes_a_mutated_bundled_file(bytes in mutated(MAPPING.as_bytes().to_vec())) {
        let _ = Mapping::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mapping_parse_takes_the_bundled_file_with_lines_dropped_or_repeated(
        edits in vec((any::<Index>(), any::<bool>()), 1..6),
    ) {
        let mut lines: Vec<&str> = MAPPING.lines().collect();
        for (at, repeat) in edits {
            let i = at.index(lines.len());
            if repeat { lines.insert(i, lines[i]) } else { lines.remove(i); }
        }
        let _ = Mapping::parse(&lines.join("\n"));
    }
}

/// Value-level mutations of a JSON seed: up to three of its members or elements (or the document)
/// replaced by arbitrary values, or removed.
fn json_mutated(seed: &str) -> impl Strategy<Value = Vec<u8>> + use<> {
    let document: Value = serde_json::from_str(seed).unwrap_or(Value::Null);
    let mut paths = Vec::new();
    pointers(&document, String::new(), &mut paths);
    vec((any::<Index>(), prop::option::weighted(0.8, json_value())), 1..4).prop_map(move |edits| {
        let mut document = document.clone();
        for (at, value) in edits {
            let path = &paths[at.index(paths.len())];
            match value {
                Some(value) => {
                    if let Some(slot) = document.pointer_mut(path) {
                        *slot = value;
                    }
                }
                None => {
                    let (parent, key) = path.rsplit_once('/').unwrap_or(("", ""));
                    match document.pointer_mut(parent) {
                        Some(Value::Object(map)) => {
                            map.remove(&key.replace("~1", "/").replace("~0", "~"));
                        }
                        Some(Value::Array(items)) => {
                            if let Ok(i) = key.parse::<usize>()
                                && i < items.len()
                            {
                                items.remove(i);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        document.to_string().into_bytes()
    })
}

/// Every JSON pointer in `value`, the document's own (`""`) first.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Byte-level mutations of a seed: flipped bits, replaced, inserted and removed bytes.
fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    vec((any::<Index>(), 0u8..4, any::<u8>()), 1..8).prop_map(move |edits| {
        let mut bytes = seed.clone();
        for (at, op, byte) in edits {
            if bytes.is_empty() {
                bytes.push(byte);
                continue;
            }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] ^= 1 << (byte % 8),
                1 => bytes[i] = byte,
                2 => bytes.insert(i, byte),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        bytes
    })
}

const SECRET_VALUE_MARK: &str = "S3CR3T";

/// A secret value that is easy to find in an error message, and a document shaped like one of the
/// secret documents, with the value somewhere in it (where a value goes, or where it does not).
fn secret_document() -> impl Strategy<Value = (String, String)> {
    // Text before the mark that imitates the wording of serde's messages, which the error
    // descriptions split on.
    let before = prop::sample::select(vec!["", "x`, expected ", "\", expected ", " at line 1", "`"]);
    let secret = (before, "[A-Za-z0-9+/=_ `\"-]{0,24}")
        .prop_map(|(before, after)| format!("{before}{SECRET_VALUE_MARK}{after}"));
    (secret, json_value(), vec(json_key(), 1..4), any::<bool>()).prop_map(
        |(secret, base, path, wrong_type)| {
            let mut doc = base;
            // Put the secret value at `path`, making objects along the way; sometimes a number where a
            // string is expected (or the other way round) around it so that the error is a type error.
            let mut cursor = &mut doc;
            for key in &path {
                if !cursor.is_object() {
                    *cursor = Value::Object(Default::default());
                }
                let Value::Object(map) = cursor else {
                    unreachable!()
                };
                cursor = map.entry(key.clone()).or_insert(Value::Null);
            }
            *cursor = if wrong_type {
                json!([secret.clone(), 1, {"x": secret.clone()}])
            } else {
                Value::String(secret.clone())
            };
            (secret, doc.to_string())
        },
    )
}

fn assert_no_leak<T: serde::de::DeserializeOwned>(secret: &str, document: &str) -> Result<(), TestCaseError> {
    if let Err(err) = parse_secret::<T>("fuzz", &SecretString::from(document.to_owned())) {
        let text = format!("{err} {err:?}");
        prop_assert!(!text.contains(SECRET_VALUE_MARK), "{secret:?} leaked: {text}");
    }
    Ok(())
}

proptest! {
    /// Every public secret document type: arbitrary JSON never panics, and a parse error never
    /// quotes a value from the document.
    #[test]
    fn secrets_parse_without_leaking((secret, document) in secret_document()) {
        assert_no_leak::<GhlSecret>(&secret, &document)?;
        assert_no_leak::<SkilljarSecret>(&secret, &document)?;
        assert_no_leak::<TalentLmsSecret>(&secret, &document)?;
        assert_no_leak::<TrainualSecret>(&secret, &document)?;
        assert_no_leak::<OutboundSecret>(&secret, &document)?;
        assert_no_leak::<WebhookSecrets>(&secret, &document)?;
        assert_no_leak::<GenericSigning>(&secret, &document)?;
        assert_no_leak::<SkilljarAuth>(&secret, &document)?;
        assert_no_leak::<GhlAuth>(&secret, &document)?;
    }

    #[test]
    fn secrets_parse_any_text(text in any::<String>()) {
        assert_no_leak::<GhlSecret>("", &text)?;
        assert_no_leak::<WebhookSecrets>("", &text)?;
        assert_no_leak::<GhlAuth>("", &text)?;
    }
}

// The ingest pipeline, built as its unit tests build it, on the memory adapters.

const WEBHOOK_SECRETS: &str = r#"{
    "skilljar": {"basicAuth": {"username": "skilljar", "password": "sj-pass"}},
    "generic": {"signingSecrets": ["whsec_fuzz_one"]},
    "ghl": {"workflowHeader": {"name": "x-workflow-secret", "value": "a-workflow-secret-long-enough"}}
}"#;

/// Seeds for mutation: every fixture a sender's delivery is modelled on.
const GENERIC_SEEDS: &[&str] = &[
    include_str!("../../tests/fixtures/generic/learner_created.json"),
    include_str!("../../tests/fixtures/generic/milestone_completed.json"),
    include_str!("../../tests/fixtures/generic/note_added.json"),
    include_str!("../../tests/fixtures/generic/task_completed.json"),
    include_str!("../../tests/fixtures/generic/task_created.json"),
];
const SKILLJAR_SEEDS: &[&str] = &[
    include_str!("../../tests/fixtures/skilljar/course_completion.json"),
    include_str!("../../tests/fixtures/skilljar/course_enrollment.json"),
    include_str!("../../tests/fixtures/skilljar/domain_enrollment.json"),
    include_str!("../../tests/fixtures/skilljar/lesson_completion.json"),
    include_str!("../../tests/fixtures/skilljar/path_completion.json"),
    include_str!("../../tests/fixtures/skilljar/path_enrollment.json"),
    include_str!("../../tests/fixtures/skilljar/quiz_completion.json"),
];
const GHL_SEEDS: &[&str] = &[
    include_str!("../../tests/fixtures/ghl/appointment_create.json"),
    include_str!("../../tests/fixtures/ghl/contact_create.json"),
    include_str!("../../tests/fixtures/ghl/contact_delete.json"),
    include_str!("../../tests/fixtures/ghl/contact_dnd_update.json"),
    include_str!("../../tests/fixtures/ghl/contact_tag_update.json"),
    include_str!("../../tests/fixtures/ghl/contact_update.json"),
    include_str!("../../tests/fixtures/ghl/note_create.json"),
    include_str!("../../tests/fixtures/ghl/note_update.json"),
    include_str!("../../tests/fixtures/ghl/task_complete.json"),
    include_str!("../../tests/fixtures/ghl/task_create.json"),
    include_str!("../../tests/fixtures/ghl/task_delete.json"),
    include_str!("../../tests/fixtures/ghl/workflow_contact_tag_update.json"),
];

fn service(trigger: Trigger, queue: Arc<MemoryQueue>) -> IngestService {
    let store = Arc::new(MemoryIdempotencyStore::with_outbox(queue));
    IngestService::new(
        trigger,
        Idempotency::new(store, Duration::from_secs(86_400)),
        CachedSecret::new(
            Arc::new(MemorySecrets::default().with("webhooks", WEBHOOK_SECRETS)),
            "webhooks",
            Duration::from_secs(300),
        ),
        Arc::new(FixedClock::new(at(NOW))),
    )
}

#[derive(Debug, Clone, Copy)]
enum Sender {
    Generic,
    Skilljar,
    Ghl,
}

/// Which function, which route, and what a sender of that route sends: its fixtures as they are
/// or mutated, any JSON, or any bytes. Mostly a route that exists for the function, so that most
/// cases get as far as authentication and, when `authentic`, past it into the parsers.
fn delivery() -> impl Strategy<Value = (Trigger, String, Vec<u8>, Sender)> {
    let sender = prop::sample::select(vec![Sender::Generic, Sender::Skilljar, Sender::Ghl]);
    let lms_trigger = prop::sample::select(vec![
        Trigger::LearnerCreated,
        Trigger::MilestoneCompleted,
        Trigger::NoteAdded,
    ]);
    let any_trigger = prop::sample::select(vec![
        Trigger::LearnerCreated,
        Trigger::MilestoneCompleted,
        Trigger::NoteAdded,
        Trigger::GhlEvents,
    ]);
    let path = prop_oneof![
        6 => Just(None),
        1 => prop::sample::select(vec!["/", "/generic/x", "/webhooks/skilljar/", "/GHL", ""])
            .prop_map(|p| Some(p.to_owned())),
        1 => any::<String>().prop_map(Some),
    ];
    (sender, lms_trigger, any_trigger, prop::bool::weighted(0.8), path).prop_flat_map(
        |(sender, lms_trigger, any_trigger, matched, path)| {
            let (seeds, name, trigger) = match sender {
                Sender::Generic => (GENERIC_SEEDS, "generic", lms_trigger),
                Sender::Skilljar => (SKILLJAR_SEEDS, "skilljar", lms_trigger),
                Sender::Ghl => (GHL_SEEDS, "ghl", Trigger::GhlEvents),
            };
            let trigger = if matched { trigger } else { any_trigger };
            let path = path.unwrap_or_else(|| format!("/webhooks/{name}"));
            let seed = prop::sample::select(seeds);
            let body = prop_oneof![
                3 => seed.clone().prop_flat_map(|seed| mutated(seed.as_bytes().to_vec())),
                4 => seed.clone().prop_flat_map(json_mutated),
                1 => seed.prop_map(|seed| seed.as_bytes().to_vec()),
                1 => json_value().prop_map(|v| v.to_string().into_bytes()),
                1 => vec(any::<u8>(), 0..512),
            ];
            body.prop_map(move |body| (trigger, path.clone(), body, sender))
        },
    )
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        8 => Just(Method::POST),
        1 => prop::sample::select(vec![Method::GET, Method::PUT, Method::DELETE, Method::OPTIONS]),
    ]
}

/// Headers: arbitrary ones and the ones the providers read, some with arbitrary values.
fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        3 => prop::sample::select(vec![
            "content-type", "authorization", "x-webhook-signature", "x-ghl-signature",
            "x-wh-signature", "x-workflow-secret", "x-correlation-id", "x-request-id",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z-]{1,16}",
    ];
    let value = prop_oneof![
        2 => prop::sample::select(vec![
            "application/json", "application/json; charset=utf-8", "text/plain",
            "Basic c2tpbGxqYXI6c2otcGFzcw==", "a-workflow-secret-long-enough", "t=1,v1=00",
        ])
        .prop_map(|v| v.as_bytes().to_vec()),
        1 => vec(any::<u8>(), 0..64),
    ];
    vec((name, value), 0..4)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

proptest! {
    /// Whatever arrives, the pipeline answers with a status and enqueues only when that status is
    /// 2xx. When `authentic`, the delivery carries its sender's credentials for the body as sent
    /// (the generic signature over the mutated body, Skilljar's Basic credentials, the GHL
    /// workflow header), so that mutated fixtures reach the parsers.
    #[test]
    fn ingest_answers_anything_and_enqueues_only_on_2xx(
        (trigger, path, body, sender) in delivery(),
        method in method(),
        extra in headers(),
        json_content in prop::bool::weighted(0.8),
        authentic in prop::bool::weighted(0.8),
    ) {
        let queue = Arc::new(MemoryQueue::default());
        let service = service(trigger, queue.clone());
        let mut map = HeaderMap::new();
        for (name, value) in extra {
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(&value))
            {
                map.append(name, value);
            }
        }
        if json_content {
            map.insert("content-type", HeaderValue::from_static("application/json"));
        }
        if authentic {
            let (name, value) = match sender {
                Sender::Generic => (
                    signature::SIGNATURE_HEADER,
                    signature::sign(&generic_secret(), NOW, &body),
                ),
                Sender::Skilljar => ("authorization", "Basic c2tpbGxqYXI6c2otcGFzcw==".to_owned()),
                Sender::Ghl => ("x-workflow-secret", "a-workflow-secret-long-enough".to_owned()),
            };
            if let Ok(value) = HeaderValue::from_str(&value) {
                map.insert(name, value);
            }
        }
        let response = runtime().block_on(service.handle(IngestRequest {
            method: &method,
            path: &path,
            headers: &map,
            body: &body,
            request_id: Some("req-fuzz"),
        }));
        let enqueued = queue.messages().len();
        prop_assert!(
            response.status.is_success() || enqueued == 0,
            "{} with {} enqueued: {}", response.status, enqueued, response.body
        );
        prop_assert!(enqueued <= 1);
        // What was enqueued is what the worker can read.
        for message in queue.messages() {
            prop_assert!(contract::decode(&message.body).is_ok(), "{}", message.body);
        }
        let _ = response.into_http();
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Mapping placeholders.
// ---------------------------------------------------------------------------------------------

/// The placeholder names, as the mapping's documentation lists them.
fn known() -> Vec<&'static str> {
    Placeholder::ALL.iter().map(|p| p.name()).collect()
}

/// Template text: literal runs and `{…}` groups, with known names, near misses and anything.
fn template_text() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        3 => "[^{}]{0,12}",
        3 => prop::sample::select(known()).prop_map(|name| format!("{{{name}}}")),
        1 => "[a-zA-Z_.]{0,16}".prop_map(|name| format!("{{{name}}}")),
        1 => any::<String>(),
        1 => prop::sample::select(vec!["{", "}", "{{", "}}", "{ learner.name }", "{}", "{learner.name"])
            .prop_map(str::to_owned),
    ];
    vec(part, 0..8).prop_map(|parts| parts.concat())
}

/// The model: the first `{name}` (up to the next `}`) that is not a placeholder; a `{` with no
/// `}` after it is text.
fn first_unknown(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some((_, after)) = rest.split_once('{') {
        let (name, next) = after.split_once('}')?;
        if !known().contains(&name) {
            return Some(name);
        }
        rest = next;
    }
    None
}

proptest! {
    /// Any text in a task template's title or body: the file loads when every `{name}` is a
    /// placeholder, and otherwise is refused with a message naming the template's line and the
    /// unknown name.
    #[test]
    fn task_template_text_loads_or_names_its_line(text in template_text(), in_title: bool) {
        let (field, original) = if in_title {
            ("title", "title = \"Welcome call: {learner.name}\"")
        } else {
            (
                "body",
                "body = \"New learner from {source} ({learner.email}). Say hello and check they can log in.\"",
            )
        };
        let offset = MAPPING.find(original);
        prop_assert!(offset.is_some(), "the bundled mapping changed: {original} not found");
        let line = MAPPING[..offset.unwrap_or_default()].matches('\n').count() + 1;
        let file = MAPPING.replacen(original, &format!("{field} = {}", toml_string(&text)), 1);
        match (Mapping::parse(&file), first_unknown(&text)) {
            (Ok(_), None) => {}
            (Ok(_), Some(name)) => prop_assert!(false, "{text:?} loaded with unknown {{{name}}}"),
            (Err(message), None) => prop_assert!(false, "{text:?} refused: {message}"),
            (Err(message), Some(name)) => {
                let expected = format!("line {line}: unknown placeholder {{{name}}}");
                prop_assert!(message.starts_with(&expected), "{text:?}: {message}");
            }
        }
    }
}

/// A TOML basic string holding `text` exactly.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------------------------
// 4. The worker: every well-formed message has an outcome.
// ---------------------------------------------------------------------------------------------

/// Text as senders write it: empty, ordinary ids, the separators our keys and GHL's paths use,
/// any Unicode, and now and then a very long string.
fn odd_text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "[a-z0-9]{1,12}",
        2 => prop::sample::select(vec![
            "", " ", "u1", "3gh6zcs5x2bz", "a:b#c%d", "%2F", "..", "/", "?x=1&y", "#", "user#1:2",
            "ü", "\u{0}", "\u{202e}", "𝔘𝔫𝔦", "null", "{learner.name}",
        ])
        .prop_map(str::to_owned),
        2 => "[:#%/?&=. a-z]{0,12}",
        2 => any::<String>(),
        1 => ("[a-z:#%]{1,4}", 1_000usize..20_000).prop_map(|(unit, n)| unit.repeat(n / unit.len())),
    ]
}

fn optional_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(odd_text())
}

fn source_platform() -> impl Strategy<Value = SourcePlatform> {
    prop_oneof![
        3 => prop::sample::select(vec!["skilljar", "talentlms", "talknotes", "generic"]).prop_map(str::to_owned),
        1 => "[a-z0-9_-]{1,32}",
    ]
    .prop_filter_map("a source platform", |s| SourcePlatform::try_from(s).ok())
}

fn email() -> impl Strategy<Value = Email> {
    prop_oneof![
        2 => prop::sample::select(vec!["ada@example.com", "ADA@Example.com ", "a+b#c%d@x.y"]).prop_map(str::to_owned),
        1 => ("[^@\\s]{1,24}", "[^@\\s.]{1,12}", "[a-z]{2,6}").prop_map(|(l, d, t)| format!("{l}@{d}.{t}")),
    ]
    .prop_filter_map("an email address", |s| Email::try_from(s).ok())
}

/// Mostly recent, sometimes anywhere a queue message can carry (years 1 to 9999).
fn instant() -> impl Strategy<Value = OffsetDateTime> {
    prop_oneof![
        3 => (NOW - 86_400 * 365..NOW + 86_400).prop_map(at),
        1 => (-62_135_596_800i64..=253_402_300_799).prop_map(at),
    ]
}

/// A few ids recur, so that later events meet what earlier ones wrote (contacts, tasks, links).
fn recurring(ids: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(ids).prop_map(str::to_owned),
        1 => odd_text(),
    ]
}

fn learner_ref() -> impl Strategy<Value = LearnerRef> {
    (
        recurring(&["u1", "u2", "3gh6zcs5x2bz"]),
        email(),
        optional_text(),
        optional_text(),
    )
        .prop_map(|(source_user_id, email, first_name, last_name)| LearnerRef {
            source_user_id,
            email,
            first_name,
            last_name,
        })
}

fn course_ref() -> impl Strategy<Value = Option<CourseRef>> {
    prop::option::of(
        (
            recurring(&["2wzplz3bmtxpa", "c1"]),
            optional_text(),
            optional_text(),
        )
            .prop_map(|(id, title, published_id)| CourseRef {
                id,
                title,
                published_id,
            }),
    )
}

fn text_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    let key = prop_oneof![
        prop::sample::select(vec!["employee_count", "department", "role", "last_course"])
            .prop_map(str::to_owned),
        odd_text(),
    ];
    btree_map(key, odd_text(), 0..4)
}

fn sync_event() -> impl Strategy<Value = SyncEvent> {
    let learner_created = (
        source_platform(),
        learner_ref(),
        optional_text(),
        optional_text(),
        course_ref(),
        instant(),
        text_map(),
    )
        .prop_map(
            |(source, learner, phone, role, course, occurred_at, custom_fields)| {
                SyncEvent::LearnerCreated(LearnerCreated {
                    source,
                    source_user_id: learner.source_user_id,
                    email: learner.email,
                    first_name: learner.first_name,
                    last_name: learner.last_name,
                    phone,
                    role,
                    course,
                    occurred_at,
                    custom_fields,
                })
            },
        );
    let kind = prop::sample::select(vec![
        MilestoneKind::Course,
        MilestoneKind::Lesson,
        MilestoneKind::Quiz,
        MilestoneKind::Path,
        MilestoneKind::Custom,
    ]);
    let milestone = (
        source_platform(),
        learner_ref(),
        kind,
        recurring(&["2wzplz3bmtxpa", "c1"]),
        optional_text(),
        course_ref(),
        any::<bool>(),
        optional_text(),
        instant(),
    )
        .prop_map(
            |(source, learner, kind, milestone_id, title, course, completed, score, occurred_at)| {
                SyncEvent::MilestoneReached(MilestoneReached {
                    source,
                    learner,
                    kind,
                    milestone_id,
                    title,
                    course,
                    progress: if completed {
                        Progress::Completed
                    } else {
                        Progress::Started
                    },
                    score,
                    occurred_at,
                })
            },
        );
    let action = prop::sample::select(vec![TaskAction::Create, TaskAction::Update, TaskAction::Complete]);
    let task = (
        source_platform(),
        learner_ref(),
        recurring(&["t-1", "t-2"]),
        action,
        (optional_text(), optional_text()),
        prop::option::of(instant()),
        (optional_text(), optional_text()),
        instant(),
    )
        .prop_map(
            |(source, learner, task_id, action, (title, body), due_at, (priority, assignee), occurred_at)| {
                SyncEvent::TaskChanged(TaskChanged {
                    source,
                    learner,
                    task_id,
                    action,
                    title,
                    body,
                    due_at,
                    priority,
                    assignee,
                    occurred_at,
                })
            },
        );
    let note = (
        source_platform(),
        learner_ref(),
        recurring(&["n-1", "n-2"]),
        optional_text(),
        odd_text(),
        optional_text(),
        instant(),
        text_map(),
    )
        .prop_map(
            |(source, learner, note_id, title, content, author, occurred_at, context)| {
                SyncEvent::NoteAdded(NoteAdded {
                    source,
                    learner,
                    note_id,
                    title,
                    content,
                    author,
                    occurred_at,
                    context,
                })
            },
        );
    let ghl_id = || recurring(&["n-1", "t-1", "a-1"]);
    let change = prop_oneof![
        Just(GhlChangeKind::ContactCreated),
        Just(GhlChangeKind::ContactUpdated),
        Just(GhlChangeKind::ContactDeleted),
        Just(GhlChangeKind::ContactTagsChanged),
        Just(GhlChangeKind::ContactDndChanged),
        ghl_id().prop_map(|note_id| GhlChangeKind::NoteCreated { note_id }),
        ghl_id().prop_map(|note_id| GhlChangeKind::NoteUpdated { note_id }),
        ghl_id().prop_map(|task_id| GhlChangeKind::TaskCreated { task_id }),
        ghl_id().prop_map(|task_id| GhlChangeKind::TaskCompleted { task_id }),
        ghl_id().prop_map(|task_id| GhlChangeKind::TaskDeleted { task_id }),
        ghl_id().prop_map(|appointment_id| GhlChangeKind::AppointmentCreated { appointment_id }),
    ];
    let tags = vec(
        prop_oneof![
            prop::sample::select(vec!["lms-learner", "vip", "alumni"]).prop_map(str::to_owned),
            odd_text(),
        ],
        0..4,
    );
    let facts = (
        prop::option::of(email()),
        (optional_text(), optional_text(), optional_text()),
        tags,
        text_map(),
        prop::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(
            |(email, (first_name, last_name, phone), tags, custom_fields, dnd, partial)| GhlContactFacts {
                email,
                first_name,
                last_name,
                phone,
                tags,
                custom_fields,
                dnd,
                partial,
            },
        );
    let ghl = (
        recurring(&[DEFAULT_LOCATION_ID, "elsewhere"]),
        prop::option::of(recurring(&["contact-1"])),
        change,
        prop::option::of(facts),
        instant(),
    )
        .prop_map(|(location_id, contact_id, change, contact, occurred_at)| {
            SyncEvent::GhlChanged(GhlChange {
                location_id,
                contact_id,
                change,
                contact,
                occurred_at,
            })
        });
    prop_oneof![learner_created, milestone, task, note, ghl]
}

/// A queue message as ingest writes it, around an arbitrary event, each with an idempotency key of its own (odd text and a count), so that a message meets the
/// claims of earlier ones only when it is delivered again.
fn queue_message() -> impl Strategy<Value = String> {
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    (
        odd_text(),
        odd_text(),
        instant(),
        vec(any::<u8>(), 0..16),
        sync_event(),
    )
        .prop_map(|(key, correlation_id, received_at, delivery, event)| {
            let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let key = format!("{key}:{n}");
            let envelope = Envelope::new(
                key,
                correlation_id,
                received_at,
                DeliveryHash::of(&delivery),
                event,
            );
            serde_json::to_string(&envelope).unwrap_or_else(|e| panic!("an envelope always serialises: {e}"))
        })
}

/// The worker as the unit tests build it, on the memory adapters, with the GHL sandbox (no rate
/// limit that a long run could reach) and a memory LMS behind the mapping's target.
async fn fuzz_worker() -> (Sandbox, SyncWorker, Arc<MemoryQueue>) {
    let mut config = SandboxConfig::default().with_rate_limits(u32::MAX, Duration::from_secs(1));
    config.rate_limits.daily_limit = u64::MAX;
    let sandbox = Sandbox::start(config)
        .await
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    let credentials = PrivateIntegrationToken(CachedSecret::new(
        Arc::new(MemorySecrets::default().with("ghl", include_str!("../../config/local/ghl.json"))),
        "ghl",
        Duration::from_secs(300),
    ));
    let ghl = GhlConfig {
        base_url: sandbox.url(),
        timeout: Duration::from_secs(5),
        ..GhlConfig::default()
    };
    let client =
        GhlClient::new(&ghl, Arc::new(credentials), Arc::new(Unlimited)).unwrap_or_else(|e| panic!("{e}"));
    let mapping = Mapping::parse(include_str!("../../tests/fixtures/mapping-targets.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut lms = LmsAccounts::default();
    lms.insert("academy", Arc::new(MemoryLms::default()));
    let dead_letters = Arc::new(MemoryQueue::default());
    let worker = SyncWorker::new(
        GhlClients::single(DEFAULT_LOCATION_ID, client),
        Arc::new(MemoryEntityMap::default()),
        Arc::new(mapping),
        Idempotency::new(
            Arc::new(MemoryIdempotencyStore::default()),
            Duration::from_secs(60),
        ),
        dead_letters.clone(),
        Arc::new(SystemClock),
    )
    .with_lms_accounts(lms);
    (sandbox, worker, dead_letters)
}

/// Any sequence of well-formed messages (each maybe delivered twice), one after another through
/// one worker: each is answered within a minute, never as unreadable, a retry or a parking always
/// says why, and the dead-letter queue gets exactly the parked ones, each with `error_reason`.
/// A plain test around a `TestRunner`, so that the sandbox and the worker are built once.
#[test]
fn worker_answers_every_well_formed_message() {
    // A debug build's strategy trees and futures for a whole message outgrow a test thread's stack.
    let run = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(worker_property)
        .unwrap_or_else(|e| panic!("{e}"));
    if let Err(failure) = run
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    {
        panic!("{failure}");
    }
}

fn worker_property() -> Result<(), String> {
    let runtime = runtime();
    let (sandbox, worker, dead_letters) = runtime.block_on(fuzz_worker());
    let config = ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let messages = vec((queue_message(), any::<bool>()), 1..4);
    // What the messages came to, by outcome and reason, shown with `--nocapture`: a run whose
    // messages all stop at one early error would pass without reaching the rules.
    let tally = std::cell::RefCell::new(BTreeMap::<String, u64>::new());
    let result = runner.run(&messages, |messages| {
        for (body, twice) in &messages {
            for _ in 0..=usize::from(*twice) {
                let handled = runtime.block_on(async {
                    let message = Message { id: "fuzz", body };
                    tokio::time::timeout(Duration::from_secs(60), worker.handle(message, None)).await
                });
                let outcome =
                    handled.map_err(|_| TestCaseError::fail(format!("no outcome within 60 s for {body}")))?;
                let parked = dead_letters.take();
                let name = match &outcome {
                    RecordOutcome::Synced { .. } => "synced".to_owned(),
                    RecordOutcome::AlreadySynced => "already synced".to_owned(),
                    RecordOutcome::Retry { reason } => format!("retry {reason}"),
                    RecordOutcome::Parked { reason } => format!("parked {reason}"),
                    RecordOutcome::Held { .. } => "held".to_owned(),
                };
                *tally.borrow_mut().entry(name).or_default() += 1;
                match &outcome {
                    RecordOutcome::Parked { reason } | RecordOutcome::Retry { reason } => {
                        prop_assert!(!reason.is_empty(), "{outcome:?} for {body}");
                        prop_assert_ne!(reason.as_str(), "unreadable_message", "{}", body);
                    }
                    RecordOutcome::Synced { .. } | RecordOutcome::AlreadySynced => {}
                    // One message at a time: every claim is completed or released before the next.
                    RecordOutcome::Held { .. } => {
                        prop_assert!(false, "held by no one: {outcome:?} for {body}")
                    }
                }
                let expected = usize::from(matches!(outcome, RecordOutcome::Parked { .. }));
                prop_assert_eq!(parked.len(), expected, "{:?} for {}", outcome, body);
                for message in &parked {
                    let reason = message.attributes.get("error_reason");
                    prop_assert!(reason.is_some_and(|r| !r.is_empty()), "{:?}", message.attributes);
                }
            }
        }
        Ok(())
    });
    runtime.block_on(sandbox.shutdown());
    eprintln!("worker outcomes: {:?}", tally.borrow());
    result.map_err(|failure| failure.to_string())
}
