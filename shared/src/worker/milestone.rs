//! How a `MilestoneReached` (Skilljar `COURSE_COMPLETION`, `PATH_ENROLLMENT`, …, or a generic
//! `milestone.*`) becomes GHL effects: the contact (found or created), the milestone's task
//! (opened on start, completed on completion, never reopened), tags, a progress note and contact
//! fields, all as the mapping's first matching milestone rule says.

use super::contact::{custom_fields, ensure_contact, ensure_contact_writing, write_fields};
use super::effects::{NewEntity, complete_task, ensure};
use super::learning_records;
use super::mirror::{Reported, echo_of_our_write, record_reported};
use super::templates::Values;
use super::{Context, SyncError};
use crate::domain::{FieldRef, MilestoneKind, MilestoneReached, Progress};
use crate::keys::EntityKey;
use crate::learning::Observed;

/// Returns a summary of what was done (for the idempotency record and logs).
pub async fn sync(cx: &Context<'_>, m: &MilestoneReached) -> Result<String, SyncError> {
    // A course start (an enrollment) may be the LMS reporting an enrollment the sync made there.
    let enrollment = (m.progress == Progress::Started && m.kind == MilestoneKind::Course).then(|| Reported {
        source: &m.source,
        user_id: &m.learner.source_user_id,
        email: &m.learner.email,
        first_name: m.learner.first_name.as_deref(),
        last_name: m.learner.last_name.as_deref(),
        fields: None,
        course: std::iter::once(m.milestone_id.as_str())
            .chain(m.course.iter().flat_map(|c| c.ids()))
            .collect(),
    });
    if let Some(reported) = &enrollment
        && let Some(target) = echo_of_our_write(cx, reported).await?
    {
        return Ok(format!(
            "echo of the sync's own enrollment in {target}; nothing written"
        ));
    }
    let done = write(cx, m).await?;
    if let Some(reported) = &enrollment {
        record_reported(cx, reported).await?;
    }
    Ok(done)
}

/// The GHL effects of the milestone, as its rule says.
async fn write(cx: &Context<'_>, m: &MilestoneReached) -> Result<String, SyncError> {
    let Some(rule) = cx.mapping.milestone_rule(m) else {
        let contact_id = ensure_contact(cx, &m.source, &m.learner).await?;
        let mut done = format!(
            "contact {contact_id}; no milestone rule for {} {}",
            m.kind.as_str(),
            m.milestone_id
        );
        if let Some(record) = keep_record(cx, &contact_id, m).await? {
            done = format!("{done}; {record}");
        }
        return Ok(done);
    };
    let values = Values {
        source: Some(&m.source),
        learner: Some(&m.learner),
        course: m.course.as_ref(),
        milestone: Some((
            m.kind.as_str(),
            &m.milestone_id,
            m.title.as_deref(),
            m.score.as_deref(),
        )),
        occurred_at: Some(m.occurred_at),
        ..Values::default()
    };
    // A completion's contact fields ride on the upsert when the contact has to be upserted anyway;
    // otherwise they are written last, as one update.
    let fields = match m.progress {
        Progress::Completed if !rule.update_fields.is_empty() => {
            let fields = rule.update_fields.iter().map(|(key, template)| {
                (
                    FieldRef::Key(key.clone()),
                    template.get_ref().render(|p| values.get(p)),
                )
            });
            custom_fields(cx.ghl, fields).await?
        }
        _ => Vec::new(),
    };
    let (contact_id, fields) = ensure_contact_writing(cx, &m.source, &m.learner, fields).await?;
    let key = EntityKey::milestone_task(&m.source, &m.learner.source_user_id, m.kind, &m.milestone_id);
    let template = |name: &str| cx.mapping.task_templates.get(name);
    let mut done = vec![format!("contact {contact_id}")];

    match m.progress {
        Progress::Started => {
            if let Some(spec) = rule
                .on_start
                .as_ref()
                .and_then(|t| template(t.get_ref()))
                .map(|t| values.task(t))
            {
                // A completion may have arrived first: an existing task (open or done) stays as is.
                let task = NewEntity::Task {
                    spec: &spec,
                    completed: false,
                };
                let link = ensure(cx, &contact_id, &key, task).await?;
                done.push(format!("task {}", link.ghl_id));
            }
        }
        Progress::Completed => {
            let spec = rule
                .task
                .as_ref()
                .or(rule.on_start.as_ref())
                .and_then(|t| template(t.get_ref()));
            if let Some(spec) = spec.map(|t| values.task(t)) {
                let link = complete_task(cx, &contact_id, &key, &spec).await?;
                done.push(format!("task {} completed", link.ghl_id));
            }
            if !rule.tags.is_empty() {
                cx.ghl.add_tags(&contact_id, &rule.tags).await?;
            }
            if let Some(note) = rule
                .note
                .as_ref()
                .and_then(|n| cx.mapping.note_templates.get(n.get_ref()))
            {
                let key =
                    EntityKey::milestone_note(&m.source, &m.learner.source_user_id, m.kind, &m.milestone_id);
                let link = ensure(cx, &contact_id, &key, NewEntity::Note(&values.note(note))).await?;
                done.push(format!("note {}", link.ghl_id));
            }
            write_fields(cx, &contact_id, fields).await?;
        }
    }
    done.extend(keep_record(cx, &contact_id, m).await?);
    Ok(done.join("; "))
}

/// The learner's learning record for the course the milestone is about, if it is about one.
async fn keep_record(
    cx: &Context<'_>,
    contact_id: &str,
    m: &MilestoneReached,
) -> Result<Option<String>, SyncError> {
    match Observed::from_milestone(m) {
        Some((id, observed)) => learning_records::keep(cx, contact_id, &id, &observed).await,
        None => Ok(None),
    }
}
