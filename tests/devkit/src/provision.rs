//! One deployment's AWS resources, as `infra/template.yaml` wires them: the realtime queue with
//! its dead-letter queue (redrive after `max_receive_count` receives), the table (key `pk`, TTL on
//! `expiration`) and the two secrets.

use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use secrecy::{ExposeSecret, SecretString};

/// What to create. Names are the caller's: the tests add a random suffix so that parallel tests
/// never share state, the local run uses fixed names that the functions' environment points at.
pub struct Resources {
    pub queue: String,
    pub dead_letter_queue: String,
    /// SQS's default (30 s) when `None`.
    pub visibility_timeout_secs: Option<u32>,
    pub max_receive_count: u32,
    pub table: String,
    pub webhook_secret_id: String,
    pub webhook_secrets: SecretString,
    pub ghl_secret_id: String,
    pub ghl_secret: SecretString,
}

/// What was created, as the functions' environment refers to it.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub queue_url: String,
    pub queue_arn: String,
    pub dead_letter_queue_url: String,
    pub table: String,
    pub webhook_secret_id: String,
    pub ghl_secret_id: String,
}

impl Resources {
    pub async fn provision(&self, sdk: &aws_config::SdkConfig) -> Result<Provisioned> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let dead_letter_queue_url = create_queue(&sqs, &self.dead_letter_queue, Vec::new()).await?;
        let dead_letter_queue_arn = crate::sqs::queue_arn(&sqs, &dead_letter_queue_url).await?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dead_letter_queue_arn,
            "maxReceiveCount": self.max_receive_count.to_string(),
        });
        let mut attributes = vec![(QueueAttributeName::RedrivePolicy, redrive.to_string())];
        if let Some(secs) = self.visibility_timeout_secs {
            attributes.push((QueueAttributeName::VisibilityTimeout, secs.to_string()));
        }
        let queue_url = create_queue(&sqs, &self.queue, attributes).await?;
        let queue_arn = crate::sqs::queue_arn(&sqs, &queue_url).await?;

        create_table(&aws_sdk_dynamodb::Client::new(sdk), &self.table).await?;

        create_secrets(
            sdk,
            [
                (self.webhook_secret_id.as_str(), &self.webhook_secrets),
                (self.ghl_secret_id.as_str(), &self.ghl_secret),
            ],
        )
        .await?;
        Ok(Provisioned {
            queue_url,
            queue_arn,
            dead_letter_queue_url,
            table: self.table.clone(),
            webhook_secret_id: self.webhook_secret_id.clone(),
            ghl_secret_id: self.ghl_secret_id.clone(),
        })
    }
}

/// Creates each secret (id, value) in Secrets Manager: the deployment's own two, and any others
/// it names (the LMS accounts' of the mapping's `[targets]`).
pub async fn create_secrets<'a>(
    sdk: &aws_config::SdkConfig,
    secrets: impl IntoIterator<Item = (&'a str, &'a SecretString)>,
) -> Result<()> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    for (id, value) in secrets {
        client
            .create_secret()
            .name(id)
            .secret_string(value.expose_secret())
            .send()
            .await
            .with_context(|| format!("creating secret {id}"))?;
    }
    Ok(())
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: Vec<(QueueAttributeName, String)>,
) -> Result<String> {
    let mut request = sqs.create_queue().queue_name(name);
    for (key, value) in attributes {
        request = request.attributes(key, value);
    }
    request
        .send()
        .await
        .with_context(|| format!("creating queue {name}"))?
        .queue_url
        .with_context(|| format!("SQS returned no URL for queue {name}"))
}

async fn create_table(dynamodb: &aws_sdk_dynamodb::Client, name: &str) -> Result<()> {
    dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await
        .with_context(|| format!("creating table {name}"))?;
    dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expiration")
                .enabled(true)
                .build()?,
        )
        .send()
        .await
        .with_context(|| format!("enabling TTL on table {name}"))?;
    Ok(())
}
