//! `xtask forward` and `xtask parked`: what Lambda's SQS event source does for sync-worker, and a
//! look at what it parked.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::error::DisplayErrorContext;

use crate::lambda::Lambda;

/// Runs until stopped. Neither an unreachable function (cargo lambda watch rebuilding) nor an
/// SQS hiccup ends it: the messages stay on the queue and come back after the visibility timeout.
pub async fn forward(sdk: &aws_config::SdkConfig, lambda: &Lambda) -> Result<()> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue_url = crate::env_var("QUEUE_URL")?;
    let queue_arn = devkit::sqs::queue_arn(&sqs, &queue_url).await?;
    let region = sdk
        .region()
        .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
    println!("[forward] polling the realtime queue for sync-worker");
    loop {
        let received = devkit::sqs::receive(&sqs, &queue_url)
            .wait_time_seconds(1)
            .send()
            .await;
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(err) => {
                println!(
                    "[forward] receiving failed ({}); retrying",
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
            .map(|m| devkit::sqs::lambda_record(m, &queue_arn, &region))
            .collect();
        let response: SqsBatchResponse = match lambda.invoke("sync-worker", &event).await {
            Ok(response) => response,
            Err(err) => {
                println!("[forward] {err:#}; the messages stay on the queue");
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
                println!("[forward] {id}: failed, SQS will redeliver");
                continue;
            }
            let Some(receipt) = record.receipt_handle.as_deref() else {
                println!("[forward] {id}: no receipt handle, cannot delete it");
                continue;
            };
            match sqs
                .delete_message()
                .queue_url(&queue_url)
                .receipt_handle(receipt)
                .send()
                .await
            {
                Ok(_) => println!("[forward] {id}: done"),
                Err(err) => println!("[forward] {id}: deleting failed ({})", DisplayErrorContext(&err)),
            }
        }
    }
}

/// Prints the number of parked messages on stdout (`scripts/run` compares it with 0) and each
/// one's reason on stderr. Peeks without hiding them, so a later look sees them again.
pub async fn parked(sdk: &aws_config::SdkConfig) -> Result<()> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let url = crate::env_var("DEAD_LETTER_QUEUE_URL")?;
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
        eprintln!(
            "[parked] {}: {}: {}",
            message.message_id.as_deref().unwrap_or("(no id)"),
            attribute("error_reason"),
            attribute("error_detail")
        );
    }
    println!("{}", messages.len());
    Ok(())
}
