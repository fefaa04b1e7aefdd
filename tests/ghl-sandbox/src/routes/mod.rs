//! The route table, in the spec's path syntax, and helpers the handlers share.

mod appointments;
mod contacts;
mod locations;
mod notes;
mod objects;
mod search;
mod tags;
mod tasks;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use http::{Method, StatusCode, Uri};
use serde_json::{Value, json};

use crate::error::{ApiError, FORBIDDEN_LOCATION};
use crate::gate::{self, Caller};
use crate::oauth;
use crate::server::Shared;
use crate::state::{LocationState, State};

pub(crate) type Reply = Result<Response, ApiError>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let resources = Router::new()
        .route("/contacts/", get(contacts::list).post(contacts::create))
        .route("/contacts/upsert", post(contacts::upsert))
        .route("/contacts/search", post(search::search))
        .route("/contacts/search/duplicate", get(contacts::duplicate))
        .route("/contacts/business/{businessId}", get(contacts::by_business))
        .route(
            "/contacts/{contactId}",
            get(contacts::get).put(contacts::update).delete(contacts::delete),
        )
        .route(
            "/contacts/{contactId}/tasks",
            get(tasks::list).post(tasks::create),
        )
        .route(
            "/contacts/{contactId}/tasks/{taskId}",
            get(tasks::get).put(tasks::update).delete(tasks::delete),
        )
        .route(
            "/contacts/{contactId}/tasks/{taskId}/completed",
            put(tasks::complete),
        )
        .route(
            "/contacts/{contactId}/notes",
            get(notes::list).post(notes::create),
        )
        .route(
            "/contacts/{contactId}/notes/{id}",
            get(notes::get).put(notes::update).delete(notes::delete),
        )
        .route("/contacts/{contactId}/appointments", get(appointments::list))
        .route("/contacts/{contactId}/tags", post(tags::add).delete(tags::remove))
        .route(
            "/locations/{locationId}/customFields",
            get(locations::custom_fields),
        )
        .route(
            "/locations/{locationId}/customFields/{id}",
            get(locations::custom_field),
        )
        .merge(custom_objects(&shared))
        .route_layer(from_fn_with_state(shared.clone(), gate::resource));
    let oauth = Router::new()
        .route("/oauth/token", post(oauth::token))
        .route_layer(from_fn_with_state(shared.clone(), gate::token));
    resources
        .merge(oauth)
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

/// Custom objects, their fields (custom fields v2) and associations: behind `objects::scope`,
/// which answers 401 for a location without custom objects.
fn custom_objects(shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/objects/",
            get(objects::list_schemas).post(objects::create_schema),
        )
        .route(
            "/objects/{key}",
            get(objects::get_schema).put(objects::update_schema),
        )
        .route("/objects/{key}/records", post(objects::create_record))
        .route("/objects/{key}/records/search", post(objects::search_records))
        .route(
            "/objects/{key}/records/{id}",
            get(objects::get_record)
                .put(objects::update_record)
                .delete(objects::delete_record),
        )
        .route("/custom-fields/", post(objects::create_field))
        .route("/custom-fields/folder", post(objects::create_folder))
        .route(
            "/custom-fields/object-key/{objectKey}",
            get(objects::fields_of_object),
        )
        .route(
            "/associations/",
            get(objects::list_associations).post(objects::create_association),
        )
        .route("/associations/relations", post(objects::create_relation))
        .route(
            "/associations/relations/{id}",
            get(objects::relations_of_record).delete(objects::delete_relation),
        )
        .route(
            "/associations/objectKey/{objectKey}",
            get(objects::associations_of_object),
        )
        .route("/associations/key/{key}", get(objects::association_by_key))
        .route_layer(from_fn_with_state(shared.clone(), objects::scope))
}

/// NestJS's answer for a route it does not have.
async fn not_found(method: Method, uri: Uri) -> Response {
    let body = json!({
        "statusCode": 404,
        "message": format!("Cannot {method} {}", uri.path()),
        "error": "Not Found",
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

pub(crate) fn reply(status: StatusCode, body: Value) -> Reply {
    Ok((status, Json(body)).into_response())
}

/// A token acts for one location; naming another one is refused as GHL does.
pub(crate) fn ensure_location(caller: &Caller, location_id: &str) -> Result<(), ApiError> {
    if caller.location_id == location_id {
        Ok(())
    } else {
        Err(ApiError::Forbidden(FORBIDDEN_LOCATION))
    }
}

/// 403 when the contact lives in another location (the caller used the wrong token), else 404.
pub(crate) fn missing_contact(state: &State, caller: &Caller, contact_id: &str) -> ApiError {
    if state.contact_elsewhere(&caller.location_id, contact_id) {
        ApiError::Forbidden(FORBIDDEN_LOCATION)
    } else {
        ApiError::contact_not_found()
    }
}

/// The caller's location, once the contact is known to be in it.
pub(crate) fn location_with_contact<'a>(
    state: &'a mut State,
    caller: &Caller,
    contact_id: &str,
) -> Result<&'a mut LocationState, ApiError> {
    let present = state
        .locations
        .get(&caller.location_id)
        .is_some_and(|loc| loc.contacts.contains(contact_id));
    if !present {
        return Err(missing_contact(state, caller, contact_id));
    }
    state.location_mut(&caller.location_id)
}
