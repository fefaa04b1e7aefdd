//! TalentLMS API v1 (`/api/v1`), for what v2 lacks one user at a time: custom fields on sign-up
//! and edit. HTTP Basic with the API key as user name, form bodies, every value a string, dates
//! `DD/MM/YYYY, HH:MM:SS`, arguments in the path as `name:value,name:value`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use super::{ApiError, State as Data, TalentLmsUser, UserFields};
use crate::config::Platform;
use crate::gate::{self, Auth, Gate};
use crate::server::Shared;
use crate::wire::{self, Object};

type Reply = Result<Response, ApiError>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/users", get(all_users))
        .route("/users/{selector}", get(get_user))
        .route("/usersignup", post(signup))
        .route("/edituser", post(edit))
        .route("/usersetstatus/{args}", get(set_status))
        .route("/getcustomregistrationfields", get(custom_fields))
        .route_layer(from_fn_with_state(
            Gate::new(&shared, Platform::TalentLms, Auth::Basic),
            gate::gate,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    ApiError::NotFound("Unknown method".into()).into_response()
}

fn ok(body: Value) -> Reply {
    Ok((StatusCode::OK, Json(body)).into_response())
}

fn v1_date(t: OffsetDateTime) -> String {
    let format = format_description!("[day]/[month]/[year], [hour]:[minute]:[second]");
    t.format(format).unwrap_or_default()
}

/// The v1 user object: strings throughout, with the user's courses, branches and groups, and one
/// `custom_field_<id>` key per defined field.
fn user_json(data: &Data, user: &TalentLmsUser) -> Value {
    let courses: Vec<Value> = data
        .enrollments
        .iter()
        .filter(|e| e.user_id == user.id)
        .filter_map(|e| data.course(e.course_id).map(|c| (e, c)))
        .map(|(e, c)| {
            json!({
                "id": c.id.to_string(),
                "name": c.name,
                "role": e.role,
                "enrolled_on": v1_date(e.enrolled_on),
                "enrolled_on_timestamp": e.enrolled_on.unix_timestamp().to_string(),
                "completion_status": e.completion_status,
                "completed_on": e.completed_on.map(v1_date).unwrap_or_default(),
                "completed_on_timestamp": e.completed_on.map(|t| t.unix_timestamp().to_string()),
                "completion_percentage": e.completion_percentage.to_string(),
                "expired_on": "",
                "expired_on_timestamp": null,
                "total_time": "",
            })
        })
        .collect();
    let branches: Vec<Value> = data
        .branch_members
        .iter()
        .filter(|(_, u)| *u == user.id)
        .filter_map(|(b, _)| data.branch(*b))
        .map(|b| json!({"id": b.id.to_string(), "name": b.name}))
        .collect();
    let groups: Vec<Value> = data
        .group_members
        .iter()
        .filter(|(_, u)| *u == user.id)
        .filter_map(|(g, _)| data.group(*g))
        .map(|g| json!({"id": g.id.to_string(), "name": g.name}))
        .collect();
    let mut out = json!({
        "id": user.id.to_string(),
        "login": user.login,
        "first_name": user.name,
        "last_name": user.surname,
        "email": user.email,
        "restrict_email": "0",
        "user_type": Data::type_name(user.user_type_id),
        "timezone": user.timezone,
        "language": user.locale,
        "status": user.status,
        "deactivation_date": user.deactivation_date.clone().unwrap_or_default(),
        "level": "1",
        "points": "0",
        "created_on": v1_date(user.registration),
        "last_updated": v1_date(user.last_updated),
        "last_updated_timestamp": user.last_updated.unix_timestamp().to_string(),
        "avatar": "https://talentlms.example/pages/images/default_user.svg",
        "bio": user.description.clone().unwrap_or_default(),
        "login_key": format!("https://talentlms.example/index/autologin/key:sandbox{}", user.id),
        "courses": courses,
        "branches": branches,
        "groups": groups,
        "certifications": [],
        "badges": [],
    });
    if let Value::Object(map) = &mut out {
        for field in &data.custom_fields {
            let value = user.custom_fields.get(&field.id).cloned().unwrap_or_default();
            map.insert(field.key(), Value::String(value));
        }
    }
    out
}

/// `name:value,name:value` path arguments.
fn args(raw: &str) -> BTreeMap<String, String> {
    raw.split(',')
        .filter_map(|pair| pair.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

async fn all_users(State(shared): State<Arc<Shared>>) -> Reply {
    let data = shared.talentlms();
    ok(Value::Array(
        data.users.values().map(|u| user_json(&data, u)).collect(),
    ))
}

/// `id:5`, `email:ann@example.com` or `username:ann`.
async fn get_user(State(shared): State<Arc<Shared>>, Path(selector): Path<String>) -> Reply {
    let data = shared.talentlms();
    let user = match selector.split_once(':') {
        Some(("id", id)) => id.trim().parse().ok().and_then(|id: u64| data.users.get(&id)),
        Some(("email", email)) => data.user_by_email(email),
        Some(("username", login)) => data.user_by_login(login),
        _ => return Err(ApiError::BadRequest("Invalid arguments provided".into())),
    };
    let user = user.ok_or_else(ApiError::user_not_found)?;
    ok(user_json(&data, user))
}

/// The v1 form fields of a sign-up or edit, and every `custom_field_<id>` given.
fn form_fields(data: &Data, form: &Object) -> Result<UserFields, ApiError> {
    let text = |key: &str| form.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut fields = UserFields {
        login: text("login"),
        name: text("first_name"),
        surname: text("last_name"),
        email: text("email"),
        password: text("password"),
        timezone: text("timezone"),
        description: text("bio"),
        ..UserFields::default()
    };
    if let Some(kind) = text("user_type") {
        let id = super::USER_TYPES
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(kind.trim()))
            .map(|(id, _)| *id)
            .ok_or_else(|| ApiError::BadRequest("Invalid user type".into()))?;
        fields.user_type_id = Some(id);
    }
    for (key, value) in form {
        if key.starts_with("custom_field_") {
            let id = data
                .custom_field_id(key)
                .ok_or_else(|| ApiError::BadRequest(format!("Invalid custom field {key}")))?;
            fields
                .custom_fields
                .insert(id, value.as_str().unwrap_or_default().to_owned());
        }
    }
    Ok(fields)
}

async fn signup(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Reply {
    let form = wire::object(&headers, &body)?;
    let mut data = shared.talentlms();
    let fields = form_fields(&data, &form)?;
    let user = data.create_user(fields)?;
    ok(user_json(&data, &user))
}

async fn edit(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Reply {
    let form = wire::object(&headers, &body)?;
    let id = wire::opt_id(&form, "user_id")
        .ok()
        .flatten()
        .ok_or_else(|| ApiError::BadRequest("Invalid arguments provided".into()))?;
    let mut data = shared.talentlms();
    if !data.users.contains_key(&id) {
        return Err(ApiError::user_not_found());
    }
    let fields = form_fields(&data, &form)?;
    let user = data.update_user(id, fields)?;
    ok(user_json(&data, &user))
}

/// `user_id:5,status:inactive`.
async fn set_status(State(shared): State<Arc<Shared>>, Path(raw): Path<String>) -> Reply {
    let args = args(&raw);
    let id: u64 = args
        .get("user_id")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| ApiError::BadRequest("Invalid arguments provided".into()))?;
    let status = args
        .get("status")
        .filter(|s| *s == "active" || *s == "inactive")
        .cloned()
        .ok_or_else(|| ApiError::BadRequest("Invalid arguments provided".into()))?;
    let mut data = shared.talentlms();
    let fields = UserFields {
        status: Some(status.clone()),
        ..UserFields::default()
    };
    data.update_user(id, fields)?;
    ok(json!({ "user_id": id.to_string(), "status": status }))
}

async fn custom_fields(State(shared): State<Arc<Shared>>) -> Reply {
    let data = shared.talentlms();
    let fields: Vec<Value> = data
        .custom_fields
        .iter()
        .map(|f| {
            json!({
                "key": f.key(),
                "type": f.field_type,
                "name": f.name,
                "mandatory": if f.mandatory { "yes" } else { "no" },
                "visible": "yes",
                "selected": "",
                "dropdown_values": "",
            })
        })
        .collect();
    ok(Value::Array(fields))
}
