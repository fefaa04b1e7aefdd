//! Custom objects: schemas (`/objects/`), their fields (`/custom-fields/`), records
//! (`/objects/{schemaKey}/records`), associations and relations (`/associations/`). A location
//! configured without custom objects answers every one of them 401, as GHL does for a token
//! without the objects scopes.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Reply, ensure_location, reply};
use crate::body::{self, Object};
use crate::error::ApiError;
use crate::gate::Caller;
use crate::model::now_ms;
use crate::objects::{
    Association, OBJECT_PREFIX, ObjectField, ObjectRecord, ObjectSchema, Objects, Relation,
};
use crate::server::Shared;
use crate::state::State as SandboxState;

/// GHL's answer to a token without the scope an endpoint needs.
pub(crate) const NO_SCOPE: &str = "The token is not authorized for this scope.";

/// Layer on every `/objects`, `/custom-fields` and `/associations` route, inside the gate (so the
/// request was authenticated and spent its budget, as any request GHL's edge lets through): a
/// location without custom objects answers 401 before its body or query is looked at, the way
/// NestJS guards run before validation.
pub(crate) async fn scope(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    req: Request,
    next: Next,
) -> Response {
    let available = shared
        .state()
        .locations
        .get(&caller.location_id)
        .is_some_and(|loc| loc.objects.available);
    if available {
        next.run(req).await
    } else {
        ApiError::NoScope(NO_SCOPE).into_response()
    }
}

/// The caller's location's objects, if its plan has them.
fn objects<'a>(state: &'a mut SandboxState, caller: &Caller) -> Result<&'a mut Objects, ApiError> {
    let loc = state.location_mut(&caller.location_id)?;
    if loc.objects.available {
        Ok(&mut loc.objects)
    } else {
        Err(ApiError::NoScope(NO_SCOPE))
    }
}

/// `owner` / `followers` of a record body: arrays of user ids (GHL allows 1 owner, 10 followers).
fn user_ids(body: &Object, name: &str, max: usize) -> Result<Option<Vec<String>>, ApiError> {
    let Some(value) = body.get(name) else {
        return Ok(None);
    };
    let ids: Option<Vec<String>> = value
        .as_array()
        .and_then(|list| list.iter().map(|v| v.as_str().map(str::to_owned)).collect());
    match ids {
        Some(ids) if ids.len() <= max => Ok(Some(ids)),
        Some(_) => Err(ApiError::BadRequest(format!(
            "{name} takes at most {max} user id(s)"
        ))),
        None => Err(ApiError::unprocessable(format!(
            "{name} must be an array of strings"
        ))),
    }
}

/// A property's value as search compares it: strings as they are, anything else as JSON text.
fn searchable_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A `locationId` in the query or body must be the caller's.
fn named_location(caller: &Caller, value: Option<&str>, required: bool) -> Result<(), ApiError> {
    match value {
        Some(id) => ensure_location(caller, id),
        None if required => Err(ApiError::unprocessable("locationId should not be empty")),
        None => Ok(()),
    }
}

/// The named fields as non-blank strings, or one 422 listing every one missing (plus `extra`
/// problems the caller found), as NestJS validation answers.
fn required<const N: usize>(
    body: &Object,
    names: [&str; N],
    extra: Vec<String>,
) -> Result<[String; N], ApiError> {
    let mut missing: Vec<String> = names
        .iter()
        .filter(|name| text(body, name).is_none())
        .map(|name| format!("{name} should not be empty"))
        .collect();
    missing.extend(extra);
    if !missing.is_empty() {
        return Err(ApiError::Unprocessable(missing));
    }
    Ok(names.map(|name| text(body, name).unwrap_or_default().to_owned()))
}

fn text<'a>(body: &'a Object, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn full_key(key: &str) -> String {
    if key.starts_with(OBJECT_PREFIX) {
        key.to_owned()
    } else {
        format!("{OBJECT_PREFIX}{key}")
    }
}

fn schema_not_found(key: &str) -> ApiError {
    ApiError::NotFound(format!("Custom object {key} not found"))
}

pub(crate) async fn list_schemas(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = body::query(raw.as_deref())?;
    named_location(&caller, q.get("locationId").map(String::as_str), true)?;
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let list: Vec<Value> = objects
        .schemas
        .iter()
        .map(|s| s.to_json(&caller.location_id))
        .collect();
    reply(StatusCode::OK, json!({ "objects": list }))
}

pub(crate) async fn create_schema(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    named_location(&caller, text(&body, "locationId"), true)?;
    let key = text(&body, "key").ok_or_else(|| ApiError::unprocessable("key should not be empty"))?;
    let key = full_key(key);
    let short = &key[OBJECT_PREFIX.len()..];
    if short.is_empty()
        || !short
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(ApiError::BadRequest(format!(
            "key {key} must be lowercase letters, digits and underscores"
        )));
    }
    let labels = body.get("labels").and_then(Value::as_object);
    let label = |name: &str| {
        labels
            .and_then(|l| l.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (Some(singular), Some(plural)) = (label("singular"), label("plural")) else {
        return Err(ApiError::unprocessable(
            "labels.singular and labels.plural are required",
        ));
    };
    let primary = body
        .get("primaryDisplayPropertyDetails")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::unprocessable("primaryDisplayPropertyDetails is required"))?;
    let primary_key = text(primary, "key").map(str::to_owned).unwrap_or_default();
    let primary_name = text(primary, "name").unwrap_or("Name").to_owned();
    let data_type = text(primary, "dataType").unwrap_or("TEXT").to_owned();
    if !["TEXT", "NUMERICAL"].contains(&data_type.as_str()) {
        return Err(ApiError::BadRequest(
            "primaryDisplayPropertyDetails.dataType must be TEXT or NUMERICAL".into(),
        ));
    }
    let field_key = if primary_key.starts_with(&key) {
        primary_key
    } else {
        format!("{key}.{}", primary_key.rsplit('.').next().unwrap_or("name"))
    };
    let mut state = shared.state();
    let schema_id = state.random_hex(24);
    let field_id = state.new_id();
    let now = now_ms();
    let objects = objects(&mut state, &caller)?;
    if objects.schema(&key).is_some() {
        return Err(ApiError::BadRequest(format!(
            "Custom object with key {key} already exists"
        )));
    }
    let schema = ObjectSchema {
        id: schema_id,
        key: key.clone(),
        singular,
        plural,
        description: text(&body, "description").map(str::to_owned),
        primary: field_key.clone(),
        searchable: vec![field_key.clone()],
        fields: vec![ObjectField {
            id: field_id,
            field_key,
            name: primary_name,
            data_type,
            options: Vec::new(),
            parent_id: None,
        }],
        folders: Vec::new(),
        date_added: now,
        date_updated: now,
    };
    let answer = schema.to_json(&caller.location_id);
    objects.schemas.push(schema);
    reply(StatusCode::CREATED, json!({ "object": answer }))
}

pub(crate) async fn get_schema(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = body::query(raw.as_deref())?;
    named_location(&caller, q.get("locationId").map(String::as_str), true)?;
    let with_fields = q.get("fetchProperties").is_some_and(|v| v == "true");
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let schema = objects.schema(&key).ok_or_else(|| schema_not_found(&key))?;
    let fields: Vec<Value> = if with_fields {
        schema
            .fields
            .iter()
            .map(|f| f.to_json(&schema.key, &caller.location_id))
            .collect()
    } else {
        Vec::new()
    };
    reply(
        StatusCode::OK,
        json!({ "object": schema.to_json(&caller.location_id), "cache": false, "fields": fields }),
    )
}

pub(crate) async fn update_schema(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    named_location(&caller, text(&body, "locationId"), true)?;
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let schema = objects.schema_mut(&key).ok_or_else(|| schema_not_found(&key))?;
    if let Some(searchable) = body.get("searchableProperties") {
        let keys: Vec<String> = searchable
            .as_array()
            .ok_or_else(|| ApiError::unprocessable("searchableProperties must be an array"))?
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        if let Some(unknown) = keys.iter().find(|k| schema.field(k).is_none()) {
            return Err(ApiError::BadRequest(format!(
                "{unknown} is not a field of {}",
                schema.key
            )));
        }
        schema.searchable = keys
            .iter()
            .filter_map(|k| schema.field(k).map(|f| f.field_key.clone()))
            .collect();
    }
    if let Some(labels) = body.get("labels") {
        let labels = labels
            .as_object()
            .ok_or_else(|| ApiError::unprocessable("labels must be an object"))?;
        if let Some(singular) = text(labels, "singular") {
            schema.singular = singular.to_owned();
        }
        if let Some(plural) = text(labels, "plural") {
            schema.plural = plural.to_owned();
        }
    }
    if let Some(description) = text(&body, "description") {
        schema.description = Some(description.to_owned());
    }
    schema.date_updated = now_ms();
    reply(
        StatusCode::OK,
        json!({ "object": schema.to_json(&caller.location_id) }),
    )
}

pub(crate) async fn create_folder(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    named_location(&caller, text(&body, "locationId"), true)?;
    let [object_key, name] = required(&body, ["objectKey", "name"], Vec::new())?;
    let (object_key, name) = (object_key.as_str(), name.as_str());
    let mut state = shared.state();
    let id = state.new_id();
    let objects = objects(&mut state, &caller)?;
    let schema = objects
        .schema_mut(object_key)
        .ok_or_else(|| schema_not_found(object_key))?;
    schema.folders.push((id.clone(), name.to_owned()));
    reply(
        StatusCode::CREATED,
        json!({ "id": id, "name": name, "objectKey": schema.key, "locationId": caller.location_id }),
    )
}

pub(crate) async fn create_field(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Reply {
    const TYPES: [&str; 13] = [
        "TEXT",
        "LARGE_TEXT",
        "NUMERICAL",
        "PHONE",
        "MONETORY",
        "CHECKBOX",
        "SINGLE_OPTIONS",
        "MULTIPLE_OPTIONS",
        "DATE",
        "TEXTBOX_LIST",
        "FILE_UPLOAD",
        "RADIO",
        "EMAIL",
    ];
    let body = body::object(&body)?;
    named_location(&caller, text(&body, "locationId"), true)?;
    let show_in_forms = body
        .get("showInForms")
        .and_then(Value::as_bool)
        .is_none()
        .then(|| "showInForms must be a boolean value".to_owned());
    let [data_type, field_key, object_key, parent_id] = required(
        &body,
        ["dataType", "fieldKey", "objectKey", "parentId"],
        show_in_forms.into_iter().collect(),
    )?;
    if !TYPES.contains(&data_type.as_str()) {
        return Err(ApiError::unprocessable(format!(
            "dataType must be one of {}",
            TYPES.join(", ")
        )));
    }
    let options: Vec<String> = body
        .get("options")
        .and_then(Value::as_array)
        .map(|options| {
            options
                .iter()
                .filter_map(|o| o.get("key").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if ["SINGLE_OPTIONS", "MULTIPLE_OPTIONS", "RADIO"].contains(&data_type.as_str()) && options.is_empty() {
        return Err(ApiError::BadRequest(format!("{data_type} fields need options")));
    }
    let mut state = shared.state();
    let id = state.new_id();
    let objects = objects(&mut state, &caller)?;
    let schema = objects
        .schema_mut(&object_key)
        .ok_or_else(|| schema_not_found(&object_key))?;
    if !field_key.starts_with(&format!("{}.", schema.key)) {
        return Err(ApiError::BadRequest(format!(
            "fieldKey must start with {}.",
            schema.key
        )));
    }
    if schema.fields.iter().any(|f| f.field_key == field_key) {
        return Err(ApiError::BadRequest(format!(
            "A field with key {field_key} already exists"
        )));
    }
    if !schema.folders.iter().any(|(folder, _)| *folder == parent_id) {
        return Err(ApiError::BadRequest(format!("Folder {parent_id} not found")));
    }
    let field = ObjectField {
        id,
        field_key,
        name: text(&body, "name").unwrap_or_default().to_owned(),
        data_type,
        options,
        parent_id: Some(parent_id),
    };
    let answer = field.to_json(&schema.key, &caller.location_id);
    schema.fields.push(field);
    reply(StatusCode::CREATED, json!({ "field": answer }))
}

pub(crate) async fn fields_of_object(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(object_key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = body::query(raw.as_deref())?;
    named_location(&caller, q.get("locationId").map(String::as_str), true)?;
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let schema = objects
        .schema(&object_key)
        .ok_or_else(|| schema_not_found(&object_key))?;
    let fields: Vec<Value> = schema
        .fields
        .iter()
        .map(|f| f.to_json(&schema.key, &caller.location_id))
        .collect();
    let folders: Vec<Value> = schema
        .folders
        .iter()
        .map(|(id, name)| json!({ "id": id, "name": name, "objectKey": schema.key }))
        .collect();
    reply(StatusCode::OK, json!({ "fields": fields, "folders": folders }))
}

/// Checks each property against the schema's fields: known, and of the field's type.
fn checked_properties(schema: &ObjectSchema, body: &Object) -> Result<Map<String, Value>, ApiError> {
    let properties = match body.get("properties") {
        Some(Value::Object(p)) => p,
        Some(_) => return Err(ApiError::unprocessable("properties must be an object")),
        None => return Ok(Map::new()),
    };
    let mut checked = Map::new();
    let mut problems = Vec::new();
    for (key, value) in properties {
        match schema.field(key) {
            None => problems.push(format!("{key} is not a field of {}", schema.key)),
            Some(field) => match field.refuses(value) {
                Some(problem) => problems.push(problem),
                None => {
                    checked.insert(field.short_key().to_owned(), value.clone());
                }
            },
        }
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(ApiError::BadRequest(problems.join("; ")))
    }
}

pub(crate) async fn create_record(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    named_location(&caller, text(&body, "locationId"), true)?;
    let owners = user_ids(&body, "owner", 1)?.unwrap_or_default();
    let followers = user_ids(&body, "followers", 10)?.unwrap_or_default();
    let mut state = shared.state();
    let id = state.random_hex(24);
    let objects = objects(&mut state, &caller)?;
    let schema = objects.schema(&key).ok_or_else(|| schema_not_found(&key))?;
    let properties = checked_properties(schema, &body)?;
    let now = now_ms();
    let record = ObjectRecord {
        id,
        object_key: schema.key.clone(),
        properties,
        owners,
        followers,
        date_added: now,
        date_updated: now,
    };
    objects.records.push(record.clone());
    shared
        .webhooks
        .record("RecordCreate", &caller.location_id, &record);
    reply(
        StatusCode::CREATED,
        json!({ "record": record.to_json(&caller.location_id) }),
    )
}

fn record_not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("Record {id} not found"))
}

pub(crate) async fn get_record(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((key, id)): Path<(String, String)>,
) -> Reply {
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let schema_key = objects
        .schema(&key)
        .ok_or_else(|| schema_not_found(&key))?
        .key
        .clone();
    let record = objects
        .records
        .iter()
        .find(|r| r.id == id && r.object_key == schema_key)
        .ok_or_else(|| record_not_found(&id))?;
    reply(
        StatusCode::OK,
        json!({ "record": record.to_json(&caller.location_id) }),
    )
}

pub(crate) async fn update_record(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((key, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Reply {
    let q = body::query(raw.as_deref())?;
    named_location(&caller, q.get("locationId").map(String::as_str), true)?;
    let body = body::object(&body)?;
    let owners = user_ids(&body, "owner", 1)?;
    let followers = user_ids(&body, "followers", 10)?;
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let schema = objects.schema(&key).ok_or_else(|| schema_not_found(&key))?;
    let properties = checked_properties(schema, &body)?;
    let schema_key = schema.key.clone();
    let record = objects
        .records
        .iter_mut()
        .find(|r| r.id == id && r.object_key == schema_key)
        .ok_or_else(|| record_not_found(&id))?;
    for (k, v) in properties {
        record.properties.insert(k, v);
    }
    if let Some(owners) = owners {
        record.owners = owners;
    }
    if let Some(followers) = followers {
        record.followers = followers;
    }
    record.date_updated = now_ms();
    let record = record.clone();
    shared
        .webhooks
        .record("RecordUpdate", &caller.location_id, &record);
    reply(
        StatusCode::OK,
        json!({ "record": record.to_json(&caller.location_id) }),
    )
}

pub(crate) async fn delete_record(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((key, id)): Path<(String, String)>,
) -> Reply {
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let schema_key = objects
        .schema(&key)
        .ok_or_else(|| schema_not_found(&key))?
        .key
        .clone();
    let before = objects.records.len();
    objects
        .records
        .retain(|r| !(r.id == id && r.object_key == schema_key));
    if objects.records.len() == before {
        return Err(record_not_found(&id));
    }
    objects
        .relations
        .retain(|r| r.first_record_id != id && r.second_record_id != id);
    reply(StatusCode::OK, json!({ "id": id, "success": true }))
}

/// `query` is `property:value`, matched exactly against a searchable property.
pub(crate) async fn search_records(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    named_location(&caller, text(&body, "locationId"), true)?;
    let mut missing = Vec::new();
    for required in ["page", "pageLimit"] {
        if !body.get(required).is_some_and(Value::is_number) {
            missing.push(format!("{required} must be a number"));
        }
    }
    if !body.get("searchAfter").is_some_and(Value::is_array) {
        missing.push("searchAfter must be an array".into());
    }
    if !body.get("query").is_some_and(Value::is_string) {
        missing.push("query must be a string".into());
    }
    if !missing.is_empty() {
        return Err(ApiError::Unprocessable(missing));
    }
    let limit = body
        .get("pageLimit")
        .and_then(Value::as_u64)
        .unwrap_or(10)
        .clamp(1, 100) as usize;
    let page = body.get("page").and_then(Value::as_u64).unwrap_or(1).max(1) as usize;
    let query = text(&body, "query").unwrap_or_default().to_owned();
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let schema = objects.schema(&key).ok_or_else(|| schema_not_found(&key))?;
    let wanted = query.split_once(':').map(|(p, v)| (p.to_owned(), v.to_owned()));
    let searchable: Vec<&ObjectField> = schema.searchable.iter().filter_map(|k| schema.field(k)).collect();
    let matching: Vec<Value> = objects
        .records
        .iter()
        .filter(|r| r.object_key == schema.key)
        .filter(|r| match &wanted {
            Some((property, value)) => searchable
                .iter()
                .find(|f| f.short_key() == property || f.field_key == *property)
                .is_some_and(|f| {
                    r.properties.get(f.short_key()).map(searchable_text).as_ref() == Some(value)
                }),
            None if query.is_empty() => true,
            None => searchable.iter().any(|f| {
                r.properties.get(f.short_key()).map(searchable_text).as_deref() == Some(query.as_str())
            }),
        })
        .map(|r| r.to_json(&caller.location_id))
        .collect();
    let total = matching.len();
    let records: Vec<Value> = matching
        .into_iter()
        .skip((page - 1) * limit)
        .take(limit)
        .collect();
    reply(StatusCode::OK, json!({ "records": records, "total": total }))
}

pub(crate) async fn list_associations(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = body::query(raw.as_deref())?;
    named_location(&caller, q.get("locationId").map(String::as_str), true)?;
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let list: Vec<Value> = objects
        .associations
        .iter()
        .map(|a| a.to_json(&caller.location_id))
        .collect();
    let total = list.len();
    reply(StatusCode::OK, json!({ "associations": list, "total": total }))
}

pub(crate) async fn associations_of_object(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(object_key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = body::query(raw.as_deref())?;
    named_location(&caller, q.get("locationId").map(String::as_str), false)?;
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let list: Vec<Value> = objects
        .associations
        .iter()
        .filter(|a| a.first_object_key == object_key || a.second_object_key == object_key)
        .map(|a| a.to_json(&caller.location_id))
        .collect();
    reply(StatusCode::OK, Value::Array(list))
}

pub(crate) async fn association_by_key(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = body::query(raw.as_deref())?;
    named_location(&caller, q.get("locationId").map(String::as_str), true)?;
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let association = objects
        .associations
        .iter()
        .find(|a| a.key == key)
        .ok_or_else(|| ApiError::NotFound(format!("Association {key} not found")))?;
    reply(StatusCode::OK, association.to_json(&caller.location_id))
}

pub(crate) async fn create_association(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    named_location(&caller, text(&body, "locationId"), true)?;
    let [
        key,
        first_object_key,
        first_label,
        second_object_key,
        second_label,
    ] = required(
        &body,
        [
            "key",
            "firstObjectKey",
            "firstObjectLabel",
            "secondObjectKey",
            "secondObjectLabel",
        ],
        Vec::new(),
    )?;
    let mut state = shared.state();
    let id = state.new_id();
    let objects = objects(&mut state, &caller)?;
    for object_key in [&first_object_key, &second_object_key] {
        let standard = ["contact", "opportunity", "business"].contains(&object_key.as_str());
        if !standard && objects.schema(object_key).is_none() {
            return Err(ApiError::BadRequest(format!("Object {object_key} not found")));
        }
    }
    if objects.associations.iter().any(|a| a.key == key) {
        return Err(ApiError::BadRequest(format!(
            "Association with key {key} already exists"
        )));
    }
    let association = Association {
        id,
        key,
        first_object_key,
        first_label,
        second_object_key,
        second_label,
    };
    let answer = association.to_json(&caller.location_id);
    objects.associations.push(association);
    reply(StatusCode::CREATED, answer)
}

pub(crate) async fn create_relation(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    named_location(&caller, text(&body, "locationId"), true)?;
    let [association_id, first, second] = required(
        &body,
        ["associationId", "firstRecordId", "secondRecordId"],
        Vec::new(),
    )?;
    let mut state = shared.state();
    let id = state.new_id();
    let loc = state.location_mut(&caller.location_id)?;
    if !loc.objects.available {
        return Err(ApiError::NoScope(NO_SCOPE));
    }
    let association = loc
        .objects
        .associations
        .iter()
        .find(|a| a.id == association_id)
        .cloned()
        .ok_or_else(|| ApiError::BadRequest(format!("Association {association_id} not found")))?;
    for (object_key, record_id) in [
        (&association.first_object_key, &first),
        (&association.second_object_key, &second),
    ] {
        let exists = if object_key == "contact" {
            loc.contacts.contains(record_id)
        } else {
            loc.objects
                .records
                .iter()
                .any(|r| r.id == *record_id && r.object_key == *object_key)
        };
        if !exists {
            return Err(ApiError::BadRequest(format!(
                "Record {record_id} of {object_key} not found"
            )));
        }
    }
    let objects = &mut loc.objects;
    if objects.relations.iter().any(|r| {
        r.association_id == association_id && r.first_record_id == first && r.second_record_id == second
    }) {
        return Err(ApiError::BadRequest("Relation already exists".into()));
    }
    let relation = Relation {
        id,
        association_id,
        first_record_id: first,
        second_record_id: second,
    };
    let answer = relation.to_json(&caller.location_id);
    objects.relations.push(relation);
    reply(StatusCode::CREATED, answer)
}

pub(crate) async fn relations_of_record(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(record_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = body::query(raw.as_deref())?;
    named_location(&caller, q.get("locationId").map(String::as_str), true)?;
    let skip: usize = q.get("skip").and_then(|s| s.parse().ok()).unwrap_or(0);
    let limit: usize = q
        .get("limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
        .clamp(1, 100);
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let all: Vec<Value> = objects
        .relations
        .iter()
        .filter(|r| r.first_record_id == record_id || r.second_record_id == record_id)
        .map(|r| r.to_json(&caller.location_id))
        .collect();
    let total = all.len();
    let relations: Vec<Value> = all.into_iter().skip(skip).take(limit).collect();
    reply(StatusCode::OK, json!({ "relations": relations, "total": total }))
}

pub(crate) async fn delete_relation(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(relation_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = body::query(raw.as_deref())?;
    named_location(&caller, q.get("locationId").map(String::as_str), true)?;
    let mut state = shared.state();
    let objects = objects(&mut state, &caller)?;
    let before = objects.relations.len();
    objects.relations.retain(|r| r.id != relation_id);
    if objects.relations.len() == before {
        return Err(ApiError::NotFound(format!("Relation {relation_id} not found")));
    }
    reply(StatusCode::OK, json!({ "id": relation_id, "success": true }))
}
