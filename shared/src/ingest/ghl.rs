//! GoHighLevel's own webhooks (GHL → LMS) on `POST /ghl-events/ghl`, through two channels
//! (`docs/ghl-webhooks.md`):
//!
//! - **Marketplace app** deliveries, signed by GHL. `x-ghl-signature` is a base64 Ed25519
//!   signature of the raw body bytes, checked against GHL's published key unless other keys are
//!   configured (a rotation lists the old and the new). The legacy `x-wh-signature` (RSA
//!   PKCS#1 v1.5 SHA-256), deprecated on 2026-07-01, counts only when `acceptLegacyRsa` says so.
//!   Bodies carry `timestamp` (refused more than 5 minutes away from our clock) and `webhookId`
//!   (the delivery's identity).
//! - **Workflow** deliveries: an agency on a Private Integration Token has no marketplace app; its
//!   workflow's "Webhook" action posts the contact with a secret header the workflow sets.
//!
//! A request carrying either signature header is a marketplace delivery, any other a workflow
//! delivery. Both become a thin [`GhlChange`]: what GHL's bodies lack (a note's contact, a task
//! without `contactId`) is the worker's to fetch, never the receiver's, so that the answer GHL
//! waits for depends on nothing but our own queue and table.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use http::HeaderMap;
use rsa::pkcs1v15;
use rsa::signature::Verifier;
use secrecy::{ExposeSecret, SecretString};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::info;

use crate::domain::{Email, GhlChange, GhlChangeKind, GhlContactFacts, SyncEvent};
use crate::ingest::error::{IngestError, RetryAnswer};
use crate::ingest::parse::{self, non_blank, required_id};
use crate::ingest::provider::{Delivery, Normalised, Parsed, Provider, Trigger};
use crate::keys;

pub const SIGNATURE_HEADER: &str = "x-ghl-signature";
pub const LEGACY_SIGNATURE_HEADER: &str = "x-wh-signature";
/// How far a marketplace body's `timestamp` may be from our clock, either way.
pub const MAX_AGE_SECS: i64 = 300;

/// GHL's Ed25519 webhook key (SPKI, base64), as published with its webhook documentation. GHL
/// announces rotations by email and has no key endpoint, hence `publicKeys` in the secret.
pub const GHL_PUBLIC_KEY: &str = "MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=";

/// GHL's legacy RSA webhook key, from its WebhookAuthentication document (vendored beside the
/// contract it belongs to).
const GHL_LEGACY_RSA_KEY: &str = include_str!("../../../tests/contract/ghl-api/webhook-rsa-public-key.pem");

/// The event types the sync takes, by GHL's names; a marketplace app may be subscribed to more.
/// `RecordUpdate` (a custom-object record) comes through the marketplace channel only: a
/// workflow's body has no record properties.
pub const EVENT_TYPES: [&str; 12] = [
    "ContactCreate",
    "ContactUpdate",
    "ContactDelete",
    "ContactTagUpdate",
    "ContactDndUpdate",
    "NoteCreate",
    "NoteUpdate",
    "TaskCreate",
    "TaskComplete",
    "TaskDelete",
    "AppointmentCreate",
    "RecordUpdate",
];

/// GHL's webhooks (`POST /ghl-events/ghl`).
pub struct Ghl;

impl Provider for Ghl {
    const NAME: &'static str = "ghl";
    type Auth = GhlAuth;
    const RETRY: RetryAnswer = RetryAnswer::TooManyRequests;

    fn authenticate(delivery: &Delivery<'_>, auth: &GhlAuth, now: OffsetDateTime) -> Result<(), IngestError> {
        match Channel::of(delivery.headers) {
            Channel::Marketplace => {
                verify_signature(delivery, auth)?;
                // Read only once the signature holds: before, the body is anyone's.
                let sent_at = sent_at(delivery.body)?;
                let age_secs = (now - sent_at).whole_seconds();
                if age_secs.abs() > MAX_AGE_SECS {
                    return Err(IngestError::Unauthorized(format!(
                        "`timestamp` is {age_secs} s away from now (tolerance {MAX_AGE_SECS} s)"
                    )));
                }
                Ok(())
            }
            Channel::Workflow => check_workflow_header(delivery.headers, auth),
        }
    }

    fn normalise(trigger: Trigger, delivery: &Delivery<'_>) -> Result<Parsed, IngestError> {
        // The route table sends GHL's deliveries to ghl-events only; no other function takes them.
        if trigger != Trigger::GhlEvents {
            return Err(IngestError::NotFound(format!(
                "/{}/{}",
                trigger.name(),
                Self::NAME
            )));
        }
        match Channel::of(delivery.headers) {
            Channel::Marketplace => marketplace(delivery),
            Channel::Workflow => workflow(delivery),
        }
    }

    fn repeated_content<'a>(delivery: &Delivery<'a>) -> Cow<'a, [u8]> {
        match Channel::of(delivery.headers) {
            // A retry comes up to an hour after the first attempt and must still pass the 5-minute
            // window, so its `timestamp` (and signature) are the attempt's own; the rest is the
            // delivery.
            Channel::Marketplace => match without_timestamp(delivery.body) {
                Some(content) => Cow::Owned(content),
                None => Cow::Borrowed(delivery.body),
            },
            Channel::Workflow => Cow::Borrowed(delivery.body),
        }
    }
}

/// How the delivery came: decided by the headers alone, the same way for authenticating and for
/// reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Marketplace,
    Workflow,
}

impl Channel {
    fn of(headers: &HeaderMap) -> Self {
        if headers.contains_key(SIGNATURE_HEADER) || headers.contains_key(LEGACY_SIGNATURE_HEADER) {
            Channel::Marketplace
        } else {
            Channel::Workflow
        }
    }
}

/// The webhook secret's `ghl` section.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GhlAuth {
    /// Ed25519 keys any of which may sign `x-ghl-signature` (SPKI as base64 DER or PEM). None
    /// configured: GHL's published key.
    #[serde(default)]
    pub public_keys: Vec<Ed25519Key>,
    /// Whether a delivery signed only with the legacy RSA `x-wh-signature` is accepted.
    #[serde(default)]
    pub accept_legacy_rsa: bool,
    /// The RSA key for `x-wh-signature` (SPKI as PEM or base64 DER); GHL's published one if absent.
    #[serde(default)]
    pub legacy_rsa_public_key: Option<RsaKey>,
    /// The header an agency's workflow sets, and its secret value; no workflow channel if absent.
    #[serde(default)]
    pub workflow_header: Option<WorkflowHeader>,
}

/// An Ed25519 public key, parsed when the secret is read so that a bad one names its path.
#[derive(Debug, Clone)]
pub struct Ed25519Key(VerifyingKey);

impl<'de> Deserialize<'de> for Ed25519Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ed25519_key(&text)
            .map(Ed25519Key)
            .ok_or_else(|| D::Error::custom("not an Ed25519 public key"))
    }
}

/// An RSA public key for PKCS#1 v1.5 SHA-256 signatures.
#[derive(Debug, Clone)]
pub struct RsaKey(pkcs1v15::VerifyingKey<rsa::sha2::Sha256>);

impl<'de> Deserialize<'de> for RsaKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        rsa_key(&text)
            .map(RsaKey)
            .ok_or_else(|| D::Error::custom("not an RSA public key"))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkflowHeader {
    pub name: String,
    pub value: SecretString,
}

/// A workflow secret shorter than this is refused as a misconfiguration: the header is the whole
/// of that channel's authentication.
const MIN_WORKFLOW_SECRET_BYTES: usize = 16;

/// The DER inside a key's text: PEM (any explanatory text before the armour is skipped) or bare
/// base64 DER, as GHL publishes its Ed25519 key.
pub fn key_der(text: &str) -> Option<Vec<u8>> {
    let base64: String = match text.find("-----BEGIN") {
        Some(start) => text[start..]
            .lines()
            .skip(1)
            .take_while(|line| !line.starts_with("-----END"))
            .collect(),
        None => text.split_whitespace().collect(),
    };
    STANDARD.decode(base64).ok()
}

fn ed25519_key(text: &str) -> Option<VerifyingKey> {
    VerifyingKey::from_public_key_der(&key_der(text)?).ok()
}

fn rsa_key(text: &str) -> Option<pkcs1v15::VerifyingKey<rsa::sha2::Sha256>> {
    pkcs1v15::VerifyingKey::from_public_key_der(&key_der(text)?).ok()
}

static GHL_KEY: LazyLock<Option<VerifyingKey>> = LazyLock::new(|| ed25519_key(GHL_PUBLIC_KEY));
static GHL_LEGACY_KEY: LazyLock<Option<pkcs1v15::VerifyingKey<rsa::sha2::Sha256>>> =
    LazyLock::new(|| rsa_key(GHL_LEGACY_RSA_KEY));

fn unauthorized(detail: &str) -> IngestError {
    IngestError::Unauthorized(detail.to_owned())
}

fn verify_signature(delivery: &Delivery<'_>, auth: &GhlAuth) -> Result<(), IngestError> {
    // The current scheme decides whenever it is present; the legacy one is looked at only alone.
    if let Some(header) = delivery.headers.get(SIGNATURE_HEADER) {
        let signature = STANDARD
            .decode(header.as_bytes())
            .ok()
            .and_then(|bytes| ed25519_dalek::Signature::from_slice(&bytes).ok())
            .ok_or_else(|| unauthorized("x-ghl-signature must be a base64 Ed25519 signature"))?;
        let configured: Vec<&VerifyingKey> = auth.public_keys.iter().map(|k| &k.0).collect();
        let keys = if configured.is_empty() {
            let published = GHL_KEY.as_ref().ok_or_else(|| {
                IngestError::Misconfigured("GHL's published Ed25519 key does not parse".into())
            })?;
            vec![published]
        } else {
            configured
        };
        return if keys
            .iter()
            .any(|key| key.verify_strict(delivery.body, &signature).is_ok())
        {
            Ok(())
        } else {
            Err(unauthorized("x-ghl-signature does not match the body"))
        };
    }
    let Some(header) = delivery.headers.get(LEGACY_SIGNATURE_HEADER) else {
        return Err(unauthorized("missing x-ghl-signature header"));
    };
    if !auth.accept_legacy_rsa {
        return Err(unauthorized(
            "x-wh-signature (RSA) was deprecated on 2026-07-01 and is not accepted here; GHL signs with x-ghl-signature",
        ));
    }
    let key = match &auth.legacy_rsa_public_key {
        Some(key) => &key.0,
        None => GHL_LEGACY_KEY
            .as_ref()
            .ok_or_else(|| IngestError::Misconfigured("GHL's published RSA key does not parse".into()))?,
    };
    let signature = STANDARD
        .decode(header.as_bytes())
        .ok()
        .and_then(|bytes| pkcs1v15::Signature::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| unauthorized("x-wh-signature must be a base64 RSA signature"))?;
    key.verify(delivery.body, &signature)
        .map_err(|_| unauthorized("x-wh-signature does not match the body"))
}

/// Compares digests, so that neither the secret's content nor its length leaks through timing.
fn check_workflow_header(headers: &HeaderMap, auth: &GhlAuth) -> Result<(), IngestError> {
    let Some(expected) = &auth.workflow_header else {
        return Err(unauthorized(
            "missing x-ghl-signature header (no workflow header is configured)",
        ));
    };
    if expected.value.expose_secret().len() < MIN_WORKFLOW_SECRET_BYTES {
        return Err(IngestError::Misconfigured(format!(
            "ghl.workflowHeader.value must be at least {MIN_WORKFLOW_SECRET_BYTES} characters"
        )));
    }
    let presented = headers.get(expected.name.as_str()).ok_or_else(|| {
        IngestError::Unauthorized(format!("missing x-ghl-signature or {} header", expected.name))
    })?;
    let matches: bool = Sha256::digest(presented.as_bytes())
        .ct_eq(&Sha256::digest(expected.value.expose_secret().as_bytes()))
        .into();
    if matches {
        Ok(())
    } else {
        Err(IngestError::Unauthorized(format!(
            "{} header does not match",
            expected.name
        )))
    }
}

/// A marketplace body's `timestamp`: RFC 3339 as GHL writes it, or epoch milliseconds.
fn sent_at(body: &[u8]) -> Result<OffsetDateTime, IngestError> {
    #[derive(Deserialize)]
    struct Stamp {
        #[serde(default)]
        timestamp: Option<Value>,
    }
    let stamp: Stamp = parse::body(body)?;
    let timestamp = stamp
        .timestamp
        .ok_or_else(|| unauthorized("signed body has no `timestamp`, so a replay cannot be told"))?;
    instant(&timestamp).ok_or_else(|| IngestError::Unprocessable {
        field: "timestamp".into(),
        problem: "must be an RFC 3339 date-time or epoch milliseconds".into(),
    })
}

fn instant(value: &Value) -> Option<OffsetDateTime> {
    match value {
        Value::String(text) => OffsetDateTime::parse(text, &Rfc3339).ok(),
        Value::Number(number) => {
            let ms = i128::from(number.as_i64()?);
            OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok()
        }
        _ => None,
    }
}

/// The body without `timestamp`, in a canonical form (keys sorted), or nothing if it is not an
/// object.
fn without_timestamp(body: &[u8]) -> Option<Vec<u8>> {
    let mut object: BTreeMap<String, Value> = serde_json::from_slice(body).ok()?;
    object.remove("timestamp");
    serde_json::to_vec(&object).ok()
}

/// What every marketplace body carries.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarketplaceEnvelope {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    location_id: Option<String>,
    #[serde(default)]
    webhook_id: Option<String>,
    #[serde(default)]
    timestamp: Option<Value>,
}

/// A contact's fields as GHL's contact events write them. Read leniently: they are hints for the
/// worker, and an odd one must not cost GHL's only delivery.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarketplaceFacts {
    #[serde(default)]
    email: Option<Value>,
    #[serde(default)]
    first_name: Option<Value>,
    #[serde(default)]
    last_name: Option<Value>,
    #[serde(default)]
    phone: Option<Value>,
    #[serde(default)]
    tags: Option<Value>,
    #[serde(default)]
    custom_fields: Option<Value>,
    #[serde(default)]
    dnd: Option<Value>,
}

/// What an event is about: `id` (the contact, note, task or appointment) and `contactId` when GHL
/// sends it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    contact_id: Option<String>,
}

/// `RecordUpdate`: the record's id and its properties as `[{key, valueString}]` (other `value*`
/// forms are taken as text).
#[derive(Debug, Deserialize)]
struct RecordBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    properties: Vec<RecordProperty>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordProperty {
    #[serde(default)]
    key: Option<String>,
    #[serde(flatten)]
    values: BTreeMap<String, Value>,
}

impl RecordProperty {
    fn into_pair(self) -> Option<(String, String)> {
        let key = non_blank(self.key)?;
        let value = self
            .values
            .into_iter()
            .find(|(name, _)| name.starts_with("value"))
            .and_then(|(_, v)| match v {
                Value::String(s) => Some(s),
                Value::Null => None,
                other => Some(other.to_string()),
            })?;
        Some((key, value))
    }
}

#[derive(Debug, Deserialize)]
struct AppointmentBody {
    #[serde(default)]
    appointment: Option<ItemBody>,
}

fn marketplace(delivery: &Delivery<'_>) -> Result<Parsed, IngestError> {
    let document = parse::document(delivery.body)?;
    let envelope: MarketplaceEnvelope = parse::view(&document)?;
    if !EVENT_TYPES.contains(&envelope.event_type.as_str()) {
        return Ok(Parsed::Ignored(format!(
            "GHL event type {} is not synced",
            printable(&envelope.event_type)
        )));
    }
    let location_id = required_id(envelope.location_id, "locationId")?;
    let occurred_at = envelope
        .timestamp
        .as_ref()
        .and_then(instant)
        .ok_or_else(|| IngestError::missing("timestamp"))?;
    let idempotency_key = match non_blank(envelope.webhook_id) {
        Some(webhook_id) => {
            let webhook_id = required_id(Some(webhook_id), "webhookId")?;
            keys::delivery_claim("ghl", &[&webhook_id])
        }
        // GHL documents `webhookId` on every delivery; should one come without, a delivery that
        // GHL would never send again is worth more than the dedupe, which then goes by content.
        None => {
            info!("GHL delivery without webhookId; deduplicated by its content");
            let content = Ghl::repeated_content(delivery);
            keys::delivery_claim("ghl", &["content", &hex::encode(Sha256::digest(&content))])
        }
    };
    if envelope.event_type == "RecordUpdate" {
        let record: RecordBody = parse::view(&document)?;
        let change = GhlChangeKind::RecordUpdated {
            record_id: required_id(record.id, "id")?,
            properties: record
                .properties
                .into_iter()
                .filter_map(RecordProperty::into_pair)
                .collect(),
        };
        return Ok(event(
            idempotency_key,
            GhlChange {
                location_id,
                contact_id: None,
                change,
                contact: None,
                occurred_at,
            },
        ));
    }
    // An appointment event nests its fields under `appointment`; every other carries them at
    // the top, the contact's own id as `id` for contact events.
    let (item, id_field): (ItemBody, &str) = if envelope.event_type == "AppointmentCreate" {
        let body: AppointmentBody = parse::view(&document)?;
        let appointment = body
            .appointment
            .ok_or_else(|| IngestError::missing("appointment"))?;
        (appointment, "appointment.id")
    } else {
        (parse::view(&document)?, "id")
    };
    let Some(change) = change_kind(&envelope.event_type, || required_id(item.id.clone(), id_field))? else {
        return Ok(Parsed::Ignored("GHL event type is not synced".into()));
    };
    let (contact_id, contact) = if is_about_the_contact(&change) {
        let facts: MarketplaceFacts = parse::view(&document)?;
        (Some(required_id(item.id, "id")?), Some(facts.into_facts()))
    } else {
        (optional_id(item.contact_id), None)
    };
    Ok(event(
        idempotency_key,
        GhlChange {
            location_id,
            contact_id,
            change,
            contact,
            occurred_at,
        },
    ))
}

/// The standard body of a workflow's "Webhook" action: the contact's fields in snake case, the
/// location and workflow, and the action's Custom Data.
#[derive(Debug, Deserialize)]
struct WorkflowBody {
    #[serde(default)]
    contact_id: Option<String>,
    #[serde(default)]
    location: Option<WorkflowRef>,
    #[serde(default)]
    email: Option<Value>,
    #[serde(default)]
    first_name: Option<Value>,
    #[serde(default)]
    last_name: Option<Value>,
    #[serde(default)]
    phone: Option<Value>,
    /// GHL writes a workflow contact's tags as one comma-separated string.
    #[serde(default)]
    tags: Option<Value>,
    #[serde(default, rename = "customData")]
    custom_data: Option<WorkflowCustomData>,
}

#[derive(Debug, Deserialize)]
struct WorkflowRef {
    #[serde(default)]
    id: Option<String>,
}

/// What the documented setup adds as the action's Custom Data: `event`, one of GHL's webhook
/// type names (`ContactUpdate` when absent), and `id`, the note, task or appointment.
#[derive(Debug, Deserialize)]
struct WorkflowCustomData {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

fn workflow(delivery: &Delivery<'_>) -> Result<Parsed, IngestError> {
    let body: WorkflowBody = parse::body(delivery.body)?;
    let location_id = required_id(body.location.and_then(|l| l.id), "location.id")?;
    let contact_id = required_id(body.contact_id, "contact_id")?;
    let (named, id) = match body.custom_data {
        Some(data) => (non_blank(data.event), non_blank(data.id)),
        None => (None, None),
    };
    let named = named.as_deref().unwrap_or("ContactUpdate");
    let Some(change) = change_kind(named, || required_id(id.clone(), "customData.id"))? else {
        return Err(IngestError::Unprocessable {
            field: "customData.event".into(),
            problem: format!(
                "must be one of {} (RecordUpdate only from the marketplace app)",
                EVENT_TYPES[..EVENT_TYPES.len() - 1].join(", ")
            ),
        });
    };
    // A workflow's body says nothing that tells one run from another, and is built once per run,
    // so a retry repeats it byte for byte: the body is the identity (docs/ghl-webhooks.md).
    let idempotency_key = keys::delivery_claim(
        "ghl-workflow",
        &[&location_id, &hex::encode(Sha256::digest(delivery.body))],
    );
    // A workflow body without `tags` (a "Custom Webhook" payload) says nothing of the tags, which
    // is not the same as "no tags": the worker reads the contact instead of revoking by it.
    let facts = body.tags.is_some().then(|| GhlContactFacts {
        email: email(body.email),
        first_name: text(body.first_name),
        last_name: text(body.last_name),
        phone: text(body.phone),
        tags: tags(body.tags),
        custom_fields: BTreeMap::new(),
        dnd: None,
        partial: true,
    });
    Ok(event(
        idempotency_key,
        GhlChange {
            location_id,
            contact_id: Some(contact_id),
            change,
            contact: facts,
            occurred_at: delivery.received_at,
        },
    ))
}

/// GHL's event type names, the same for both channels; `id` gives the note, task or appointment
/// an event is about, and is read only for those. `None` for a type the sync does not take.
fn change_kind(
    event_type: &str,
    id: impl FnOnce() -> Result<String, IngestError>,
) -> Result<Option<GhlChangeKind>, IngestError> {
    Ok(Some(match event_type {
        "ContactCreate" => GhlChangeKind::ContactCreated,
        "ContactUpdate" => GhlChangeKind::ContactUpdated,
        "ContactDelete" => GhlChangeKind::ContactDeleted,
        "ContactTagUpdate" => GhlChangeKind::ContactTagsChanged,
        "ContactDndUpdate" => GhlChangeKind::ContactDndChanged,
        "NoteCreate" => GhlChangeKind::NoteCreated { note_id: id()? },
        "NoteUpdate" => GhlChangeKind::NoteUpdated { note_id: id()? },
        "TaskCreate" => GhlChangeKind::TaskCreated { task_id: id()? },
        "TaskComplete" => GhlChangeKind::TaskCompleted { task_id: id()? },
        "TaskDelete" => GhlChangeKind::TaskDeleted { task_id: id()? },
        "AppointmentCreate" => GhlChangeKind::AppointmentCreated {
            appointment_id: id()?,
        },
        // Record changes are read from the marketplace body (`RecordBody`); never from here.
        _ => return Ok(None),
    }))
}

/// Contact events carry the contact itself; the others name it at most.
fn is_about_the_contact(change: &GhlChangeKind) -> bool {
    matches!(
        change,
        GhlChangeKind::ContactCreated
            | GhlChangeKind::ContactUpdated
            | GhlChangeKind::ContactDeleted
            | GhlChangeKind::ContactTagsChanged
            | GhlChangeKind::ContactDndChanged
    )
}

fn event(idempotency_key: String, change: GhlChange) -> Parsed {
    Parsed::Event(Box::new(Normalised {
        idempotency_key,
        event: SyncEvent::GhlChanged(change),
    }))
}

/// An id GHL may leave out (a task's contact): absent, blank or unusable are all "not given".
fn optional_id(value: Option<String>) -> Option<String> {
    value.filter(|id| !id.trim().is_empty() && id.len() <= parse::MAX_ID_BYTES)
}

/// An event type in a message, if it is plainly a name; bodies are otherwise never quoted.
fn printable(event_type: &str) -> String {
    if event_type.len() <= 64 && event_type.bytes().all(|b| b.is_ascii_alphanumeric()) {
        event_type.to_owned()
    } else {
        "(unnamed)".to_owned()
    }
}

impl MarketplaceFacts {
    fn into_facts(self) -> GhlContactFacts {
        GhlContactFacts {
            email: email(self.email),
            first_name: text(self.first_name),
            last_name: text(self.last_name),
            phone: text(self.phone),
            tags: tags(self.tags),
            custom_fields: custom_fields(self.custom_fields),
            dnd: self.dnd.and_then(|v| v.as_bool()),
            partial: false,
        }
    }
}

fn text(value: Option<Value>) -> Option<String> {
    match value? {
        Value::String(text) => non_blank(Some(text)),
        _ => None,
    }
}

/// GHL stores whatever address it was given; one the sync could not use is left out.
fn email(value: Option<Value>) -> Option<Email> {
    Email::try_from(text(value)?).ok()
}

/// An array of tags (marketplace) or one comma-separated string (workflow).
fn tags(value: Option<Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.into_iter().filter_map(|item| text(Some(item))).collect(),
        Some(Value::String(list)) => list
            .split(',')
            .filter_map(|tag| non_blank(Some(tag.to_owned())))
            .collect(),
        _ => Vec::new(),
    }
}

/// `[{id, value}]` by field id; text stays text, other values (checkbox lists, numbers) their
/// compact JSON.
fn custom_fields(value: Option<Value>) -> BTreeMap<String, String> {
    let Some(Value::Array(items)) = value else {
        return BTreeMap::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let id = item.get("id")?.as_str()?.to_owned();
            let value = match item.get("value")? {
                Value::String(text) => text.clone(),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some((id, value))
        })
        .collect()
}

/// Signs as GHL does (`x-ghl-signature`: base64 Ed25519 over the body's bytes), with a key the
/// caller holds: the local test key, or a test's own. For tests, tools and docs; the service only
/// verifies.
pub struct GhlSigner(SigningKey);

impl GhlSigner {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// A PKCS#8 private key in PEM (explanatory text before the armour is fine) or base64 DER.
    pub fn from_pkcs8(text: &str) -> Option<Self> {
        SigningKey::from_pkcs8_der(&key_der(text)?).ok().map(Self)
    }

    /// The `x-ghl-signature` value for `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        STANDARD.encode(self.0.sign(body).to_bytes())
    }

    /// The public key as GHL publishes its own: SPKI, base64 DER (a `publicKeys` entry).
    pub fn public_key(&self) -> String {
        match self.0.verifying_key().to_public_key_der() {
            Ok(der) => STANDARD.encode(der.as_bytes()),
            // Encoding 32 bytes into a fixed SPKI shape does not fail.
            Err(_) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests;
