//! `learner-created`: LMS webhooks (API Gateway HTTP API) announcing a new learner.
//! Routes: `POST /learner-created/skilljar` and `POST /learner-created/generic`.

use lms_ghl::ingest::Trigger;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lms_ghl::lambda::run_ingest(Trigger::LearnerCreated).await
}
