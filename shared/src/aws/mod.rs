//! AWS adapters of the ports. Configured from the environment by `aws-config`, which also honours
//! `AWS_ENDPOINT_URL` (moto server locally and in tests). The SDK's clients, except on the
//! per-event path (idempotency records, queue sends), which speaks JSON to AWS itself (`json`).

mod dynamodb;
mod json;
mod secrets;
mod sqs;

pub use dynamodb::DynamoTable;
pub use json::{AwsJson, AwsJsonError, Service};
pub use secrets::SecretsManager;
pub use sqs::{SqsQueue, SqsRedelivery};

/// The SDK configuration for this process; load once per cold start.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// The SDK's error with its whole source chain, which its `Display` alone omits.
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
