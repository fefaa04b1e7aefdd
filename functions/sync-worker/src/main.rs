//! `sync-worker`: consumes the realtime queue (SQS event source with ReportBatchItemFailures)
//! and applies each event to GHL exactly once.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use lms_ghl::config::{Env, WorkerSettings};
use lms_ghl::{SqsEvent, app, aws, lambda, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let settings = WorkerSettings::from_env(&Env::process())?;
    let sdk = aws::sdk_config().await;
    let worker = Arc::new(app::sync_worker(&settings, &sdk).await?);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = Arc::clone(&worker);
        async move { Ok::<_, Error>(lambda::serve_sqs(&worker, event).await) }
    }))
    .await
}
