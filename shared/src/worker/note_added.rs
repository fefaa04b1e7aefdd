//! How a `NoteAdded` (generic `note.added`: TalkNotes, TalentLMS / Trainual senders) becomes a
//! GHL note on the learner's contact, once, with the contact's context fields refreshed.

use super::contact::{custom_fields, ensure_contact_writing, write_fields};
use super::effects::{NewEntity, ensure};
use super::templates::Values;
use super::{Context, SyncError};
use crate::domain::NoteAdded;
use crate::ghl::NoteFields;
use crate::keys::EntityKey;

pub async fn sync(cx: &Context<'_>, n: &NoteAdded) -> Result<String, SyncError> {
    let rules = &cx.mapping.note_added;
    let context = n
        .context
        .iter()
        .filter_map(|(k, v)| rules.context_fields.get(k).map(|f| (f.clone(), v.clone())));
    let fields = custom_fields(cx.ghl, context).await?;
    // The context fields ride on the upsert when the contact is not in the entity map yet.
    let (contact_id, fields) = ensure_contact_writing(cx, &n.source, &n.learner, fields).await?;
    let note = match rules
        .template
        .as_ref()
        .and_then(|t| cx.mapping.note_templates.get(t.get_ref()))
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
    let key = EntityKey::sender_note(&n.source, &n.note_id);
    let link = ensure(cx, &contact_id, &key, NewEntity::Note(&note)).await?;
    write_fields(cx, &contact_id, fields).await?;
    Ok(format!("contact {contact_id}; note {}", link.ghl_id))
}
