//! `ghl-events`: GoHighLevel's own webhooks (API Gateway HTTP API), GHL → LMS: a marketplace app's
//! signed deliveries and agency workflows' "Webhook" actions (docs/ghl-webhooks.md).
//! Route: `POST /ghl-events/ghl`.

use lms_ghl::ingest::Trigger;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lms_ghl::lambda::run_ingest(Trigger::GhlEvents).await
}
