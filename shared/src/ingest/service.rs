//! The pipeline every ingest function runs: route → size and type checks → the provider
//! authenticates and normalises → accept the delivery's identity and its queue message in one
//! write (the table's stream sends the message on: docs/architecture.md, "Outbox").

use std::sync::Arc;

use http::{HeaderMap, Method, StatusCode};
use serde_json::json;
use tracing::{Instrument, error, info, info_span};

use crate::clock::Clock;
use crate::contract::{self, DeliveryHash, Envelope};
use crate::idempotency::{Claim, Idempotency, IdempotencyError};
use crate::ingest::error::{IngestError, IngestResponse, MAX_BODY_BYTES, RetryAnswer};
use crate::ingest::generic::Generic;
use crate::ingest::ghl::Ghl;
use crate::ingest::provider::{Delivery, Parsed, Provider, Trigger, WebhookSecrets};
use crate::ingest::skilljar::Skilljar;
use crate::secrets::CachedSecret;
use crate::telemetry::metric;

/// A delivery as a provider received it: what it is, and the hash its claim carries.
struct Received {
    parsed: Parsed,
    hash: DeliveryHash,
}

/// How one provider's deliveries are received: authenticate with its secret section, normalise.
type Receive = fn(&WebhookSecrets, &str, &Delivery<'_>, Trigger) -> Result<Received, IngestError>;

/// Where a path leads: its provider's way of receiving, and of asking for a retry.
#[derive(Clone, Copy)]
struct Route {
    receive: Receive,
    retry: RetryAnswer,
}

impl Route {
    fn to<P: Provider>() -> Self {
        Route {
            receive: receive::<P>,
            retry: P::RETRY,
        }
    }
}

/// The providers, by trigger and the last segment of the route. Adding one is its file and an
/// arm here.
fn route(trigger: Trigger, path: &str) -> Result<Route, IngestError> {
    match (trigger, path.trim_end_matches('/').rsplit('/').next()) {
        (Trigger::GhlEvents, Some(Ghl::NAME)) => Ok(Route::to::<Ghl>()),
        (Trigger::GhlEvents, _) => Err(IngestError::NotFound(path.to_owned())),
        (_, Some(Skilljar::NAME)) => Ok(Route::to::<Skilljar>()),
        (_, Some(Generic::NAME)) => Ok(Route::to::<Generic>()),
        _ => Err(IngestError::NotFound(path.to_owned())),
    }
}

fn receive<P: Provider>(
    secrets: &WebhookSecrets,
    secret_id: &str,
    delivery: &Delivery<'_>,
    trigger: Trigger,
) -> Result<Received, IngestError> {
    let auth = secrets.auth::<P>(secret_id)?;
    P::authenticate(delivery, &auth, delivery.received_at)?;
    let parsed = P::normalise(trigger, delivery)?;
    Ok(Received {
        parsed,
        hash: DeliveryHash::of(&P::repeated_content(delivery)),
    })
}

/// The parts of an HTTP request the pipeline reads; built by the Lambda edge.
pub struct IngestRequest<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// API Gateway's request id, the fallback correlation id.
    pub request_id: Option<&'a str>,
}

pub struct IngestService {
    trigger: Trigger,
    idempotency: Idempotency,
    secrets: CachedSecret<WebhookSecrets>,
    clock: Arc<dyn Clock>,
}

impl IngestService {
    pub fn new(
        trigger: Trigger,
        idempotency: Idempotency,
        secrets: CachedSecret<WebhookSecrets>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            trigger,
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
            let route = match route(self.trigger, request.path) {
                Ok(route) => route,
                Err(err) => {
                    metric::count(metric::EVENTS_REJECTED, Some(("Trigger", self.trigger.name())));
                    metric::count_by(metric::EVENTS_REJECTED, &[("Reason", err.code().to_owned())]);
                    return err.into_response(RetryAnswer::default());
                }
            };
            let provider = request
                .path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default();
            let trigger = format!("{}/{provider}", self.trigger.name());
            match self.accept(route.receive, &request, correlation_id.clone()).await {
                Ok(response) => {
                    if response.status == StatusCode::ACCEPTED {
                        metric::count(metric::EVENTS_ACCEPTED, Some(("Trigger", &trigger)));
                    } else if response.body["status"] == "duplicate" {
                        metric::count(metric::EVENTS_DUPLICATE, Some(("Trigger", &trigger)));
                    }
                    response
                }
                Err(err) => {
                    // A delivery we could not take now is the sender's to retry, not a rejection.
                    if !err.means_retry() {
                        metric::count(metric::EVENTS_REJECTED, Some(("Trigger", &trigger)));
                        metric::count_by(metric::EVENTS_REJECTED, &[("Reason", err.code().to_owned())]);
                    }
                    err.into_response(route.retry)
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn accept(
        &self,
        receive: Receive,
        request: &IngestRequest<'_>,
        correlation_id: String,
    ) -> Result<IngestResponse, IngestError> {
        if request.method != Method::POST {
            return Err(IngestError::MethodNotAllowed(request.method.to_string()));
        }
        if request.body.len() > MAX_BODY_BYTES {
            return Err(IngestError::PayloadTooLarge {
                size: request.body.len(),
            });
        }
        check_content_type(request.headers)?;
        let secrets = self.secrets.get().await?;
        let delivery = Delivery {
            headers: request.headers,
            body: request.body,
            received_at: self.clock.now(),
        };
        let received = receive(&secrets, self.secrets.id(), &delivery, self.trigger)?;
        let normalised = match received.parsed {
            Parsed::Ping => {
                return Ok(IngestResponse {
                    status: StatusCode::OK,
                    body: json!({ "status": "pong" }),
                });
            }
            Parsed::Ignored(reason) => {
                info!(reason = %reason, "delivery ignored");
                return Ok(IngestResponse {
                    status: StatusCode::OK,
                    body: json!({ "status": "ignored", "detail": reason }),
                });
            }
            Parsed::Event(normalised) => *normalised,
        };
        let envelope = Envelope::new(
            normalised.idempotency_key,
            correlation_id,
            self.clock.now(),
            received.hash,
            normalised.event,
        );
        self.accept_once(&envelope).await
    }

    /// One conditional write takes the delivery's key and carries its queue message; the table's
    /// stream sends the message. Nothing to undo when a step fails, and no window in which a crash
    /// leaves a key taken with nothing queued: an accepted delivery is never lost, and a
    /// redelivery of an accepted one is answered as a duplicate without queueing twice.
    async fn accept_once(&self, envelope: &Envelope) -> Result<IngestResponse, IngestError> {
        let message = contract::encode(envelope).map_err(|e| IngestError::Misconfigured(e.to_string()))?;
        let claim = self
            .idempotency
            .accept(
                &envelope.idempotency_key,
                envelope.delivery_hash.as_str(),
                envelope.event_id.as_str(),
                &message.body,
                self.clock.now(),
            )
            .await;
        let held = match claim {
            Ok(Claim::Acquired) => None,
            Ok(held) => Some(held),
            // An identity accepted before is never refused (a 4xx makes Skilljar disable the
            // subscription): the conflict is the operator's to look into, the answer a duplicate.
            Err(IdempotencyError::PayloadMismatch { held, held_hash, .. }) => {
                if DeliveryHash::comparable_with(&held_hash) {
                    error!(
                        event_id = %envelope.event_id,
                        "delivery identity reused with different content; answered as a duplicate, not queued"
                    );
                } else {
                    info!(event_id = %envelope.event_id, "first accepted by an earlier version; same delivery");
                }
                Some(held)
            }
            Err(IdempotencyError::Store(e)) => return Err(IngestError::Unavailable(e.to_string())),
        };
        match held {
            None => {}
            // An earlier version's claim (claim, send, complete) still being worked on.
            Some(Claim::InProgress { .. }) => return Err(IngestError::InProgress),
            Some(_) => {
                info!(event_id = %envelope.event_id, "duplicate delivery; already queued");
                return Ok(IngestResponse {
                    status: StatusCode::OK,
                    body: json!({ "status": "duplicate", "event_id": envelope.event_id }),
                });
            }
        }
        info!(event_id = %envelope.event_id, event_type = envelope.event.kind(), "delivery accepted");
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
