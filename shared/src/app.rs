//! Wiring: builds each function's service from settings and AWS clients, once per cold start.

use std::sync::Arc;

use crate::aws::{AwsJson, DynamoTable, SecretsManager, SqsQueue, SqsRedelivery};
use crate::batch::{BatchRunner, BatchTuning};
use crate::clock::SystemClock;
use crate::config::{BatchSettings, ConfigError, IngestSettings, WorkerSettings};
use crate::ghl::auth::credentials_from_secret;
use crate::ghl::{
    BudgetConfig, GhlClient, GhlClients, GhlConfig, GhlError, RetryPolicy, SharedRateBudget, TokenEndpoint,
    http_client,
};
use crate::http::{CallCounter, Counted, RateBudget};
use crate::idempotency::Idempotency;
use crate::ingest::{IngestService, Trigger};
use crate::lms::{
    self, Destinations, LmsAccount, LmsAccounts, LmsConfig, LmsConfigError, OutboundConfig,
    OutboundDestination, SkilljarClient, TalentLmsClient, TrainualClient,
};
use crate::mapping::{Mapping, MappingError, Platform};
use crate::ports::SecretSource;
use crate::secrets::CachedSecret;
use crate::worker::SyncWorker;

/// Cold-start checks of the mapping against the GHL locations: a provider mapped to a location
/// without credentials stops the function (its events would have nowhere to go); custom field keys
/// a location lacks are logged (only the events that use them will fail, naming the key).
async fn check_mapping_against_locations(mapping: &Mapping, ghl: &GhlClients) -> Result<(), StartupError> {
    for (provider, rules) in &mapping.providers {
        if let Some(location_id) = rules.location_id.as_deref()
            && ghl.for_location(Some(location_id)).is_err()
        {
            return Err(StartupError::Mapping(MappingError::Invalid {
                path: "mapping".into(),
                message: format!(
                    "providers.{provider}.location_id is {location_id}, but no GHL secret is for that location"
                ),
            }));
        }
    }
    for (name, target) in &mapping.targets {
        if ghl.for_location(Some(&target.location_id)).is_err() {
            return Err(StartupError::Mapping(MappingError::Invalid {
                path: "mapping".into(),
                message: format!(
                    "targets.{name}.location_id is {}, but no GHL secret is for that location",
                    target.location_id
                ),
            }));
        }
    }
    for finding in custom_field_findings(mapping, ghl).await {
        match finding {
            Finding::Problem(problem) => tracing::error!(problem, "mapping and GHL location disagree"),
            Finding::Unchecked(why) => tracing::warn!(why, "could not check the mapping's custom fields"),
            Finding::Ok(_) => {}
        }
    }
    Ok(())
}

/// One result of checking the configuration against the outside APIs (`lms-sync-ops config check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Ok(String),
    /// Events that use it will fail, naming it.
    Problem(String),
    /// The check itself could not be made (the API refused or failed).
    Unchecked(String),
}

/// The mapping's custom field keys each GHL location lacks.
async fn custom_field_findings(mapping: &Mapping, ghl: &GhlClients) -> Vec<Finding> {
    let keys = mapping.custom_field_keys();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut findings = Vec::new();
    for (location_id, client) in ghl.locations() {
        findings.push(match client.missing_custom_field_keys(&keys).await {
            Ok(missing) if !missing.is_empty() => Finding::Problem(format!(
                "location {location_id} lacks the custom field(s) the mapping names: {}",
                missing.join(", ")
            )),
            Ok(_) => Finding::Ok(format!(
                "location {location_id} has all {} custom field(s) the mapping names",
                keys.len()
            )),
            Err(e) => Finding::Unchecked(format!("location {location_id}: custom fields not readable: {e}")),
        });
    }
    findings
}

/// Whether each location can take the learning records the mapping asks for. A location that
/// cannot is a finding, not a failure: the worker keeps syncing everything else there.
async fn learning_record_findings(mapping: &Mapping, ghl: &GhlClients) -> Vec<Finding> {
    let Some(records) = &mapping.learning_records else {
        return vec![Finding::Ok(
            "learning records: off (no [learning_records] in the mapping)".into(),
        )];
    };
    let object = records.object();
    let mut findings = Vec::new();
    for (location_id, client) in ghl.locations() {
        findings.push(match client.enrollment_readiness(&object).await {
            Ok(crate::ghl::enrollments::Readiness::Ready { .. }) => Finding::Ok(format!(
                "location {location_id} has custom object {} with its {} field(s), linked to contacts",
                object.key,
                object.fields.len() + 1
            )),
            Ok(crate::ghl::enrollments::Readiness::Off(why)) => {
                Finding::Problem(format!("location {location_id}: learning records off: {why}"))
            }
            Err(e) => Finding::Unchecked(format!(
                "location {location_id}: custom objects not readable: {e}"
            )),
        });
    }
    findings
}

/// The worker's cold-start look at each location's learning-record object (cached by the client
/// for the events to come, so it costs no extra call): a location that cannot take records is
/// named in the log, and keeps syncing everything else. A transient error is retried by the first
/// event that needs the answer.
async fn log_learning_record_readiness(mapping: &Mapping, ghl: &GhlClients) {
    let Some(records) = &mapping.learning_records else {
        return;
    };
    let object = records.object();
    for (location_id, client) in ghl.locations() {
        match client.enrollment_readiness(&object).await {
            Ok(crate::ghl::enrollments::Readiness::Ready { .. }) => {
                tracing::info!(location_id, object = %object.key, "learning records on");
            }
            Ok(crate::ghl::enrollments::Readiness::Off(why)) => {
                tracing::warn!(location_id, why = %why, "learning records off in this location");
            }
            Err(e) => tracing::warn!(location_id, error = %e, "learning records: object not readable yet"),
        }
    }
}

/// Installs (or with `dry_run`, lists) what each location lacks of the mapping's learning-record
/// object: the `schema install` command.
pub async fn install_learning_records(
    settings: &WorkerSettings,
    sdk: &aws_config::SdkConfig,
    dry_run: bool,
) -> Result<
    Vec<(
        String,
        Result<Vec<crate::ghl::enrollments::InstallStep>, GhlError>,
    )>,
    StartupError,
> {
    let apis = apis(settings, sdk, None).await?;
    let object = match &apis.mapping.learning_records {
        Some(records) => records.object(),
        None => return Ok(Vec::new()),
    };
    let mut done = Vec::new();
    for (location_id, client) in apis.ghl.locations() {
        done.push((
            location_id.to_owned(),
            client.install_enrollment_object(&object, dry_run).await,
        ));
    }
    Ok(done)
}

/// The worker's configuration checked as its cold start does (the mapping, a secret for every
/// location it names, every LMS target's client) and then against GHL (each location's custom
/// fields); a configuration that would stop the worker is an error, the rest findings.
pub async fn check_config(
    settings: &WorkerSettings,
    sdk: &aws_config::SdkConfig,
) -> Result<Vec<Finding>, StartupError> {
    let apis = apis(settings, sdk, None).await?;
    let mut findings = vec![Finding::Ok(format!(
        "mapping: {} provider(s), {} target(s), every location with a GHL secret",
        apis.mapping.providers.len(),
        apis.mapping.targets.len()
    ))];
    findings.extend(custom_field_findings(&apis.mapping, &apis.ghl).await);
    findings.extend(learning_record_findings(&apis.mapping, &apis.ghl).await);
    for (name, target) in &apis.mapping.targets {
        let Some(account) = apis.lms.get(name) else {
            continue; // an outbound destination: nothing to look up
        };
        let memberships: Vec<_> = target
            .tag_rules
            .iter()
            .filter_map(|r| r.get_ref().membership())
            .collect();
        let platform = account.platform();
        findings.push(
            match account.missing(&target.default_courses, &memberships).await {
                Ok(missing) if missing.is_empty() => Finding::Ok(format!(
                    "target {name} ({platform}) has its {} course(s) and {} membership(s)",
                    target.default_courses.len(),
                    memberships.len()
                )),
                Ok(missing) => Finding::Problem(format!(
                    "target {name} ({platform}) has no {}",
                    missing.join(", no ")
                )),
                Err(e) => Finding::Unchecked(format!("target {name}: {e}")),
            },
        );
    }
    Ok(findings)
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("GHL client: {0}")]
    Ghl(#[from] GhlError),
    #[error("LMS client: {0}")]
    Lms(#[from] LmsConfigError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// What an ingest function's AWS calls may take, each attempt (the SDK's Secrets Manager read
/// has its own); well inside API Gateway's 30 s, so a sender gets an answer it can retry.
const INGEST_AWS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub fn ingest_service(
    trigger: Trigger,
    settings: &IngestSettings,
    sdk: &aws_config::SdkConfig,
) -> Result<IngestService, StartupError> {
    let json = AwsJson::new(sdk, crate::http::client(INGEST_AWS_TIMEOUT)?);
    let table = Arc::new(DynamoTable::new(
        aws_sdk_dynamodb::Client::new(sdk),
        json.clone(),
        &settings.common.table_name,
    ));
    let secrets = Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(sdk)));
    Ok(IngestService::new(
        trigger,
        Idempotency::new(table, settings.common.idempotency_ttl),
        CachedSecret::new(
            secrets,
            &settings.webhook_secret_id,
            settings.common.secret_cache_ttl,
        ),
        Arc::new(SystemClock),
    ))
}

/// What the worker and the daily batch both build from the same settings: the mapping, a GHL
/// client per location and the LMS targets, over one HTTP client and the table's shared budgets.
struct Apis {
    mapping: Mapping,
    table: Arc<DynamoTable>,
    json: AwsJson,
    ghl: GhlClients,
    lms: LmsAccounts,
    outbound: Destinations,
}

/// Each API's budget, for realtime or background work, counted when the batch asks.
#[derive(Clone)]
struct Budgets {
    table: Arc<DynamoTable>,
    background: bool,
    counter: Option<Arc<CallCounter>>,
}

impl Budgets {
    fn make(&self, api: &'static str, config: BudgetConfig) -> Arc<dyn RateBudget> {
        let config = if self.background {
            config.background()
        } else {
            config
        };
        let budget: Arc<dyn RateBudget> = Arc::new(SharedRateBudget::new(self.table.clone(), config));
        match &self.counter {
            Some(counter) => Arc::new(Counted {
                inner: budget,
                api,
                counter: counter.clone(),
            }),
            None => budget,
        }
    }
}

async fn apis(
    settings: &WorkerSettings,
    sdk: &aws_config::SdkConfig,
    counter: Option<Arc<CallCounter>>,
) -> Result<Apis, StartupError> {
    let mapping = match &settings.mapping_file {
        Some(path) => Mapping::load(path)?,
        None => Mapping::bundled()?,
    };
    let http = http_client(settings.ghl_timeout)?;
    let json = AwsJson::new(sdk, http.clone());
    let table = Arc::new(DynamoTable::new(
        aws_sdk_dynamodb::Client::new(sdk),
        json.clone(),
        &settings.common.table_name,
    ));
    let budgets = Budgets {
        table: table.clone(),
        background: settings.background,
        counter,
    };
    let secrets: Arc<dyn SecretSource> =
        Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(sdk)));
    let endpoint = TokenEndpoint::new(http.clone(), &settings.ghl_base_url)?;
    // One budget for all: it keeps a schedule per location.
    let budget = budgets.make("ghl", BudgetConfig::default());
    let config = GhlConfig {
        base_url: settings.ghl_base_url.clone(),
        timeout: settings.ghl_timeout,
        retry: RetryPolicy::default(),
    };
    let mut clients = Vec::new();
    for secret_id in &settings.ghl_secret_ids {
        let credentials = credentials_from_secret(
            secret_id,
            Arc::clone(&secrets),
            table.clone(),
            endpoint.clone(),
            settings.common.secret_cache_ttl,
        )
        .await?;
        clients.push(GhlClient::with_http(
            &config,
            http.clone(),
            credentials,
            budget.clone(),
        )?);
    }
    let ghl = GhlClients::new(clients).await?;
    check_mapping_against_locations(&mapping, &ghl).await?;
    let (lms, outbound) = lms_targets(&mapping, settings, &http, &secrets, &budgets)?;
    Ok(Apis {
        mapping,
        table,
        json,
        ghl,
        lms,
        outbound,
    })
}

pub async fn sync_worker(
    settings: &WorkerSettings,
    sdk: &aws_config::SdkConfig,
) -> Result<SyncWorker, StartupError> {
    let apis = apis(settings, sdk, None).await?;
    log_learning_record_readiness(&apis.mapping, &apis.ghl).await;
    Ok(SyncWorker::new(
        apis.ghl,
        apis.table.clone(),
        Arc::new(apis.mapping),
        Idempotency::new(apis.table.clone(), settings.common.idempotency_ttl),
        Arc::new(SqsQueue::new(apis.json, &settings.dead_letter_queue_url)),
        Arc::new(SystemClock),
    )
    .with_lms_accounts(apis.lms)
    .with_destinations(apis.outbound)
    .with_documents(apis.table)
    .with_redelivery(Arc::new(SqsRedelivery::new(aws_sdk_sqs::Client::new(sdk))))
    .with_deadline_fallback(settings.deadline_fallback))
}

/// The daily batch, over the same clients as the worker (background budgets, counted for the
/// run summaries) and its two queues.
pub async fn daily_batch(
    settings: &BatchSettings,
    sdk: &aws_config::SdkConfig,
    tuning: BatchTuning,
) -> Result<BatchRunner, StartupError> {
    let calls = Arc::new(CallCounter::default());
    let apis = apis(&settings.api, sdk, Some(calls.clone())).await?;
    Ok(BatchRunner {
        ghl: apis.ghl,
        entities: apis.table.clone(),
        documents: apis.table.clone(),
        lease: apis.table,
        queue: Arc::new(SqsQueue::new(apis.json.clone(), &settings.batch_queue_url)),
        continuations: Arc::new(SqsQueue::new(apis.json, &settings.continuation_queue_url)),
        mapping: Arc::new(apis.mapping),
        lms: apis.lms,
        clock: Arc::new(SystemClock),
        calls,
        tuning,
    })
}

/// The client of one LMS account: its platform's, over the shared HTTP client, reading its
/// credentials from `secret` (source, id, cache time) and waiting on the budget `budget` gives
/// for the platform. The one way to build one, for the functions and the dev tooling.
pub fn lms_account(
    platform: Platform,
    config: &LmsConfig,
    http: reqwest::Client,
    (source, secret_id, ttl): (Arc<dyn SecretSource>, &str, std::time::Duration),
    budget: &mut dyn FnMut(&'static str, BudgetConfig) -> Arc<dyn RateBudget>,
) -> Result<Arc<dyn LmsAccount>, StartupError> {
    Ok(match platform {
        Platform::Skilljar => Arc::new(SkilljarClient::new(
            config,
            http,
            CachedSecret::new(source, secret_id, ttl),
            budget("skilljar", lms::skilljar::budget_config()),
        )?),
        Platform::Talentlms => Arc::new(TalentLmsClient::new(
            config,
            http,
            CachedSecret::new(source, secret_id, ttl),
            budget("talentlms", lms::talentlms::budget_config()),
        )?),
        Platform::Trainual => Arc::new(TrainualClient::new(
            config,
            http,
            CachedSecret::new(source, secret_id, ttl),
            budget("trainual", lms::trainual::budget_config()),
        )?),
        Platform::Outbound => {
            return Err(StartupError::Lms(LmsConfigError {
                platform: "outbound",
                problem: "an outbound destination is not an LMS account".into(),
            }));
        }
    })
}

/// One client per `[targets.<name>]`, over the one HTTP client, each platform's rate budget (a
/// schedule per account) and the target's secret. Secrets are read on first use, so a target
/// whose secret is missing fails only its own events, naming the secret.
fn lms_targets(
    mapping: &Mapping,
    settings: &WorkerSettings,
    http: &reqwest::Client,
    secrets: &Arc<dyn SecretSource>,
    budgets: &Budgets,
) -> Result<(LmsAccounts, Destinations), StartupError> {
    let mut accounts = LmsAccounts::default();
    let mut destinations = Destinations::default();
    let ttl = settings.common.secret_cache_ttl;
    // One budget per platform, shared by its targets: pauses, 429 slow-downs and learned limits
    // then hold for every target on the same account (the schedules are per account anyway).
    let mut made: std::collections::HashMap<&'static str, Arc<dyn RateBudget>> = Default::default();
    let mut budget = |platform: &'static str, config| {
        made.entry(platform)
            .or_insert_with(|| budgets.make(platform, config))
            .clone()
    };
    for (name, target) in &mapping.targets {
        let platform = *target.platform.get_ref();
        let config = LmsConfig {
            base_url: settings.lms_base_urls.get(platform.as_str()).cloned(),
            retry: RetryPolicy::default(),
        };
        if platform == Platform::Outbound {
            let outbound = OutboundConfig {
                retry: RetryPolicy::default(),
            };
            destinations.insert(
                name.clone(),
                OutboundDestination::new(
                    name.clone(),
                    &outbound,
                    http.clone(),
                    CachedSecret::new(Arc::clone(secrets), &target.secret_id, ttl),
                    budget("outbound", lms::outbound::budget_config()),
                ),
            );
            continue;
        }
        let secret = (Arc::clone(secrets), target.secret_id.as_str(), ttl);
        let account = lms_account(platform, &config, http.clone(), secret, &mut budget)?;
        accounts.insert(name.clone(), account);
    }
    Ok((accounts, destinations))
}
