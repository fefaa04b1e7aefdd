//! `sync-worker`: consumes the realtime queue (SQS event source with ReportBatchItemFailures)
//! and applies each event to GHL exactly once.

// One thread: Lambda hands a process one invocation at a time, so worker threads would only add
// cross-thread wake-ups to every I/O (docs/benchmarks.md, "Ingest through moto").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lms_ghl::lambda::run_worker().await
}
