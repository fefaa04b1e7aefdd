//! `xtask provision`: the local deployment's resources, under fixed names so that the functions'
//! environment (printed as KEY=VALUE lines for `scripts/run` to export) can name them.

use anyhow::Result;
use secrecy::SecretString;

pub async fn run(sdk: &aws_config::SdkConfig) -> Result<()> {
    let prefix = std::env::var("LOCAL_PREFIX").unwrap_or_else(|_| "lms-ghl-local".to_owned());
    let (webhook_secrets, _) = crate::webhook_secrets()?;
    let resources = devkit::Resources {
        queue: format!("{prefix}-realtime"),
        dead_letter_queue: format!("{prefix}-dlq"),
        // Short, so that a message the forwarder handed to a worker that died comes back quickly.
        visibility_timeout_secs: Some(5),
        max_receive_count: 3,
        table: format!("{prefix}-sync"),
        webhook_secret_id: format!("{prefix}/webhooks"),
        webhook_secrets,
        ghl_secret_id: format!("{prefix}/ghl"),
        ghl_secret: ghl_secret()?,
    };
    let provisioned = resources.provision(sdk).await?;
    println!("QUEUE_URL={}", provisioned.queue_url);
    println!("DEAD_LETTER_QUEUE_URL={}", provisioned.dead_letter_queue_url);
    println!("TABLE_NAME={}", provisioned.table);
    println!("WEBHOOK_SECRET_ID={}", provisioned.webhook_secret_id);
    println!("GHL_SECRET_ID={}", provisioned.ghl_secret_id);
    Ok(())
}

/// The real GHL location when its token is in the environment, the sandbox's demo one otherwise.
fn ghl_secret() -> Result<SecretString> {
    let token = std::env::var("GHL_PRIVATE_INTEGRATION_TOKEN").unwrap_or_default();
    let location = std::env::var("GHL_LOCATION_ID").unwrap_or_default();
    if token.is_empty() || location.is_empty() {
        return Ok(crate::read_root_file("config/local/ghl.json")?.into());
    }
    let document = serde_json::json!({ "locationId": location, "privateIntegrationToken": token });
    Ok(document.to_string().into())
}
