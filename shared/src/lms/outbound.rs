//! Outbound destinations: apps without an API of ours (TalkNotes, anything behind Zapier or Make)
//! get each change as a JSON document POSTed to a URL of theirs, signed with the same HMAC scheme
//! as the inbound generic format (`X-Webhook-Signature: t=…,v1=…`, `ingest::signature`). The
//! schema, the headers and a verifier are in `docs/generic-outbound.md`.
//!
//! A destination is not an LMS account (it cannot be asked anything), so it is its own type with
//! one operation, [`OutboundDestination::deliver`]. It shares the LMS clients' request path:
//! the rate budget (per destination), the retry policy (the document's `id` lets the receiver
//! drop a repeat, so a POST is retried like an idempotent request) and the one HTTP client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::time::Instant;
use tracing::debug;

use super::LmsError;
use super::transport::{Auth, CallError, Request, Transport};
use crate::domain::{Email, GhlChange, GhlChangeKind};
use crate::http::{BudgetConfig, Idempotence, RateBudget, RateLimits, RetryPolicy};
use crate::secrets::CachedSecret;

pub const PLATFORM: &str = "outbound";

/// The schema version documents carry (`version`).
pub const SCHEMA_VERSION: u32 = 1;

/// Carries the document's `id`, so that a receiver can drop a repeat before parsing the body.
pub const ID_HEADER: &str = "x-webhook-id";

/// Ten deliveries a second per destination: automation tools' hooks take bursts, not floods.
pub const RATE_LIMITS: RateLimits = RateLimits {
    max: 10,
    interval: Duration::from_secs(1),
    daily: u32::MAX,
};

/// The rate budget of outbound destinations (one schedule per destination name).
pub fn budget_config() -> BudgetConfig {
    BudgetConfig::lms(PLATFORM, RATE_LIMITS)
}

/// The Secrets Manager document of one destination:
/// `{"url": "https://hooks.example.com/…", "signingSecret": "…"}`. The URL is held as a secret
/// too: a hook URL is often all a sender needs, and it never appears in a log or an error.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundSecret {
    pub url: SecretString,
    pub signing_secret: SecretString,
}

#[derive(Debug, Clone, Default)]
pub struct OutboundConfig {
    pub retry: RetryPolicy,
}

/// What happened, as `<object>.<event>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeType {
    #[serde(rename = "contact.created")]
    ContactCreated,
    #[serde(rename = "contact.updated")]
    ContactUpdated,
    #[serde(rename = "contact.deleted")]
    ContactDeleted,
    #[serde(rename = "contact.tags_changed")]
    ContactTagsChanged,
    #[serde(rename = "contact.dnd_changed")]
    ContactDndChanged,
    #[serde(rename = "note.created")]
    NoteCreated,
    #[serde(rename = "note.updated")]
    NoteUpdated,
    #[serde(rename = "task.created")]
    TaskCreated,
    #[serde(rename = "task.completed")]
    TaskCompleted,
    #[serde(rename = "task.deleted")]
    TaskDeleted,
    #[serde(rename = "appointment.created")]
    AppointmentCreated,
    /// A custom-object record (a learning record) changed.
    #[serde(rename = "record.updated")]
    RecordUpdated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectType {
    Note,
    Task,
    Appointment,
    Record,
}

/// The note, task or appointment a change is about (contact changes have none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedObject {
    #[serde(rename = "type")]
    pub kind: ObjectType,
    pub id: String,
}

/// The contact as the change carried it; absent facts are left out, never sent empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundContact {
    /// GHL's contact id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// By GHL custom field id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnd: Option<bool>,
}

/// The document a destination receives (schema: `docs/generic-outbound.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundDocument {
    pub version: u32,
    /// The same on every retry and redelivery of this change: receivers drop a repeat by it.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ChangeType,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// The GHL location the change happened in.
    pub location_id: String,
    pub contact: OutboundContact,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ChangedObject>,
}

impl OutboundDocument {
    /// The document for a change in GHL. `id` must name this change for good (the worker's event
    /// id): it is the receiver's only way to tell a repeat.
    pub fn from_change(id: impl Into<String>, change: &GhlChange) -> Self {
        let object = |kind, id: &String| Some(ChangedObject { kind, id: id.clone() });
        let (kind, object) = match &change.change {
            GhlChangeKind::ContactCreated => (ChangeType::ContactCreated, None),
            GhlChangeKind::ContactUpdated => (ChangeType::ContactUpdated, None),
            GhlChangeKind::ContactDeleted => (ChangeType::ContactDeleted, None),
            GhlChangeKind::ContactTagsChanged => (ChangeType::ContactTagsChanged, None),
            GhlChangeKind::ContactDndChanged => (ChangeType::ContactDndChanged, None),
            GhlChangeKind::NoteCreated { note_id } => {
                (ChangeType::NoteCreated, object(ObjectType::Note, note_id))
            }
            GhlChangeKind::NoteUpdated { note_id } => {
                (ChangeType::NoteUpdated, object(ObjectType::Note, note_id))
            }
            GhlChangeKind::TaskCreated { task_id } => {
                (ChangeType::TaskCreated, object(ObjectType::Task, task_id))
            }
            GhlChangeKind::TaskCompleted { task_id } => {
                (ChangeType::TaskCompleted, object(ObjectType::Task, task_id))
            }
            GhlChangeKind::TaskDeleted { task_id } => {
                (ChangeType::TaskDeleted, object(ObjectType::Task, task_id))
            }
            GhlChangeKind::AppointmentCreated { appointment_id } => (
                ChangeType::AppointmentCreated,
                object(ObjectType::Appointment, appointment_id),
            ),
            GhlChangeKind::RecordUpdated { record_id, .. } => {
                (ChangeType::RecordUpdated, object(ObjectType::Record, record_id))
            }
        };
        let facts = change.contact.clone().unwrap_or_default();
        Self {
            version: SCHEMA_VERSION,
            id: id.into(),
            kind,
            occurred_at: change.occurred_at,
            location_id: change.location_id.clone(),
            contact: OutboundContact {
                id: change.contact_id.clone(),
                email: facts.email,
                first_name: facts.first_name,
                last_name: facts.last_name,
                phone: facts.phone,
                tags: facts.tags,
                custom_fields: facts.custom_fields,
                dnd: facts.dnd,
            },
            object,
        }
    }
}

/// One destination: a name for logs and the rate budget, and its secret (URL + signing secret).
#[derive(Clone)]
pub struct OutboundDestination {
    name: String,
    secret: Arc<CachedSecret<OutboundSecret>>,
    transport: Transport,
}

impl OutboundDestination {
    pub fn new(
        name: impl Into<String>,
        config: &OutboundConfig,
        http: reqwest::Client,
        secret: CachedSecret<OutboundSecret>,
        budget: Arc<dyn RateBudget>,
    ) -> Self {
        Self {
            name: name.into(),
            secret: Arc::new(secret),
            transport: Transport::new(PLATFORM, http, budget, config.retry.clone()),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same destination, retrying only while there is time left before `deadline`.
    pub fn with_deadline(&self, deadline: Instant) -> Self {
        Self {
            transport: self.transport.with_deadline(deadline),
            ..self.clone()
        }
    }

    /// POSTs the document, signed afresh on each attempt; 5xx, 408, 429 and network failures are
    /// retried. Any 2xx is delivered, and so is 409 (the receiver says it has this `id`).
    pub async fn deliver(&self, document: &OutboundDocument) -> Result<(), LmsError> {
        let secret = self
            .secret
            .get()
            .await
            .map_err(|e| LmsError::secret(PLATFORM, e))?;
        let url = Url::parse(secret.url.expose_secret())
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
            .ok_or_else(|| LmsError::Credentials {
                platform: PLATFORM,
                message: format!(
                    "destination {}: the secret's `url` is not an http(s) URL",
                    self.name
                ),
            })?;
        let body = serde_json::to_value(document).map_err(|e| LmsError::Rejected {
            platform: PLATFORM,
            status: 0,
            message: e.to_string(),
        })?;
        let id = HeaderValue::from_str(&document.id).map_err(|_| LmsError::Rejected {
            platform: PLATFORM,
            status: 0,
            message: "document id cannot be sent in a header".into(),
        })?;
        let request = Request::new("deliver", Method::POST, url, Idempotence::Protected)
            .json(body)
            .header(HeaderName::from_static(ID_HEADER), id);
        let auth = Auth::Signed {
            secret: secret.signing_secret.clone(),
        };
        match self.transport.send(&self.name, &auth, &request).await {
            Ok(answer) => {
                debug!(destination = %self.name, status = answer.status, "outbound document delivered");
                Ok(())
            }
            Err(CallError::Status { status: 409, .. }) => Ok(()),
            Err(err) => Err(
                match err.into_lms(PLATFORM, || format!("destination {}", self.name)) {
                    LmsError::Rejected { status, message, .. } => LmsError::Rejected {
                        platform: PLATFORM,
                        status,
                        message: format!("destination {}: {message}", self.name),
                    },
                    other => other,
                },
            ),
        }
    }
}
