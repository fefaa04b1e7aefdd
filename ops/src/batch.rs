//! `batch run | plan`: one daily-batch job run here, with the deployment's settings and the same
//! code as the `daily-batch` function (a run longer than `minutes` hands itself on to the
//! continuation queue, which the deployed function carries on); `plan` computes the changes and
//! writes nothing. The jobs' last runs are in `status`.

use lms_ghl::batch::{BatchReport, RunSummary};

/// The report as an operator reads it: one line, then the changes and calls by kind.
pub fn describe(report: &BatchReport) -> String {
    let (what, summary): (&str, &RunSummary) = match report {
        BatchReport::Finished { summary } => ("finished", summary),
        BatchReport::Continues { summary } => (
            "continues in the deployed function (continuation queued)",
            summary,
        ),
        BatchReport::Planned { summary } => ("planned (nothing written)", summary),
        BatchReport::Skipped { job, reason } => return format!("{job}: skipped: {reason}\n"),
    };
    let mut text = format!(
        "{} {what}: {} change(s), {} contact(s) and {} learner(s) seen, {} page(s), {} error(s)\n",
        summary.job,
        summary.changes_total(),
        summary.contacts_seen,
        summary.learners_seen,
        summary.pages,
        summary.errors.len()
    );
    for (kind, count) in &summary.changes {
        text.push_str(&format!("  change {kind}: {count}\n"));
    }
    for (api, count) in &summary.calls {
        text.push_str(&format!("  calls {api}: {count}\n"));
    }
    for error in &summary.errors {
        text.push_str(&format!("  error: {error}\n"));
    }
    text
}
