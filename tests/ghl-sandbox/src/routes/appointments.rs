//! `GET /contacts/:contactId/appointments`: the events seeded with `Sandbox::seed_appointment`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use http::StatusCode;
use serde_json::json;

use super::{Reply, location_with_contact, reply};
use crate::gate::Caller;
use crate::server::Shared;

pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(contact_id): Path<String>,
) -> Reply {
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let events = loc.events.get(&contact_id).cloned().unwrap_or_default();
    reply(StatusCode::OK, json!({"events": events}))
}
