//! A contact's notes (`GetNoteSchema`, `NotesDTO`, `UpdateNoteDTO`).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::{Reply, location_with_contact, reply};
use crate::body::{self, Object};
use crate::error::{ApiError, Problems};
use crate::gate::Caller;
use crate::model::{Note, now_ms};
use crate::server::Shared;

const FIELDS: [&str; 5] = ["userId", "body", "title", "color", "pinned"];

pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(contact_id): Path<String>,
) -> Reply {
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    // Newest first, as GHL lists them.
    let notes: Vec<Value> = loc
        .notes
        .get(&contact_id)
        .into_iter()
        .flatten()
        .rev()
        .map(Note::to_json)
        .collect();
    reply(StatusCode::OK, json!({"notes": notes}))
}

pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((contact_id, note_id)): Path<(String, String)>,
) -> Reply {
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let note = find(loc.notes.get_mut(&contact_id), &note_id)?;
    reply(StatusCode::OK, json!({"note": note.to_json()}))
}

pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    let mut problems = Problems::default();
    body::reject_unknown(&body, &FIELDS, &mut problems);
    let text = body::required_string(&body, "body", &mut problems);
    let fields = NoteFields::parse(&body, &mut problems);
    problems.into_result()?;
    let mut state = shared.state();
    let id = state.new_id();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let note = Note {
        id,
        contact_id: contact_id.clone(),
        body: text.unwrap_or_default(),
        // GHL attributes an API note to the installing user when none is named.
        user_id: fields.user_id.flatten().or_else(|| Some(loc.user_id.clone())),
        title: fields.title.flatten(),
        color: fields.color.flatten(),
        pinned: fields.pinned.unwrap_or(false),
        date_added: now_ms(),
    };
    loc.notes.entry(contact_id).or_default().push(note.clone());
    shared.webhooks.note("NoteCreate", &caller.location_id, &note);
    reply(StatusCode::CREATED, json!({"note": note.to_json()}))
}

pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((contact_id, note_id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    let mut problems = Problems::default();
    body::reject_unknown(&body, &FIELDS, &mut problems);
    let text = body::string(&body, "body", &mut problems);
    let fields = NoteFields::parse(&body, &mut problems);
    problems.into_result()?;
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let note = find(loc.notes.get_mut(&contact_id), &note_id)?;
    if let Some(Some(text)) = text {
        note.body = text;
    }
    if let Some(user_id) = fields.user_id {
        note.user_id = user_id;
    }
    if let Some(title) = fields.title {
        note.title = title;
    }
    if let Some(color) = fields.color {
        note.color = color;
    }
    if let Some(pinned) = fields.pinned {
        note.pinned = pinned;
    }
    shared.webhooks.note("NoteUpdate", &caller.location_id, note);
    reply(StatusCode::OK, json!({"note": note.to_json()}))
}

pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((contact_id, note_id)): Path<(String, String)>,
) -> Reply {
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let notes = loc.notes.entry(contact_id).or_default();
    let Some(at) = notes.iter().position(|n| n.id == note_id) else {
        return Err(ApiError::NotFound("Note not found".into()));
    };
    let removed = notes.remove(at);
    shared.webhooks.note("NoteDelete", &caller.location_id, &removed);
    reply(StatusCode::OK, json!({"succeded": true}))
}

fn find<'a>(notes: Option<&'a mut Vec<Note>>, note_id: &str) -> Result<&'a mut Note, ApiError> {
    notes
        .into_iter()
        .flatten()
        .find(|n| n.id == note_id)
        .ok_or_else(|| ApiError::NotFound("Note not found".into()))
}

struct NoteFields {
    user_id: Option<Option<String>>,
    title: Option<Option<String>>,
    color: Option<Option<String>>,
    pinned: Option<bool>,
}

impl NoteFields {
    fn parse(body: &Object, problems: &mut Problems) -> Self {
        Self {
            user_id: body::string(body, "userId", problems),
            title: body::string(body, "title", problems),
            color: body::string(body, "color", problems),
            pinned: body::boolean(body, "pinned", problems),
        }
    }
}
