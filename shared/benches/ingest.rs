//! Ingest pipeline cost per delivery, without I/O: route, auth (Basic or HMAC), parse, normalise,
//! idempotency claim and enqueue on the in-memory adapters. Prints its figures; no assertions.
//!
//!   cargo bench -p lms-ghl-shared --bench ingest

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use http::{HeaderMap, HeaderValue, Method};
use lms_ghl::clock::SystemClock;
use lms_ghl::idempotency::Idempotency;
use lms_ghl::ingest::{IngestRequest, IngestService, Trigger, signature};
use lms_ghl::memory::{MemoryIdempotencyStore, MemoryQueue, MemorySecrets};
use lms_ghl::secrets::CachedSecret;
use secrecy::SecretString;

const SECRETS: &str = include_str!("../../config/local/webhooks.json");
const SKILLJAR: &str = include_str!("../../tests/fixtures/skilljar/course_enrollment.json");
const GENERIC: &str = include_str!("../../tests/fixtures/generic/learner_created.json");

fn service() -> (IngestService, Arc<MemoryQueue>) {
    let queue = Arc::new(MemoryQueue::default());
    let secrets = Arc::new(MemorySecrets::default().with("webhooks", SECRETS));
    let service = IngestService::new(
        Trigger::LearnerCreated,
        Idempotency::new(
            Arc::new(MemoryIdempotencyStore::with_outbox(queue.clone())),
            Duration::from_secs(3600),
        ),
        CachedSecret::new(secrets, "webhooks", Duration::from_secs(300)),
        Arc::new(SystemClock),
    );
    (service, queue)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

async fn run(name: &str, path: &str, bodies: &[String], headers: impl Fn(&str) -> HeaderMap) {
    let n = bodies.len();
    let (service, queue) = service();
    let prepared: Vec<(HeaderMap, &String)> = bodies.iter().map(|b| (headers(b), b)).collect();
    // Each delivery is timed on its own too (two clock reads, ~50 ns) for p50 / p99.
    let mut each = Vec::with_capacity(n);
    let start = Instant::now();
    for (headers, body) in &prepared {
        let one = Instant::now();
        let response = service
            .handle(IngestRequest {
                method: &Method::POST,
                path,
                headers,
                body: body.as_bytes(),
                request_id: Some("bench"),
            })
            .await;
        std::hint::black_box(response);
        each.push(one.elapsed());
    }
    let elapsed = start.elapsed();
    each.sort();
    let percentile = |p: f64| {
        let index = ((each.len().saturating_sub(1)) as f64 * p).round() as usize;
        each.get(index).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    println!(
        "{name:<28} {n} deliveries in {:>7.1} ms: {:>6.1} µs each (p50 {:.1}, p99 {:.1}), {:>7.0} /s; queued {}",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / n as f64,
        percentile(0.5),
        percentile(0.99),
        n as f64 / elapsed.as_secs_f64(),
        queue.messages().len()
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this too, as a quick check.
    let n = if std::env::args().any(|a| a == "--bench") {
        20_000
    } else {
        200
    };
    // Distinct deliveries, so that every one is claimed and queued (the expensive path).
    let skilljar: Vec<String> = (0..n)
        .map(|i| SKILLJAR.replace("3gh6zcs5x2bz", &format!("user{i:06}")))
        .collect();
    let generic: Vec<String> = (0..n)
        .map(|i| GENERIC.replace("tlms-evt-000123", &format!("evt-{i:06}")))
        .collect();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("skilljar:local-demo-password")
    );
    let secret = SecretString::from("local-demo-signing-secret");

    run("skilljar (Basic auth)", "/skilljar", &skilljar, |_| {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert(
            "authorization",
            HeaderValue::from_str(&basic).unwrap_or(HeaderValue::from_static("")),
        );
        h
    })
    .await;
    run("generic (HMAC-SHA256)", "/generic", &generic, |body| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let sig = signature::sign(&secret, now, body.as_bytes());
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert(
            "x-webhook-signature",
            HeaderValue::from_str(&sig).unwrap_or(HeaderValue::from_static("")),
        );
        h
    })
    .await;
    run(
        "skilljar duplicates",
        "/skilljar",
        &vec![skilljar[0].clone(); n],
        |_| {
            let mut h = HeaderMap::new();
            h.insert("content-type", HeaderValue::from_static("application/json"));
            h.insert(
                "authorization",
                HeaderValue::from_str(&basic).unwrap_or(HeaderValue::from_static("")),
            );
            h
        },
    )
    .await;
    println!(
        "peak RSS {} KiB (includes {n} × 2 queued messages and claims held in memory)",
        peak_rss_kib()
    );
}
