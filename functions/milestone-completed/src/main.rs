//! `milestone-completed`: LMS webhooks (API Gateway HTTP API) about a learner's progress (course,
//! lesson, quiz or path started or completed) and the sender's own tasks about a learner.
//! Routes: `POST /milestone-completed/skilljar` and `POST /milestone-completed/generic`.

use lms_ghl::ingest::Trigger;

// One thread: Lambda hands a process one invocation at a time, so worker threads would only add
// cross-thread wake-ups to every I/O (docs/benchmarks.md, "Ingest through moto").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lms_ghl::lambda::run_ingest(Trigger::MilestoneCompleted).await
}
