//! TalentLMS API v2 (`/api/v2`), JSON in and out, answers wrapped in `{"_data": …}` as the
//! description's user answers are; lists add `_links` and `_meta.pagination`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::{ApiError, State as Data, TalentLmsEnrollment, TalentLmsUser, USER_TYPES, UserFields};
use crate::config::Platform;
use crate::gate::{self, Auth, Gate};
use crate::server::{FullPath, Shared};
use crate::wire::{self, Object, iso_seconds, link, page_count, page_of, param};

type Reply = Result<Response, ApiError>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}", get(get_user).patch(update_user))
        .route("/user-fields", get(list_user_fields))
        .route("/enrollments", post(enroll).delete(unenroll))
        .route("/group-memberships", post(join_group).delete(leave_group))
        .route("/branch-users", post(join_branch).delete(leave_branch))
        .route("/course-progress", get(course_progress))
        .route("/batch/users", post(batch_users))
        .route("/tasks/{id}", get(task))
        .route_layer(from_fn_with_state(
            Gate::new(&shared, Platform::TalentLms, Auth::TalentLmsKey),
            gate::gate,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    ApiError::NotFound("Unknown endpoint".into()).into_response()
}

fn data(status: StatusCode, value: Value) -> Reply {
    Ok((status, Json(json!({ "_data": value }))).into_response())
}

// ---------------------------------------------------------------------------------------------
// Shapes

fn avatar() -> Value {
    let url = "https://talentlms.example/pages/images/default_user.svg";
    json!({"default": url, "sm": url, "md": url, "lg": url, "xl": url})
}

/// `UserListItem`.
fn list_item(user: &TalentLmsUser) -> Value {
    json!({
        "id": user.id,
        "login": user.login,
        "name": user.name,
        "surname": user.surname,
        "email": user.email,
        "avatar": avatar(),
        "timezone": user.timezone,
        "language": user.locale,
        "type": Data::type_name(user.user_type_id),
        "registration": iso_seconds(user.registration),
        "last_login": null,
        "status": user.status,
        "last_updated": iso_seconds(user.last_updated),
        "integration_user_id": null,
    })
}

/// `GET /users/{id}`'s `_data`, every defined custom field listed (`value: null` when unset).
fn detail(data: &Data, user: &TalentLmsUser) -> Value {
    let custom_fields: Vec<Value> = data
        .custom_fields
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "name": f.name,
                "value": user.custom_fields.get(&f.id),
                "type": f.field_type,
            })
        })
        .collect();
    let user_type =
        |id: u64, name: &str| json!({"id": id, "name": name, "is_default": id == super::LEARNER_TYPE});
    json!({
        "id": user.id,
        "login": user.login,
        "name": user.name,
        "surname": user.surname,
        "email": user.email,
        "credits": null,
        "description": user.description.as_ref().map(|d| json!({"html": d, "text": d})),
        "avatar": avatar(),
        "custom_fields": custom_fields,
        "email_notifications": true,
        "timezone": user.timezone,
        "locale": user.locale,
        "user_type": user_type(user.user_type_id, Data::type_name(user.user_type_id)),
        "status": user.status,
        "deactivation_date": user.deactivation_date,
        "available_types": USER_TYPES.iter().map(|(id, name)| user_type(*id, name)).collect::<Vec<_>>(),
    })
}

fn enrollment_json(e: &TalentLmsEnrollment) -> Value {
    json!({
        "user_id": e.user_id,
        "course_id": e.course_id,
        "role": e.role,
        "enrolled_on": iso_seconds(e.enrolled_on),
    })
}

// ---------------------------------------------------------------------------------------------
// Reading bodies

fn must<T>(value: Result<Option<T>, ()>, message: impl FnOnce() -> String) -> Result<Option<T>, ApiError> {
    value.map_err(|()| ApiError::BadRequest(message()))
}

fn string(body: &Object, key: &str) -> Result<Option<String>, ApiError> {
    must(wire::opt_string(body, key), || {
        format!("The {key} must be a string.")
    })
}

/// The user fields of a create or update body. Unknown keys are ignored, as Laravel does: a
/// single create or update silently drops `custom_field_*` (only batch upserts take them).
fn user_fields(data: &Data, body: &Object, with_custom_fields: bool) -> Result<UserFields, ApiError> {
    let status = match body.get("status").or_else(|| body.get("active")) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(true)) => Some("active".to_owned()),
        Some(Value::Bool(false)) => Some("inactive".to_owned()),
        Some(Value::String(s)) => Some(s.trim().to_ascii_lowercase()),
        Some(_) => return Err(ApiError::BadRequest("The selected status is invalid.".into())),
    };
    let mut fields = UserFields {
        login: string(body, "login")?,
        name: string(body, "name")?,
        surname: string(body, "surname")?,
        email: string(body, "email")?,
        password: string(body, "password")?,
        status,
        user_type_id: must(wire::opt_id(body, "user_type_id"), || {
            "The user type id must be an integer.".into()
        })?,
        timezone: string(body, "timezone")?,
        locale: string(body, "locale")?,
        description: string(body, "description")?,
        deactivation_date: string(body, "deactivation_date")?,
        ..UserFields::default()
    };
    if with_custom_fields {
        for (key, value) in body {
            if !key.starts_with("custom_field_") {
                continue;
            }
            let id = data
                .custom_field_id(key)
                .ok_or_else(|| ApiError::BadRequest(format!("The {key} field does not exist.")))?;
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            fields.custom_fields.insert(id, value);
        }
    }
    Ok(fields)
}

/// An integer id from the body or, for DELETEs, the query.
fn id(source: &Object, key: &str) -> Result<u64, ApiError> {
    must(wire::opt_id(source, key), || {
        format!("The {key} must be an integer.")
    })?
    .ok_or_else(|| ApiError::BadRequest(format!("The {key} field is required.")))
}

/// DELETE parameters: a JSON body if there is one, else the query string.
fn delete_params(headers: &HeaderMap, body: &Bytes, raw: Option<&str>) -> Result<Object, ApiError> {
    let mut params = wire::object(headers, body)?;
    for (key, value) in wire::query(raw) {
        params.entry(key).or_insert(Value::String(value));
    }
    Ok(params)
}

// ---------------------------------------------------------------------------------------------
// Users

const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 100;

async fn list_users(
    State(shared): State<Arc<Shared>>,
    Extension(FullPath(path)): Extension<FullPath>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let pairs = wire::query(raw.as_deref());
    let number = match param(&pairs, "page[number]") {
        None => 1,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::BadRequest("The page.number must be at least 1.".into()))?,
    };
    let size = match param(&pairs, "page[size]") {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!("The page.size must be between 1 and {MAX_PAGE_SIZE}."))
            })?,
    };
    let instant = |key: &str| -> Result<_, ApiError> {
        param(&pairs, key)
            .map(|raw| {
                wire::parse_instant(raw).ok_or_else(|| {
                    let name = key.replace("][", ".").replace(['[', ']'], ".");
                    ApiError::BadRequest(format!("The {} is not a valid date.", name.trim_matches('.')))
                })
            })
            .transpose()
    };
    let since = instant("filter[last_updated][gte]")?;
    let until = instant("filter[last_updated][lte]")?;
    let id_filter = |key: &str| -> Result<Option<u64>, ApiError> {
        param(&pairs, key)
            .map(|raw| {
                raw.trim()
                    .parse()
                    .map_err(|_| ApiError::BadRequest(format!("The {key} must be an integer.")))
            })
            .transpose()
    };
    let branch = id_filter("filter[branch_id][eq]")?;
    let group = id_filter("filter[group_id][eq]")?;
    let data = shared.talentlms();
    let keyword = param(&pairs, "filter[keyword][like]").map(str::to_lowercase);
    let users: Vec<&TalentLmsUser> = data
        .users
        .values()
        .filter(|u| param(&pairs, "filter[email][eq]").is_none_or(|e| u.email.eq_ignore_ascii_case(e.trim())))
        .filter(|u| param(&pairs, "filter[login][eq]").is_none_or(|l| u.login.eq_ignore_ascii_case(l.trim())))
        .filter(|u| param(&pairs, "filter[status][eq]").is_none_or(|s| u.status == s.trim()))
        .filter(|u| since.is_none_or(|t| u.last_updated >= t))
        .filter(|u| until.is_none_or(|t| u.last_updated <= t))
        .filter(|u| branch.is_none_or(|b| data.branch_members.contains(&(b, u.id))))
        .filter(|u| group.is_none_or(|g| data.group_members.contains(&(g, u.id))))
        .filter(|u| {
            param(&pairs, "filter[custom_field_value][eq]")
                .is_none_or(|v| u.custom_fields.values().any(|c| c == v))
        })
        .filter(|u| {
            keyword.as_deref().is_none_or(|k| {
                [&u.name, &u.surname, &u.login, &u.email]
                    .iter()
                    .any(|f| f.to_lowercase().contains(k))
            })
        })
        .collect();
    let total = users.len();
    let pages = page_count(total, size);
    let items: Vec<Value> = page_of(&users, number, size)
        .iter()
        .map(|u| list_item(u))
        .collect();
    let at = |n: usize| {
        link(
            &shared.base_url,
            &path,
            &pairs,
            &[
                ("page[number]", Some(n.to_string())),
                ("page[size]", Some(size.to_string())),
            ],
        )
    };
    let body = json!({
        "_data": items,
        "_links": {
            "self": at(number),
            "first": at(1),
            "last": at(pages),
            "prev": (number > 1).then(|| at((number - 1).min(pages))),
            "next": (number < pages).then(|| at(number + 1)),
        },
        "_meta": {
            "pagination": {
                "page": number,
                "page_size": size,
                "total_items": total,
                "total_pages": pages,
                "total_results": items.len(),
            }
        },
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}

async fn get_user(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Reply {
    let id: u64 = id.parse().map_err(|_| ApiError::user_not_found())?;
    let data = shared.talentlms();
    let user = data.users.get(&id).ok_or_else(ApiError::user_not_found)?;
    data_of(&data, user)
}

fn data_of(data: &Data, user: &TalentLmsUser) -> Reply {
    self::data(StatusCode::OK, detail(data, user))
}

/// Not repeat-safe, as documented: a second create with the same email or login is a 400.
async fn create_user(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Reply {
    let body = wire::object(&headers, &body)?;
    let mut data = shared.talentlms();
    let fields = user_fields(&data, &body, false)?;
    let user = data.create_user(fields)?;
    self::data(StatusCode::CREATED, detail(&data, &user))
}

/// "You will receive a 204": no body; read the user again to see it.
async fn update_user(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let id: u64 = id.parse().map_err(|_| ApiError::user_not_found())?;
    let body = wire::object(&headers, &body)?;
    let mut data = shared.talentlms();
    if !data.users.contains_key(&id) {
        return Err(ApiError::user_not_found());
    }
    let fields = user_fields(&data, &body, false)?;
    data.update_user(id, fields)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_user_fields(State(shared): State<Arc<Shared>>) -> Reply {
    let data = shared.talentlms();
    let fields: Vec<Value> = data
        .custom_fields
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "key": f.key(),
                "name": f.name,
                "type": f.field_type,
                "mandatory": f.mandatory,
            })
        })
        .collect();
    self::data(StatusCode::OK, Value::Array(fields))
}

// ---------------------------------------------------------------------------------------------
// Enrollments and memberships: a repeat is a 400 naming the existing link, and removing a link
// that does not exist a 404, so a repeat-safe client treats those two answers as done.

async fn enroll(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Reply {
    let body = wire::object(&headers, &body)?;
    let (user_id, course_id) = (id(&body, "user_id")?, id(&body, "course_id")?);
    let role = string(&body, "role")?.unwrap_or_else(|| "learner".into());
    if role != "learner" && role != "instructor" {
        return Err(ApiError::BadRequest("The selected role is invalid.".into()));
    }
    let mut data = shared.talentlms();
    if !data.users.contains_key(&user_id) {
        return Err(ApiError::user_not_found());
    }
    if data.course(course_id).is_none() {
        return Err(ApiError::NotFound("The requested course does not exist".into()));
    }
    if data.enrollment(user_id, course_id).is_some() {
        return Err(ApiError::BadRequest(
            "The user is already enrolled in this course".into(),
        ));
    }
    let enrollment = data.enroll(user_id, course_id, &role);
    self::data(StatusCode::CREATED, enrollment_json(&enrollment))
}

async fn unenroll(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Reply {
    let params = delete_params(&headers, &body, raw.as_deref())?;
    let (user_id, course_id) = (id(&params, "user_id")?, id(&params, "course_id")?);
    let mut data = shared.talentlms();
    let before = data.enrollments.len();
    data.enrollments
        .retain(|e| !(e.user_id == user_id && e.course_id == course_id));
    if data.enrollments.len() == before {
        return Err(ApiError::NotFound(
            "The user is not enrolled in this course".into(),
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Groups and branches behave alike; `Link` says which one and how it is worded.
#[derive(Clone, Copy)]
enum Link {
    Group,
    Branch,
}

impl Link {
    fn key(self) -> &'static str {
        match self {
            Link::Group => "group_id",
            Link::Branch => "branch_id",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Link::Group => "group",
            Link::Branch => "branch",
        }
    }

    fn exists(self, data: &Data, id: u64) -> bool {
        match self {
            Link::Group => data.group(id).is_some(),
            Link::Branch => data.branch(id).is_some(),
        }
    }

    fn set(self, data: &mut Data) -> &mut std::collections::BTreeSet<(u64, u64)> {
        match self {
            Link::Group => &mut data.group_members,
            Link::Branch => &mut data.branch_members,
        }
    }
}

async fn join(shared: &Shared, link: Link, headers: &HeaderMap, body: &Bytes) -> Reply {
    let body = wire::object(headers, body)?;
    let (target, user_id) = (id(&body, link.key())?, id(&body, "user_id")?);
    let mut data = shared.talentlms();
    if !data.users.contains_key(&user_id) {
        return Err(ApiError::user_not_found());
    }
    if !link.exists(&data, target) {
        return Err(ApiError::NotFound(format!(
            "The requested {} does not exist",
            link.noun()
        )));
    }
    if !link.set(&mut data).insert((target, user_id)) {
        return Err(ApiError::BadRequest(format!(
            "The user is already a member of this {}",
            link.noun()
        )));
    }
    self::data(
        StatusCode::CREATED,
        json!({ link.key(): target, "user_id": user_id }),
    )
}

async fn leave(shared: &Shared, link: Link, headers: &HeaderMap, body: &Bytes, raw: Option<&str>) -> Reply {
    let params = delete_params(headers, body, raw)?;
    let (target, user_id) = (id(&params, link.key())?, id(&params, "user_id")?);
    let mut data = shared.talentlms();
    if !link.set(&mut data).remove(&(target, user_id)) {
        return Err(ApiError::NotFound(format!(
            "The user is not a member of this {}",
            link.noun()
        )));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn join_group(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Reply {
    join(&shared, Link::Group, &headers, &body).await
}

async fn leave_group(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Reply {
    leave(&shared, Link::Group, &headers, &body, raw.as_deref()).await
}

async fn join_branch(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Reply {
    join(&shared, Link::Branch, &headers, &body).await
}

async fn leave_branch(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Reply {
    leave(&shared, Link::Branch, &headers, &body, raw.as_deref()).await
}

async fn course_progress(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Reply {
    let pairs: Object = wire::query(raw.as_deref())
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let (user_id, course_id) = (id(&pairs, "user_id")?, id(&pairs, "course_id")?);
    let data = shared.talentlms();
    if !data.users.contains_key(&user_id) {
        return Err(ApiError::user_not_found());
    }
    let e = data
        .enrollment(user_id, course_id)
        .ok_or_else(|| ApiError::NotFound("The user is not enrolled in this course".into()))?;
    let body = json!({
        "user_id": e.user_id,
        "course_id": e.course_id,
        "role": e.role,
        "enrolled_on": iso_seconds(e.enrolled_on),
        "completion_status": e.completion_status,
        "completion_percentage": e.completion_percentage,
        "completed_on": e.completed_on.map(iso_seconds),
        "total_time_seconds": e.total_time_seconds,
    });
    self::data(StatusCode::OK, body)
}

// ---------------------------------------------------------------------------------------------
// Batch upserts: applied at once; the answer names a task whose report says what happened to
// each item. An item with `id` updates that user, one without creates a user (an email already
// taken fails that item, as documented: existing users are named by id).

const MAX_BATCH: usize = 100;

async fn batch_users(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Reply {
    let body = wire::object(&headers, &body)?;
    let Some(Value::Array(items)) = body.get("users") else {
        return Err(ApiError::BadRequest(
            "The users field is required and must be an array.".into(),
        ));
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::BadRequest(format!(
            "The users must have between 1 and {MAX_BATCH} items."
        )));
    }
    let mut data = shared.talentlms();
    let mut results = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let outcome = match item {
            Value::Object(item) => apply_batch_item(&mut data, item),
            _ => Err(ApiError::BadRequest("Each user must be an object.".into())),
        };
        results.push(match outcome {
            Ok((status, user_id)) => {
                json!({"index": index, "status": status, "user_id": user_id, "message": null})
            }
            Err(ApiError::BadRequest(message) | ApiError::NotFound(message)) => {
                json!({"index": index, "status": "failed", "user_id": null, "message": message})
            }
        });
    }
    let task_id = format!("batch-users-{}", data.tasks.len() + 1);
    let report = json!({
        "id": task_id,
        "status": "completed",
        "progress": 100,
        "total": items.len(),
        "results": results,
    });
    data.tasks.insert(task_id.clone(), report);
    self::data(StatusCode::ACCEPTED, json!({ "task_id": task_id }))
}

fn apply_batch_item(data: &mut Data, item: &Object) -> Result<(&'static str, u64), ApiError> {
    let fields = user_fields(data, item, true)?;
    match must(wire::opt_id(item, "id"), || "The id must be an integer.".into())? {
        Some(id) => Ok(("updated", data.update_user(id, fields)?.id)),
        None => Ok(("created", data.create_user(fields)?.id)),
    }
}

async fn task(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Reply {
    let data = shared.talentlms();
    let report = data
        .tasks
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::NotFound("The requested task does not exist".into()))?;
    self::data(StatusCode::OK, report)
}
