//! `sync-worker`: consumes the realtime queue (SQS event source with ReportBatchItemFailures)
//! and applies each event to GHL exactly once.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lms_ghl::lambda::run_worker().await
}
