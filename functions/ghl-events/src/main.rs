//! `ghl-events`: GoHighLevel's own webhooks (API Gateway HTTP API), GHL → LMS: a marketplace app's
//! signed deliveries and agency workflows' "Webhook" actions (docs/ghl-webhooks.md).
//! Route: `POST /ghl-events/ghl`.

use lms_ghl::ingest::Trigger;

// One thread: Lambda hands a process one invocation at a time, so worker threads would only add
// cross-thread wake-ups to every I/O (docs/benchmarks.md, "Ingest through moto").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lms_ghl::lambda::run_ingest(Trigger::GhlEvents).await
}
