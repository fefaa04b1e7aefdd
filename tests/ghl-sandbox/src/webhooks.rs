//! GHL's webhooks, as a marketplace app receives them: when a contact, its tags, a task or a note
//! changes, a JSON body in the shape of `tests/contract/ghl-api/webhook-events/<type>.json` plus
//! `webhookId` and `timestamp` is POSTed to the configured URL, signed with `x-ghl-signature`
//! (base64 Ed25519 over the body's bytes) by a key the caller holds in place of GHL's.
//!
//! One task sends them in the order the changes happened, one at a time. As GHL does, only a 429
//! is retried (the same `webhookId`, a new `timestamp` and signature, after `retry_delay`); every
//! other answer, and a failed connection or timeout, is final.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::model::{Contact, Note, Task, iso_ms, now_ms};
use crate::server::lock;

/// Where the sandbox sends its webhooks, and how.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: String,
    pub key: WebhookKey,
    /// Wait before retrying after a 429 (GHL waits about 10 minutes).
    pub retry_delay: Duration,
    /// Retries after a 429 (GHL makes 6).
    pub retries: u32,
    /// Per attempt; a receiver slower than this has lost the delivery, as with GHL.
    pub timeout: Duration,
}

impl WebhookConfig {
    pub fn new(url: &str, key: WebhookKey) -> Self {
        Self {
            url: url.into(),
            key,
            retry_delay: Duration::from_secs(1),
            retries: 6,
            timeout: Duration::from_secs(60),
        }
    }
}

/// The Ed25519 key the sandbox signs with in place of GHL's (whose private half only GHL has).
#[derive(Clone)]
pub struct WebhookKey(SigningKey);

impl WebhookKey {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// A PKCS#8 private key in PEM; explanatory text before the armour is skipped.
    pub fn from_pkcs8_pem(text: &str) -> Result<Self, String> {
        let start = text
            .find("-----BEGIN PRIVATE KEY-----")
            .ok_or("no -----BEGIN PRIVATE KEY----- block")?;
        let base64: String = text[start..]
            .lines()
            .skip(1)
            .take_while(|line| !line.starts_with("-----END"))
            .collect();
        let der = STANDARD
            .decode(base64)
            .map_err(|_| "the key block is not base64".to_owned())?;
        SigningKey::from_pkcs8_der(&der)
            .map(Self)
            .map_err(|_| "not a PKCS#8 Ed25519 private key".to_owned())
    }

    /// The public half as GHL publishes its own: SPKI, base64 DER.
    pub fn public_key(&self) -> String {
        match self.0.verifying_key().to_public_key_der() {
            Ok(der) => STANDARD.encode(der.as_bytes()),
            Err(_) => String::new(),
        }
    }

    /// The public key's 32 bytes, for a test's own verification.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    fn sign(&self, body: &[u8]) -> String {
        STANDARD.encode(self.0.sign(body).to_bytes())
    }
}

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WebhookKey").field(&self.public_key()).finish()
    }
}

/// One webhook as it was last sent, and how the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// GHL's event type (`ContactCreate`, `TaskComplete`, …).
    pub event_type: String,
    pub webhook_id: String,
    /// The last attempt's body and `x-ghl-signature`.
    pub body: String,
    pub signature: String,
    pub attempts: u32,
    /// `None` when the connection failed or timed out.
    pub status: Option<u16>,
}

/// A change to announce, queued by a request handler.
struct Change {
    event_type: &'static str,
    location_id: String,
    fields: Map<String, Value>,
}

/// Where handlers put changes; a no-op when webhooks are off.
pub(crate) struct Outbox(Option<mpsc::UnboundedSender<Change>>);

impl Outbox {
    pub(crate) fn off() -> Self {
        Self(None)
    }

    fn emit(&self, event_type: &'static str, location_id: &str, fields: Value) {
        let (Some(tx), Value::Object(fields)) = (&self.0, fields) else {
            return;
        };
        // The sender task lives as long as the sandbox; after it, nobody listens anyway.
        let _ = tx.send(Change {
            event_type,
            location_id: location_id.to_owned(),
            fields,
        });
    }

    /// `ContactCreate`, `ContactUpdate`, `ContactDelete`, `ContactTagUpdate`, `ContactDndUpdate`.
    pub(crate) fn contact(&self, event_type: &'static str, contact: &Contact) {
        self.emit(
            event_type,
            &contact.location_id,
            contact_fields(event_type, contact),
        );
    }

    /// After a write to an existing contact: `ContactUpdate`, plus `ContactTagUpdate` and
    /// `ContactDndUpdate` when the tags or the DND flag changed.
    pub(crate) fn contact_changed(&self, before: &Contact, after: &Contact) {
        self.contact("ContactUpdate", after);
        if before.tags != after.tags {
            self.contact("ContactTagUpdate", after);
        }
        if before.dnd != after.dnd || before.dnd_settings != after.dnd_settings {
            self.contact("ContactDndUpdate", after);
        }
    }

    /// `NoteCreate`, `NoteUpdate`, `NoteDelete`: the note's id, body, contact and date only.
    pub(crate) fn note(&self, event_type: &'static str, location_id: &str, note: &Note) {
        let fields = json!({
            "id": note.id,
            "body": note.body,
            "contactId": note.contact_id,
            "dateAdded": iso_ms(note.date_added),
        });
        self.emit(event_type, location_id, fields);
    }

    /// `RecordCreate` / `RecordUpdate`: the record's properties as `[{key, valueString}]`.
    pub(crate) fn record(
        &self,
        event_type: &'static str,
        location_id: &str,
        record: &crate::objects::ObjectRecord,
    ) {
        let properties: Vec<Value> = record
            .properties
            .iter()
            .map(|(key, value)| {
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                json!({ "key": key, "valueString": text })
            })
            .collect();
        let fields = json!({
            "id": record.id,
            "owners": record.owners,
            "followers": record.followers,
            "properties": properties,
        });
        self.emit(event_type, location_id, fields);
    }

    /// `TaskCreate`, `TaskComplete`, `TaskDelete`.
    pub(crate) fn task(&self, event_type: &'static str, location_id: &str, task: &Task) {
        let mut fields = json!({
            "id": task.id,
            "contactId": task.contact_id,
            "title": task.title,
            "dateAdded": iso_ms(now_ms()),
            "dueDate": iso_ms(task.due_date),
        });
        for (key, value) in [("body", &task.body), ("assignedTo", &task.assigned_to)] {
            if let (Some(value), Some(fields)) = (value, fields.as_object_mut()) {
                fields.insert(key.into(), json!(value));
            }
        }
        self.emit(event_type, location_id, fields);
    }
}

/// A contact event's fields: those of GHL's `ContactCreate` example (the contact as the API
/// returns it, narrowed), with `dndSettings` for `ContactDndUpdate`.
fn contact_fields(event_type: &str, contact: &Contact) -> Value {
    const FIELDS: [&str; 20] = [
        "id",
        "address1",
        "city",
        "state",
        "companyName",
        "country",
        "source",
        "dateAdded",
        "dateOfBirth",
        "dnd",
        "email",
        "name",
        "firstName",
        "lastName",
        "phone",
        "postalCode",
        "tags",
        "website",
        "assignedTo",
        "customFields",
    ];
    let Value::Object(all) = contact.to_json() else {
        return Value::Null;
    };
    let mut fields: Map<String, Value> = all
        .into_iter()
        .filter(|(key, _)| {
            FIELDS.contains(&key.as_str()) || (event_type == "ContactDndUpdate" && key == "dndSettings")
        })
        .collect();
    fields.insert("attachments".into(), json!([]));
    Value::Object(fields)
}

/// Starts the sender; returns the handlers' outbox and the task to stop with the sandbox.
pub(crate) fn start(
    config: WebhookConfig,
    seed: u64,
    log: Arc<Mutex<Vec<WebhookDelivery>>>,
    log_requests: bool,
) -> (Outbox, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Change>();
    let task = tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .unwrap_or_default();
        let mut ids = fastrand::Rng::with_seed(seed);
        while let Some(change) = rx.recv().await {
            let delivery = deliver(&client, &config, change, webhook_id(&mut ids)).await;
            if log_requests {
                let status = delivery.status.map_or("no answer".to_owned(), |s| s.to_string());
                println!(
                    "webhook {} {} -> {status} ({} attempt(s))",
                    delivery.event_type, delivery.webhook_id, delivery.attempts
                );
            }
            lock(&log).push(delivery);
        }
    });
    (Outbox(Some(tx)), task)
}

async fn deliver(
    client: &reqwest::Client,
    config: &WebhookConfig,
    change: Change,
    webhook_id: String,
) -> WebhookDelivery {
    let mut attempts = 0;
    loop {
        attempts += 1;
        // Each attempt is stamped and signed anew: a retry must pass the receiver's 5-minute window.
        let mut fields = change.fields.clone();
        fields.insert("type".into(), json!(change.event_type));
        fields.insert("locationId".into(), json!(change.location_id));
        fields.insert("webhookId".into(), json!(webhook_id));
        fields.insert("timestamp".into(), json!(iso_ms(now_ms())));
        let body = Value::Object(fields).to_string();
        let signature = config.key.sign(body.as_bytes());
        let status = client
            .post(&config.url)
            .header("content-type", "application/json")
            .header("x-ghl-signature", &signature)
            .body(body.clone())
            .send()
            .await
            .map(|answer| answer.status().as_u16())
            .ok();
        if status == Some(429) && attempts <= config.retries {
            tokio::time::sleep(config.retry_delay).await;
            continue;
        }
        return WebhookDelivery {
            event_type: change.event_type.to_owned(),
            webhook_id,
            body,
            signature,
            attempts,
            status,
        };
    }
}

/// Shaped like the UUIDs GHL sends as `webhookId`.
fn webhook_id(rng: &mut fastrand::Rng) -> String {
    let hex: String = (0..32)
        .map(|_| char::from_digit(rng.u32(..16), 16).unwrap_or('0'))
        .collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}
