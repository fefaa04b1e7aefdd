//! How a sender's own task event (generic `task.created` / `task.updated` / `task.completed`, e.g.
//! a TalkNotes action item) becomes a GHL task on the learner's contact, once.

use super::contact::ensure_contact;
use super::effects::{NewEntity, TaskSpec, complete_task, ensure};
use super::templates::due;
use super::{Context, SyncError};
use crate::domain::{TaskAction, TaskChanged};
use crate::ghl::TaskFields;
use crate::keys::EntityKey;

const DEFAULT_DUE_DAYS: i64 = 7;

pub async fn sync(cx: &Context<'_>, t: &TaskChanged) -> Result<String, SyncError> {
    let contact_id = ensure_contact(cx, &t.source, &t.learner).await?;
    let key = EntityKey::sender_task(&t.source, &t.task_id);
    let spec = spec(t);
    let open = NewEntity::Task {
        spec: &spec,
        completed: false,
    };
    let link = match t.action {
        TaskAction::Create => ensure(cx, &contact_id, &key, open).await?,
        // An update may overtake its create: then the task is created with what the update says.
        TaskAction::Update => match cx.entities.link(&key).await?.filter(|l| !l.is_pending()) {
            Some(link) => {
                let fields = TaskFields {
                    title: t.title.clone(),
                    body: t
                        .body
                        .clone()
                        .map(|b| body_with_priority(&b, t.priority.as_deref())),
                    due_date: t.due_at.map(|d| due(d, 0)),
                    assigned_to: t.assignee.clone(),
                    // Never sent: an update must not reopen a completed task.
                    completed: None,
                };
                cx.ghl.update_task(&contact_id, &link.ghl_id, &fields).await?;
                link
            }
            None => ensure(cx, &contact_id, &key, open).await?,
        },
        TaskAction::Complete => complete_task(cx, &contact_id, &key, &spec).await?,
    };
    Ok(format!(
        "contact {contact_id}; task {}{}",
        link.ghl_id,
        if link.completed { " completed" } else { "" }
    ))
}

fn spec(t: &TaskChanged) -> TaskSpec {
    TaskSpec {
        title: t
            .title
            .clone()
            .unwrap_or_else(|| format!("Task from {}", t.source)),
        body: body_with_priority(t.body.as_deref().unwrap_or_default(), t.priority.as_deref()),
        due_date: due(
            t.due_at
                .unwrap_or(t.occurred_at + time::Duration::days(DEFAULT_DUE_DAYS)),
            0,
        ),
        assignee: t.assignee.clone(),
    }
}

/// GHL tasks have no priority field: it travels in the body.
fn body_with_priority(body: &str, priority: Option<&str>) -> String {
    match priority {
        Some(p) if body.is_empty() => format!("Priority: {p}"),
        Some(p) => format!("{body}\n\nPriority: {p}"),
        None => body.to_owned(),
    }
}
