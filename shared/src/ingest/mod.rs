//! Inbound LMS webhooks: verify, normalise, dedupe, enqueue. One pipeline for every ingest
//! function; providers differ only in how they authenticate and what their bodies look like.

pub mod generic;
pub mod signature;
pub mod skilljar;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::{Instrument, info, info_span, warn};

use crate::clock::{Clock, invocation_deadline_ms};
use crate::domain::{Email, Envelope, SyncEvent};
use crate::idempotency::{Claim, Idempotency, IdempotencyError};
use crate::json_error;
use crate::ports::{OutboundMessage, Queue};
use crate::secrets::{CachedSecret, SecretError, WebhookSecrets};

/// Larger bodies are refused before anything else reads them (SQS's own limit is 256 KiB too).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Which ingest function is running; decides which event types a provider may send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    LearnerCreated,
    MilestoneCompleted,
    NoteAdded,
}

impl Trigger {
    pub fn name(self) -> &'static str {
        match self {
            Trigger::LearnerCreated => "learner-created",
            Trigger::MilestoneCompleted => "milestone-completed",
            Trigger::NoteAdded => "note-added",
        }
    }
}

/// A delivery turned into a canonical event plus the key that identifies it across retries.
#[derive(Debug)]
pub struct Normalised {
    pub idempotency_key: String,
    pub event: SyncEvent,
}

/// Everything that can go wrong with a delivery, and the one place that maps it to HTTP.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no webhook route at {0:?}; POST to /<provider> with provider `skilljar` or `generic`")]
    NotFound(String),
    #[error("method {0} not allowed; use POST")]
    MethodNotAllowed(String),
    #[error("body is {size} bytes; the limit is {MAX_BODY_BYTES}")]
    PayloadTooLarge { size: usize },
    #[error("content type must be application/json, got {0:?}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("at `{field}`: {problem}")]
    Unprocessable { field: String, problem: String },
    #[error("this delivery's identity was already used by a different payload")]
    PayloadMismatch,
    #[error("the same delivery is being processed right now; retry later")]
    InProgress,
    #[error("temporarily unavailable; retry later")]
    Unavailable(String),
    #[error("the service is misconfigured; the operator has been told")]
    Misconfigured(String),
}

impl IngestError {
    pub fn missing(field: &str) -> Self {
        IngestError::Unprocessable {
            field: field.into(),
            problem: "required".into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            IngestError::NotFound(_) => StatusCode::NOT_FOUND,
            IngestError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            IngestError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            IngestError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            IngestError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            IngestError::PayloadMismatch => StatusCode::CONFLICT,
            IngestError::InProgress | IngestError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            IngestError::Misconfigured(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            IngestError::NotFound(_) => "not_found",
            IngestError::MethodNotAllowed(_) => "method_not_allowed",
            IngestError::PayloadTooLarge { .. } => "payload_too_large",
            IngestError::UnsupportedMediaType(_) => "unsupported_media_type",
            IngestError::Unauthorized(_) => "unauthorized",
            IngestError::MalformedJson(_) => "malformed_json",
            IngestError::Unprocessable { .. } => "unprocessable",
            IngestError::PayloadMismatch => "idempotency_conflict",
            IngestError::InProgress => "in_progress",
            IngestError::Unavailable(_) => "unavailable",
            IngestError::Misconfigured(_) => "misconfigured",
        }
    }

    fn into_response(self) -> IngestResponse {
        // Operators' details (which port failed, what is misconfigured) go to the log only.
        match &self {
            IngestError::Unavailable(detail) | IngestError::Misconfigured(detail) => {
                tracing::error!(error = self.code(), detail = %detail, "delivery not accepted");
            }
            _ => warn!(error = self.code(), detail = %self, "delivery refused"),
        }
        IngestResponse {
            status: self.status(),
            body: json!({ "error": self.code(), "detail": self.to_string() }),
        }
    }
}

impl From<SecretError> for IngestError {
    fn from(err: SecretError) -> Self {
        match err {
            SecretError::Unavailable(e) => IngestError::Unavailable(e.to_string()),
            malformed @ SecretError::Malformed { .. } => IngestError::Misconfigured(malformed.to_string()),
        }
    }
}

/// Parses a body in two steps so that syntax errors (400) and missing data (422) differ.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, IngestError> {
    from_json(&parse_json(body)?)
}

/// Step one: the body must be JSON at all (400 with line and column otherwise).
fn parse_json(body: &[u8]) -> Result<serde_json::Value, IngestError> {
    serde_json::from_slice(body).map_err(|e| {
        IngestError::MalformedJson(format!(
            "{} at line {}, column {}",
            json_error::kind(&e),
            e.line(),
            e.column()
        ))
    })
}

/// Step two: a typed view of the document (422 naming the JSON path otherwise). Taking a view
/// at a time lets a format read the envelope first and only the part its event type owns.
fn from_json<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, IngestError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let (field, problem) = json_error::describe(err);
        IngestError::Unprocessable { field, problem }
    })
}

/// `ingest:<source>:<sha256 of the identity parts>`: bounded length whatever the ids hold.
fn derive_key(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    format!(
        "ingest:{}:{}",
        parts.first().copied().unwrap_or_default(),
        hex::encode(hasher.finalize())
    )
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// An id that must be present and fit a DynamoDB key alongside its prefix.
fn required_id(value: Option<String>, field: &str) -> Result<String, IngestError> {
    let value = value.ok_or_else(|| IngestError::missing(field))?;
    // Returned as sent: ids are identities, and every trigger must see the same one.
    if value.trim().is_empty() || value.len() > MAX_ID_BYTES {
        return Err(IngestError::Unprocessable {
            field: field.into(),
            problem: format!("must be 1-{MAX_ID_BYTES} characters"),
        });
    }
    Ok(value)
}

/// Upper bound for senders' ids (events, tasks, notes, milestones).
const MAX_ID_BYTES: usize = 256;

/// A field that must hold a usable email address.
fn required_email(value: Option<String>, field: &str) -> Result<Email, IngestError> {
    let value = value.ok_or_else(|| IngestError::missing(field))?;
    Email::try_from(value).map_err(|_| IngestError::Unprocessable {
        field: field.into(),
        problem: "not a usable email address".into(),
    })
}

/// The parts of an HTTP request the pipeline reads; built by the Lambda binary.
pub struct IngestRequest<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// API Gateway's request id, the fallback correlation id.
    pub request_id: Option<&'a str>,
    /// The invocation's deadline in epoch ms as Lambda reports it.
    pub deadline_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IngestResponse {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

impl IngestResponse {
    /// The HTTP response: status and a JSON body, the same shape for every answer.
    pub fn into_http(self) -> http::Response<String> {
        let mut response = http::Response::new(self.body.to_string());
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// Senders this pipeline knows, by the last path segment of the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    Skilljar,
    Generic,
}

pub struct IngestService {
    trigger: Trigger,
    queue: Arc<dyn Queue>,
    idempotency: Idempotency,
    secrets: CachedSecret<WebhookSecrets>,
    clock: Arc<dyn Clock>,
}

/// How long an IN_PROGRESS ingest claim may live when Lambda reports no usable deadline.
const CLAIM_FALLBACK: Duration = Duration::from_secs(30);

impl IngestService {
    pub fn new(
        trigger: Trigger,
        queue: Arc<dyn Queue>,
        idempotency: Idempotency,
        secrets: CachedSecret<WebhookSecrets>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            trigger,
            queue,
            idempotency,
            secrets,
            clock,
        }
    }

    /// Handles one delivery inside a span that carries its correlation id.
    pub async fn handle(&self, request: IngestRequest<'_>) -> IngestResponse {
        let correlation_id = correlation_id(request.headers, request.request_id);
        let span =
            info_span!("delivery", trigger = self.trigger.name(), path = request.path, %correlation_id);
        async {
            match self.accept(&request, correlation_id.clone()).await {
                Ok(response) => response,
                Err(err) => err.into_response(),
            }
        }
        .instrument(span)
        .await
    }

    async fn accept(
        &self,
        request: &IngestRequest<'_>,
        correlation_id: String,
    ) -> Result<IngestResponse, IngestError> {
        let sender = route(request.path)?;
        if request.method != Method::POST {
            return Err(IngestError::MethodNotAllowed(request.method.to_string()));
        }
        if request.body.len() > MAX_BODY_BYTES {
            return Err(IngestError::PayloadTooLarge {
                size: request.body.len(),
            });
        }
        check_content_type(request.headers)?;
        let normalised = self.authenticate_and_normalise(sender, request).await?;
        let Some(normalised) = normalised else {
            return Ok(IngestResponse {
                status: StatusCode::OK,
                body: json!({ "status": "pong" }),
            });
        };
        let now = self.clock.now();
        let envelope = Envelope::new(normalised.idempotency_key, correlation_id, now, normalised.event);
        self.enqueue_once(&envelope, request.deadline_ms).await
    }

    async fn authenticate_and_normalise(
        &self,
        sender: Sender,
        request: &IngestRequest<'_>,
    ) -> Result<Option<Normalised>, IngestError> {
        let secrets = self.secrets.get().await?;
        match sender {
            Sender::Skilljar => {
                let auth = secrets.skilljar.as_ref().ok_or_else(|| {
                    IngestError::Misconfigured("webhook secret has no `skilljar` entry".into())
                })?;
                skilljar::authenticate(request.headers, auth)?;
                match skilljar::normalise(self.trigger, request.body)? {
                    skilljar::SkilljarDelivery::Ping => Ok(None),
                    skilljar::SkilljarDelivery::Event(n) => Ok(Some(*n)),
                }
            }
            Sender::Generic => {
                let signing = secrets.generic.as_ref().ok_or_else(|| {
                    IngestError::Misconfigured("webhook secret has no `generic` entry".into())
                })?;
                let header = request
                    .headers
                    .get(signature::SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok());
                signature::verify(
                    header,
                    request.body,
                    &signing.signing_secrets,
                    self.clock.now().unix_timestamp(),
                )
                .map_err(|e| IngestError::Unauthorized(e.to_string()))?;
                generic::normalise(self.trigger, request.body).map(Some)
            }
        }
    }

    /// Claim the delivery's key, enqueue, then mark it done. If the enqueue fails the claim is
    /// released and the sender told to retry: an accepted delivery is never lost, and a
    /// redelivery of an enqueued one never enqueues twice.
    async fn enqueue_once(
        &self,
        envelope: &Envelope,
        deadline_ms: Option<u64>,
    ) -> Result<IngestResponse, IngestError> {
        let now = self.clock.now();
        let deadline = invocation_deadline_ms(deadline_ms, now, CLAIM_FALLBACK);
        let key = &envelope.idempotency_key;
        let claim = self
            .idempotency
            .claim(key, &envelope.payload_hash(), deadline, now)
            .await;
        match claim {
            Ok(Claim::Acquired) => {}
            Ok(Claim::Completed { .. }) => {
                info!(event_id = %envelope.event_id, "duplicate delivery; already queued");
                return Ok(IngestResponse {
                    status: StatusCode::OK,
                    body: json!({ "status": "duplicate", "event_id": envelope.event_id }),
                });
            }
            Ok(Claim::InProgress) => return Err(IngestError::InProgress),
            Err(IdempotencyError::PayloadMismatch { .. }) => return Err(IngestError::PayloadMismatch),
            Err(IdempotencyError::Store(e)) => return Err(IngestError::Unavailable(e.to_string())),
        }

        let message = outbound(envelope).map_err(|e| IngestError::Misconfigured(e.to_string()))?;
        if let Err(err) = self.queue.send(&message).await {
            if let Err(release) = self.idempotency.release(key).await {
                // The claim expires with the invocation deadline, so the retry still gets through.
                warn!(error = %release, "could not release ingest claim");
            }
            return Err(IngestError::Unavailable(err.to_string()));
        }
        if let Err(err) = self
            .idempotency
            .complete(key, Some(envelope.event_id.as_str()), self.clock.now())
            .await
        {
            // Already queued: a redelivery after the claim expires enqueues again, and the worker's
            // own idempotency (same event id) absorbs it.
            warn!(error = %err, "queued, but could not mark ingest claim completed");
        }
        info!(event_id = %envelope.event_id, event_type = envelope.event.kind(), "delivery queued");
        Ok(IngestResponse {
            status: StatusCode::ACCEPTED,
            body: json!({
                "status": "accepted",
                "event_id": envelope.event_id,
                "correlation_id": envelope.correlation_id,
            }),
        })
    }
}

/// The queue message for an envelope; attributes let operators filter without parsing bodies.
pub fn outbound(envelope: &Envelope) -> Result<OutboundMessage, serde_json::Error> {
    Ok(OutboundMessage {
        body: serde_json::to_string(envelope)?,
        attributes: [
            ("correlation_id".to_owned(), envelope.correlation_id.clone()),
            ("event_type".to_owned(), envelope.event.kind().to_owned()),
            ("event_id".to_owned(), envelope.event_id.to_string()),
        ]
        .into(),
    })
}

fn route(path: &str) -> Result<Sender, IngestError> {
    match path.trim_end_matches('/').rsplit('/').next() {
        Some("skilljar") => Ok(Sender::Skilljar),
        Some("generic") => Ok(Sender::Generic),
        _ => Err(IngestError::NotFound(path.to_owned())),
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), IngestError> {
    let value = headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("<not text>"))
        .unwrap_or("");
    let essence = value.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(IngestError::UnsupportedMediaType(value.to_owned()))
    }
}

/// The sender's `X-Correlation-Id` if it is sane, else API Gateway's request id, else a new one.
pub fn correlation_id(headers: &HeaderMap, request_id: Option<&str>) -> String {
    let sane = |v: &str| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic());
    headers
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .or(request_id.filter(|v| sane(v)))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

#[cfg(test)]
mod tests;
