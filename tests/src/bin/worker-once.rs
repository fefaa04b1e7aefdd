//! Runs one SQS event (a JSON file) through the sync worker exactly as the Lambda builds it, with
//! an invocation deadline `DEADLINE_MS` ms away. Crash tests start it with
//! `FAILPOINTS=after-ghl-create=panic`, so that the process dies between GHL's answer and the
//! entity-map write, as a Lambda that times out or is killed there would.

use lms_ghl::config::{Env, WorkerSettings};
use lms_ghl::{SqsEvent, app, aws, telemetry};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = fail::FailScenario::setup();
    telemetry::init();
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: worker-once <sqs-event.json>")?;
    let event: SqsEvent = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let settings = WorkerSettings::from_env(&Env::process())?;
    let worker = app::sync_worker(&settings, &aws::sdk_config().await).await?;
    let budget_ms: u64 = std::env::var("DEADLINE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60_000);
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64;
    let response = lms_ghl::lambda::handle_batch(&worker, event, Some(now_ms + budget_ms)).await;
    println!("{}", serde_json::to_string(&response)?);
    scenario.teardown();
    Ok(())
}
