//! The daily batch end to end: the runner as `daily-batch` builds it (moto's table and queues,
//! the GHL sandbox, the LMS sandbox's Trainual and TalentLMS), its changes drained from the batch
//! queue through the worker as its binary builds it. Writes are counted on both sides.

use std::collections::BTreeMap;
use std::time::Duration;

use ghl_sandbox::{DEFAULT_LOCATION_ID, DEFAULT_PIT};
use integration_tests::batch::{ROLE, SUBJECT, batch, batch_alone, in_step};
use lms_ghl::batch::{BatchReport, BatchRequest, BatchTuning, JobKind, Mode, RunSummary};
use lms_ghl::domain::{Membership, SourcePlatform};
use lms_ghl::ports::EntityMap;
use lms_sandbox::Platform;

fn request(job: JobKind, target: &str, mode: Mode) -> BatchRequest {
    BatchRequest {
        job,
        target: target.into(),
        mode,
        since: None,
        run_id: None,
    }
}

fn deadline(secs: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(secs)
}

fn finished(report: BatchReport) -> RunSummary {
    match report {
        BatchReport::Finished { summary } | BatchReport::Planned { summary } => summary,
        other => panic!("not finished: {other:?}"),
    }
}

#[tokio::test]
async fn a_reconcile_of_1000_contacts_queues_exactly_the_10_that_changed_and_then_nothing() {
    let b = batch().await;
    let pairs = in_step(&b, 1000).await;
    let runner = b.runner(BatchTuning::default()).await;
    let reconcile = request(JobKind::Reconcile, "handbook", Mode::Run);

    // In step: nothing to queue (the learners' first sight is recognised as the sync's own work).
    let first = finished(
        runner
            .run(&reconcile, deadline(600))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(first.contacts_seen, 1000, "{first:?}");
    assert_eq!(first.learners_seen, 1000, "{first:?}");
    assert_eq!(first.changes_total(), 0, "{first:?}");
    assert!(b.take(&b.settings.batch_queue_url).await.is_empty());
    // 2 full search pages of 500 and the empty one that ends them; no contact is read on its
    // own (the rows carry what the rules read). The summary's count adds the cold start's one
    // read of the location's custom fields.
    assert_eq!(b.ghl.stats().route("POST", "/contacts/search"), 3);
    assert_eq!(first.calls.get("ghl"), Some(&4), "{first:?}");
    // Trainual lists users with their subjects: 10 pages and the empty one.
    assert_eq!(first.calls.get("trainual"), Some(&11), "{first:?}");

    // Five contacts tagged vip in GHL; five learners complete a subject in Trainual.
    let client = integration_tests::client_with_token(&b.ghl.url(), DEFAULT_PIT);
    for (contact_id, _) in &pairs[..5] {
        client
            .add_tags(contact_id, &["vip".to_owned()])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let trainual = integration_tests::batch::trainual_client(&b.lms.base_url(Platform::Trainual));
    use lms_ghl::lms::LmsAccount;
    for (_, user_id) in &pairs[995..] {
        trainual
            .grant(&user_id.to_string(), &Membership::Subject(SUBJECT.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        b.lms
            .set_trainual_completion(*user_id, SUBJECT, 100)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    let (lms_before, ghl_before) = (b.lms_writes(Platform::Trainual), b.ghl_writes());
    let second = finished(
        runner
            .run(&reconcile, deadline(600))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(
        second.changes,
        BTreeMap::from([
            ("ghl_to_lms:contact".to_owned(), 5),
            ("lms_to_ghl:course_completed".to_owned(), 5)
        ]),
        "{second:?}"
    );
    let kinds = b.drain().await;
    assert_eq!(kinds.len(), 10, "{kinds:?}");
    // GHL → LMS: one role grant per vip contact, and nothing else written to Trainual.
    assert_eq!(b.lms_writes(Platform::Trainual) - lms_before, 5);
    for (contact_id, _) in &pairs[..5] {
        let mirror = b
            .deployment
            .table()
            .mirror("handbook", contact_id)
            .await
            .ok()
            .flatten();
        assert!(
            mirror.is_some_and(|m| m.memberships.contains(&Membership::Role(ROLE.into()))),
            "{contact_id}"
        );
    }
    // LMS → GHL: each completion reached its contact (the bundled mapping's course rule: a
    // completed task, tags and a note), and nothing reached the other 995.
    let ghl_writes = b.ghl_writes() - ghl_before;
    assert!(ghl_writes > 0);
    for (contact_id, _) in &pairs[995..] {
        let notes = client
            .list_notes(contact_id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(notes.len(), 1, "{contact_id}: {notes:?}");
    }
    for (contact_id, _) in &pairs[5..995] {
        let tags = b.ghl.contact(DEFAULT_LOCATION_ID, contact_id).map(|c| c.tags);
        assert_eq!(
            tags,
            Some(vec!["enroll".to_owned()]),
            "{contact_id} was written to"
        );
    }

    // Right after: nothing differs, nothing is queued, nothing is written.
    let (lms_before, ghl_before) = (b.lms_writes(Platform::Trainual), b.ghl_writes());
    let third = finished(
        runner
            .run(&reconcile, deadline(600))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(third.changes_total(), 0, "{third:?}");
    // Each finished run's summary is kept under its run id.
    let stored = runner
        .summary("reconcile:handbook", &second.run_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.as_ref(), Some(&second));
    assert!(b.drain().await.is_empty());
    assert_eq!(b.lms_writes(Platform::Trainual), lms_before);
    assert_eq!(b.ghl_writes(), ghl_before);
    println!(
        "reconcile of 1000 contacts: {} GHL calls ({:.3} per contact), {} Trainual calls, {} ms",
        third.calls.get("ghl").copied().unwrap_or(0),
        third.calls.get("ghl").copied().unwrap_or(0) as f64 / 1000.0,
        third.calls.get("trainual").copied().unwrap_or(0),
        third.duration_ms
    );
}

#[tokio::test]
async fn a_plan_writes_nothing_and_a_run_split_over_invocations_does_what_one_would() {
    let b = batch().await;
    let pairs = in_step(&b, 30).await;
    let client = integration_tests::client_with_token(&b.ghl.url(), DEFAULT_PIT);
    for (contact_id, _) in &pairs[..7] {
        client
            .add_tags(contact_id, &["vip".to_owned()])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let small_pages = BatchTuning {
        ghl_page_size: 5,
        lms_page_size: 5,
        ..BatchTuning::default()
    };
    let runner = b.runner(small_pages.clone()).await;
    let plan = finished(
        runner
            .run(
                &request(JobKind::Reconcile, "handbook", Mode::Plan),
                deadline(120),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(plan.changes.get("ghl_to_lms:contact"), Some(&7), "{plan:?}");
    assert!(plan.complete);
    assert!(
        b.take(&b.settings.batch_queue_url).await.is_empty(),
        "a plan queued"
    );
    assert!(
        runner
            .current_run("reconcile:handbook")
            .await
            .ok()
            .flatten()
            .is_none()
    );

    // A tiny time budget: one page per invocation, each handing the run on.
    let reserve = Duration::from_secs(30);
    let runner = b
        .runner(BatchTuning {
            reserve,
            ..small_pages
        })
        .await;
    let mut next = request(JobKind::Reconcile, "handbook", Mode::Run);
    let mut invocations = 0;
    let summary = loop {
        invocations += 1;
        assert!(invocations < 50, "the run never finished");
        // Just over the reserve: a page or a few fit in each invocation.
        let report = runner
            .run(
                &next,
                tokio::time::Instant::now() + reserve + Duration::from_millis(300),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        match report {
            BatchReport::Continues { .. } => {
                let bodies = b.take(&b.settings.continuation_queue_url).await;
                assert_eq!(bodies.len(), 1, "{bodies:?}");
                next = serde_json::from_str(&bodies[0]).unwrap_or_else(|e| panic!("{e}"));
                assert!(next.run_id.is_some());
            }
            BatchReport::Finished { summary } => break summary,
            other => panic!("{other:?}"),
        }
    };
    // 6 contact pages (the last one empty) and the learner pages, over several invocations.
    assert!(invocations >= 2, "{invocations}");
    assert_eq!(summary.invocations, invocations);
    assert_eq!(summary.changes, plan.changes, "{summary:?}");
    assert_eq!(b.drain().await.len(), 7);
}

#[tokio::test]
async fn two_runs_at_once_do_the_work_once_and_a_crashed_run_resumes_without_loss_or_double() {
    // It sets a fail point, which every batch runner of this process would meet.
    let b = batch_alone().await;
    let pairs = in_step(&b, 20).await;
    let client = integration_tests::client_with_token(&b.ghl.url(), DEFAULT_PIT);
    for (contact_id, _) in &pairs[..6] {
        client
            .add_tags(contact_id, &["vip".to_owned()])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let runner = b.runner(BatchTuning::default()).await;
    let reconcile = request(JobKind::Reconcile, "handbook", Mode::Run);

    // Crash half-way through queueing the page's changes.
    fail::cfg("batch-half-page", "return").unwrap_or_else(|e| panic!("{e}"));
    let crashed = runner.run(&reconcile, deadline(120)).await;
    fail::remove("batch-half-page");
    assert!(crashed.is_err(), "{crashed:?}");
    let stopped = runner
        .current_run("reconcile:handbook")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no run state"));
    assert_eq!(stopped.summary.errors.len(), 1, "{stopped:?}");

    // Two triggers at once: one resumes the run, the other finds the job taken.
    let (one, two) = tokio::join!(
        runner.run(&reconcile, deadline(120)),
        runner.run(&reconcile, deadline(120))
    );
    let reports = [
        one.unwrap_or_else(|e| panic!("{e}")),
        two.unwrap_or_else(|e| panic!("{e}")),
    ];
    let done: Vec<&RunSummary> = reports
        .iter()
        .filter_map(|r| match r {
            BatchReport::Finished { summary } => Some(summary),
            _ => None,
        })
        .collect();
    assert_eq!(done.len(), 1, "{reports:?}");
    assert!(
        reports.iter().any(|r| matches!(r, BatchReport::Skipped { .. })),
        "{reports:?}"
    );
    assert_eq!(done[0].run_id, stopped.run_id, "the crashed run was not resumed");
    assert_eq!(done[0].invocations, 2);

    // Half the page was queued twice; each change is applied once.
    let before = b.lms_writes(Platform::Trainual);
    let kinds = b.drain().await;
    assert!(kinds.len() > 6, "{kinds:?}");
    assert_eq!(b.lms_writes(Platform::Trainual) - before, 6);
}

#[tokio::test]
async fn a_poll_turns_new_talentlms_learners_into_events_through_429s_and_advances_its_cursor() {
    let b = batch().await;
    let ada = b
        .lms
        .seed_talentlms_user("ada@example.com", "Ada", "Lovelace")
        .unwrap_or_else(|e| panic!("{e}"));
    let runner = b.runner(BatchTuning::default()).await;
    let poll = request(JobKind::Poll, "talent", Mode::Run);
    let first = finished(
        runner
            .run(&poll, deadline(300))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(first.learners_seen, 1, "{first:?}");
    assert_eq!(first.changes.get("lms_to_ghl:learner"), Some(&1), "{first:?}");
    let kinds = b.drain().await;
    assert_eq!(kinds, ["LearnerCreated"]);
    let link = b
        .deployment
        .table()
        .contact(
            &SourcePlatform::try_from("talentlms".to_owned()).unwrap_or_else(|e| panic!("{e}")),
            &ada.id.to_string(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(link.is_some(), "the learner did not reach GHL");

    // The cursor moved: a learner unchanged since the last poll is not even read.
    b.lms
        .set_talentlms_last_updated(
            ada.id,
            time::OffsetDateTime::now_utc() - Duration::from_secs(3600),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let second = finished(
        runner
            .run(&poll, deadline(300))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(second.changes_total(), 0, "{second:?}");
    assert_eq!(second.learners_seen, 0, "{second:?}");

    // TalentLMS answering 429 to half the requests: the poll waits them out and misses nothing.
    b.lms
        .set_faults(
            Platform::TalentLms,
            lms_sandbox::FaultConfig {
                rate_429: 0.5,
                ..lms_sandbox::FaultConfig::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    b.lms.reset_stats();
    b.lms
        .seed_talentlms_user("grace@example.com", "Grace", "Hopper")
        .unwrap_or_else(|e| panic!("{e}"));
    let third = finished(
        runner
            .run(&poll, deadline(300))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(third.changes.get("lms_to_ghl:learner"), Some(&1), "{third:?}");
    assert!(b.lms.stats(Platform::TalentLms).injected_429 >= 1);
    assert_eq!(b.drain().await, ["LearnerCreated"]);

    let cursor =
        lms_ghl::ports::Documents::get(&b.deployment.table(), &lms_ghl::keys::batch_cursor("poll:talent"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(cursor.is_some());
}

/// `lms-sync-ops batch plan`'s report, on a plan that finds three contacts to write.
#[tokio::test]
async fn the_ops_cli_describes_a_plan_with_its_changes_and_calls() {
    let b = batch().await;
    let pairs = in_step(&b, 5).await;
    let client = integration_tests::client_with_token(&b.ghl.url(), DEFAULT_PIT);
    for (contact_id, _) in &pairs[..3] {
        client
            .add_tags(contact_id, &["vip".to_owned()])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let runner = b.runner(BatchTuning::default()).await;
    let report = runner
        .run(
            &request(JobKind::Reconcile, "handbook", Mode::Plan),
            deadline(120),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = ops::batch::describe(&report);
    assert!(
        text.starts_with("reconcile:handbook planned (nothing written): 3 change(s), 5 contact(s)"),
        "{text}"
    );
    assert!(text.contains("  change ghl_to_lms:contact: 3\n"), "{text}");
    assert!(text.contains("  calls ghl: "), "{text}");
    assert!(
        b.take(&b.settings.batch_queue_url).await.is_empty(),
        "a plan queued"
    );
}
