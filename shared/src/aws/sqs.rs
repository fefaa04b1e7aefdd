use async_trait::async_trait;
use aws_sdk_sqs::types::MessageAttributeValue;

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

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, message: &OutboundMessage) -> Result<String, PortError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(&message.body);
        for (name, value) in &message.attributes {
            if value.is_empty() {
                continue; // SQS refuses empty attribute values.
            }
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PortError::new("queue", describe(&e)))?;
            request = request.message_attributes(name, attribute);
        }
        let output = request
            .send()
            .await
            .map_err(|e| PortError::new("queue", describe(&e)))?;
        Ok(output.message_id.unwrap_or_default())
    }
}
