//! Harness for the integration tests: a fresh set of AWS resources per test on moto server, the
//! real services built the way the Lambda binaries build them, and Prism's request log.
//!
//! `scripts/test` starts moto and one Prism per vendored spec file and exports
//! `AWS_ENDPOINT_URL`, `PRISM_URL` (contacts), `PRISM_OAUTH_URL`, `PRISM_LOCATIONS_URL`,
//! `PRISM_OBJECTS_URL`, `PRISM_ASSOCIATIONS_URL`, `PRISM_CUSTOM_FIELDS_URL` and `PRISM_LOGS`;
//! run the tests through it.

pub mod aws_faults;
pub mod batch;

use std::path::PathBuf;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use aws_sdk_sqs::types::QueueAttributeName;
use lms_ghl::app;
use std::sync::Arc;

use lms_ghl::aws::{DynamoTable, SecretsManager};
use lms_ghl::batch::{BatchRunner, BatchTuning};
use lms_ghl::config::{BatchSettings, CommonSettings, IngestSettings, WorkerSettings};
use lms_ghl::ghl::{OAuthCredentials, OAuthSettings, TokenEndpoint, http_client};
use lms_ghl::ingest::{IngestService, Trigger};
use lms_ghl::ports::SecretSource;
use lms_ghl::worker::SyncWorker;

/// The value after `--<name>` on the command line of a bench binary, or `default` when it is
/// absent or does not parse: the one flag reader of `src/bin/`.
pub fn flag<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|w| w[0] == format!("--{name}"))
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(default)
}

pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The webhook credentials every test deployment uses (same as the local demo's).
pub const WEBHOOK_SECRETS: &str = include_str!("../../config/local/webhooks.json");
pub const GENERIC_SIGNING_SECRET: &str = "local-demo-signing-secret";
pub const LOCATION_ID: &str = "ve9EPM428h8vShlRW1KT";

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the integration tests through scripts/test"))
}

pub fn prism_url() -> String {
    env("PRISM_URL")
}

/// Lines of the Prism logs (one per vendored spec file) that report a request of ours violating
/// GHL's official contract.
pub fn prism_violations() -> Vec<String> {
    env("PRISM_LOGS")
        .split(':')
        .flat_map(|path| {
            let log =
                std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading Prism log {path}: {e}"));
            // Prism also checks its own example answers ("Violation: response…"), and a few of
            // GHL's examples disagree with their schemas; only our requests are ours to get right.
            log.lines()
                .filter(|l| l.contains("Violation: request"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Prism serving `apps/oauth.json`.
pub fn prism_oauth_url() -> String {
    env("PRISM_OAUTH_URL")
}

/// Prism serving `apps/locations.json`.
pub fn prism_locations_url() -> String {
    env("PRISM_LOCATIONS_URL")
}

/// Prism serving `apps/objects.json` (schemas and records).
pub fn prism_objects_url() -> String {
    env("PRISM_OBJECTS_URL")
}

/// Prism serving `apps/associations.json` (associations and relations).
pub fn prism_associations_url() -> String {
    env("PRISM_ASSOCIATIONS_URL")
}

/// Prism serving `apps/custom-fields.json` (custom fields v2: a custom object's fields).
pub fn prism_custom_fields_url() -> String {
    env("PRISM_CUSTOM_FIELDS_URL")
}

/// A fixed token for one location, for tests that exercise the client itself.
pub struct StaticCredentials(pub lms_ghl::ghl::LocationAuth);

#[async_trait::async_trait]
impl lms_ghl::ghl::Credentials for StaticCredentials {
    async fn location_auth(&self) -> Result<lms_ghl::ghl::LocationAuth, lms_ghl::ghl::GhlError> {
        Ok(self.0.clone())
    }
}

/// A GHL client for `base_url` with a static token and no rate budget.
pub fn static_client(base_url: &str) -> lms_ghl::ghl::GhlClient {
    client_with_token(base_url, "pit-contract-test")
}

/// The same with a given token.
pub fn client_with_token(base_url: &str, token: &str) -> lms_ghl::ghl::GhlClient {
    let auth = lms_ghl::ghl::LocationAuth {
        location_id: LOCATION_ID.to_owned(),
        token: secrecy::SecretString::from(token.to_owned()),
    };
    let config = lms_ghl::ghl::GhlConfig {
        base_url: base_url.to_owned(),
        ..Default::default()
    };
    let credentials = std::sync::Arc::new(StaticCredentials(auth));
    lms_ghl::ghl::GhlClient::new(&config, credentials, std::sync::Arc::new(lms_ghl::ghl::Unlimited))
        .unwrap_or_else(|e| panic!("client: {e}"))
}

pub fn read_root_file(path: &str) -> String {
    std::fs::read_to_string(PathBuf::from(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One isolated deployment: its own queues (realtime, batch, continuation, each with a DLQ), table
/// and secrets, named with a random suffix.
pub struct Deployment {
    pub sdk: aws_config::SdkConfig,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub dlq_url: String,
    /// The daily batch's changes (`BATCH_QUEUE_URL`; the background worker reads it) and its DLQ
    /// (that worker's `DEAD_LETTER_QUEUE_URL`).
    pub batch_queue_url: String,
    pub batch_queue_arn: String,
    pub batch_dlq_url: String,
    /// Where a daily-batch run hands itself on (`CONTINUATION_QUEUE_URL`), and its DLQ.
    pub continuation_queue_url: String,
    pub continuation_queue_arn: String,
    pub continuation_dlq_url: String,
    pub table: String,
    pub webhook_secret_id: String,
    pub ghl_secret_id: String,
    /// The Private Integration Token in the GHL secret.
    pub ghl_token: String,
    /// The outbox's Pipe, as `devkit::outbox` stands in for it: pumped before the realtime queue
    /// is looked at.
    relay: tokio::sync::Mutex<devkit::outbox::Relay>,
}

impl Deployment {
    pub async fn new() -> Self {
        Self::with_queues(None, 3).await
    }

    /// The same with queues of a given visibility timeout (SQS's 30 s by default) and redrive
    /// receives, as `timing` sets them (see `devkit::provision::Timing`).
    pub async fn with_timing(timing: devkit::provision::Timing) -> Self {
        Self::with_queues(Some(timing.visibility_timeout_secs), timing.max_receive_count).await
    }

    async fn with_queues(visibility_timeout_secs: Option<u32>, max_receive_count: u32) -> Self {
        assert!(
            std::env::var("AWS_ENDPOINT_URL").is_ok(),
            "AWS_ENDPOINT_URL is not set: run the integration tests through scripts/test"
        );
        let sdk = lms_ghl::aws::sdk_config().await;
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let ghl_token = format!("pit-test-{suffix}");
        let ghl_secret =
            format!(r#"{{"locationId":"{LOCATION_ID}","privateIntegrationToken":"{ghl_token}"}}"#);
        let resources = devkit::Resources {
            queue: format!("lms-sync-{suffix}"),
            dead_letter_queue: format!("lms-sync-dlq-{suffix}"),
            batch_queue: format!("lms-sync-batch-{suffix}"),
            batch_dead_letter_queue: format!("lms-sync-batch-dlq-{suffix}"),
            continuation_queue: format!("lms-sync-continuation-{suffix}"),
            continuation_dead_letter_queue: format!("lms-sync-continuation-dlq-{suffix}"),
            visibility_timeout_secs,
            max_receive_count,
            table: format!("lms-sync-{suffix}"),
            webhook_secret_id: format!("lms-sync/{suffix}/webhooks"),
            webhook_secrets: WEBHOOK_SECRETS.into(),
            ghl_secret_id: format!("lms-sync/{suffix}/ghl"),
            ghl_secret: ghl_secret.into(),
        };
        let provisioned = resources
            .provision(&sdk)
            .await
            .unwrap_or_else(|e| panic!("provisioning: {e:?}"));
        let http = lms_ghl::http::client(Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"));
        let relay = devkit::outbox::Relay::new(
            lms_ghl::aws::AwsJson::new(&sdk, http),
            &provisioned.table,
            &provisioned.queue_url,
        );
        Self {
            relay: tokio::sync::Mutex::new(relay),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sdk,
            queue_url: provisioned.queue_url,
            queue_arn: provisioned.queue_arn,
            dlq_url: provisioned.dead_letter_queue_url,
            batch_queue_url: provisioned.batch_queue_url,
            batch_queue_arn: provisioned.batch_queue_arn,
            batch_dlq_url: provisioned.batch_dead_letter_queue_url,
            continuation_queue_url: provisioned.continuation_queue_url,
            continuation_queue_arn: provisioned.continuation_queue_arn,
            continuation_dlq_url: provisioned.continuation_dead_letter_queue_url,
            table: provisioned.table,
            webhook_secret_id: provisioned.webhook_secret_id,
            ghl_secret_id: provisioned.ghl_secret_id,
            ghl_token,
        }
    }

    fn common(&self) -> CommonSettings {
        CommonSettings {
            table_name: self.table.clone(),
            idempotency_ttl: Duration::from_secs(3600),
            secret_cache_ttl: Duration::from_secs(300),
        }
    }

    /// The ingest service of `trigger` over another AWS configuration (through a fault proxy,
    /// say), built as its binary builds it.
    pub fn ingest_via(&self, trigger: Trigger, sdk: &aws_config::SdkConfig) -> IngestService {
        let settings = IngestSettings {
            common: self.common(),
            webhook_secret_id: self.webhook_secret_id.clone(),
        };
        app::ingest_service(trigger, &settings, sdk).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The `learner-created` service, built as the binary builds it.
    pub fn ingest(&self) -> IngestService {
        self.ingest_for(Trigger::LearnerCreated)
    }

    /// The ingest service of any trigger, built as its binary builds it.
    pub fn ingest_for(&self, trigger: Trigger) -> IngestService {
        let settings = IngestSettings {
            common: self.common(),
            webhook_secret_id: self.webhook_secret_id.clone(),
        };
        app::ingest_service(trigger, &settings, &self.sdk).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The `sync-worker` service against a GHL at `ghl_base_url`, with the example mapping.
    pub async fn worker(&self, ghl_base_url: &str) -> SyncWorker {
        self.worker_with_mapping(ghl_base_url, "config/mapping.toml")
            .await
    }

    /// The same with another mapping file (path relative to the repository root).
    pub async fn worker_with_mapping(&self, ghl_base_url: &str, mapping: &str) -> SyncWorker {
        self.worker_for_locations(ghl_base_url, mapping, vec![self.ghl_secret_id.clone()])
            .await
    }

    /// A worker feeding several GHL locations, one secret each (the first is the default).
    pub async fn worker_for_locations(
        &self,
        ghl_base_url: &str,
        mapping: &str,
        secret_ids: Vec<String>,
    ) -> SyncWorker {
        self.worker_with_settings(self.worker_settings(ghl_base_url, mapping, secret_ids))
            .await
    }

    /// The worker's settings as its binary would read them for this deployment.
    pub fn worker_settings(
        &self,
        ghl_base_url: &str,
        mapping: &str,
        secret_ids: Vec<String>,
    ) -> WorkerSettings {
        WorkerSettings {
            common: self.common(),
            dead_letter_queue_url: self.dlq_url.clone(),
            ghl_secret_ids: secret_ids,
            ghl_base_url: ghl_base_url.to_owned(),
            ghl_timeout: Duration::from_secs(5),
            mapping_file: Some(PathBuf::from(ROOT).join(mapping)),
            lms_base_urls: Default::default(),
            background: false,
            deadline_fallback: lms_ghl::worker::CLAIM_FALLBACK,
        }
    }

    /// The daily batch's settings as its binary would read them for this deployment (the worker's
    /// GHL, mapping and LMS settings, always background, and its two queues).
    pub fn batch_settings(&self, ghl_base_url: &str, mapping: &str) -> BatchSettings {
        let mut api = self.worker_settings(ghl_base_url, mapping, vec![self.ghl_secret_id.clone()]);
        // As `BatchSettings::from_env`: it parks nothing, and never crowds out realtime traffic.
        api.dead_letter_queue_url = "-".to_owned();
        api.background = true;
        BatchSettings {
            api,
            batch_queue_url: self.batch_queue_url.clone(),
            continuation_queue_url: self.continuation_queue_url.clone(),
        }
    }

    /// The daily batch built from `settings`, as its binary builds it (with `tuning` instead of
    /// the defaults: small pages, say).
    pub async fn batch_runner(&self, settings: &BatchSettings, tuning: BatchTuning) -> BatchRunner {
        app::daily_batch(settings, &self.sdk, tuning)
            .await
            .unwrap_or_else(|e| panic!("daily batch: {e}"))
    }

    /// The worker built from `settings`, as its binary builds it.
    pub async fn worker_with_settings(&self, settings: WorkerSettings) -> SyncWorker {
        app::sync_worker(&settings, &self.sdk)
            .await
            .unwrap_or_else(|e| panic!("worker: {e}"))
    }

    /// Stores a secret (an LMS account's credentials, say) under `id`.
    pub async fn put_secret(&self, id: &str, value: &str) {
        aws_sdk_secretsmanager::Client::new(&self.sdk)
            .create_secret()
            .name(id)
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create secret {id}: {e:?}"));
    }

    /// Stores another location's Private Integration Token; returns the secret's id.
    pub async fn add_ghl_secret(&self, location_id: &str, token: &str) -> String {
        let id = format!("{}-{location_id}", self.ghl_secret_id);
        let value = format!(r#"{{"locationId":"{location_id}","privateIntegrationToken":"{token}"}}"#);
        aws_sdk_secretsmanager::Client::new(&self.sdk)
            .create_secret()
            .name(&id)
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create secret {id}: {e:?}"));
        id
    }

    /// A GHL sandbox that takes this deployment's Private Integration Token for the default location.
    pub async fn ghl_sandbox(&self, config: ghl_sandbox::SandboxConfig) -> ghl_sandbox::Sandbox {
        let ghl = ghl_sandbox::Sandbox::start(config)
            .await
            .unwrap_or_else(|e| panic!("sandbox: {e}"));
        ghl.add_private_token(ghl_sandbox::DEFAULT_LOCATION_ID, &self.ghl_token)
            .unwrap_or_else(|e| panic!("{e}"));
        ghl
    }

    pub fn table(&self) -> DynamoTable {
        DynamoTable::new(self.dynamodb.clone(), self.json(), &self.table)
    }

    /// The signed JSON calls the idempotency records and queue sends use, as the functions build them.
    pub fn json(&self) -> lms_ghl::aws::AwsJson {
        let http = lms_ghl::http::client(Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"));
        lms_ghl::aws::AwsJson::new(&self.sdk, http)
    }

    /// The GHL contact id recorded for a Skilljar learner, if any.
    pub async fn skilljar_contact(&self, user_id: &str) -> Option<lms_ghl::ports::ContactLink> {
        use lms_ghl::ports::EntityMap;
        let source = lms_ghl::domain::SourcePlatform::skilljar();
        self.table()
            .contact(&source, user_id)
            .await
            .unwrap_or_else(|e| panic!("entity map: {e}"))
    }

    /// Sends what ingest accepted since the last look on to the realtime queue, as the outbox's
    /// Pipe would; how many messages.
    pub async fn relay(&self) -> usize {
        self.relay
            .lock()
            .await
            .pump()
            .await
            .unwrap_or_else(|e| panic!("outbox relay: {e:#}"))
    }

    /// Receives what is visible on a queue now (any of the deployment's), as Lambda's SQS event
    /// source would hand it over; the realtime queue after the outbox is relayed.
    pub async fn receive(&self, queue_url: &str) -> Vec<SqsMessage> {
        if queue_url == self.queue_url {
            self.relay().await;
        }
        let output = devkit::sqs::receive(&self.sqs, queue_url)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap_or_else(|e| panic!("receive: {e:?}"));
        let region = self.sdk.region().map_or("us-east-1", |r| r.as_ref());
        let arn = if queue_url == self.batch_queue_url {
            &self.batch_queue_arn
        } else if queue_url == self.continuation_queue_url {
            &self.continuation_queue_arn
        } else {
            &self.queue_arn
        };
        output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| devkit::sqs::lambda_record(m, arn, region))
            .collect()
    }

    /// Puts one canonical event on the queue as ingest would, and receives it back as Lambda would.
    pub async fn queue_event(
        &self,
        idempotency_key: &str,
        event: lms_ghl::domain::SyncEvent,
    ) -> Vec<SqsMessage> {
        use lms_ghl::ports::Queue;
        // The delivery a sender would have made: here, the event itself.
        let delivered = serde_json::to_vec(&event).unwrap_or_else(|e| panic!("{e}"));
        let envelope = lms_ghl::contract::Envelope::new(
            idempotency_key.to_owned(),
            format!("corr-{idempotency_key}"),
            time::OffsetDateTime::now_utc(),
            lms_ghl::contract::DeliveryHash::of(&delivered),
            event,
        );
        let message = lms_ghl::contract::encode(&envelope).unwrap_or_else(|e| panic!("{e}"));
        let queue = lms_ghl::aws::SqsQueue::new(self.json(), &self.queue_url);
        queue.send(&message).await.unwrap_or_else(|e| panic!("{e}"));
        self.receive(&self.queue_url).await
    }

    /// Puts a message body on the queue as it is (e.g. one an older ingest wrote), and receives it
    /// back as Lambda would.
    pub async fn queue_body(&self, body: &str) -> Vec<SqsMessage> {
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("send: {e:?}"));
        self.receive(&self.queue_url).await
    }

    /// The environment a worker process needs to run against this deployment and `ghl_base_url`.
    pub fn worker_env(&self, ghl_base_url: &str) -> Vec<(&'static str, String)> {
        vec![
            ("TABLE_NAME", self.table.clone()),
            ("DEAD_LETTER_QUEUE_URL", self.dlq_url.clone()),
            ("GHL_SECRET_ID", self.ghl_secret_id.clone()),
            ("GHL_BASE_URL", ghl_base_url.to_owned()),
            ("GHL_TIMEOUT_SECS", "5".to_owned()),
        ]
    }

    /// The environment a daily-batch process needs: the worker's without its DLQ, and the batch's
    /// two queues.
    pub fn batch_env(&self, ghl_base_url: &str) -> Vec<(&'static str, String)> {
        let mut env = self.worker_env(ghl_base_url);
        env.retain(|(name, _)| *name != "DEAD_LETTER_QUEUE_URL");
        env.push(("BATCH_QUEUE_URL", self.batch_queue_url.clone()));
        env.push(("CONTINUATION_QUEUE_URL", self.continuation_queue_url.clone()));
        env
    }

    pub async fn visible_messages(&self, queue_url: &str) -> usize {
        if queue_url == self.queue_url {
            self.relay().await;
        }
        let output = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap_or_else(|e| panic!("queue attributes: {e:?}"));
        let attrs = output.attributes.unwrap_or_default();
        let count = |name: QueueAttributeName| {
            attrs
                .get(&name)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        };
        count(QueueAttributeName::ApproximateNumberOfMessages)
            + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
    }
}

/// The queue contract's envelope a received record carries (the outbox's Pipe sends the body
/// only: what a message says is in its envelope, not in SQS attributes).
pub fn envelope(record: &SqsMessage) -> lms_ghl::contract::Envelope {
    lms_ghl::contract::decode(record.body.as_deref().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not a queue contract message: {e}"))
}

/// Redelivers records, as SQS would after each visibility timeout, until the worker reports none
/// failed (e.g. a dead invocation's claim has expired), for at most `within`.
pub async fn sync_redelivered(worker: &SyncWorker, records: Vec<SqsMessage>, within: Duration) {
    let until = tokio::time::Instant::now() + within;
    loop {
        let response = serve_records(worker, records.clone()).await;
        if response.batch_item_failures.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "still failing after {within:?}: {:?}",
            response.batch_item_failures
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs records through the worker as one Lambda invocation; the answer lists those to redeliver.
pub async fn serve_records(
    worker: &SyncWorker,
    records: Vec<SqsMessage>,
) -> aws_lambda_events::event::sqs::SqsBatchResponse {
    let mut event = lms_ghl::SqsEvent::default();
    event.records = records;
    let invocation = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
    lms_ghl::lambda::serve_sqs(worker, invocation).await
}

/// Runs records through the worker as Lambda would and asserts none is left for redelivery.
pub async fn sync_all(worker: &SyncWorker, records: Vec<SqsMessage>) {
    let response = serve_records(worker, records).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
}

/// An API Gateway HTTP API (payload v2) request, parsed by lambda_http as in Lambda.
pub fn api_request(path: &str, headers: &[(&str, &str)], body: &str) -> lambda_http::Request {
    let event = devkit::samples::post(
        path,
        headers,
        body,
        &uuid::Uuid::new_v4().to_string(),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap_or_else(|e| panic!("api request: {e:?}"));
    lambda_request(&event)
}

/// A delivery a stand-in receiver captured (headers and bytes as sent), as API Gateway would hand
/// it to the function at `route`.
pub fn captured_request(route: &str, delivery: &wiremock::Request) -> lambda_http::Request {
    let headers: Vec<(String, String)> = delivery
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let body = String::from_utf8(delivery.body.clone()).unwrap_or_else(|e| panic!("{e}"));
    api_request(route, &headers, &body)
}

/// A sample from `events/`, signed afresh (generic signatures and GHL bodies: the window is 300 s).
pub fn sample_event(path: &str) -> lambda_http::Request {
    sample_event_at(path, time::OffsetDateTime::now_utc())
}

/// The same, signed as sent at `at`.
pub fn sample_event_at(path: &str, at: time::OffsetDateTime) -> lambda_http::Request {
    let mut event =
        devkit::samples::read(&PathBuf::from(ROOT).join(path)).unwrap_or_else(|e| panic!("{e:?}"));
    devkit::samples::resign(&mut event, &signers(), at).unwrap_or_else(|e| panic!("{path}: {e:?}"));
    lambda_request(&event)
}

/// The local demo's signers: the generic signing secret and the GHL test key.
pub fn signers() -> devkit::samples::Signers {
    let generic = secrecy::SecretString::from(GENERIC_SIGNING_SECRET);
    devkit::samples::Signers::local(&PathBuf::from(ROOT), generic).unwrap_or_else(|e| panic!("{e:?}"))
}

/// What lambda_http makes of the event's JSON, the way the runtime hands it over.
fn lambda_request(event: &aws_lambda_events::apigw::ApiGatewayV2httpRequest) -> lambda_http::Request {
    let json = serde_json::to_string(event).unwrap_or_else(|e| panic!("api request: {e}"));
    lambda_http::request::from_str(&json).unwrap_or_else(|e| panic!("api request: {e}"))
}

pub fn sign_now(body: &str) -> String {
    let secret = secrecy::SecretString::from(GENERIC_SIGNING_SECRET);
    lms_ghl::ingest::signature::sign(
        &secret,
        time::OffsetDateTime::now_utc().unix_timestamp(),
        body.as_bytes(),
    )
}

pub fn skilljar_auth() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("skilljar:local-demo-password")
    )
}

/// Status and JSON body of a lambda_http response.
pub fn response_json(response: lambda_http::Response<lambda_http::Body>) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body: serde_json::Value =
        serde_json::from_slice(response.body().as_ref()).unwrap_or_else(|e| panic!("response body: {e}"));
    (status, body)
}

/// An OAuth secret document for the test location.
pub fn oauth_secret(access: &str, refresh: &str, expires_at: i64) -> String {
    serde_json::json!({
        "locationId": LOCATION_ID, "clientId": "client-1", "clientSecret": "client-secret",
        "accessToken": access, "refreshToken": refresh, "expiresAt": expires_at
    })
    .to_string()
}

/// A deployment whose GHL secret holds `secret` (e.g. OAuth tokens).
pub async fn oauth_deployment(secret: &str) -> Deployment {
    let deployment = Deployment::new().await;
    let secrets = SecretsManager::new(aws_sdk_secretsmanager::Client::new(&deployment.sdk));
    secrets
        .put_secret_string(
            &deployment.ghl_secret_id,
            &secrecy::SecretString::from(secret.to_owned()),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    deployment
}

pub fn oauth_credentials(deployment: &Deployment, token_url: &str) -> OAuthCredentials {
    let endpoint = TokenEndpoint::new(
        http_client(Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}")),
        token_url,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    OAuthCredentials::new(
        &deployment.ghl_secret_id,
        Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
            &deployment.sdk,
        ))),
        Arc::new(deployment.table()),
        endpoint,
        OAuthSettings::default(),
    )
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A GHL client with its own retry policy and the shared rate budget on the deployment's table.
pub fn budgeted_client(
    deployment: &Deployment,
    base_url: &str,
    token: &str,
    retry: lms_ghl::ghl::RetryPolicy,
    budget: lms_ghl::ghl::BudgetConfig,
) -> lms_ghl::ghl::GhlClient {
    let auth = lms_ghl::ghl::LocationAuth {
        location_id: ghl_sandbox::DEFAULT_LOCATION_ID.to_owned(),
        token: secrecy::SecretString::from(token.to_owned()),
    };
    let config = lms_ghl::ghl::GhlConfig {
        base_url: base_url.to_owned(),
        retry,
        ..Default::default()
    };
    let table = std::sync::Arc::new(deployment.table());
    let budget = lms_ghl::ghl::SharedRateBudget::new(table, budget);
    lms_ghl::ghl::GhlClient::new(
        &config,
        std::sync::Arc::new(StaticCredentials(auth)),
        std::sync::Arc::new(budget),
    )
    .unwrap_or_else(|e| panic!("client: {e}"))
}
