//! Creating a GHL task or note exactly once, even if the worker dies between GHL's answer and the
//! entity-map write: one path for both.
//!
//! Each created task or note carries a marker derived from its entity key at the end of its body.
//! Before creating, the worker looks the key up in the entity map: a GHL id there is the entity. If
//! there is nothing, no attempt ever started to create it: the worker writes an intent
//! ([`EntityLink::pending`], free: no GHL call), creates with the marker, and records the id. If an
//! intent is there, an attempt (of this event or of another one with the same key: a course start
//! and its completion share a task) may have died after GHL created the entity: only then does the
//! worker list the contact's tasks (or notes), once per contact and event, and adopt the one that
//! carries the marker.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::{Context, SyncError};
use crate::ghl::{Failure, GhlError, Idempotence, NewTask, NoteFields, RetryClass};
use crate::keys::EntityKey;
use crate::ports::EntityLink;
use crate::telemetry::metric;

/// What a task should look like if it has to be created.
#[derive(Debug, Clone)]
pub(crate) struct TaskSpec {
    pub title: String,
    pub body: String,
    pub due_date: String,
    pub assignee: Option<String>,
}

/// What to create when the entity behind a key does not exist yet.
pub(crate) enum NewEntity<'a> {
    /// A task, open or already completed (a completion may be the first event seen).
    Task {
        spec: &'a TaskSpec,
        completed: bool,
    },
    Note(&'a NoteFields),
}

/// One contact's tasks or notes as listed: (id, body, completed).
type Listing = Vec<(String, Option<String>, bool)>;

/// What one event has listed of a contact's tasks and notes (id, body, completed), so that several
/// reconciles for one contact cost one list. Lives as long as the event's `Context`.
#[derive(Debug, Default)]
pub(crate) struct Listed {
    tasks: Mutex<HashMap<String, Listing>>,
    notes: Mutex<HashMap<String, Listing>>,
}

impl Listed {
    fn get(map: &Mutex<HashMap<String, Listing>>, contact_id: &str) -> Option<Listing> {
        map.lock().ok()?.get(contact_id).cloned()
    }

    /// Drops what was listed of the contact's tasks or notes (`new`'s kind): a create may have
    /// changed it.
    fn forget(&self, contact_id: &str, new: &NewEntity<'_>) {
        let map = match new {
            NewEntity::Task { .. } => &self.tasks,
            NewEntity::Note(_) => &self.notes,
        };
        if let Ok(mut map) = map.lock() {
            map.remove(contact_id);
        }
    }

    fn put(map: &Mutex<HashMap<String, Listing>>, contact_id: &str, entries: Listing) {
        if let Ok(mut map) = map.lock() {
            map.insert(contact_id.to_owned(), entries);
        }
    }
}

/// `[lms-sync:…]`: short enough to sit quietly at the end of a body, long enough not to collide.
pub(crate) fn marker(key: &EntityKey) -> String {
    format!(
        "[lms-sync:{}]",
        hex::encode(&Sha256::digest(key.as_str().as_bytes())[..8])
    )
}

fn with_marker(body: &str, key: &EntityKey) -> String {
    if body.is_empty() {
        marker(key)
    } else {
        format!("{body}\n\n{}", marker(key))
    }
}

fn carries(body: Option<&str>, mark: &str) -> bool {
    body.is_some_and(|b| b.contains(mark))
}

/// The task or note behind `key`: recorded, found by its marker, or created.
pub(crate) async fn ensure(
    cx: &Context<'_>,
    contact_id: &str,
    key: &EntityKey,
    new: NewEntity<'_>,
) -> Result<EntityLink, SyncError> {
    let found = match cx.entities.link(key).await? {
        Some(link) if !link.is_pending() => return Ok(link),
        // An earlier attempt got as far as its intent: it may have created the entity.
        Some(_) => reconcile(cx, contact_id, &marker(key), &new).await?,
        // Nothing can be in GHL yet: say what is about to be created, then create straight away;
        // unless another invocation recorded something for the key since we looked (an intent,
        // or the entity it created), which is reconciled instead of overwritten.
        None if cx.entities.put_link_if_absent(&EntityLink::pending(key)).await? => None,
        None => match cx.entities.link(key).await? {
            Some(link) if !link.is_pending() => return Ok(link),
            _ => reconcile(cx, contact_id, &marker(key), &new).await?,
        },
    };
    let (ghl_id, completed) = match found {
        Some(found) => found,
        None => match create(cx, contact_id, key, &new).await {
            Ok(created) => {
                // A crash test kills the worker here: GHL has the entity, the map does not yet.
                fail::fail_point!("after-ghl-create");
                created
            }
            // GHL may have created it and the answer was lost (5xx, timeout, dropped connection):
            // look for it before anything else, with a fresh list. If it is not there, the event
            // is redelivered, and its re-attempt reconciles again before creating (the intent is
            // written), by which time a slow create has surely landed.
            Err(e) if e.failure() == Failure::MaybeActed => {
                cx.listed.forget(contact_id, &new);
                match reconcile(cx, contact_id, &marker(key), &new).await? {
                    Some(found) => found,
                    None => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        },
    };
    let link = EntityLink {
        key: key.clone(),
        ghl_id,
        completed,
    };
    cx.entities.put_link(&link).await?;
    Ok(link)
}

/// Creates the entity with the key's marker. Not retried by the client once GHL may have acted
/// (the caller looks for it instead): a repeat could not be told from the first.
async fn create(
    cx: &Context<'_>,
    contact_id: &str,
    key: &EntityKey,
    new: &NewEntity<'_>,
) -> Result<(String, bool), GhlError> {
    Ok(match new {
        NewEntity::Task { spec, completed } => {
            let task = NewTask {
                title: spec.title.clone(),
                body: Some(with_marker(&spec.body, key)),
                due_date: spec.due_date.clone(),
                completed: *completed,
                assigned_to: spec.assignee.clone(),
            };
            let id = cx
                .ghl
                .create_task(contact_id, &task, Idempotence::NotIdempotent)
                .await?
                .id;
            metric::count(metric::EFFECTS_APPLIED, Some(("Effect", "TaskCreated")));
            (id, *completed)
        }
        NewEntity::Note(note) => {
            let fields = NoteFields {
                body: Some(with_marker(note.body.as_deref().unwrap_or_default(), key)),
                ..(*note).clone()
            };
            let id = cx
                .ghl
                .create_note(contact_id, &fields, Idempotence::NotIdempotent)
                .await?
                .id;
            metric::count(metric::EFFECTS_APPLIED, Some(("Effect", "NoteCreated")));
            (id, false)
        }
    })
}

/// The entity a previous attempt created under `mark`, if any: one list per contact and event.
async fn reconcile(
    cx: &Context<'_>,
    contact_id: &str,
    mark: &str,
    new: &NewEntity<'_>,
) -> Result<Option<(String, bool)>, SyncError> {
    let cache = match new {
        NewEntity::Task { .. } => &cx.listed.tasks,
        NewEntity::Note(_) => &cx.listed.notes,
    };
    let entries = match Listed::get(cache, contact_id) {
        Some(entries) => entries,
        None => {
            let entries: Vec<_> = match new {
                NewEntity::Task { .. } => cx
                    .ghl
                    .list_tasks(contact_id)
                    .await?
                    .into_iter()
                    .map(|t| (t.id, t.body, t.completed))
                    .collect(),
                NewEntity::Note(_) => cx
                    .ghl
                    .list_notes(contact_id)
                    .await?
                    .into_iter()
                    .map(|n| (n.id, n.body, false))
                    .collect(),
            };
            Listed::put(cache, contact_id, entries.clone());
            entries
        }
    };
    Ok(entries
        .into_iter()
        .find(|(_, body, _)| carries(body.as_deref(), mark))
        .map(|(id, _, completed)| (id, completed)))
}

/// Completes the task behind `key`, creating it completed if it never existed. Never reopens.
pub(crate) async fn complete_task(
    cx: &Context<'_>,
    contact_id: &str,
    key: &EntityKey,
    spec: &TaskSpec,
) -> Result<EntityLink, SyncError> {
    let mut link = ensure(
        cx,
        contact_id,
        key,
        NewEntity::Task {
            spec,
            completed: true,
        },
    )
    .await?;
    if !link.completed {
        cx.ghl.set_task_completed(contact_id, &link.ghl_id, true).await?;
        link.completed = true;
        cx.entities.put_link(&link).await?;
    }
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MilestoneKind, SourcePlatform};

    #[test]
    fn markers_are_stable_and_distinct() {
        let key = |id: &str| {
            EntityKey::milestone_task(&SourcePlatform::skilljar(), "u1", MilestoneKind::Course, id)
        };
        assert_eq!(marker(&key("c1")), marker(&key("c1")));
        assert_ne!(marker(&key("c1")), marker(&key("c2")));
        // The marker of "task:skilljar:u1:course:c1", as tasks created before keys.rs carry it.
        assert_eq!(marker(&key("c1")), "[lms-sync:82ad48ee31cb0b6c]");
        let k = key("k");
        assert!(marker(&k).starts_with("[lms-sync:") && marker(&k).len() == 27);
        assert_eq!(with_marker("", &k), marker(&k));
        assert!(with_marker("Body", &k).starts_with("Body\n\n[lms-sync:"));
    }
}
