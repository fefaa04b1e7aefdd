//! What a provider is: a sender of webhooks with its own way of proving who it is and its own body
//! format. Each one is a file implementing [`Provider`]; the pipeline (`service`) is the same for
//! all of them, and routes to one by the function's trigger and the last segment of the path
//! (`/learner-created/skilljar`, `/ghl-events/ghl`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use http::HeaderMap;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;

use crate::domain::SyncEvent;
use crate::ingest::error::{IngestError, RetryAnswer};
use crate::secrets::parse_secret;

/// Which ingest function is running; decides which event types a provider may send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    LearnerCreated,
    MilestoneCompleted,
    NoteAdded,
    /// GHL's own webhooks (GHL → LMS).
    GhlEvents,
}

impl Trigger {
    pub fn name(self) -> &'static str {
        match self {
            Trigger::LearnerCreated => "learner-created",
            Trigger::MilestoneCompleted => "milestone-completed",
            Trigger::NoteAdded => "note-added",
            Trigger::GhlEvents => "ghl-events",
        }
    }
}

/// A delivery as it arrived, before anything is believed about it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// When it arrived, by the service's clock: the event's time for senders that give none.
    pub received_at: OffsetDateTime,
}

/// A delivery turned into a canonical event plus the key that identifies it across retries.
#[derive(Debug)]
pub struct Normalised {
    pub idempotency_key: String,
    pub event: SyncEvent,
}

/// What a delivery turned out to be.
#[derive(Debug)]
pub enum Parsed {
    /// A liveness check (Skilljar's `PING`): answered 2xx, nothing enqueued.
    Ping,
    /// Authentic, but of a kind the sync has no use for (a GHL event type the app is subscribed
    /// to beyond the ones handled): answered 2xx with the reason, nothing enqueued.
    Ignored(String),
    Event(Box<Normalised>),
}

/// The two things that differ between senders.
pub trait Provider {
    /// The route segment, and the key of this provider's section in the webhook secret.
    const NAME: &'static str;

    /// This provider's section of the webhook secret (`WEBHOOK_SECRET_ID`).
    type Auth: DeserializeOwned;

    /// How this sender is told to send a delivery again; senders differ in what they retry.
    const RETRY: RetryAnswer = RetryAnswer::ServiceUnavailable;

    /// What a sender's retry of this delivery repeats, hashed into the delivery's claim so that a
    /// retry is told from other content under the same identity. The body as sent, unless the
    /// sender changes part of it on every attempt.
    fn repeated_content<'a>(delivery: &Delivery<'a>) -> Cow<'a, [u8]> {
        Cow::Borrowed(delivery.body)
    }

    /// Checks that the delivery comes from the configured sender; nothing else is read before.
    fn authenticate(
        delivery: &Delivery<'_>,
        auth: &Self::Auth,
        now: OffsetDateTime,
    ) -> Result<(), IngestError>;

    /// Reads the body into the canonical event `trigger` takes, or says precisely what is wrong.
    fn normalise(trigger: Trigger, delivery: &Delivery<'_>) -> Result<Parsed, IngestError>;
}

/// The webhook secret document: one section per provider, under its name. Each section is kept as
/// secret text and parsed only by the provider that owns it, so one provider's shape is the
/// business of its own file, and a malformed section breaks only that provider.
#[derive(Debug, Default, Deserialize)]
pub struct WebhookSecrets(BTreeMap<String, Section>);

/// One provider's section, as secret text.
#[derive(Debug)]
struct Section(SecretString);

impl<'de> Deserialize<'de> for Section {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(Section(SecretString::from(value.to_string())))
    }
}

impl WebhookSecrets {
    /// Provider `P`'s credentials; a missing or malformed section is the operator's problem (500),
    /// reported by path only.
    pub fn auth<P: Provider>(&self, secret_id: &str) -> Result<P::Auth, IngestError> {
        let section = self.0.get(P::NAME).ok_or_else(|| {
            IngestError::Misconfigured(format!("webhook secret has no `{}` entry", P::NAME))
        })?;
        Ok(parse_secret(&format!("{secret_id}#{}", P::NAME), &section.0)?)
    }
}
