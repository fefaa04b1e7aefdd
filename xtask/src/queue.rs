//! `xtask forward` and `xtask parked`: what the outbox's Pipe and Lambda's SQS event sources do
//! for sync-worker and daily-batch, and a look at what was parked.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::MessageSystemAttributeName;

use crate::lambda::Lambda;

/// One of the event sources of `infra/template.yaml`: a queue and the function it invokes.
struct Source {
    /// The queue's name in the log lines, `[forward] <name> <message id>: done` (`scripts/run`
    /// counts them per queue).
    name: &'static str,
    /// The variable `xtask provision` prints its URL as.
    url_variable: &'static str,
    function: &'static str,
    /// Messages per invocation at most (the event source's `BatchSize`).
    batch_size: i32,
}

/// The realtime queue and the batch queue feed sync-worker (in AWS the batch queue feeds a second
/// function of the same code with a background budget; `cargo lambda watch` gives every function
/// one environment, so here both are the one sync-worker); daily-batch reads its continuations
/// one at a time.
const REALTIME: Source = Source {
    name: "realtime",
    url_variable: "QUEUE_URL",
    function: "sync-worker",
    batch_size: 10,
};
const BATCH: Source = Source {
    name: "batch",
    url_variable: "BATCH_QUEUE_URL",
    function: "sync-worker",
    batch_size: 10,
};
const CONTINUATION: Source = Source {
    name: "continuation",
    url_variable: "CONTINUATION_QUEUE_URL",
    function: "daily-batch",
    batch_size: 1,
};

/// Runs until stopped, one loop per queue, side by side. Neither an unreachable function (cargo
/// lambda watch rebuilding) nor an SQS hiccup ends it: the messages stay on their queue and come
/// back after the visibility timeout.
pub async fn forward(sdk: &aws_config::SdkConfig, lambda: &Lambda) -> Result<()> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let region = sdk
        .region()
        .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
    // The outbox's Pipe: what ingest accepted (in the table) on to the realtime queue.
    let http = lms_ghl::http::client(Duration::from_secs(5))?;
    let relay = devkit::outbox::Relay::new(
        lms_ghl::aws::AwsJson::new(sdk, http),
        &crate::env_var("TABLE_NAME")?,
        &crate::env_var(REALTIME.url_variable)?,
    );
    println!(
        "[forward] relaying the table's outbox to the {} queue",
        REALTIME.name
    );
    tokio::try_join!(
        async {
            relay.run(Duration::from_millis(200)).await;
            Ok(())
        },
        forward_queue(&sqs, lambda, &region, &REALTIME),
        forward_queue(&sqs, lambda, &region, &BATCH),
        forward_queue(&sqs, lambda, &region, &CONTINUATION),
    )?;
    Ok(())
}

async fn forward_queue(
    sqs: &aws_sdk_sqs::Client,
    lambda: &Lambda,
    region: &str,
    source: &Source,
) -> Result<()> {
    let queue = source.name;
    let queue_url = crate::env_var(source.url_variable)?;
    let queue_arn = devkit::sqs::queue_arn(sqs, &queue_url).await?;
    println!("[forward] polling the {queue} queue for {}", source.function);
    // Once the function has answered (its first invocation may wait for a build), an invocation
    // that outlasts the worker's own deadline (DEADLINE_FALLBACK_SECS) and a margin means its
    // process is gone: say so in a line scripts/run watches for.
    let deadline = std::env::var("DEADLINE_FALLBACK_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(120);
    let mut answered = false;
    loop {
        let received = devkit::sqs::receive(sqs, &queue_url)
            .max_number_of_messages(source.batch_size)
            .wait_time_seconds(1)
            .send()
            .await;
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(err) => {
                println!(
                    "[forward] {queue}: receiving failed ({}); retrying",
                    DisplayErrorContext(&err)
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let mut event = SqsEvent::default();
        event.records = messages
            .into_iter()
            .map(|m| devkit::sqs::lambda_record(m, &queue_arn, region))
            .collect();
        let within = answered.then(|| Duration::from_secs(deadline + 30));
        let response: SqsBatchResponse = match lambda.invoke_within(source.function, &event, within).await {
            Ok(response) => {
                answered = true;
                response
            }
            Err(err) if err.is::<crate::lambda::Unanswered>() => {
                println!(
                    "[forward] LOST {}: {err:#} ({queue} queue); its process is likely gone, the messages stay on the queue",
                    source.function
                );
                continue;
            }
            Err(err) => {
                println!("[forward] {queue}: {err:#}; the messages stay on the queue");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        let failed: HashSet<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for record in &event.records {
            let id = record.message_id.as_deref().unwrap_or("(no id)");
            if failed.contains(id) {
                println!("[forward] {queue} {id}: failed, SQS will redeliver");
                continue;
            }
            let Some(receipt) = record.receipt_handle.as_deref() else {
                println!("[forward] {queue} {id}: no receipt handle, cannot delete it");
                continue;
            };
            match sqs
                .delete_message()
                .queue_url(&queue_url)
                .receipt_handle(receipt)
                .send()
                .await
            {
                Ok(_) => println!("[forward] {queue} {id}: done"),
                Err(err) => println!(
                    "[forward] {queue} {id}: deleting failed ({})",
                    DisplayErrorContext(&err)
                ),
            }
        }
    }
}

/// The dead-letter queues `parked` looks at, by the variables `xtask provision` prints.
const DEAD_LETTER_QUEUES: &[(&str, &str)] = &[
    ("realtime", "DEAD_LETTER_QUEUE_URL"),
    ("batch", "BATCH_DEAD_LETTER_QUEUE_URL"),
    ("continuation", "CONTINUATION_DEAD_LETTER_QUEUE_URL"),
];

/// Prints the number of parked messages on every dead-letter queue on stdout (`scripts/run`
/// compares it with 0) and each one's queue, receive count and reason on stderr: the worker's for
/// a message it parked, its claim's story for one the redrive policy moved after its receives.
/// Peeks without hiding them, so a later look sees them again.
pub async fn parked(sdk: &aws_config::SdkConfig) -> Result<()> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let json = lms_ghl::aws::AwsJson::new(sdk, lms_ghl::http::client(Duration::from_secs(10))?);
    let table = lms_ghl::aws::DynamoTable::new(
        aws_sdk_dynamodb::Client::new(sdk),
        json,
        crate::env_var("TABLE_NAME")?,
    );
    let claims = lms_ghl::idempotency::Idempotency::new(std::sync::Arc::new(table), Duration::from_secs(0));
    let mut total = 0;
    for (queue, variable) in DEAD_LETTER_QUEUES {
        let url = crate::env_var(variable)?;
        let output = devkit::sqs::receive(&sqs, &url)
            .wait_time_seconds(0)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|err| anyhow::anyhow!("receiving from {url}: {}", DisplayErrorContext(&err)))?;
        let messages = output.messages.unwrap_or_default();
        for message in &messages {
            let attribute = |name: &str| {
                message
                    .message_attributes
                    .as_ref()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value.as_deref())
                    .unwrap_or("-")
                    .to_owned()
            };
            let receives = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .map_or("?", String::as_str);
            let reason = message
                .message_attributes
                .as_ref()
                .and_then(|a| a.get("error_reason"))
                .and_then(|v| v.string_value.as_deref());
            let why = lms_ghl::worker::dead_letter_reason(
                &claims,
                message.body.as_deref().unwrap_or_default(),
                reason,
                time::OffsetDateTime::now_utc(),
            )
            .await
            .unwrap_or_else(|e| format!("claim unreadable: {e}"));
            eprintln!(
                "[parked] {queue} {} ({receives} receive(s)): {why}: {}",
                message.message_id.as_deref().unwrap_or("(no id)"),
                attribute("error_detail")
            );
        }
        total += messages.len();
    }
    println!("{total}");
    Ok(())
}
