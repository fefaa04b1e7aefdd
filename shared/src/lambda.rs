//! The Lambda edge: Lambda's event types in, the library's services called, Lambda's types out.
//! Only here do SQS batches exist: the worker core takes one message at a time.
//! The binaries in `functions/` are one call each: `run_ingest(trigger)` or `run_worker()`.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::{Body, Request, RequestExt, Response};
use lambda_runtime::LambdaEvent;

use crate::clock::invocation_deadline_ms;
use crate::config::{Env, IngestSettings, WorkerSettings};
use crate::ingest::{IngestRequest, IngestService, Trigger};
use crate::worker::{self, Message, RecordOutcome, SyncWorker};
use crate::{app, aws, telemetry};

/// The whole life of an ingest function: build its service once (cold start), then serve
/// API Gateway requests until Lambda stops the process.
pub async fn run_ingest(trigger: Trigger) -> Result<(), lambda_http::Error> {
    telemetry::init();
    let settings = IngestSettings::from_env(&Env::process())?;
    let sdk = aws::sdk_config().await;
    let service = Arc::new(app::ingest_service(trigger, &settings, &sdk));
    lambda_http::run(lambda_http::service_fn(move |request: Request| {
        let service = Arc::clone(&service);
        async move { Ok::<_, lambda_http::Error>(serve_ingest(&service, request).await) }
    }))
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
            deadline_ms: context.map(|c| c.deadline),
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
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = Arc::clone(&worker);
        async move { Ok::<_, lambda_runtime::Error>(serve_sqs(&worker, event).await) }
    }))
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
    let deadline = invocation_deadline_ms(deadline_ms, worker.clock().now(), worker::CLAIM_FALLBACK);
    let mut response = SqsBatchResponse::default();
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
        if let RecordOutcome::Retry { .. } = worker.handle(message, u64::try_from(deadline).ok()).await {
            response.add_failure(id);
        }
    }
    response
}

#[cfg(test)]
mod tests;
