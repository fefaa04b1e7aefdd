//! One deployment's AWS resources, as `infra/template.yaml` wires them: the realtime queue, the
//! daily batch's queue of changes and its continuation queue, each with its dead-letter queue
//! (redrive after `max_receive_count` receives), the table (key `pk`, TTL on `expiration`) and the
//! two secrets.

use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use secrecy::{ExposeSecret, SecretString};

/// How long a worker invocation lasts (its claims' lifetime) against the queues' visibility timeout
/// and receives. The template's worker: 60 s, 360 s and 5. The claim must run out before the
/// message comes back (else a redelivery meets a live claim and waits again), and the receives
/// must cover many claim lifetimes (else a message whose worker died is parked before anyone can
/// take it over).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub claim_secs: u32,
    pub visibility_timeout_secs: u32,
    pub max_receive_count: u32,
}

impl Timing {
    /// The two rules `scripts/dev/check_template.py` applies to the template.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.claim_secs >= self.visibility_timeout_secs {
            problems.push(format!(
                "claim lifetime {} s is not below the visibility timeout {} s",
                self.claim_secs, self.visibility_timeout_secs
            ));
        }
        if self.max_receive_count * self.visibility_timeout_secs < 10 * self.claim_secs {
            problems.push(format!(
                "{} receives × {} s do not cover 10 claim lifetimes of {} s",
                self.max_receive_count, self.visibility_timeout_secs, self.claim_secs
            ));
        }
        problems
    }
}

/// `scripts/run`'s: `cargo lambda watch` reports no deadline, so the worker takes
/// `DEADLINE_FALLBACK_SECS` (printed by `xtask provision`) as its invocation's length.
pub const LOCAL_TIMING: Timing = Timing {
    claim_secs: 30,
    visibility_timeout_secs: 90,
    max_receive_count: 10,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_timing_keeps_the_templates_ratios() {
        assert_eq!(LOCAL_TIMING.problems(), Vec::<String>::new());
        let old = Timing {
            claim_secs: 120,
            visibility_timeout_secs: 5,
            max_receive_count: 3,
        };
        assert_eq!(
            old.problems().len(),
            2,
            "the settings a killed worker's message was parked under"
        );
    }
}

/// What to create. Names are the caller's: the tests add a random suffix so that parallel tests
/// never share state, the local run uses fixed names that the functions' environment points at.
pub struct Resources {
    pub queue: String,
    pub dead_letter_queue: String,
    /// The daily batch's changes for the (background) worker, and their dead-letter queue.
    pub batch_queue: String,
    pub batch_dead_letter_queue: String,
    /// Where a daily-batch run that outlasts its invocation hands itself on, and its dead-letter
    /// queue.
    pub continuation_queue: String,
    pub continuation_dead_letter_queue: String,
    /// Every queue's; SQS's default (30 s) when `None`.
    pub visibility_timeout_secs: Option<u32>,
    /// Every queue's redrive policy's.
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
    pub batch_queue_url: String,
    pub batch_queue_arn: String,
    pub batch_dead_letter_queue_url: String,
    pub continuation_queue_url: String,
    pub continuation_queue_arn: String,
    pub continuation_dead_letter_queue_url: String,
    pub table: String,
    pub webhook_secret_id: String,
    pub ghl_secret_id: String,
}

impl Resources {
    pub async fn provision(&self, sdk: &aws_config::SdkConfig) -> Result<Provisioned> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let realtime = self
            .queue_with_dead_letters(&sqs, &self.queue, &self.dead_letter_queue)
            .await?;
        let batch = self
            .queue_with_dead_letters(&sqs, &self.batch_queue, &self.batch_dead_letter_queue)
            .await?;
        let continuation = self
            .queue_with_dead_letters(
                &sqs,
                &self.continuation_queue,
                &self.continuation_dead_letter_queue,
            )
            .await?;

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
            queue_url: realtime.url,
            queue_arn: realtime.arn,
            dead_letter_queue_url: realtime.dead_letter_url,
            batch_queue_url: batch.url,
            batch_queue_arn: batch.arn,
            batch_dead_letter_queue_url: batch.dead_letter_url,
            continuation_queue_url: continuation.url,
            continuation_queue_arn: continuation.arn,
            continuation_dead_letter_queue_url: continuation.dead_letter_url,
            table: self.table.clone(),
            webhook_secret_id: self.webhook_secret_id.clone(),
            ghl_secret_id: self.ghl_secret_id.clone(),
        })
    }

    /// A queue `name` whose messages move to a new queue `dead_letter` after
    /// `max_receive_count` receives.
    async fn queue_with_dead_letters(
        &self,
        sqs: &aws_sdk_sqs::Client,
        name: &str,
        dead_letter: &str,
    ) -> Result<CreatedQueue> {
        let dead_letter_url = create_queue(sqs, dead_letter, Vec::new()).await?;
        let dead_letter_arn = crate::sqs::queue_arn(sqs, &dead_letter_url).await?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dead_letter_arn,
            "maxReceiveCount": self.max_receive_count.to_string(),
        });
        let mut attributes = vec![(QueueAttributeName::RedrivePolicy, redrive.to_string())];
        if let Some(secs) = self.visibility_timeout_secs {
            attributes.push((QueueAttributeName::VisibilityTimeout, secs.to_string()));
        }
        let url = create_queue(sqs, name, attributes).await?;
        let arn = crate::sqs::queue_arn(sqs, &url).await?;
        Ok(CreatedQueue {
            url,
            arn,
            dead_letter_url,
        })
    }
}

struct CreatedQueue {
    url: String,
    arn: String,
    dead_letter_url: String,
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
        // The outbox's stream, as infra/template.yaml has it (`devkit::outbox` relays it).
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
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
