use async_trait::async_trait;
use std::collections::HashMap;

use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

use super::describe;
use crate::ports::{OutboundMessage, PortError, Queue, Redelivery};

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

/// A message's attributes as SQS takes them (it refuses empty values).
fn attributes(message: &OutboundMessage) -> Result<HashMap<String, MessageAttributeValue>, PortError> {
    message
        .attributes
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map(|attribute| (name.clone(), attribute))
                .map_err(|e| PortError::new("queue", describe(&e)))
        })
        .collect()
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, message: &OutboundMessage) -> Result<String, PortError> {
        let request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(&message.body)
            .set_message_attributes(Some(attributes(message)?));
        let output = request
            .send()
            .await
            .map_err(|e| PortError::new("queue", describe(&e)))?;
        Ok(output.message_id.unwrap_or_default())
    }

    /// `SendMessageBatch`, ten at a time (its limit); entries SQS refuses are sent again once,
    /// then reported.
    async fn send_all(&self, messages: &[OutboundMessage]) -> Result<(), PortError> {
        for chunk in messages.chunks(10) {
            let mut pending: Vec<(usize, &OutboundMessage)> = chunk.iter().enumerate().collect();
            for attempt in 0..2 {
                let entries = pending
                    .iter()
                    .map(|(i, message)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(&message.body)
                            .set_message_attributes(Some(attributes(message)?))
                            .build()
                            .map_err(|e| PortError::new("queue", describe(&e)))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let output = self
                    .client
                    .send_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| PortError::new("queue", describe(&e)))?;
                let failed: Vec<&str> = output.failed.iter().map(|f| f.id.as_str()).collect();
                if failed.is_empty() {
                    break;
                }
                if attempt == 1 {
                    let first = &output.failed[0];
                    return Err(PortError::new(
                        "queue",
                        format!(
                            "{} message(s) refused: {} {}",
                            failed.len(),
                            first.code,
                            first.message.as_deref().unwrap_or("")
                        ),
                    ));
                }
                pending.retain(|(i, _)| failed.contains(&i.to_string().as_str()));
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
