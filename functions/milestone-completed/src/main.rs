//! `milestone-completed`: LMS webhooks (API Gateway HTTP API) about a learner's progress (course,
//! lesson, quiz or path started or completed) and the sender's own tasks about a learner.
//! Routes: `POST /milestone-completed/skilljar` and `POST /milestone-completed/generic`.

use std::sync::Arc;

use lambda_http::{Error, Request, run, service_fn};
use lms_ghl::config::{Env, IngestSettings};
use lms_ghl::ingest::Trigger;
use lms_ghl::{app, aws, lambda, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let settings = IngestSettings::from_env(&Env::process())?;
    let sdk = aws::sdk_config().await;
    let service = Arc::new(app::ingest_service(Trigger::MilestoneCompleted, &settings, &sdk));
    run(service_fn(move |request: Request| {
        let service = Arc::clone(&service);
        async move { Ok::<_, Error>(lambda::serve_ingest(&service, request).await) }
    }))
    .await
}
