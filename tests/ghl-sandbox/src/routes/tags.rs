//! `POST` / `DELETE /contacts/:contactId/tags` (`TagsDTO`): add to or remove from the contact's
//! tags, answering with the tags it has afterwards.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use bytes::Bytes;
use http::StatusCode;
use serde_json::json;

use super::{Reply, location_with_contact, reply};
use crate::body;
use crate::error::Problems;
use crate::gate::Caller;
use crate::model::now_ms;
use crate::server::Shared;

pub(crate) async fn add(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Reply {
    let tags = parse(&body)?;
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let mut contact = loc.contact(&contact_id)?.clone();
    contact.tags = body::normalise_tags(contact.tags.into_iter().chain(tags));
    contact.date_updated = now_ms();
    let answer = json!({"tags": contact.tags});
    shared.webhooks.contact("ContactTagUpdate", &contact);
    loc.contacts.put(contact);
    reply(StatusCode::CREATED, answer)
}

pub(crate) async fn remove(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Reply {
    let tags = parse(&body)?;
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let mut contact = loc.contact(&contact_id)?.clone();
    contact.tags.retain(|t| !tags.contains(t));
    contact.date_updated = now_ms();
    let answer = json!({"tags": contact.tags});
    shared.webhooks.contact("ContactTagUpdate", &contact);
    loc.contacts.put(contact);
    reply(StatusCode::OK, answer)
}

fn parse(bytes: &Bytes) -> Result<Vec<String>, crate::error::ApiError> {
    let body = body::object(bytes)?;
    let mut problems = Problems::default();
    body::reject_unknown(&body, &["tags"], &mut problems);
    let tags = body::required_string_array(&body, "tags", &mut problems);
    problems.into_result()?;
    Ok(body::normalise_tags(tags.unwrap_or_default()))
}
