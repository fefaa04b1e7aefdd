//! Creating a GHL task or note exactly once, even if the worker dies between GHL's answer and the
//! entity-map write.
//!
//! Each created task or note carries a marker derived from its entity key at the end of its body.
//! Before creating, the worker looks the key up in the entity map; if it is not there, it lists the
//! contact's tasks (or notes) and adopts one that carries the marker: that is a previous attempt
//! whose map write never happened. Only then does it create, with the marker.

use sha2::{Digest, Sha256};

use super::{SyncError, SyncWorker};
use crate::ghl::{GhlClient, Idempotence, NewTask, NoteFields};
use crate::ports::EntityLink;

/// What a task should look like if it has to be created.
#[derive(Debug, Clone)]
pub(crate) struct TaskSpec {
    pub title: String,
    pub body: String,
    pub due_date: String,
    pub assignee: Option<String>,
}

/// `[lms-sync:…]`: short enough to sit quietly at the end of a body, long enough not to collide.
pub(crate) fn marker(key: &str) -> String {
    format!("[lms-sync:{}]", hex::encode(&Sha256::digest(key.as_bytes())[..8]))
}

fn with_marker(body: &str, key: &str) -> String {
    if body.is_empty() {
        marker(key)
    } else {
        format!("{body}\n\n{}", marker(key))
    }
}

/// The task behind `key`: recorded, found by its marker, or created (open, or already completed).
pub(crate) async fn ensure_task(
    worker: &SyncWorker,
    ghl: &GhlClient,
    contact_id: &str,
    key: &str,
    spec: &TaskSpec,
    completed: bool,
) -> Result<EntityLink, SyncError> {
    if let Some(link) = worker.entities.link(key).await? {
        return Ok(link);
    }
    let mark = marker(key);
    let found = ghl
        .list_tasks(contact_id)
        .await?
        .into_iter()
        .find(|t| t.body.as_deref().is_some_and(|b| b.contains(&mark)));
    let link = match found {
        Some(task) => EntityLink {
            key: key.to_owned(),
            ghl_id: task.id,
            completed: task.completed,
        },
        None => {
            let new = NewTask {
                title: spec.title.clone(),
                body: Some(with_marker(&spec.body, key)),
                due_date: spec.due_date.clone(),
                completed,
                assigned_to: spec.assignee.clone(),
            };
            // Protected: a repeat is caught by the marker above, so retrying the create is safe.
            let task = ghl.create_task(contact_id, &new, Idempotence::Protected).await?;
            // A crash test kills the worker here: GHL has the entity, the map does not yet.
            fail::fail_point!("after-ghl-create");
            EntityLink {
                key: key.to_owned(),
                ghl_id: task.id,
                completed,
            }
        }
    };
    worker.entities.put_link(&link).await?;
    Ok(link)
}

/// Completes the task behind `key`, creating it completed if it never existed. Never reopens.
pub(crate) async fn complete_task(
    worker: &SyncWorker,
    ghl: &GhlClient,
    contact_id: &str,
    key: &str,
    spec: &TaskSpec,
) -> Result<EntityLink, SyncError> {
    let mut link = ensure_task(worker, ghl, contact_id, key, spec, true).await?;
    if !link.completed {
        ghl.set_task_completed(contact_id, &link.ghl_id, true).await?;
        link.completed = true;
        worker.entities.put_link(&link).await?;
    }
    Ok(link)
}

/// The note behind `key`: recorded, found by its marker, or created.
pub(crate) async fn ensure_note(
    worker: &SyncWorker,
    ghl: &GhlClient,
    contact_id: &str,
    key: &str,
    note: &NoteFields,
) -> Result<EntityLink, SyncError> {
    if let Some(link) = worker.entities.link(key).await? {
        return Ok(link);
    }
    let mark = marker(key);
    let found = ghl
        .list_notes(contact_id)
        .await?
        .into_iter()
        .find(|n| n.body.as_deref().is_some_and(|b| b.contains(&mark)));
    let ghl_id = match found {
        Some(existing) => existing.id,
        None => {
            let body = with_marker(note.body.as_deref().unwrap_or_default(), key);
            let fields = NoteFields {
                body: Some(body),
                ..note.clone()
            };
            let created = ghl
                .create_note(contact_id, &fields, Idempotence::Protected)
                .await?;
            // A crash test kills the worker here: GHL has the entity, the map does not yet.
            fail::fail_point!("after-ghl-create");
            created.id
        }
    };
    let link = EntityLink {
        key: key.to_owned(),
        ghl_id,
        completed: false,
    };
    worker.entities.put_link(&link).await?;
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_stable_and_distinct() {
        assert_eq!(
            marker("task:skilljar:u1:course:c1"),
            marker("task:skilljar:u1:course:c1")
        );
        assert_ne!(
            marker("task:skilljar:u1:course:c1"),
            marker("task:skilljar:u1:course:c2")
        );
        assert!(marker("k").starts_with("[lms-sync:") && marker("k").len() == 27);
        assert_eq!(with_marker("", "k"), marker("k"));
        assert!(with_marker("Body", "k").starts_with("Body\n\n[lms-sync:"));
    }
}
