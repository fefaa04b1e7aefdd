//! The daily batch's resources in a test deployment, as `infra/template.yaml` wires them: the
//! batch queue (the background worker's) and the continuation queue (daily-batch's own), each
//! redriving to its dead-letter queue; and the batch's settings as its binary reads them.

use aws_sdk_sqs::types::QueueAttributeName;
use integration_tests::Deployment;
use lms_ghl::config::{BatchSettings, Env};

async fn dead_letter_target(deployment: &Deployment, queue_url: &str) -> serde_json::Value {
    let attributes = deployment
        .sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("queue attributes: {e:?}"))
        .attributes
        .unwrap_or_default();
    let policy = attributes
        .get(&QueueAttributeName::RedrivePolicy)
        .unwrap_or_else(|| panic!("{queue_url} has no redrive policy"));
    serde_json::from_str(policy).unwrap_or_else(|e| panic!("redrive policy: {e}"))
}

async fn arn_of(deployment: &Deployment, queue_url: &str) -> String {
    devkit::sqs::queue_arn(&deployment.sqs, queue_url)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
}

#[tokio::test]
async fn batch_and_continuation_queues_redrive_to_their_own_dead_letter_queues() {
    let deployment = Deployment::new().await;
    for (queue, arn, dlq) in [
        (
            &deployment.batch_queue_url,
            &deployment.batch_queue_arn,
            &deployment.batch_dlq_url,
        ),
        (
            &deployment.continuation_queue_url,
            &deployment.continuation_queue_arn,
            &deployment.continuation_dlq_url,
        ),
    ] {
        assert_eq!(&arn_of(&deployment, queue).await, arn);
        let policy = dead_letter_target(&deployment, queue).await;
        assert_eq!(policy["deadLetterTargetArn"], arn_of(&deployment, dlq).await);
        assert_eq!(policy["maxReceiveCount"].to_string().trim_matches('"'), "3");
        assert_eq!(deployment.visible_messages(queue).await, 0);
    }
    // Records received from the batch queue name it, as Lambda's would.
    deployment
        .sqs
        .send_message()
        .queue_url(&deployment.batch_queue_url)
        .message_body("{}")
        .send()
        .await
        .unwrap_or_else(|e| panic!("send: {e:?}"));
    let records = deployment.receive(&deployment.batch_queue_url).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].event_source_arn.as_deref(),
        Some(deployment.batch_queue_arn.as_str())
    );
}

/// `batch_env` is what daily-batch reads (`BatchSettings::from_env`), and it comes to the same
/// settings as `batch_settings`.
#[tokio::test]
async fn batch_env_and_batch_settings_agree() {
    let deployment = Deployment::new().await;
    let env = deployment.batch_env("http://127.0.0.1:1");
    assert!(env.iter().all(|(name, _)| *name != "DEAD_LETTER_QUEUE_URL"));
    let read = BatchSettings::from_env(&Env(|name: &str| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value.clone())
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let built = deployment.batch_settings("http://127.0.0.1:1", "config/local/mapping.toml");
    assert_eq!(read.batch_queue_url, built.batch_queue_url);
    assert_eq!(read.continuation_queue_url, built.continuation_queue_url);
    assert_eq!(read.api.ghl_secret_ids, built.api.ghl_secret_ids);
    assert_eq!(read.api.common.table_name, built.api.common.table_name);
    assert!(read.api.background && built.api.background);
}
