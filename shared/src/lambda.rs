//! The Lambda edge: Lambda's event types in, the library's services called, Lambda's types out.
//! The binaries in `functions/` only build the services and hand these to the runtime.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::{Body, Request, RequestExt, Response};
use lambda_runtime::LambdaEvent;

use crate::ingest::{IngestRequest, IngestService};
use crate::worker::SyncWorker;

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

/// One SQS batch for the worker, answered with the ids of the records to redeliver.
pub async fn serve_sqs(worker: &SyncWorker, event: LambdaEvent<SqsEvent>) -> SqsBatchResponse {
    worker
        .handle_batch(event.payload, Some(event.context.deadline))
        .await
}
