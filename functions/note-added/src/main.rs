//! `note-added`: notes about a learner (meeting notes, transcripts, instructors' remarks) from
//! senders of the generic signed format. Route: `POST /note-added/generic`.

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
    let service = Arc::new(app::ingest_service(Trigger::NoteAdded, &settings, &sdk));
    run(service_fn(move |request: Request| {
        let service = Arc::clone(&service);
        async move { Ok::<_, Error>(lambda::serve_ingest(&service, request).await) }
    }))
    .await
}
