//! The daily batch's test harness: the runner as `daily-batch` builds it over moto (its own
//! batch and continuation queues), the GHL sandbox and the LMS sandbox's Trainual and TalentLMS,
//! and the worker as its binary builds it to drain the batch queue. Shared by the tests and the
//! batch benchmark.

use std::collections::BTreeMap;

use ghl_sandbox::{ContactSeed, DEFAULT_LOCATION_ID, Sandbox, SandboxConfig};
use lms_ghl::batch::{BatchRunner, BatchTuning};
use lms_ghl::config::{BatchSettings, WorkerSettings};
use lms_ghl::domain::{Email, SourcePlatform};
use lms_ghl::ports::{ContactLink, EntityMap, LearnerMirror};
use lms_ghl::worker::{Message, RecordOutcome, SyncWorker};
use lms_sandbox::{
    DEFAULT_TALENTLMS_API_KEY, DEFAULT_TRAINUAL_PASSWORD, DEFAULT_TRAINUAL_USERNAME, Platform,
};

use crate::{Deployment, read_root_file};

pub const ROLE: &str = "2";
pub const SUBJECT: u64 = 11;

pub struct Batch {
    pub deployment: Deployment,
    pub ghl: Sandbox,
    pub lms: lms_sandbox::Sandbox,
    pub settings: BatchSettings,
    pub worker: SyncWorker,
    /// Fail points are process-wide: a test that sets one runs alone among the batch tests.
    _fail_points: FailPointGuard,
}

/// Batch tests share the process's fail points: most read them (unset), the crash test sets one.
static FAIL_POINTS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

enum FailPointGuard {
    Shared(#[allow(dead_code)] tokio::sync::RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] tokio::sync::RwLockWriteGuard<'static, ()>),
}

fn mapping(suffix: &str, extra: &str) -> String {
    let bundled = read_root_file("config/mapping.toml");
    format!(
        r#"{bundled}
{extra}
[providers.trainual]
tags = ["trainual"]

[targets.handbook]
platform = "trainual"
secret_id = "{suffix}/handbook"
location_id = "{DEFAULT_LOCATION_ID}"
qualify = {{ tag = "enroll" }}
[[targets.handbook.tag_rules]]
tag = "vip"
role = "{ROLE}"

[targets.talent]
platform = "talentlms"
secret_id = "{suffix}/talent"
location_id = "{DEFAULT_LOCATION_ID}"
qualify = {{ tag = "talent" }}
"#
    )
}

/// A deployment with the default GHL sandbox.
pub async fn batch() -> Batch {
    batch_with(SandboxConfig::default()).await
}

/// A deployment for a test that sets fail points: no other batch test runs meanwhile.
pub async fn batch_alone() -> Batch {
    let guard = FailPointGuard::Alone(FAIL_POINTS.write().await);
    start(SandboxConfig::default(), guard, "").await
}

pub async fn batch_with(ghl_config: SandboxConfig) -> Batch {
    let guard = FailPointGuard::Shared(FAIL_POINTS.read().await);
    start(ghl_config, guard, "").await
}

/// The same with `extra` mapping text (a `[learning_records]` section, say) before the targets.
pub async fn batch_with_mapping(extra: &str) -> Batch {
    let guard = FailPointGuard::Shared(FAIL_POINTS.read().await);
    start(SandboxConfig::default(), guard, extra).await
}

async fn start(ghl_config: SandboxConfig, fail_points: FailPointGuard, extra: &str) -> Batch {
    let deployment = Deployment::new().await;
    let ghl = Sandbox::start(ghl_config)
        .await
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    ghl.add_private_token(DEFAULT_LOCATION_ID, &deployment.ghl_token)
        .unwrap_or_else(|e| panic!("{e}"));
    let lms = lms_sandbox::Sandbox::start(lms_sandbox::SandboxConfig::default())
        .await
        .unwrap_or_else(|e| panic!("lms sandbox: {e}"));
    let suffix = deployment.table.clone();
    deployment
        .put_secret(
            &format!("{suffix}/handbook"),
            &format!(r#"{{"email":"{DEFAULT_TRAINUAL_USERNAME}","password":"{DEFAULT_TRAINUAL_PASSWORD}"}}"#),
        )
        .await;
    deployment
        .put_secret(
            &format!("{suffix}/talent"),
            &format!(r#"{{"domain":"sandbox","apiKey":"{DEFAULT_TALENTLMS_API_KEY}"}}"#),
        )
        .await;
    let mapping_file = std::env::temp_dir().join(format!("{suffix}-batch-mapping.toml"));
    std::fs::write(&mapping_file, mapping(&suffix, extra)).unwrap_or_else(|e| panic!("{e}"));
    let mut settings = deployment.batch_settings(&ghl.url(), "config/mapping.toml");
    settings.api.mapping_file = Some(mapping_file);
    settings.api.lms_base_urls = [
        ("talentlms", lms.base_url(Platform::TalentLms)),
        ("trainual", lms.base_url(Platform::Trainual)),
    ]
    .into_iter()
    .collect();
    // The worker as its binary builds it from the same settings (realtime budget, its DLQ).
    let worker = deployment
        .worker_with_settings(WorkerSettings {
            dead_letter_queue_url: deployment.dlq_url.clone(),
            background: false,
            ..settings.api.clone()
        })
        .await;
    Batch {
        deployment,
        ghl,
        lms,
        settings,
        worker,
        _fail_points: fail_points,
    }
}

impl Batch {
    pub async fn runner(&self, tuning: BatchTuning) -> BatchRunner {
        self.deployment.batch_runner(&self.settings, tuning).await
    }

    /// Every message on `queue_url`, deleted as it is read.
    pub async fn take(&self, queue_url: &str) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let output = devkit::sqs::receive(&self.deployment.sqs, queue_url)
                .wait_time_seconds(0)
                .send()
                .await
                .unwrap_or_else(|e| panic!("receive: {e:?}"));
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return bodies;
            }
            for m in messages {
                if let Some(receipt) = m.receipt_handle() {
                    self.deployment
                        .sqs
                        .delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(receipt)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("delete: {e:?}"));
                }
                bodies.push(m.body.unwrap_or_default());
            }
        }
    }

    /// The batch queue's messages through the worker; their event kinds.
    pub async fn drain(&self) -> Vec<String> {
        let bodies = self.take(&self.settings.batch_queue_url).await;
        let mut kinds = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            let id = format!("m{i}");
            let outcome = self.worker.handle(Message { id: &id, body }, None).await;
            assert!(
                matches!(
                    outcome,
                    RecordOutcome::Synced { .. } | RecordOutcome::AlreadySynced
                ),
                "{outcome:?} for {body}"
            );
            let envelope = lms_ghl::contract::decode(body).unwrap_or_else(|e| panic!("{e}"));
            kinds.push(envelope.event.kind().to_owned());
        }
        kinds
    }

    /// Requests other than reads (routed ones: a refused request wrote nothing).
    pub fn lms_writes(&self, platform: Platform) -> u64 {
        writes(&self.lms.stats(platform).routes)
    }

    pub fn ghl_writes(&self) -> u64 {
        writes(&self.ghl.stats().routes) - self.ghl.stats().route("POST", "/contacts/search")
    }
}

pub fn writes(routes: &BTreeMap<String, u64>) -> u64 {
    routes
        .iter()
        .filter(|(route, _)| !route.starts_with("GET "))
        .map(|(_, n)| n)
        .sum()
}

impl Batch {}

pub fn email(i: usize) -> String {
    format!("learner{i:04}@example.com")
}

/// `n` contacts tagged `enroll` in GHL, each a Trainual learner the sync made (a contact link
/// and a mirror as the worker records them): a location and an account in step.
pub async fn in_step(b: &Batch, n: usize) -> Vec<(String, u64)> {
    let contacts = b
        .ghl
        .seed_contacts(
            DEFAULT_LOCATION_ID,
            (0..n).map(|i| ContactSeed {
                first_name: Some("Learner".into()),
                last_name: Some(format!("N{i}")),
                tags: vec!["enroll".into()],
                ..ContactSeed::email(&email(i))
            }),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let table = b.deployment.table();
    let source = SourcePlatform::try_from("trainual".to_owned()).unwrap_or_else(|e| panic!("{e}"));
    let mut pairs = Vec::new();
    for (i, contact) in contacts.iter().enumerate() {
        let user = b
            .lms
            .seed_trainual_user(&email(i), &format!("Learner N{i}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let address = Email::try_from(email(i)).unwrap_or_else(|e| panic!("{e}"));
        let identity = lms_ghl::worker::learner_identity(
            &address,
            Some("Learner"),
            Some(&format!("N{i}")),
            &BTreeMap::new(),
        );
        table
            .put_contact(&ContactLink {
                source: source.clone(),
                source_user_id: user.id.to_string(),
                location_id: DEFAULT_LOCATION_ID.into(),
                contact_id: contact.id.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mirror = LearnerMirror {
            lms_user_id: user.id.to_string(),
            identity,
            active: true,
            ..LearnerMirror::default()
        };
        assert!(
            table
                .put_mirror("handbook", &contact.id, &mirror)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        );
        pairs.push((contact.id.clone(), user.id));
    }
    pairs
}

/// A client of the LMS sandbox's account (`secret` as the deployment would store it) without a
/// rate budget: a test's own changes on the LMS side, made as a person would.
fn sandbox_client<C, S>(
    base_url: &str,
    secret: &str,
    new: impl FnOnce(
        &lms_ghl::lms::LmsConfig,
        reqwest::Client,
        lms_ghl::secrets::CachedSecret<S>,
        std::sync::Arc<dyn lms_ghl::http::RateBudget>,
    ) -> Result<C, lms_ghl::lms::LmsConfigError>,
) -> C
where
    S: serde::de::DeserializeOwned + Send + Sync,
{
    new(
        &lms_ghl::lms::LmsConfig {
            base_url: Some(base_url.to_owned()),
            retry: Default::default(),
        },
        reqwest::Client::new(),
        lms_ghl::secrets::CachedSecret::new(
            std::sync::Arc::new(lms_ghl::memory::MemorySecrets::default().with("t", secret)),
            "t",
            std::time::Duration::from_secs(60),
        ),
        std::sync::Arc::new(lms_ghl::http::Unlimited),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

pub fn talentlms_client(base_url: &str) -> lms_ghl::lms::TalentLmsClient {
    let secret = format!(r#"{{"domain":"sandbox","apiKey":"{DEFAULT_TALENTLMS_API_KEY}"}}"#);
    sandbox_client(base_url, &secret, lms_ghl::lms::TalentLmsClient::new)
}

pub fn trainual_client(base_url: &str) -> lms_ghl::lms::TrainualClient {
    let secret =
        format!(r#"{{"email":"{DEFAULT_TRAINUAL_USERNAME}","password":"{DEFAULT_TRAINUAL_PASSWORD}"}}"#);
    sandbox_client(base_url, &secret, lms_ghl::lms::TrainualClient::new)
}
