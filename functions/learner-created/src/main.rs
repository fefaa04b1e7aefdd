//! `learner-created`: LMS webhooks (API Gateway HTTP API) announcing a new learner.
//! Routes: `POST /learner-created/skilljar` and `POST /learner-created/generic`.

use lms_ghl::ingest::Trigger;

// One thread: Lambda hands a process one invocation at a time, so worker threads would only add
// cross-thread wake-ups to every I/O (docs/benchmarks.md, "Ingest through moto").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lms_ghl::lambda::run_ingest(Trigger::LearnerCreated).await
}
