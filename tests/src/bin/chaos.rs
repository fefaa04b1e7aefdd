//! The chaos run (issue 10, docs/reliability.md): mixed LMS events through the real ingest
//! services and the real worker binary's code (`worker-once`, one process per SQS batch, as Lambda
//! runs it) on moto, against the GHL sandbox answering 429s, 5xx and dropped connections, with
//! answers lost after the request was carried out, every webhook delivered twice (some at once), some queue messages delivered twice, some worker
//! processes killed mid-event (a fail point right after a GHL create, or SIGKILL at a random
//! moment) and the OAuth access token expiring mid-run. The same events then run once, calmly, on a
//! fresh deployment and sandbox; the two GHL states must be equal: nothing lost, nothing doubled,
//! and every dead letter explained.
//!
//!   chaos [--events 500] [--seed 7] [--workers 3]     (AWS_ENDPOINT_URL: moto; scripts/test, scripts/chaos)
//!
//! Exits 1 with the differences when the states differ or a dead letter cannot be explained.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use devkit::provision::Timing;
use ghl_sandbox::{DEFAULT_LOCATION_ID, FaultConfig, Latency, Sandbox, SandboxConfig};
use integration_tests::aws_faults::AwsFaults;
use integration_tests::{Deployment, api_request, oauth_secret, response_json, sign_now};
use lms_ghl::ingest::{IngestService, Trigger};
use lms_ghl::ports::SecretSource;
use tokio::time::Instant;

/// The worker's invocation length (its claims' lifetime) against the queue's visibility timeout
/// and receives: the template's ratios (claim < visibility, receives × visibility ≫ claim).
const TIMING: Timing = Timing {
    claim_secs: 25,
    visibility_timeout_secs: 30,
    max_receive_count: 10,
};

/// The chaos mapping's file name in a run's work directory, and its learning records' object.
const MAPPING: &str = "mapping.toml";
const RECORD_OBJECT: &str = "course_enrollments";

fn record_object() -> lms_ghl::ghl::enrollments::EnrollmentObject {
    lms_ghl::ghl::enrollments::EnrollmentObject::new(RECORD_OBJECT, lms_ghl::learning::RecordField::ALL)
}

fn arg(name: &str, default: u64) -> u64 {
    integration_tests::flag(name, default)
}

/// One webhook: the route it is posted to and its body.
#[derive(Clone)]
struct Delivery {
    trigger: Trigger,
    path: &'static str,
    body: String,
}

/// Three events per learner, each kind's effects independent of the others' order: the learner
/// (upsert, tags, welcome task), a course completion (task, tags, note, a field), and a sender's
/// task or note (alternately).
fn events(count: u64, rng: &mut fastrand::Rng) -> Vec<Delivery> {
    let learners = count.div_ceil(3);
    let mut all = Vec::new();
    for k in 0..learners {
        let learner = |id: &str| serde_json::json!({"id": id, "email": format!("learner{k}@example.com"), "first_name": "Chaos", "last_name": format!("Learner{k}")});
        all.push(Delivery {
            trigger: Trigger::LearnerCreated,
            path: "/learner-created/generic",
            body: serde_json::json!({
                "event_id": format!("chaos-{k}-created"), "event_type": "learner.created", "source": "talentlms",
                "occurred_at": "2025-11-22T11:00:00Z", "learner": learner(&format!("u-{k}")),
                "course": {"id": "118", "title": "Orbital Mechanics"}
            })
            .to_string(),
        });
        all.push(Delivery {
            trigger: Trigger::MilestoneCompleted,
            path: "/milestone-completed/generic",
            body: serde_json::json!({
                "event_id": format!("chaos-{k}-completed"), "event_type": "milestone.completed", "source": "talentlms",
                "occurred_at": "2025-11-25T14:30:00Z", "learner": learner(&format!("u-{k}")),
                "milestone": {"kind": "course", "id": format!("course-{}", k % 7), "title": format!("Course {}", k % 7),
                    "course": {"id": format!("course-{}", k % 7), "title": format!("Course {}", k % 7)}, "score": 90}
            })
            .to_string(),
        });
        all.push(if k % 2 == 0 {
            Delivery {
                trigger: Trigger::MilestoneCompleted,
                path: "/milestone-completed/generic",
                body: serde_json::json!({
                    "event_id": format!("chaos-{k}-task"), "event_type": "task.created", "source": "talknotes",
                    "occurred_at": "2025-11-24T10:05:00Z", "learner": learner(&format!("u-{k}")),
                    "task": {"id": format!("task-{k}"), "title": format!("Follow up with learner {k}"),
                        "body": "From the coaching call.", "due_at": "2025-11-28T17:00:00Z"}
                })
                .to_string(),
            }
        } else {
            Delivery {
                trigger: Trigger::NoteAdded,
                path: "/note-added/generic",
                body: serde_json::json!({
                    "event_id": format!("chaos-{k}-note"), "event_type": "note.added", "source": "talknotes",
                    "occurred_at": "2025-11-24T10:04:00Z", "learner": learner(&format!("u-{k}")),
                    "note": {"id": format!("note-{k}"), "title": "Coaching call", "content": format!("Learner {k} is on track."),
                        "author": "Dorothy Vaughan"},
                    "context": {"department": format!("Department {}", k % 5)}
                })
                .to_string(),
            }
        });
    }
    all.truncate(usize::try_from(count).unwrap_or(usize::MAX));
    rng.shuffle(&mut all);
    all
}

/// What one run did, for the report.
#[derive(Default)]
struct Counters {
    deliveries: AtomicU64,
    sender_retries: AtomicU64,
    invocations: AtomicU64,
    killed: AtomicU64,
    failpoint_deaths: AtomicU64,
    queue_duplicates: AtomicU64,
    redelivered_records: AtomicU64,
    failed_deletes: AtomicU64,
}

struct Run {
    deployment: Deployment,
    ghl: Sandbox,
    /// The fault proxy in front of moto that the ingest services and the workers talk to (chaos).
    aws: Option<AwsFaults>,
    chaos: bool,
    counters: Counters,
    worker_once: PathBuf,
    work: PathBuf,
}

impl Run {
    async fn start(chaos: bool, seed: u64) -> Result<Self> {
        let deployment = Deployment::with_timing(TIMING).await;
        let mut config = SandboxConfig::default().with_oauth_client("client-1", "client-secret");
        config.seed = seed;
        let ghl = Sandbox::start(config).await.context("starting the GHL sandbox")?;
        // The learning records' object, installed as `lms-sync-ops schema install` does, before
        // the faults begin.
        ghl.add_private_token(DEFAULT_LOCATION_ID, &deployment.ghl_token)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        integration_tests::client_with_token(&ghl.url(), &deployment.ghl_token)
            .install_enrollment_object(&record_object(), false)
            .await
            .context("installing the learning records' object")?;
        if chaos {
            ghl.set_faults(FaultConfig {
                rate_429: 0.05,
                rate_5xx: 0.03,
                rate_drop: 0.02,
                rate_lost_answer: 0.02,
                latency: Latency::Uniform(Duration::ZERO, Duration::from_millis(20)),
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let aws = if chaos {
            let moto = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL (moto) is not set")?;
            let faults = FaultConfig {
                rate_429: 0.01,
                rate_5xx: 0.01,
                rate_drop: 0.005,
                rate_lost_answer: 0.005,
                latency: Latency::None,
            };
            Some(AwsFaults::start(&moto, faults, seed).await?)
        } else {
            None
        };
        // OAuth, starting with an expired access token: the first worker refreshes it.
        ghl.add_refresh_token(DEFAULT_LOCATION_ID, "client-1", "refresh-1")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let secret = oauth_secret("expired-access", "refresh-1", integration_tests::now() - 10)
            .replace(integration_tests::LOCATION_ID, DEFAULT_LOCATION_ID);
        lms_ghl::aws::SecretsManager::new(aws_sdk_secretsmanager::Client::new(&deployment.sdk))
            .put_secret_string(&deployment.ghl_secret_id, &secrecy::SecretString::from(secret))
            .await?;
        let worker_once = std::env::current_exe()?
            .parent()
            .context("no directory for this binary")?
            .join("worker-once");
        let work = std::env::temp_dir().join(format!("chaos-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&work)?;
        // The bundled mapping with learning records kept for the generic (TalentLMS) events.
        let bundled =
            std::fs::read_to_string(PathBuf::from(integration_tests::ROOT).join("config/mapping.toml"))?;
        std::fs::write(
            work.join(MAPPING),
            format!(
                "{bundled}\n[learning_records]\nobject_key = \"{RECORD_OBJECT}\"\nproviders = [\"talentlms\"]\n"
            ),
        )?;
        Ok(Self {
            deployment,
            ghl,
            aws,
            chaos,
            counters: Counters::default(),
            worker_once,
            work,
        })
    }

    /// Posts a delivery until the service accepts it (2xx), as a sender retries a 5xx or 503.
    async fn deliver(&self, service: &IngestService, delivery: &Delivery) -> Result<()> {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            self.counters.deliveries.fetch_add(1, Ordering::Relaxed);
            let request = api_request(
                delivery.path,
                &[
                    ("content-type", "application/json"),
                    ("x-webhook-signature", &sign_now(&delivery.body)),
                ],
                &delivery.body,
            );
            let (status, body) = response_json(lms_ghl::lambda::serve_ingest(service, request).await);
            match status {
                200..=299 => return Ok(()),
                500..=599 if Instant::now() < until => {
                    self.counters.sender_retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => bail!("{} answered {status}: {body}", delivery.path),
            }
        }
    }

    /// Every delivery once (calm) or twice, a third of them at the same moment (chaos), four
    /// senders at a time; the access token expires halfway.
    async fn ingest(&self, deliveries: &[Delivery], rng: &mut fastrand::Rng, backlog: u64) -> Result<()> {
        use futures_util::{StreamExt, TryStreamExt};
        let services: BTreeMap<&str, IngestService> = [
            Trigger::LearnerCreated,
            Trigger::MilestoneCompleted,
            Trigger::NoteAdded,
        ]
        .into_iter()
        .map(|t| {
            let service = match &self.aws {
                Some(aws) => self.deployment.ingest_via(
                    t,
                    &self.deployment.sdk.to_builder().endpoint_url(&aws.url).build(),
                ),
                None => self.deployment.ingest_for(t),
            };
            (t.name(), service)
        })
        .collect();
        let at_once: Vec<bool> = deliveries.iter().map(|_| rng.u8(..3) == 0).collect();
        let sent = AtomicU64::new(0);
        futures_util::stream::iter(deliveries.iter().zip(at_once).enumerate())
            .map(|(i, (delivery, at_once))| {
                let (services, sent) = (&services, &sent);
                async move {
                    // `--backlog N`: senders pause while more than N messages wait, every 25
                    // events. moto's receive scans the whole queue, so a long run whose ingest
                    // outruns the workers would otherwise slow to a crawl.
                    if backlog > 0 && i % 25 == 0 {
                        while self.deployment.visible_messages(&self.deployment.queue_url).await as u64
                            > backlog
                        {
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    }
                    let service = &services[delivery.trigger.name()];
                    if !self.chaos {
                        self.deliver(service, delivery).await?;
                    } else if at_once {
                        let (a, b) =
                            tokio::join!(self.deliver(service, delivery), self.deliver(service, delivery));
                        a?;
                        b?;
                    } else {
                        self.deliver(service, delivery).await?;
                        self.deliver(service, delivery).await?;
                    }
                    if self.chaos && sent.fetch_add(1, Ordering::Relaxed) + 1 == deliveries.len() as u64 / 2 {
                        self.ghl.expire_access_tokens();
                        eprintln!(
                            "[chaos] access token expired after {} events",
                            deliveries.len() / 2
                        );
                    }
                    Ok::<_, anyhow::Error>(())
                }
            })
            .buffer_unordered(4)
            .try_collect::<()>()
            .await
    }

    /// One poller: receives a batch, runs it through a `worker-once` process (killed now and
    /// then, in chaos), deletes what the worker reports done.
    async fn poll(&self, seed: u64, stop: &AtomicBool) -> Result<()> {
        let sqs = &self.deployment.sqs;
        let queue = &self.deployment.queue_url;
        let region = self
            .deployment
            .sdk
            .region()
            .map_or("us-east-1".to_owned(), |r| r.to_string());
        let mut rng = fastrand::Rng::with_seed(seed);
        while !stop.load(Ordering::Relaxed) {
            let output = devkit::sqs::receive(sqs, queue)
                .wait_time_seconds(1)
                .send()
                .await
                .context("receiving")?;
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                continue;
            }
            let mut event = SqsEvent::default();
            for message in messages {
                if message
                    .attributes
                    .as_ref()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .is_some_and(|n| n != "1")
                {
                    self.counters.redelivered_records.fetch_add(1, Ordering::Relaxed);
                }
                // SQS delivers at least once: now and then the same message twice.
                if self.chaos && rng.u8(..100) < 3 {
                    self.counters.queue_duplicates.fetch_add(1, Ordering::Relaxed);
                    sqs.send_message()
                        .queue_url(queue)
                        .message_body(message.body.clone().unwrap_or_default())
                        .send()
                        .await
                        .context("duplicating a message")?;
                }
                event.records.push(devkit::sqs::lambda_record(
                    message,
                    &self.deployment.queue_arn,
                    &region,
                ));
            }
            let done = self.invoke(&event, &mut rng).await?;
            for record in event
                .records
                .iter()
                .filter(|r| done.contains(r.message_id.as_deref().unwrap_or_default()))
            {
                if let Some(receipt) = record.receipt_handle.as_deref() {
                    // As Lambda's event source: a failed delete (a stale receipt handle, once the
                    // message was received again) leaves the message to come back, and the
                    // worker finds it done.
                    if let Err(e) = sqs
                        .delete_message()
                        .queue_url(queue)
                        .receipt_handle(receipt)
                        .send()
                        .await
                    {
                        self.counters.failed_deletes.fetch_add(1, Ordering::Relaxed);
                        eprintln!(
                            "[chaos] deleting a done message failed ({}); it comes back",
                            aws_sdk_sqs::error::DisplayErrorContext(&e)
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// The message ids the worker process finished (none when it died).
    async fn invoke(&self, event: &SqsEvent, rng: &mut fastrand::Rng) -> Result<BTreeSet<String>> {
        self.counters.invocations.fetch_add(1, Ordering::Relaxed);
        let file = self.work.join(format!("{}.json", uuid::Uuid::new_v4().simple()));
        std::fs::write(&file, serde_json::to_vec(event)?)?;
        let mut command = tokio::process::Command::new(&self.worker_once);
        command
            .arg(&file)
            .envs(self.deployment.worker_env(&self.ghl.url()))
            .env("DEADLINE_MS", (u64::from(TIMING.claim_secs) * 1000).to_string())
            .env("RUST_LOG", "warn")
            .env("MAPPING_FILE", self.work.join(MAPPING))
            .env(
                "AWS_ENDPOINT_URL",
                self.aws.as_ref().map_or_else(
                    || std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
                    |aws| aws.url.clone(),
                ),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let dice = rng.u8(..100);
        let failpoint = self.chaos && dice < 6;
        let sigkill = self.chaos && (6..10).contains(&dice);
        if failpoint {
            // Dies right after a GHL create, before the entity map hears of it.
            command.env("FAILPOINTS", "after-ghl-create=50%panic");
        }
        let child = command.spawn().context("starting worker-once")?;
        let output = if sigkill {
            let mut child = child;
            tokio::time::sleep(Duration::from_millis(rng.u64(20..500))).await;
            let _ = child.start_kill();
            let output = child.wait_with_output().await?;
            if !output.status.success() {
                self.counters.killed.fetch_add(1, Ordering::Relaxed);
            }
            output
        } else {
            child.wait_with_output().await?
        };
        let _ = std::fs::remove_file(&file);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let answer = stdout
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str::<SqsBatchResponse>(line).ok());
        let Some(answer) = answer.filter(|_| output.status.success()) else {
            if failpoint {
                self.counters.failpoint_deaths.fetch_add(1, Ordering::Relaxed);
            } else if !sigkill {
                bail!(
                    "worker-once failed unprovoked ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            return Ok(BTreeSet::new());
        };
        let failed: BTreeSet<&str> = answer
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        Ok(event
            .records
            .iter()
            .filter_map(|r| r.message_id.clone())
            .filter(|id| !failed.contains(id.as_str()))
            .collect())
    }

    /// Ingest and workers side by side until every accepted event has left the queue.
    async fn go(
        &self,
        deliveries: &[Delivery],
        workers: u64,
        seed: u64,
        within: Duration,
        backlog: u64,
    ) -> Result<Duration> {
        let started = Instant::now();
        let stop = AtomicBool::new(false);
        let pollers =
            futures_util::future::try_join_all((0..workers).map(|w| self.poll(seed * 100 + w, &stop)));
        let drive = async {
            let mut rng = fastrand::Rng::with_seed(seed);
            self.ingest(deliveries, &mut rng, backlog).await?;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let left = self.deployment.visible_messages(&self.deployment.queue_url).await;
                if left == 0 {
                    stop.store(true, Ordering::Relaxed);
                    return Ok::<_, anyhow::Error>(());
                }
                if started.elapsed() > within {
                    stop.store(true, Ordering::Relaxed);
                    bail!("{left} message(s) still on the queue after {within:?}");
                }
            }
        };
        // The outbox's Pipe, straight to moto (it is AWS's, outside the functions' faults).
        let relay = async {
            while !stop.load(Ordering::Relaxed) {
                self.deployment.relay().await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok::<_, anyhow::Error>(())
        };
        // A long run says where it is every 30 s rather than going quiet.
        let progress = async {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if started.elapsed().as_secs().is_multiple_of(30) {
                    eprintln!(
                        "[chaos] {} side, {} s: {} deliveries, {} worker processes, {} message(s) on the queue",
                        if self.chaos { "chaos" } else { "calm" },
                        started.elapsed().as_secs(),
                        self.counters.deliveries.load(Ordering::Relaxed),
                        self.counters.invocations.load(Ordering::Relaxed),
                        self.deployment.visible_messages(&self.deployment.queue_url).await
                    );
                }
            }
            Ok::<_, anyhow::Error>(())
        };
        tokio::try_join!(pollers, drive, relay, progress)?;
        Ok(started.elapsed())
    }

    /// GHL's state by learner email: contacts, tags, fields, tasks, notes and learning records
    /// (ids left out).
    fn state(&self) -> BTreeMap<String, Vec<String>> {
        let mut state: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for contact in self.ghl.contacts(DEFAULT_LOCATION_ID) {
            let email = contact
                .email
                .clone()
                .unwrap_or_else(|| format!("(no email) {}", contact.id));
            let facts = state.entry(email).or_default();
            facts.push("contact".to_owned());
            let mut tags = contact.tags.clone();
            tags.sort();
            facts.push(format!("tags {tags:?}"));
            facts.push(format!("fields {:?}", contact.custom_fields));
            for task in self.ghl.tasks(DEFAULT_LOCATION_ID, &contact.id) {
                facts.push(format!(
                    "task {:?} {:?} completed={}",
                    task.title, task.body, task.completed
                ));
            }
            for note in self.ghl.notes(DEFAULT_LOCATION_ID, &contact.id) {
                facts.push(format!("note {:?}", note.body));
            }
        }
        // Each learning record under the contact it is linked to (or unlinked).
        let emails: BTreeMap<String, String> = self
            .ghl
            .contacts(DEFAULT_LOCATION_ID)
            .into_iter()
            .map(|c| {
                (
                    c.id.clone(),
                    c.email.clone().unwrap_or_else(|| format!("(no email) {}", c.id)),
                )
            })
            .collect();
        let relations = self.ghl.relations(DEFAULT_LOCATION_ID);
        for record in self.ghl.records(DEFAULT_LOCATION_ID, &record_object().key) {
            let linked: Vec<&String> = relations
                .iter()
                .filter_map(|r| {
                    if r.first_record_id == record.id {
                        emails.get(&r.second_record_id)
                    } else if r.second_record_id == record.id {
                        emails.get(&r.first_record_id)
                    } else {
                        None
                    }
                })
                .collect();
            let fact = format!(
                "record {:?}",
                serde_json::Value::Object(record.properties.clone())
            );
            match linked.as_slice() {
                [email] => state.entry((*email).clone()).or_default().push(fact),
                _ => state
                    .entry(format!("(record linked to {} contacts)", linked.len()))
                    .or_default()
                    .push(fact),
            }
        }
        for facts in state.values_mut() {
            facts.sort();
        }
        state
    }

    /// Each dead letter with its explanation, or the reason it has none.
    async fn dead_letters(&self) -> Result<Vec<(String, Option<String>)>> {
        let claims =
            lms_ghl::idempotency::Idempotency::new(Arc::new(self.deployment.table()), Duration::ZERO);
        let mut found = Vec::new();
        loop {
            let output = devkit::sqs::receive(&self.deployment.sqs, &self.deployment.dlq_url)
                .wait_time_seconds(0)
                .visibility_timeout(60)
                .send()
                .await?;
            let messages = output.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(found);
            }
            for message in messages {
                let reason = message
                    .message_attributes
                    .as_ref()
                    .and_then(|a| a.get("error_reason"))
                    .and_then(|v| v.string_value.clone());
                let body = message.body.unwrap_or_default();
                let why = lms_ghl::worker::dead_letter_reason(
                    &claims,
                    &body,
                    reason.as_deref(),
                    time::OffsetDateTime::now_utc(),
                )
                .await
                .ok();
                found.push((body.chars().take(120).collect(), why));
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let count = arg("events", 500);
    let seed = arg("seed", 7);
    let workers = arg("workers", 3);
    let backlog = arg("backlog", 0);
    // Generous: the ingest and the drain of a healthy run take about half of it (500 events:
    // about 6 minutes on the chaos side, learning records included, bounded by the sandbox's
    // 100 requests / 10 s).
    let within = Duration::from_secs(180 + count * 6 / 5);
    let deliveries = events(count, &mut fastrand::Rng::with_seed(seed));

    // `--together`: the calm side runs beside the chaos side instead of after it. Each side has
    // its own GHL sandbox (so its own 100 / 10 s budget), queue and tables; a long run is bounded
    // by that budget, so side by side it takes about half the time on an otherwise quiet machine.
    let together = std::env::args().any(|a| a == "--together");
    let chaos = Run::start(true, seed).await?;
    let calm = Run::start(false, seed).await?;
    let (elapsed, calm_elapsed) = if together {
        tokio::try_join!(
            chaos.go(&deliveries, workers, seed, within, backlog),
            calm.go(&deliveries, workers, seed, within, backlog)
        )?
    } else {
        let elapsed = chaos.go(&deliveries, workers, seed, within, backlog).await?;
        (
            elapsed,
            calm.go(&deliveries, workers, seed, within, backlog).await?,
        )
    };
    let stats = chaos.ghl.stats();
    let c = &chaos.counters;
    println!(
        "[chaos] {count} events, {} deliveries ({} sender retries) in {:.1} s; {} worker processes, {} killed mid-batch, {} died at the fail point; {} queue duplicates, {} records redelivered, {} deletes failed; GHL: {} requests, {} answered 429, {} 5xx, {} dropped, {} carried out with the answer lost, {} token refreshes",
        c.deliveries.load(Ordering::Relaxed),
        c.sender_retries.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        c.invocations.load(Ordering::Relaxed),
        c.killed.load(Ordering::Relaxed),
        c.failpoint_deaths.load(Ordering::Relaxed),
        c.queue_duplicates.load(Ordering::Relaxed),
        c.redelivered_records.load(Ordering::Relaxed),
        c.failed_deletes.load(Ordering::Relaxed),
        stats.total_requests,
        stats.injected_429,
        stats.injected_5xx,
        stats.injected_drops,
        stats.injected_lost_answers,
        stats.token_success,
    );

    if let Some(aws) = &chaos.aws {
        let s = &aws.stats;
        println!(
            "[chaos] AWS (moto behind the fault proxy): {} requests, {} throttled, {} 5xx, {} dropped, {} carried out with the answer lost",
            s.requests.load(Ordering::Relaxed),
            s.throttled.load(Ordering::Relaxed),
            s.server_errors.load(Ordering::Relaxed),
            s.dropped.load(Ordering::Relaxed),
            s.lost_answers.load(Ordering::Relaxed),
        );
    }

    println!(
        "[chaos] the same events once, without faults: {:.1} s, {} GHL requests",
        calm_elapsed.as_secs_f64(),
        calm.ghl.stats().total_requests
    );

    let (got, want) = (chaos.state(), calm.state());
    let mut lost = Vec::new();
    let mut doubled = Vec::new();
    for email in want.keys().chain(got.keys()).collect::<BTreeSet<_>>() {
        let (g, w) = (
            got.get(email).cloned().unwrap_or_default(),
            want.get(email).cloned().unwrap_or_default(),
        );
        let mut extra = g.clone();
        for fact in &w {
            match extra.iter().position(|f| f == fact) {
                Some(i) => {
                    extra.remove(i);
                }
                None => lost.push(format!("{email}: {fact}")),
            }
        }
        doubled.extend(extra.into_iter().map(|fact| format!("{email}: {fact}")));
    }
    let dead = chaos.dead_letters().await?;
    let unexplained: Vec<_> = dead.iter().filter(|(_, why)| why.is_none()).collect();
    for (body, why) in &dead {
        println!(
            "[chaos] dead letter: {}: {body}",
            why.as_deref().unwrap_or("UNEXPLAINED")
        );
    }
    let facts: usize = want.values().map(Vec::len).sum();
    // The calm side is the reference, so it is checked against the mapping too: a learner is a
    // contact, its tags, its fields, a welcome task and its course's learning record; a completion
    // adds a task, a note and a record (its tags and field join the contact's); a sender's task or
    // note is one more.
    let count = |path: &str| deliveries.iter().filter(|d| d.path == path).count();
    let learners = count("/learner-created/generic");
    let completions = deliveries
        .iter()
        .filter(|d| d.body.contains("\"milestone.completed\""))
        .count();
    // Each learner's course and each completed course is a learning record too.
    let expected = learners * 5 + completions * 3 + (deliveries.len() - learners - completions);
    if facts != expected || want.len() != learners {
        bail!(
            "the calm run itself is off: {} learners and {facts} facts, expected {learners} and {expected}",
            want.len()
        );
    }
    println!(
        "[chaos] GHL state: {} learners, {facts} facts expected; lost {}, duplicated {}; dead letters {} ({} unexplained)",
        want.len(),
        lost.len(),
        doubled.len(),
        dead.len(),
        unexplained.len()
    );
    for fact in lost.iter().take(20) {
        println!("[chaos] lost: {fact}");
    }
    for fact in doubled.iter().take(20) {
        println!("[chaos] duplicated: {fact}");
    }
    let _ = std::fs::remove_dir_all(&chaos.work);
    let _ = std::fs::remove_dir_all(&calm.work);
    // Facts that are missing because their event was parked with a reason are explained, not lost;
    // this run's faults are all transient, so a parked event is itself a finding.
    if !lost.is_empty() || !doubled.is_empty() || !dead.is_empty() {
        bail!("the chaos run's GHL state differs from the calm run's, or events were parked");
    }
    println!("[chaos] passed: 0 lost, 0 duplicated, 0 parked");
    Ok(())
}
