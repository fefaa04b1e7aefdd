//! The ingest path as Lambda runs it: a Runtime API stand-in on 127.0.0.1 feeds API Gateway
//! (HTTP API v2) events carrying distinct Skilljar deliveries to a function process — the release
//! `learner-created` binary, and the Python peer of `benches/peer/` under `awslambdaric` — against
//! the same moto, in the same run. Per process it prints: process start to its first
//! `GET …/invocation/next` (cold start), the first invocation's latency, the warm deliveries'
//! latency (p50 / p99) and rate, the process's own CPU time (user + sys from /proc) and context
//! switches per warm delivery, and its peak RSS; then the Rust : peer ratios. No assertions.
//!
//!   scripts/bench-ingest [--deliveries 1000] [--rounds 1] [--rust LABEL=PATH[,NAME=VALUE…]]… [--no-peer]
//!                        [--repeat-first]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use integration_tests::{Deployment, ROOT};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, timeout};

/// Longest wait for anything: a process's first poll, an invocation's answer.
const WAIT: Duration = Duration::from_secs(30);

const SAMPLE: &str = include_str!("../../../events/learner-created/skilljar-course-enrollment.json");

struct Invocation {
    id: String,
    body: Bytes,
}

/// The function's answer to one invocation: `Ok` for `/response`, `Err` for `/error`.
type Outcome = Result<Bytes, Bytes>;

/// One Runtime API (2018-06-01) endpoint set: `next` hands out queued invocations one at a time,
/// `response` / `error` complete them; `init/error` is recorded.
struct RuntimeApi {
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_next: watch::Sender<Option<Instant>>,
    init_error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}

impl RuntimeApi {
    async fn serve(self: Arc<Self>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
            return Ok(reply(StatusCode::NOT_FOUND, Bytes::new()));
        };
        if method == Method::GET && rest == "invocation/next" {
            self.first_next.send_if_modified(|first| {
                let unset = first.is_none();
                first.get_or_insert_with(Instant::now);
                unset
            });
            // One poller at a time, as in Lambda; it waits until the driver queues an invocation.
            let next = self.queue.lock().await.recv().await;
            let Some(invocation) = next else {
                return Ok(reply(StatusCode::GONE, Bytes::new()));
            };
            let deadline = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000 + 30_000;
            let mut response = reply(StatusCode::OK, invocation.body);
            let headers = response.headers_mut();
            for (name, value) in [
                ("lambda-runtime-aws-request-id", invocation.id),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000".to_owned(),
                ),
                ("content-type", "application/json".to_owned()),
            ] {
                if let Ok(value) = http::HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            }
            return Ok(response);
        }
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if method == Method::POST && rest == "init/error" {
            *lock(&self.init_error) = Some(String::from_utf8_lossy(&body).into_owned());
            return Ok(reply(StatusCode::ACCEPTED, Bytes::new()));
        }
        if method == Method::POST
            && let Some(tail) = rest.strip_prefix("invocation/")
            && let Some((id, kind)) = tail.split_once('/')
        {
            let outcome = match kind {
                "response" => Ok(body),
                "error" => Err(body),
                _ => return Ok(reply(StatusCode::NOT_FOUND, Bytes::new())),
            };
            if let Some(waiter) = lock(&self.pending).remove(id) {
                let _ = waiter.send(outcome);
            }
            return Ok(reply(StatusCode::ACCEPTED, Bytes::new()));
        }
        Ok(reply(StatusCode::NOT_FOUND, Bytes::new()))
    }
}

/// A running stand-in: its address, and the driver's side of the invocation queue.
struct StandIn {
    addr: SocketAddr,
    api: Arc<RuntimeApi>,
    invocations: mpsc::Sender<Invocation>,
    first_next: watch::Receiver<Option<Instant>>,
    task: tokio::task::JoinHandle<()>,
}

impl StandIn {
    async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (invocations, queue) = mpsc::channel(1);
        let (first_tx, first_next) = watch::channel(None);
        let api = Arc::new(RuntimeApi {
            queue: tokio::sync::Mutex::new(queue),
            pending: Mutex::new(HashMap::new()),
            first_next: first_tx,
            init_error: Mutex::new(None),
        });
        let served = Arc::clone(&api);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let api = Arc::clone(&served);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |r| Arc::clone(&api).serve(r));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            api,
            invocations,
            first_next,
            task,
        })
    }

    /// Queues one invocation and waits for its answer; returns it with its latency.
    async fn invoke(&self, id: String, body: Bytes) -> anyhow::Result<(Duration, Outcome)> {
        let (tx, rx) = oneshot::channel();
        lock(&self.api.pending).insert(id.clone(), tx);
        let started = Instant::now();
        self.invocations
            .send(Invocation { id: id.clone(), body })
            .await
            .map_err(|_| anyhow!("the stand-in stopped"))?;
        let outcome = timeout(WAIT, rx)
            .await
            .with_context(|| format!("no answer to invocation {id} within {WAIT:?}"))?
            .context("answer channel closed")?;
        Ok((started.elapsed(), outcome))
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What one function process is, and how to start it.
struct Subject {
    label: String,
    program: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    env: Vec<(String, String)>,
}

#[derive(Default)]
struct Usage {
    user_ticks: u64,
    sys_ticks: u64,
    voluntary: u64,
    involuntary: u64,
}

/// The process's CPU ticks (all threads, live and exited) and context switches (live threads).
fn usage(pid: u32) -> anyhow::Result<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at field 3, the state.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let mut usage = Usage {
        user_ticks: field(14),
        sys_ticks: field(15),
        ..Usage::default()
    };
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))?.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            let value = |l: &str| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            if line.starts_with("voluntary_ctxt_switches:") {
                usage.voluntary += value(line);
            } else if line.starts_with("nonvoluntary_ctxt_switches:") {
                usage.involuntary += value(line);
            }
        }
    }
    Ok(usage)
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// An API Gateway v2 event of the Skilljar sample with its own learner id (so its own
/// idempotency key: every delivery is a new one, accepted with its outbox message) and request id.
fn event(template: &serde_json::Value, run: &str, i: usize) -> anyhow::Result<Bytes> {
    let mut event = template.clone();
    let body = event["body"].as_str().context("sample has no body")?;
    event["body"] = body.replace("3gh6zcs5x2bz", &format!("{run}-{i:06}")).into();
    event["requestContext"]["requestId"] = format!("{run}-{i}").into();
    Ok(Bytes::from(serde_json::to_vec(&event)?))
}

struct Measured {
    label: String,
    cold_start: Duration,
    first_invocation: Duration,
    warm: Vec<Duration>,
    warm_wall: Duration,
    cpu_per_delivery: Duration,
    user_share: f64,
    voluntary: f64,
    involuntary: f64,
    peak_rss_kib: u64,
    accepted: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn status_of(outcome: &Outcome) -> Option<u64> {
    let body = outcome.as_ref().ok()?;
    serde_json::from_slice::<serde_json::Value>(body).ok()?["statusCode"].as_u64()
}

async fn measure(
    subject: &Subject,
    queue_url: &str,
    template: &serde_json::Value,
    deliveries: usize,
    repeat_first: bool,
) -> anyhow::Result<Measured> {
    let stand_in = StandIn::start().await?;
    let logs = PathBuf::from(ROOT).join("target/ingest-bench");
    std::fs::create_dir_all(&logs)?;
    let log_path = logs.join(format!("{}.log", subject.label));
    let log = std::fs::File::create(&log_path)?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();

    let spawned = Instant::now();
    let mut child = tokio::process::Command::new(&subject.program)
        .args(&subject.args)
        .current_dir(&subject.dir)
        .envs(subject.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", stand_in.addr.to_string())
        .env("QUEUE_URL", queue_url)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", subject.program.display()))?;
    let pid = child.id().context("no pid")?;

    let mut first = stand_in.first_next.clone();
    let polled = tokio::select! {
        polled = timeout(WAIT, first.wait_for(Option::is_some)) => polled.map(|v| v.map(|t| *t)),
        exit = child.wait() => bail!(
            "{} exited ({exit:?}) before polling for an invocation; its output is in {}",
            subject.label,
            log_path.display()
        ),
    };
    let Ok(Ok(Some(first_poll))) = polled else {
        bail!(
            "{} did not poll for an invocation within {WAIT:?} (init error: {:?}); its output is in {}",
            subject.label,
            lock(&stand_in.api.init_error).clone(),
            log_path.display()
        );
    };
    let cold_start = first_poll - spawned;

    let mut accepted = 0;
    let (first_invocation, outcome) = stand_in
        .invoke(format!("{run}-0"), event(template, &run, 0)?)
        .await?;
    if status_of(&outcome) == Some(202) {
        accepted += 1;
    } else {
        bail!(
            "{}: the first delivery was not accepted: {outcome:?}; see {}",
            subject.label,
            log_path.display()
        );
    }

    let before = usage(pid)?;
    let mut warm = Vec::with_capacity(deliveries);
    let started = Instant::now();
    for i in 1..=deliveries {
        let (latency, outcome) = stand_in
            .invoke(
                format!("{run}-{i}"),
                event(template, &run, if repeat_first { 0 } else { i })?,
            )
            .await?;
        if matches!(status_of(&outcome), Some(200..=299)) {
            accepted += 1;
        }
        warm.push(latency);
    }
    let warm_wall = started.elapsed();
    let after = usage(pid)?;
    let peak_rss_kib = peak_rss_kib(pid);
    let _ = child.start_kill();
    let _ = timeout(Duration::from_secs(5), child.wait()).await;

    let tick = 1.0 / clock_ticks_per_second();
    let user = (after.user_ticks - before.user_ticks) as f64 * tick;
    let sys = (after.sys_ticks - before.sys_ticks) as f64 * tick;
    let n = deliveries as f64;
    warm.sort();
    Ok(Measured {
        label: subject.label.clone(),
        cold_start,
        first_invocation,
        warm,
        warm_wall,
        cpu_per_delivery: Duration::from_secs_f64((user + sys) / n),
        user_share: if user + sys > 0.0 {
            user / (user + sys)
        } else {
            0.0
        },
        voluntary: after.voluntary.saturating_sub(before.voluntary) as f64 / n,
        involuntary: after.involuntary.saturating_sub(before.involuntary) as f64 / n,
        peak_rss_kib,
        accepted,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(m: &Measured) {
    let n = m.warm.len();
    println!(
        "{:<24} start→first next {:>7.1} ms | first invocation {:>6.1} ms | warm {n}: p50 {:>5.2} ms, p99 {:>5.2} ms, {:>5.0} events/s | CPU {:>5.3} ms/delivery ({:.0} % user) | ctx switches {:.1} vol + {:.1} invol /delivery | peak RSS {:.1} MiB | 2xx {}/{}",
        m.label,
        ms(m.cold_start),
        ms(m.first_invocation),
        ms(percentile(&m.warm, 0.5)),
        ms(percentile(&m.warm, 0.99)),
        n as f64 / m.warm_wall.as_secs_f64(),
        ms(m.cpu_per_delivery),
        m.user_share * 100.0,
        m.voluntary,
        m.involuntary,
        m.peak_rss_kib as f64 / 1024.0,
        m.accepted,
        n + 1,
    );
}

fn args() -> Vec<String> {
    std::env::args().skip(1).collect()
}

fn arg(name: &str, default: usize) -> usize {
    integration_tests::flag(name, default)
}

/// Extra environment variables of one process.
type Env = Vec<(String, String)>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let deliveries = arg("deliveries", 1000);
    let rounds = arg("rounds", 1);
    let root = PathBuf::from(ROOT);
    // `--rust LABEL=PATH[,NAME=VALUE…]`: another build, or the same one with other settings
    // (`RUST_LOG=warn`, say), measured next to the others in the same run.
    let mut rust: Vec<(String, PathBuf, Env)> = args()
        .windows(2)
        .filter(|w| w[0] == "--rust")
        .filter_map(|w| {
            let (label, rest) = w[1].split_once('=')?;
            let mut parts = rest.split(',');
            let path = root.join(parts.next()?);
            let env = parts
                .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
                .collect();
            Some((label.to_owned(), path, env))
        })
        .collect();
    if rust.is_empty() {
        rust.push((
            "learner-created".into(),
            root.join("target/release/learner-created"),
            vec![],
        ));
    }
    let peer = !args().iter().any(|a| a == "--no-peer");
    // `--repeat-first`: every warm delivery repeats the first (a duplicate: one AWS call, the
    // refused claim), which tells the cost of the two calls a new delivery adds.
    let repeat_first = args().iter().any(|a| a == "--repeat-first");

    let deployment = Deployment::new().await;
    // `--keep-alive`: the functions reach moto through a proxy that keeps their connections open
    // (moto's server closes every one), as AWS's endpoints do; the proxy's own work is not counted.
    let proxy = if args().iter().any(|a| a == "--keep-alive") {
        let moto = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        Some(
            integration_tests::aws_faults::AwsFaults::start(&moto, ghl_sandbox::FaultConfig::default(), 0)
                .await
                .unwrap_or_else(|e| panic!("keep-alive proxy: {e}")),
        )
    } else {
        None
    };
    let mut env: Vec<(String, String)> = [
        ("TABLE_NAME", deployment.table.clone()),
        ("QUEUE_URL", deployment.queue_url.clone()),
        ("WEBHOOK_SECRET_ID", deployment.webhook_secret_id.clone()),
        ("AWS_LAMBDA_FUNCTION_NAME", "learner-created".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/learner-created".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for name in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "PATH",
    ] {
        if let Ok(value) = std::env::var(name) {
            env.push((name.to_owned(), value));
        }
    }
    if let Some(proxy) = &proxy {
        env.retain(|(name, _)| name != "AWS_ENDPOINT_URL");
        env.push(("AWS_ENDPOINT_URL".to_owned(), proxy.url.clone()));
    }
    // Lambda sets both; boto3 reads only this one.
    if let Ok(region) = std::env::var("AWS_REGION") {
        env.push(("AWS_DEFAULT_REGION".to_owned(), region));
    }

    let mut subjects: Vec<Subject> = rust
        .into_iter()
        .map(|(label, program, extra)| Subject {
            label,
            program,
            args: vec![],
            dir: root.clone(),
            env: env.iter().cloned().chain(extra).collect(),
        })
        .collect();
    if peer {
        let dir = root.join("benches/peer");
        let python = dir.join(".venv/bin/python");
        if !Path::new(&python).exists() {
            bail!(
                "{} is missing: run through scripts/bench-ingest, which installs the peer",
                python.display()
            );
        }
        let mut peer_env = env.clone();
        peer_env.push(("POWERTOOLS_SERVICE_NAME".into(), "learner-created-peer".into()));
        peer_env.push(("LAMBDA_TASK_ROOT".into(), dir.display().to_string()));
        subjects.push(Subject {
            label: "python-peer".into(),
            program: python,
            args: vec!["-m".into(), "awslambdaric".into(), "handler.handler".into()],
            dir,
            env: peer_env,
        });
    }

    let template: serde_json::Value = serde_json::from_str(SAMPLE)?;
    println!(
        "{deliveries} warm deliveries per process after the first, {rounds} round(s); AWS calls each on moto ({}){}: the Rust functions 1 (the outbox put), the peer 3 (claim, send, complete)",
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
        if proxy.is_some() {
            ", through a keep-alive proxy"
        } else {
            ""
        }
    );
    for round in 1..=rounds {
        let mut results = Vec::new();
        for subject in &subjects {
            // moto slows down as a queue fills (tens of ms per call after a few thousand
            // messages): every process gets an empty queue of its own.
            let queue_url = deployment
                .sqs
                .create_queue()
                .queue_name(format!("ingest-bench-{}", uuid::Uuid::new_v4().simple()))
                .send()
                .await
                .context("creating a queue")?
                .queue_url
                .context("no queue URL")?;
            let measured = measure(subject, &queue_url, &template, deliveries, repeat_first).await?;
            let _ = deployment.sqs.delete_queue().queue_url(&queue_url).send().await;
            report(&measured);
            results.push(measured);
        }
        if let Some(peer) = results.iter().find(|m| m.label == "python-peer") {
            for m in results.iter().filter(|m| m.label != "python-peer") {
                println!(
                    "round {round}: {} / python-peer: CPU per delivery {:.3}, warm p50 {:.2}, start→first next {:.2}, first invocation {:.2}, peak RSS {:.2}",
                    m.label,
                    m.cpu_per_delivery.as_secs_f64() / peer.cpu_per_delivery.as_secs_f64(),
                    ms(percentile(&m.warm, 0.5)) / ms(percentile(&peer.warm, 0.5)),
                    ms(m.cold_start) / ms(peer.cold_start),
                    ms(m.first_invocation) / ms(peer.first_invocation),
                    m.peak_rss_kib as f64 / peer.peak_rss_kib as f64,
                );
            }
        }
    }
    Ok(())
}
