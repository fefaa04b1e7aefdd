//! `daily-batch`: EventBridge schedules (one rule per job and LMS target, its input naming them),
//! continuations from its own queue, or a person's invocation; polls the LMS accounts and
//! reconciles GHL with them, queueing only the differences for the worker.

// One thread: Lambda hands a process one invocation at a time, so worker threads would only add
// cross-thread wake-ups to every I/O (docs/benchmarks.md, "Ingest through moto").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lms_ghl::lambda::run_batch().await
}
