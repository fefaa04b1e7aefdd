//! How a `NoteAdded` (generic `note.added`: TalkNotes, TalentLMS / Trainual senders) becomes a
//! GHL note on the learner's contact, once, with the contact's context fields refreshed.

use super::contact::{custom_fields, ensure_contact};
use super::effects::ensure_note;
use super::templates::Values;
use super::{SyncError, SyncWorker};
use crate::domain::NoteAdded;
use crate::ghl::{ContactFields, GhlClient, NoteFields};

pub async fn sync(worker: &SyncWorker, ghl: &GhlClient, n: &NoteAdded) -> Result<String, SyncError> {
    let contact_id = ensure_contact(worker, ghl, &n.source, &n.learner).await?;
    let rules = &worker.mapping.note_added;
    let note = match rules
        .template
        .as_ref()
        .and_then(|t| worker.mapping.note_templates.get(t.get_ref()))
    {
        Some(template) => Values {
            source: Some(&n.source),
            learner: Some(&n.learner),
            note: Some((n.title.as_deref(), &n.content, n.author.as_deref())),
            occurred_at: Some(n.occurred_at),
            ..Values::default()
        }
        .note(template),
        None => NoteFields {
            title: n.title.clone(),
            body: Some(n.content.clone()),
            user_id: None,
        },
    };
    let key = format!("note:{}:{}", n.source, n.note_id);
    let link = ensure_note(worker, ghl, &contact_id, &key, &note).await?;

    let context = n
        .context
        .iter()
        .filter_map(|(k, v)| rules.context_fields.get(k).map(|f| (f.clone(), v.clone())));
    let fields = custom_fields(ghl, context).await?;
    if !fields.is_empty() {
        ghl.update_contact(
            &contact_id,
            &ContactFields {
                custom_fields: fields,
                ..ContactFields::default()
            },
        )
        .await?;
    }
    Ok(format!("contact {contact_id}; note {}", link.ghl_id))
}
