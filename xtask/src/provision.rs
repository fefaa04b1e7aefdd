//! `xtask provision`: the local deployment's resources, under fixed names so that the functions'
//! environment (printed as KEY=VALUE lines for `scripts/run` to export) can name them.

use anyhow::{Context, Result};
use secrecy::SecretString;

/// The local run's mapping: the bundled one plus the LMS sandbox's accounts as `[targets]`.
pub const LOCAL_MAPPING: &str = "config/local/mapping.toml";

pub async fn run(sdk: &aws_config::SdkConfig) -> Result<()> {
    let prefix = std::env::var("LOCAL_PREFIX").unwrap_or_else(|_| "lms-ghl-local".to_owned());
    let (webhook_secrets, _) = crate::webhook_secrets()?;
    let resources = devkit::Resources {
        queue: format!("{prefix}-realtime"),
        dead_letter_queue: format!("{prefix}-dlq"),
        batch_queue: format!("{prefix}-batch"),
        batch_dead_letter_queue: format!("{prefix}-batch-dlq"),
        continuation_queue: format!("{prefix}-continuation"),
        continuation_dead_letter_queue: format!("{prefix}-continuation-dlq"),
        // The template's ratios (see `Timing`): a claim runs out before its message comes back.
        visibility_timeout_secs: Some(devkit::provision::LOCAL_TIMING.visibility_timeout_secs),
        max_receive_count: devkit::provision::LOCAL_TIMING.max_receive_count,
        table: format!("{prefix}-sync"),
        webhook_secret_id: format!("{prefix}/webhooks"),
        webhook_secrets,
        ghl_secret_id: format!("{prefix}/ghl"),
        ghl_secret: ghl_secret()?,
    };
    let provisioned = resources.provision(sdk).await?;
    let lms_secrets = lms_secrets()?;
    devkit::provision::create_secrets(sdk, lms_secrets.iter().map(|(id, value)| (id.as_str(), value)))
        .await?;
    println!("QUEUE_URL={}", provisioned.queue_url);
    println!("DEAD_LETTER_QUEUE_URL={}", provisioned.dead_letter_queue_url);
    println!("BATCH_QUEUE_URL={}", provisioned.batch_queue_url);
    println!(
        "BATCH_DEAD_LETTER_QUEUE_URL={}",
        provisioned.batch_dead_letter_queue_url
    );
    println!("CONTINUATION_QUEUE_URL={}", provisioned.continuation_queue_url);
    println!(
        "CONTINUATION_DEAD_LETTER_QUEUE_URL={}",
        provisioned.continuation_dead_letter_queue_url
    );
    println!("TABLE_NAME={}", provisioned.table);
    println!("WEBHOOK_SECRET_ID={}", provisioned.webhook_secret_id);
    println!("GHL_SECRET_ID={}", provisioned.ghl_secret_id);
    println!(
        "DEADLINE_FALLBACK_SECS={}",
        devkit::provision::LOCAL_TIMING.claim_secs
    );
    Ok(())
}

/// The real GHL location when its token is in the environment, the sandbox's demo one otherwise.
pub fn ghl_secret() -> Result<SecretString> {
    let token = std::env::var("GHL_PRIVATE_INTEGRATION_TOKEN").unwrap_or_default();
    let location = std::env::var("GHL_LOCATION_ID").unwrap_or_default();
    if token.is_empty() || location.is_empty() {
        return Ok(crate::read_root_file("config/local/ghl.json")?.into());
    }
    let document = serde_json::json!({ "locationId": location, "privateIntegrationToken": token });
    Ok(document.to_string().into())
}

/// Each `[targets]` account's secret of the local mapping, under the `secret_id` the mapping gives
/// it, read from `config/local/lms-<target>.json`.
pub fn lms_secrets() -> Result<Vec<(String, SecretString)>> {
    let mapping = lms_ghl::mapping::Mapping::load(&crate::root().join(LOCAL_MAPPING))?;
    mapping
        .targets
        .iter()
        .map(|(name, target)| {
            let path = format!("config/local/lms-{name}.json");
            let value = crate::read_root_file(&path)
                .with_context(|| format!("the secret of target {name} in {LOCAL_MAPPING}"))?;
            Ok((target.secret_id.clone(), SecretString::from(value)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_mapping_is_the_bundled_one_plus_targets() -> Result<()> {
        let local = crate::read_root_file(LOCAL_MAPPING)?;
        assert!(
            local.starts_with(lms_ghl::mapping::BUNDLED),
            "{LOCAL_MAPPING} must begin with config/mapping.toml verbatim: copy it over again"
        );
        let secrets = lms_secrets()?;
        assert_eq!(secrets.len(), 3, "academy, handbook, talent");
        Ok(())
    }
}
