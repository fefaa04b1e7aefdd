//! `xtask batch`: one daily-batch job invoked through the emulator, as its EventBridge rule (or a
//! person with `aws lambda invoke`) invokes it in AWS; prints the report.

use anyhow::{Context, Result, bail};
use lms_ghl::batch::{BatchRequest, JobKind, Mode};
use serde_json::Value;
use time::OffsetDateTime;

use crate::lambda::Lambda;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Job {
    /// LMS → GHL: the target's learners changed since the job's cursor.
    Poll,
    /// GHL ⇄ LMS: every contact of the target's location, then every learner of the account.
    Reconcile,
}

pub struct Invocation {
    pub job: Job,
    /// A `[targets.<name>]` of the mapping.
    pub target: String,
    /// Work out what a run would queue, writing nothing.
    pub plan: bool,
    /// A poll from this time instead of the job's cursor.
    pub since: Option<OffsetDateTime>,
}

/// `--since`: RFC 3339, as the request carries it.
pub fn parse_since(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time (2026-11-01T00:00:00Z): {e}"))
}

/// Invokes daily-batch with the request and prints its outcome on one line (`scripts/run` reads
/// `N change(s) queued` from it), then the run's summary as pretty JSON. An invocation that
/// fails (the function's error) is an error.
pub async fn run(lambda: &Lambda, invocation: Invocation) -> Result<()> {
    let request = BatchRequest {
        job: match invocation.job {
            Job::Poll => JobKind::Poll,
            Job::Reconcile => JobKind::Reconcile,
        },
        target: invocation.target,
        mode: if invocation.plan { Mode::Plan } else { Mode::Run },
        since: invocation.since,
        run_id: None,
    };
    let job = request.job_name();
    // As a rule's input or a person writes it: without the fields left unset.
    let mut payload = serde_json::to_value(&request).context("the request")?;
    if let Value::Object(fields) = &mut payload {
        fields.retain(|_, value| !value.is_null());
    }
    println!("[batch] invoking daily-batch with {payload}");
    let report: Value = lambda
        .invoke("daily-batch", &payload)
        .await
        .with_context(|| format!("daily-batch job {job}"))?;
    println!("[batch] {job}: {}", describe(&report)?);
    if let Some(summary) = report.get("summary") {
        println!(
            "{}",
            serde_json::to_string_pretty(summary).context("the summary")?
        );
    }
    Ok(())
}

/// One line for a `BatchReport`.
fn describe(report: &Value) -> Result<String> {
    let summary = &report["summary"];
    let count = |key: &str| summary[key].as_u64().unwrap_or(0);
    let changes: u64 = summary["changes"]
        .as_object()
        .map(|changes| changes.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    let work = format!(
        "{} contact(s) and {} learner(s) seen, {} page(s), {} invocation(s)",
        count("contacts_seen"),
        count("learners_seen"),
        count("pages"),
        count("invocations")
    );
    Ok(match report["outcome"].as_str() {
        Some("finished") => format!("finished: {changes} change(s) queued ({work})"),
        Some("continues") => format!(
            "continues in another invocation (continuation queued): {changes} change(s) queued so far ({work})"
        ),
        Some("planned") => format!(
            "planned, nothing written: {changes} change(s) would be queued ({work}{})",
            if summary["complete"] == Value::Bool(true) {
                ""
            } else {
                "; the plan ran out of time before the last page"
            }
        ),
        Some("skipped") => format!(
            "skipped: {}",
            report["reason"].as_str().unwrap_or("no reason given")
        ),
        _ => bail!("daily-batch answered something other than a batch report: {report}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The samples under events/daily-batch/ are requests daily-batch reads, for targets of the
    /// local mapping.
    #[test]
    fn batch_samples_are_requests_for_local_targets() -> Result<()> {
        let mapping = lms_ghl::mapping::Mapping::load(&crate::root().join(crate::provision::LOCAL_MAPPING))?;
        let dir = crate::root().join("events/daily-batch");
        let mut kinds = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path)?;
            let request: BatchRequest = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a batch request", path.display()))?;
            assert!(
                mapping.targets.contains_key(&request.target),
                "{}: no target {} in the local mapping",
                path.display(),
                request.target
            );
            assert!(
                request.run_id.is_none(),
                "{}: a scheduled input carries no run_id",
                path.display()
            );
            kinds.insert((request.job.as_str(), request.mode == Mode::Plan));
        }
        assert!(
            kinds.contains(&("poll", false)) && kinds.contains(&("reconcile", false)),
            "{kinds:?}"
        );
        Ok(())
    }

    #[test]
    fn reports_are_described_on_one_line() -> Result<()> {
        let finished = serde_json::json!({"outcome": "finished", "summary": {
            "changes": {"ghl_to_lms:contact": 2, "lms_to_ghl:learner": 1}, "pages": 2, "invocations": 1,
            "contacts_seen": 5, "learners_seen": 3, "complete": true}});
        assert_eq!(
            describe(&finished)?,
            "finished: 3 change(s) queued (5 contact(s) and 3 learner(s) seen, 2 page(s), 1 invocation(s))"
        );
        let planned =
            serde_json::json!({"outcome": "planned", "summary": {"changes": {"x": 4}, "complete": true}});
        assert!(describe(&planned)?.contains("4 change(s) would be queued"));
        let skipped = serde_json::json!({"outcome": "skipped", "job": "poll:talent", "reason": "busy"});
        assert_eq!(describe(&skipped)?, "skipped: busy");
        assert!(describe(&serde_json::json!({"status": 200})).is_err());
        Ok(())
    }
}
