//! Wiring: builds each function's service from settings and AWS clients, once per cold start.

use std::sync::Arc;

use crate::aws::{DynamoTable, SecretsManager, SqsQueue};
use crate::clock::SystemClock;
use crate::config::{ConfigError, IngestSettings, WorkerSettings};
use crate::ghl::auth::credentials_from_secret;
use crate::ghl::{
    BudgetConfig, GhlClient, GhlConfig, GhlError, RetryPolicy, SharedRateBudget, TokenEndpoint, http_client,
};
use crate::idempotency::Idempotency;
use crate::ingest::{IngestService, Trigger};
use crate::mapping::{Mapping, MappingError};
use crate::ports::SecretSource;
use crate::secrets::CachedSecret;
use crate::worker::SyncWorker;

/// Cold-start checks of the mapping against the GHL location: a provider mapped to another
/// location stops the function (its events would land in the wrong place); custom field keys the
/// location lacks are logged (only the events that use them will fail, naming the key).
async fn check_mapping_against_location(mapping: &Mapping, ghl: &GhlClient) -> Result<(), StartupError> {
    let location_id = ghl.location_id().await?;
    if let Some((provider, rules)) = mapping
        .providers
        .iter()
        .find(|(_, r)| r.location_id.as_ref().is_some_and(|l| *l != location_id))
    {
        return Err(StartupError::Mapping(MappingError::Invalid {
            path: "mapping".into(),
            message: format!(
                "providers.{provider}.location_id is {:?}, but the GHL credentials are for location {location_id}",
                rules.location_id.as_deref().unwrap_or_default()
            ),
        }));
    }
    let keys = mapping.custom_field_keys();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    match ghl.missing_custom_field_keys(&keys).await {
        Ok(missing) if !missing.is_empty() => {
            tracing::error!(
                ?missing,
                location_id,
                "mapping names custom fields the GHL location lacks"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not check the mapping's custom fields at cold start"),
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("GHL client: {0}")]
    Ghl(#[from] GhlError),
}

pub fn ingest_service(
    trigger: Trigger,
    settings: &IngestSettings,
    sdk: &aws_config::SdkConfig,
) -> IngestService {
    let table = Arc::new(DynamoTable::new(
        aws_sdk_dynamodb::Client::new(sdk),
        &settings.common.table_name,
    ));
    let secrets = Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(sdk)));
    IngestService::new(
        trigger,
        Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &settings.queue_url)),
        Idempotency::new(table, settings.common.idempotency_ttl),
        CachedSecret::new(
            secrets,
            &settings.webhook_secret_id,
            settings.common.secret_cache_ttl,
        ),
        Arc::new(SystemClock),
    )
}

pub async fn sync_worker(
    settings: &WorkerSettings,
    sdk: &aws_config::SdkConfig,
) -> Result<SyncWorker, StartupError> {
    let mapping = match &settings.mapping_file {
        Some(path) => Mapping::load(path)?,
        None => Mapping::bundled()?,
    };
    let table = Arc::new(DynamoTable::new(
        aws_sdk_dynamodb::Client::new(sdk),
        &settings.common.table_name,
    ));
    let secrets = Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(sdk)));
    let endpoint = TokenEndpoint::new(http_client(settings.ghl_timeout)?, &settings.ghl_base_url)?;
    let secrets: Arc<dyn SecretSource> = secrets;
    let credentials = credentials_from_secret(
        &settings.ghl_secret_id,
        secrets,
        table.clone(),
        endpoint,
        settings.common.secret_cache_ttl,
    )
    .await?;
    let budget = Arc::new(SharedRateBudget::new(table.clone(), BudgetConfig::default()));
    let config = GhlConfig {
        base_url: settings.ghl_base_url.clone(),
        timeout: settings.ghl_timeout,
        retry: RetryPolicy::default(),
    };
    let ghl = GhlClient::new(&config, credentials, budget)?;
    check_mapping_against_location(&mapping, &ghl).await?;
    Ok(SyncWorker::new(
        ghl,
        table.clone(),
        Arc::new(mapping),
        Idempotency::new(table, settings.common.idempotency_ttl),
        Arc::new(SqsQueue::new(
            aws_sdk_sqs::Client::new(sdk),
            &settings.dead_letter_queue_url,
        )),
        Arc::new(SystemClock),
    ))
}
