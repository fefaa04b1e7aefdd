use async_trait::async_trait;
use std::collections::HashMap;

use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

use super::describe;
use crate::ports::{OutboundMessage, PortError, Queue};

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
