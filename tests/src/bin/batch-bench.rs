//! The daily reconcile at scale: N GHL contacts in step with N Trainual learners (moto's table,
//! the GHL sandbox enforcing GHL's real budget, 100 requests / 10 s), 1 % of them changed (half
//! tagged in GHL, half completing a subject in Trainual), then a reconcile under the batch's
//! background budget, and its changes applied by the worker. Prints GHL calls per contact, the
//! changes queued against the writes they caused, the wall time and the share of GHL's budget.
//!
//!   scripts/bench-batch [--contacts 10000] [--changed-per-mille 10]

use std::time::{Duration, Instant};

use ghl_sandbox::{DEFAULT_PIT, SandboxConfig};
use integration_tests::batch::{SUBJECT, batch_with, in_step};
use lms_ghl::batch::{BatchReport, BatchRequest, BatchTuning, JobKind, Mode, RunSummary};
use lms_ghl::domain::Membership;
use lms_ghl::lms::LmsAccount;
use lms_sandbox::Platform;

fn arg(name: &str, default: u64) -> u64 {
    integration_tests::flag(name, default)
}

fn summary(report: BatchReport) -> RunSummary {
    match report {
        BatchReport::Finished { summary } => summary,
        other => panic!("the run did not finish: {other:?}"),
    }
}

#[tokio::main]
async fn main() {
    let contacts = arg("contacts", 10_000) as usize;
    let changed = (contacts as u64 * arg("changed-per-mille", 10) / 1000).max(2) as usize;
    // GHL's real per-location budget.
    let (max, interval) = (100_u32, Duration::from_secs(10));
    let config = SandboxConfig {
        log_requests: false,
        ..SandboxConfig::default()
    }
    .with_rate_limits(max, interval);
    let b = batch_with(config).await;

    let seeding = Instant::now();
    let pairs = in_step(&b, contacts).await;
    println!(
        "seeded {contacts} contacts and learners in step in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let runner = b.runner(BatchTuning::default()).await;
    let reconcile = BatchRequest {
        job: JobKind::Reconcile,
        target: "handbook".into(),
        mode: Mode::Run,
        since: None,
        run_id: None,
    };
    let deadline = || tokio::time::Instant::now() + Duration::from_secs(3600);
    let first = summary(
        runner
            .run(&reconcile, deadline())
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    println!(
        "first run (no fingerprints yet): {} changes, {:?} calls, {:.1} s",
        first.changes_total(),
        first.calls,
        first.duration_ms as f64 / 1000.0
    );

    // 1 %: half tagged vip in GHL, half completing a subject in Trainual.
    let client = integration_tests::client_with_token(&b.ghl.url(), DEFAULT_PIT);
    let trainual = integration_tests::batch::trainual_client(&b.lms.base_url(Platform::Trainual));
    let (tagged, completed) = (changed / 2, changed - changed / 2);
    for (contact_id, _) in &pairs[..tagged] {
        client
            .add_tags(contact_id, &["vip".to_owned()])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for (_, user_id) in &pairs[pairs.len() - completed..] {
        trainual
            .grant(&user_id.to_string(), &Membership::Subject(SUBJECT.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        b.lms
            .set_trainual_completion(*user_id, SUBJECT, 100)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    let ghl_before = b.ghl.stats().total_requests;
    let started = Instant::now();
    let run = summary(
        runner
            .run(&reconcile, deadline())
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let wall = started.elapsed();
    let ghl_calls = b.ghl.stats().total_requests - ghl_before;
    let (lms_before, ghl_writes_before) = (b.lms_writes(Platform::Trainual), b.ghl_writes());
    let applying = Instant::now();
    let applied = b.drain().await.len();
    let apply_wall = applying.elapsed();
    let lms_writes = b.lms_writes(Platform::Trainual) - lms_before;
    let ghl_writes = b.ghl_writes() - ghl_writes_before;
    let budget = wall.as_secs_f64() * f64::from(max) / interval.as_secs_f64();

    println!(
        "reconcile of {contacts} contacts, {changed} changed ({tagged} in GHL, {completed} in Trainual):"
    );
    println!(
        "  GHL calls: {ghl_calls} ({:.4} per contact), Trainual calls: {}",
        ghl_calls as f64 / contacts as f64,
        run.calls.get("trainual").copied().unwrap_or(0)
    );
    println!("  changes queued: {} {:?}", run.changes_total(), run.changes);
    println!(
        "  applied by the worker: {applied} messages in {:.1} s: {lms_writes} Trainual writes, {ghl_writes} GHL writes",
        apply_wall.as_secs_f64()
    );
    println!(
        "  wall time {:.1} s; GHL budget in that time {budget:.0} requests, used {:.1} %",
        wall.as_secs_f64(),
        100.0 * ghl_calls as f64 / budget
    );
    assert_eq!(run.changes_total() as usize, changed, "{run:?}");
    assert_eq!(lms_writes as usize, tagged);
    let again = summary(
        runner
            .run(&reconcile, deadline())
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    println!("  a run right after: {} changes", again.changes_total());
    assert_eq!(again.changes_total(), 0);
}
