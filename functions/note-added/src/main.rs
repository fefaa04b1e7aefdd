//! `note-added`: notes about a learner (meeting notes, transcripts, instructors' remarks) from
//! senders of the generic signed format. Route: `POST /note-added/generic`.

use lms_ghl::ingest::Trigger;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lms_ghl::lambda::run_ingest(Trigger::NoteAdded).await
}
