use async_trait::async_trait;
use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::describe;
use super::json::{AwsJson, Service};
use crate::http::Idempotence;
use crate::ports::{OutboundMessage, PortError, Queue, Redelivery};

/// Sends to one queue in SQS's JSON protocol (`aws::json`): the worker's parking, the daily
/// batch's changes and the outbox relay's stand-in. A send repeated after a lost answer may queue
/// a message twice, which the worker's claim absorbs, so sends retry as `Protected`.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    json: AwsJson,
    url: String,
}

impl SqsQueue {
    pub fn new(json: AwsJson, url: impl Into<String>) -> Self {
        Self {
            json,
            url: url.into(),
        }
    }
}

/// A message's attributes as SQS takes them (it refuses empty values).
fn attributes(message: &OutboundMessage) -> Value {
    let attributes: Map<String, Value> = message
        .attributes
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (name.clone(), json!({"DataType": "String", "StringValue": value})))
        .collect();
    Value::Object(attributes)
}

fn queue_error(e: &super::json::AwsJsonError) -> PortError {
    PortError::new("queue", e.to_string())
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, message: &OutboundMessage) -> Result<String, PortError> {
        let request = json!({
            "QueueUrl": self.url,
            "MessageBody": message.body,
            "MessageAttributes": attributes(message),
        });
        let answer = self
            .json
            .call(Service::Sqs, "SendMessage", &request, Idempotence::Protected)
            .await
            .map_err(|e| queue_error(&e))?;
        Ok(answer
            .get("MessageId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned())
    }

    /// `SendMessageBatch`, ten at a time (its limit); entries SQS refuses are sent again once,
    /// then reported.
    async fn send_all(&self, messages: &[OutboundMessage]) -> Result<(), PortError> {
        for chunk in messages.chunks(10) {
            let mut pending: Vec<(usize, &OutboundMessage)> = chunk.iter().enumerate().collect();
            for attempt in 0..2 {
                let entries: Vec<Value> = pending
                    .iter()
                    .map(|(i, message)| {
                        json!({
                            "Id": i.to_string(),
                            "MessageBody": message.body,
                            "MessageAttributes": attributes(message),
                        })
                    })
                    .collect();
                let request = json!({ "QueueUrl": self.url, "Entries": entries });
                let answer = self
                    .json
                    .call(Service::Sqs, "SendMessageBatch", &request, Idempotence::Protected)
                    .await
                    .map_err(|e| queue_error(&e))?;
                let failed: Vec<&Value> = answer
                    .get("Failed")
                    .and_then(Value::as_array)
                    .map(|f| f.iter().collect())
                    .unwrap_or_default();
                if failed.is_empty() {
                    break;
                }
                let text = |entry: &Value, field: &str| {
                    entry
                        .get(field)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                if attempt == 1 {
                    return Err(PortError::new(
                        "queue",
                        format!(
                            "{} message(s) refused: {} {}",
                            failed.len(),
                            text(failed[0], "Code"),
                            text(failed[0], "Message")
                        ),
                    ));
                }
                let failed_ids: Vec<String> = failed.iter().map(|f| text(f, "Id")).collect();
                pending.retain(|(i, _)| failed_ids.contains(&i.to_string()));
            }
        }
        Ok(())
    }
}

/// `ChangeMessageVisibility` on the queue a record came from, its URL looked up once per queue
/// ARN (`arn:aws:sqs:<region>:<account>:<name>`).
#[derive(Debug)]
pub struct SqsRedelivery {
    client: aws_sdk_sqs::Client,
    urls: std::sync::Mutex<HashMap<String, String>>,
}

impl SqsRedelivery {
    pub fn new(client: aws_sdk_sqs::Client) -> Self {
        Self {
            client,
            urls: Default::default(),
        }
    }

    async fn url(&self, queue_arn: &str) -> Result<String, PortError> {
        if let Some(url) = self
            .urls
            .lock()
            .ok()
            .and_then(|urls| urls.get(queue_arn).cloned())
        {
            return Ok(url);
        }
        let mut parts = queue_arn.rsplit(':');
        let (Some(name), Some(account)) = (parts.next(), parts.next()) else {
            return Err(PortError::new("queue", format!("not a queue ARN: {queue_arn}")));
        };
        let url = self
            .client
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(|e| PortError::new("queue", describe(&e)))?
            .queue_url
            .ok_or_else(|| PortError::new("queue", format!("no URL for {queue_arn}")))?;
        if let Ok(mut urls) = self.urls.lock() {
            urls.insert(queue_arn.to_owned(), url.clone());
        }
        Ok(url)
    }
}

#[async_trait]
impl Redelivery for SqsRedelivery {
    async fn hold(&self, queue: &str, receipt: &str, hold_for: std::time::Duration) -> Result<(), PortError> {
        let url = self.url(queue).await?;
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(i32::try_from(hold_for.as_secs()).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| PortError::new("queue", describe(&e)))?;
        Ok(())
    }
}
