//! `note-added`: notes about a learner (meeting notes, transcripts, instructors' remarks) from
//! senders of the generic signed format. Route: `POST /note-added/generic`.

use lms_ghl::ingest::Trigger;

// One thread: Lambda hands a process one invocation at a time, so worker threads would only add
// cross-thread wake-ups to every I/O (docs/benchmarks.md, "Ingest through moto").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lms_ghl::lambda::run_ingest(Trigger::NoteAdded).await
}
