//! The Lambda edge: Lambda's event types in, the library's services called, Lambda's types out.
//! Only here do SQS batches exist: the worker core takes one message at a time.
//! The binaries in `functions/` are one call each: `run_ingest(trigger)` or `run_worker()`.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::{Body, Request, RequestExt, Response};
use lambda_runtime::LambdaEvent;

use crate::clock::invocation_deadline_ms;
use tracing::Instrument;

use crate::batch::{BatchRequest, BatchRunner, BatchTuning};
use crate::config::{BatchSettings, Env, IngestSettings, WorkerSettings};
use crate::ingest::{IngestRequest, IngestService, Trigger};
use crate::worker::{self, Message, RecordOutcome, SyncWorker};
use crate::{app, aws, telemetry};

/// The whole life of an ingest function: build its service once (cold start), then serve
/// API Gateway requests until Lambda stops the process.
pub async fn run_ingest(trigger: Trigger) -> Result<(), lambda_http::Error> {
    telemetry::init();
    let settings = IngestSettings::from_env(&Env::process())?;
    let sdk = aws::sdk_config().await;
    let service = Arc::new(app::ingest_service(trigger, &settings, &sdk)?);
    let metrics = telemetry::metrics()?;
    // The metrics are flushed (one EMF line per dimension set) after each invocation.
    metrics_cloudwatch_embedded::lambda::handler::run_http(metrics, move |request: Request| {
        let service = Arc::clone(&service);
        async move { Ok::<_, lambda_http::Error>(serve_ingest(&service, request).await) }
    })
    .await
}

/// One API Gateway (HTTP API, payload v2) request to an ingest function.
pub async fn serve_ingest(service: &IngestService, request: Request) -> Response<Body> {
    let context = request.lambda_context_ref();
    let response = service
        .handle(IngestRequest {
            method: request.method(),
            path: request.uri().path(),
            headers: request.headers(),
            body: request.body().as_ref(),
            request_id: context.map(|c| c.request_id.as_str()),
        })
        .await;
    response.into_http().map(Body::from)
}

/// The whole life of the sync worker: build it once (cold start; a bad mapping or missing setting
/// stops it here, named), then serve SQS batches.
pub async fn run_worker() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let settings = WorkerSettings::from_env(&Env::process())?;
    let sdk = aws::sdk_config().await;
    let worker = Arc::new(app::sync_worker(&settings, &sdk).await?);
    let metrics = telemetry::metrics()?;
    metrics_cloudwatch_embedded::lambda::handler::run(metrics, move |event: LambdaEvent<SqsEvent>| {
        let worker = Arc::clone(&worker);
        async move { Ok::<_, lambda_runtime::Error>(serve_sqs(&worker, event).await) }
    })
    .await
}

/// One SQS batch for the worker, answered with the ids of the records to redeliver.
pub async fn serve_sqs(worker: &SyncWorker, event: LambdaEvent<SqsEvent>) -> SqsBatchResponse {
    handle_batch(worker, event.payload, Some(event.context.deadline)).await
}

/// Least time left in the invocation for a record to be started.
const RECORD_RESERVE: Duration = Duration::from_secs(10);

/// Runs a batch's records through the worker one by one; the records to redeliver are listed
/// (`ReportBatchItemFailures`), so SQS redelivers only those.
pub async fn handle_batch(
    worker: &SyncWorker,
    event: SqsEvent,
    deadline_ms: Option<u64>,
) -> SqsBatchResponse {
    let deadline = invocation_deadline_ms(deadline_ms, worker.clock().now(), worker.deadline_fallback());
    let mut response = SqsBatchResponse::default();
    // The batch's messages share what they learn of contacts; the next invocation starts afresh.
    let contacts = worker::ContactCache::default();
    for record in &event.records {
        let id = record.message_id.as_deref().unwrap_or_default();
        // Starting a record the invocation cannot finish would only leave a claim to expire:
        // leave it, and the rest of the batch, to SQS's redelivery instead.
        if worker::remaining(deadline, worker.clock().now()) < RECORD_RESERVE {
            tracing::info!(
                message_id = id,
                "too little time left in this invocation; left for redelivery"
            );
            response.add_failure(id);
            continue;
        }
        let message = Message {
            id,
            body: record.body.as_deref().unwrap_or_default(),
        };
        let outcome = worker
            .handle_in(message, u64::try_from(deadline).ok(), &contacts)
            .await;
        match outcome {
            RecordOutcome::Retry { .. } => response.add_failure(id),
            RecordOutcome::Held { until_ms } => {
                hold(worker, record, until_ms).await;
                response.add_failure(id);
            }
            RecordOutcome::Synced { .. } | RecordOutcome::AlreadySynced | RecordOutcome::Parked { .. } => {}
        }
    }
    response
}

/// Margin past a held claim's expiry before the message comes back, so that the claim is surely
/// claimable by then.
const HOLD_MARGIN: Duration = Duration::from_secs(1);
/// SQS's longest visibility timeout.
const HOLD_MAX: Duration = Duration::from_secs(12 * 3600);

/// Keeps a record whose event another invocation holds off the queue until that claim runs out:
/// redelivered every visibility timeout instead, it would spend its receives on waiting and reach
/// the DLQ while the event is still being synced. If the hold fails, plain redelivery remains.
async fn hold(worker: &SyncWorker, record: &aws_lambda_events::event::sqs::SqsMessage, until_ms: i64) {
    let (Some(redelivery), Some(queue), Some(receipt)) = (
        worker.redelivery(),
        record.event_source_arn.as_deref(),
        record.receipt_handle.as_deref(),
    ) else {
        return;
    };
    let hold_for = (worker::remaining(until_ms, worker.clock().now()) + HOLD_MARGIN).min(HOLD_MAX);
    if let Err(e) = redelivery.hold(queue, receipt, hold_for).await {
        tracing::warn!(error = %e, "could not hold the message back; it is redelivered after its visibility timeout");
    }
}

/// The whole life of the daily batch: build it once, then serve its triggers: an EventBridge
/// rule's input or a person's (a `BatchRequest`), or an SQS batch of continuations.
pub async fn run_batch() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let settings = BatchSettings::from_env(&Env::process())?;
    let sdk = aws::sdk_config().await;
    let runner = Arc::new(app::daily_batch(&settings, &sdk, BatchTuning::default()).await?);
    let metrics = telemetry::metrics()?;
    metrics_cloudwatch_embedded::lambda::handler::run(
        metrics,
        move |event: LambdaEvent<serde_json::Value>| {
            let runner = Arc::clone(&runner);
            async move { serve_batch(&runner, event.payload, Some(event.context.deadline)).await }
        },
    )
    .await
}

/// One daily-batch invocation. A direct request answers its report, or fails (EventBridge
/// retries an asynchronous invocation); continuations from SQS answer which to redeliver.
pub async fn serve_batch(
    runner: &BatchRunner,
    payload: serde_json::Value,
    deadline_ms: Option<u64>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let deadline_ms = invocation_deadline_ms(deadline_ms, runner.clock.now(), worker::CLAIM_FALLBACK);
    let deadline = tokio::time::Instant::now() + worker::remaining(deadline_ms, runner.clock.now());
    if payload.get("Records").is_some() {
        let event: SqsEvent = serde_json::from_value(payload)?;
        let mut response = SqsBatchResponse::default();
        for record in &event.records {
            let id = record.message_id.as_deref().unwrap_or_default();
            let body = record.body.as_deref().unwrap_or_default();
            let request: BatchRequest = match serde_json::from_str(body) {
                Ok(request) => request,
                Err(e) => {
                    // Not a continuation this build wrote: retrying cannot help (the queue's
                    // redrive policy parks it after its receives).
                    tracing::error!(message_id = id, error = %e, "unreadable continuation");
                    response.add_failure(id);
                    continue;
                }
            };
            let span = tracing::info_span!("batch", job = %request.job_name(), message_id = id);
            if let Err(e) = runner.run(&request, deadline).instrument(span).await {
                tracing::warn!(message_id = id, error = %e, "batch continuation failed; redelivered");
                response.add_failure(id);
            }
        }
        return Ok(serde_json::to_value(response)?);
    }
    let request: BatchRequest = serde_json::from_value(payload)
        .map_err(|e| format!("not a batch request ({e}); expected {{\"job\": \"poll\"|\"reconcile\", \"target\": \"<mapping target>\", \"mode\"?: \"run\"|\"plan\", \"since\"?: RFC 3339}}"))?;
    let span = tracing::info_span!("batch", job = %request.job_name());
    let report = runner.run(&request, deadline).instrument(span).await?;
    Ok(serde_json::to_value(report)?)
}

#[cfg(test)]
mod tests;
