//! A location's contact custom fields (`CustomFieldsListSuccessfulResponseDto`,
//! `CustomFieldSuccessfulResponseDto` in locations.json).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use http::StatusCode;
use serde_json::{Value, json};

use super::{Reply, ensure_location, reply};
use crate::body;
use crate::error::ApiError;
use crate::gate::Caller;
use crate::model::custom_field_json;
use crate::server::Shared;

/// `model=opportunity` lists nothing: the sandbox only has contact fields.
pub(crate) async fn custom_fields(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(location_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    ensure_location(&caller, &location_id)?;
    let q = body::query(raw.as_deref())?;
    let model = q.get("model").map(String::as_str).unwrap_or("all");
    if !["all", "contact", "opportunity"].contains(&model) {
        return Err(ApiError::unprocessable(
            "model must be one of the following values: contact, opportunity, all",
        ));
    }
    let state = shared.state();
    let loc = state.location(&location_id)?;
    let fields: Vec<Value> = if model == "opportunity" {
        Vec::new()
    } else {
        loc.custom_fields
            .iter()
            .enumerate()
            .map(|(i, def)| custom_field_json(def, &location_id, i))
            .collect()
    };
    reply(StatusCode::OK, json!({"customFields": fields}))
}

pub(crate) async fn custom_field(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((location_id, field_id)): Path<(String, String)>,
) -> Reply {
    ensure_location(&caller, &location_id)?;
    let state = shared.state();
    let loc = state.location(&location_id)?;
    let (position, def) = loc
        .custom_fields
        .iter()
        .enumerate()
        .find(|(_, d)| d.id == field_id || format!("contact.{}", d.key) == field_id)
        .ok_or_else(|| ApiError::NotFound("Custom field not found".into()))?;
    reply(
        StatusCode::OK,
        json!({"customField": custom_field_json(def, &location_id, position)}),
    )
}
