//! GHL calls per event, per trigger, and end-to-end events/s for one location under GHL's real
//! budget (100 requests / 10 s; the worker books 97 % of it): the mixed load of issue 10 (200 new
//! learners, 200 course completions, 100 notes, 100 sender tasks, by default) goes through the
//! worker as its binary builds it (shared rate budget on moto's DynamoDB) against the GHL sandbox.
//! Prints its figures; no assertions.
//!
//!   scripts/bench-calls [--learners 200] [--notes 100]

use std::collections::BTreeMap;

use ghl_sandbox::{DEFAULT_LOCATION_ID, Sandbox, SandboxConfig};
use integration_tests::{Deployment, sync_all};
use lms_ghl::domain::{
    CourseRef, Email, LearnerCreated, LearnerRef, MilestoneKind, MilestoneReached, NoteAdded, Progress,
    SourcePlatform, SyncEvent, TaskAction, TaskChanged,
};
use time::OffsetDateTime;
use tokio::time::Instant;

/// The course of the bundled mapping's rule (completed task, tags, note, `last_course` field).
const COURSE: &str = "2wzplz3bmtxpa";

fn arg(name: &str, default: usize) -> usize {
    integration_tests::flag(name, default)
}

fn learner(i: usize) -> anyhow::Result<LearnerRef> {
    Ok(LearnerRef {
        source_user_id: format!("user{i:05}"),
        email: Email::try_from(format!("learner{i:05}@example.com"))?,
        first_name: Some("Ada".into()),
        last_name: Some(format!("Learner {i}")),
    })
}

fn course() -> Option<CourseRef> {
    Some(CourseRef {
        id: COURSE.into(),
        title: Some("Onboarding 101".into()),
        published_id: None,
    })
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn enrollment(i: usize) -> anyhow::Result<SyncEvent> {
    let who = learner(i)?;
    Ok(SyncEvent::LearnerCreated(LearnerCreated {
        source: SourcePlatform::skilljar(),
        source_user_id: who.source_user_id,
        email: who.email,
        first_name: who.first_name,
        last_name: who.last_name,
        phone: None,
        role: Some("Instructor".into()),
        course: course(),
        occurred_at: now(),
        custom_fields: Default::default(),
    }))
}

fn completion(i: usize) -> anyhow::Result<SyncEvent> {
    Ok(SyncEvent::MilestoneReached(MilestoneReached {
        source: SourcePlatform::skilljar(),
        learner: learner(i)?,
        kind: MilestoneKind::Course,
        milestone_id: COURSE.into(),
        title: Some("Onboarding 101".into()),
        course: course(),
        progress: Progress::Completed,
        score: None,
        occurred_at: now(),
    }))
}

/// A note with a context field: the first event of this source for the learner, so it upserts
/// the contact and the field rides on that upsert.
fn note(i: usize) -> anyhow::Result<SyncEvent> {
    Ok(SyncEvent::NoteAdded(NoteAdded {
        source: SourcePlatform::try_from("talknotes".to_owned())?,
        learner: learner(i)?,
        note_id: format!("n-{i}"),
        title: Some("Kickoff call".into()),
        content: "Wants the advanced track.".into(),
        author: None,
        occurred_at: now(),
        context: [("department".to_owned(), "Analytical Engines".to_owned())].into(),
    }))
}

/// A sender task for a learner this source already mapped.
fn task(i: usize) -> anyhow::Result<SyncEvent> {
    Ok(SyncEvent::TaskChanged(TaskChanged {
        source: SourcePlatform::try_from("talknotes".to_owned())?,
        learner: learner(i)?,
        task_id: format!("t-{i}"),
        action: TaskAction::Create,
        title: Some("Send the workbook".into()),
        body: None,
        due_at: None,
        priority: None,
        assignee: None,
        occurred_at: now(),
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let learners = arg("learners", 200);
    let notes = arg("notes", 100).min(learners);
    let deployment = Deployment::new().await;
    // The sandbox enforces GHL's real per-location limit too: a 429 would show the budget overrun.
    let ghl = Sandbox::start(
        SandboxConfig {
            log_requests: false,
            ..SandboxConfig::default()
        }
        .with_rate_limits(100, std::time::Duration::from_secs(10)),
    )
    .await?;
    ghl.add_private_token(DEFAULT_LOCATION_ID, &deployment.ghl_token)?;
    // Built as the binary builds it: GHL's real limits (100 / 10 s) in the table's shared budget.
    let worker = deployment.worker(&ghl.url()).await;
    let ghl_calls = |ghl: &Sandbox| {
        let stats = ghl.stats();
        // The custom-field definitions are read once per cold start, not per event.
        stats.total_requests - stats.route("GET", "/locations/{locationId}/customFields")
    };

    type Make = fn(usize) -> anyhow::Result<SyncEvent>;
    let phases: [(&str, usize, Make); 4] = [
        ("learner created (new learner)", learners, enrollment),
        ("milestone completed (course rule, field)", learners, completion),
        ("note added (first of its source, context field)", notes, note),
        ("sender task (create)", notes, task),
    ];
    let mut per_trigger = BTreeMap::new();
    let (mut events, mut calls) = (0, 0);
    let start_calls = ghl_calls(&ghl);
    let started = Instant::now();
    for (name, count, make) in phases {
        let before = ghl_calls(&ghl);
        let phase_started = Instant::now();
        for i in 0..count {
            let key = format!("{}-{i}", name.split(' ').next().unwrap_or("event"));
            let records = deployment.queue_event(&key, make(i)?).await;
            sync_all(&worker, records).await;
        }
        let used = ghl_calls(&ghl) - before;
        events += count;
        calls += used;
        let secs = phase_started.elapsed().as_secs_f64();
        println!(
            "{name:<50} {count:>4} events, {used:>5} GHL calls: {:.2} per event; {:.1} s, {:.2} events/s",
            used as f64 / count as f64,
            secs,
            count as f64 / secs
        );
        per_trigger.insert(name, used as f64 / count as f64);
    }
    let elapsed = started.elapsed().as_secs_f64();
    debug_assert_eq!(calls, ghl_calls(&ghl) - start_calls);
    let per_event = calls as f64 / events as f64;
    println!(
        "mixed load: {events} events, {calls} GHL calls, {per_event:.2} per event; {elapsed:.1} s end to end, {:.2} events/s per location (busiest 10 s window: {} requests admitted, {} attempted)",
        events as f64 / elapsed,
        ghl.stats().max_admitted_in_window,
        ghl.stats().max_attempted_in_window,
    );
    println!(
        "budget arithmetic (97 of 100 requests / 10 s): {:.2} events/s per location at {per_event:.2} calls per event",
        9.7 / per_event
    );
    Ok(())
}
