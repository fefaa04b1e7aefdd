//! Trainual (`https://api.trainual.com/v1`, served under `/trainual/v1`). Trainual publishes no
//! API description; what is known comes from third parties (Make's Trainual app: users get, list,
//! update / invite, archive, unarchive, assign / unassign subjects and roles; `POST /users
//! {user:{email,name}}`; `completion_percentage` and `status` on users). Everything else here is
//! an assumption in Rails' conventions, kept lenient on input: bodies wrapped in `user` or not,
//! several spellings of each operation (see the crate README). Answers are bare objects / arrays.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State as Extract};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http::header::{HeaderValue, WWW_AUTHENTICATE};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::config::{Platform, TrainualConfig, TrainualRole, TrainualSubject};
use crate::gate::{self, Auth, Gate, Refusal};
use crate::server::Shared;
use crate::wire::{self as h, BodyError, Object, iso_millis, now, page_of, param};

/// A Trainual user, as `Sandbox::trainual_users` reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainualUser {
    pub id: u64,
    pub email: String,
    /// Full name; `first_name` / `last_name` in answers split it at the first space.
    pub name: String,
    pub title: Option<String>,
    /// `active` or `archived`.
    pub status: String,
    pub role_ids: BTreeSet<u64>,
    /// Assigned subject id → completion percentage in it.
    pub subjects: BTreeMap<u64, u32>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub archived_at: Option<OffsetDateTime>,
}

impl TrainualUser {
    /// The mean completion of the assigned subjects, rounded; 0 with none assigned.
    pub fn completion_percentage(&self) -> u32 {
        if self.subjects.is_empty() {
            return 0;
        }
        let total: u64 = self.subjects.values().map(|p| u64::from(*p)).sum();
        let count = self.subjects.len() as u64;
        u32::try_from((total + count / 2) / count).unwrap_or(100)
    }

    fn names(&self) -> (String, String) {
        match self.name.trim().split_once(char::is_whitespace) {
            Some((first, last)) => (first.to_owned(), last.trim().to_owned()),
            None => (self.name.trim().to_owned(), String::new()),
        }
    }
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) users: BTreeMap<u64, TrainualUser>,
    next_id: u64,
    pub(crate) roles: Vec<TrainualRole>,
    pub(crate) subjects: Vec<TrainualSubject>,
}

/// Why seeding or a setup call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrainualSetupError {
    #[error("unknown Trainual user {0}")]
    UnknownUser(u64),
    #[error("Trainual user {0} is not assigned subject {1}")]
    NotAssigned(u64, u64),
    #[error("{0}")]
    Invalid(String),
}

impl State {
    pub(crate) fn new(config: &TrainualConfig) -> Self {
        Self {
            users: BTreeMap::new(),
            next_id: 1,
            roles: config.roles.clone(),
            subjects: config.subjects.clone(),
        }
    }

    pub(crate) fn user_by_email(&self, email: &str) -> Option<&TrainualUser> {
        let email = email.trim();
        self.users.values().find(|u| u.email.eq_ignore_ascii_case(email))
    }

    pub(crate) fn invite(
        &mut self,
        email: &str,
        name: &str,
        title: Option<String>,
    ) -> Result<TrainualUser, Errors> {
        let mut errors = Errors::default();
        let email = email.trim();
        if !h::valid_email(email) {
            errors.add("email", "is invalid");
        } else if self.user_by_email(email).is_some() {
            errors.add("email", "has already been taken");
        }
        if name.trim().is_empty() {
            errors.add("name", "can't be blank");
        }
        errors.check()?;
        let at = now();
        let user = TrainualUser {
            id: self.next_id,
            email: email.to_owned(),
            name: name.trim().to_owned(),
            title,
            status: "active".into(),
            role_ids: BTreeSet::new(),
            subjects: BTreeMap::new(),
            created_at: at,
            updated_at: at,
            archived_at: None,
        };
        self.next_id += 1;
        self.users.insert(user.id, user.clone());
        Ok(user)
    }

    fn user_json(&self, user: &TrainualUser) -> Value {
        let (first_name, last_name) = user.names();
        let roles: Vec<Value> = self
            .roles
            .iter()
            .filter(|r| user.role_ids.contains(&r.id))
            .map(|r| json!({"id": r.id, "name": r.name}))
            .collect();
        let subjects: Vec<Value> = self
            .subjects
            .iter()
            .filter_map(|s| user.subjects.get(&s.id).map(|p| (s, p)))
            .map(|(s, p)| json!({"id": s.id, "title": s.title, "completion_percentage": p}))
            .collect();
        json!({
            "id": user.id,
            "name": user.name,
            "first_name": first_name,
            "last_name": last_name,
            "email": user.email,
            "title": user.title,
            "status": user.status,
            "completion_percentage": user.completion_percentage(),
            "roles": roles,
            "subjects": subjects,
            "created_at": iso_millis(user.created_at),
            "updated_at": iso_millis(user.updated_at),
            "archived_at": user.archived_at.map(iso_millis),
        })
    }
}

/// Rails' validation answer: `{"errors": {"field": ["message"]}}`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Errors(BTreeMap<String, Vec<String>>);

impl std::fmt::Display for Errors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .flat_map(|(field, messages)| messages.iter().map(move |m| format!("{field} {m}")))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl Errors {
    fn add(&mut self, field: &str, message: &str) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.to_owned());
    }

    fn check(self) -> Result<(), Errors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("404 {0}")]
    NotFound(&'static str),
    #[error("422 {0:?}")]
    Unprocessable(Errors),
    #[error("400 {0}")]
    BadRequest(String),
}

impl From<Errors> for ApiError {
    fn from(e: Errors) -> Self {
        Self::Unprocessable(e)
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        Self::BadRequest(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::NotFound(what) => (StatusCode::NOT_FOUND, Json(json!({ "error": what }))).into_response(),
            Self::Unprocessable(Errors(errors)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "errors": errors })),
            )
                .into_response(),
            Self::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
            }
        }
    }
}

pub(crate) fn refusal(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Unauthorized { given } => {
            let message = if given {
                "Invalid email or password."
            } else {
                "You need to sign in or sign up before continuing."
            };
            let mut response = (StatusCode::UNAUTHORIZED, Json(json!({ "error": message }))).into_response();
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Application\""),
            );
            response
        }
        // Rack::Attack's default throttled answer.
        Refusal::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "Retry later\n").into_response(),
        Refusal::BadVersion => ApiError::BadRequest("Bad request".into()).into_response(),
        Refusal::Server(status) => {
            let reason = status.canonical_reason().unwrap_or("Error");
            (status, Json(json!({"status": status.as_u16(), "error": reason}))).into_response()
        }
    }
}

type Reply = Result<Response, ApiError>;

fn ok(status: StatusCode, body: Value) -> Reply {
    Ok((status, Json(body)).into_response())
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    // Lenient by design: the spellings a client might reasonably use all work.
    let archiving = || post(archive).put(archive).patch(archive);
    let unarchiving = || post(unarchive).put(unarchive).patch(unarchive);
    let role_adding = || post(assign_roles).put(assign_roles).patch(assign_roles);
    let role_removing = || {
        post(unassign_roles)
            .put(unassign_roles)
            .patch(unassign_roles)
            .delete(unassign_roles)
    };
    let subject_adding = || post(assign_subjects).put(assign_subjects).patch(assign_subjects);
    let subject_removing = || {
        post(unassign_subjects)
            .put(unassign_subjects)
            .patch(unassign_subjects)
            .delete(unassign_subjects)
    };
    Router::new()
        .route("/users", get(list_users).post(create_user))
        .route(
            "/users/{id}",
            get(get_user)
                .put(update_user)
                .patch(update_user)
                .delete(archive_by_delete),
        )
        .route("/users/{id}/archive", archiving())
        .route("/users/{id}/deactivate", archiving())
        .route("/users/{id}/unarchive", unarchiving())
        .route("/users/{id}/activate", unarchiving())
        .route("/users/{id}/assign_roles", role_adding())
        .route("/users/{id}/unassign_roles", role_removing())
        .route(
            "/users/{id}/roles",
            get(user_roles).post(assign_roles).put(assign_roles),
        )
        .route("/users/{id}/roles/{item}", delete(unassign_role))
        .route("/users/{id}/assign_subjects", subject_adding())
        .route("/users/{id}/unassign_subjects", subject_removing())
        .route("/users/{id}/assign_curriculums", subject_adding())
        .route("/users/{id}/unassign_curriculums", subject_removing())
        .route(
            "/users/{id}/subjects",
            get(user_subjects).post(assign_subjects).put(assign_subjects),
        )
        .route("/users/{id}/subjects/{item}", delete(unassign_subject))
        .route("/roles", get(list_roles))
        .route("/subjects", get(list_subjects))
        .route("/curriculums", get(list_subjects))
        .route_layer(from_fn_with_state(
            Gate::new(&shared, Platform::Trainual, Auth::Basic),
            gate::gate,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    ApiError::NotFound("Not found").into_response()
}

// ---------------------------------------------------------------------------------------------
// Bodies

/// The user's fields: `{"user": {…}}`, a form's `user[field]` keys, or a flat body.
fn user_params(body: Object) -> Object {
    if let Some(Value::Object(user)) = body.get("user") {
        return user.clone();
    }
    let nested: Object = body
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("user[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(|field| (field.to_owned(), v.clone()))
        })
        .collect();
    if nested.is_empty() { body } else { nested }
}

fn text(body: &Object, key: &str, errors: &mut Errors) -> Option<String> {
    h::opt_string(body, key).unwrap_or_else(|()| {
        errors.add(key, "must be a string");
        None
    })
}

/// A name from `name`, or from `first_name` / `last_name` (merged with `current` when updating).
fn name(body: &Object, current: Option<&TrainualUser>, errors: &mut Errors) -> Option<String> {
    if let Some(name) = text(body, "name", errors) {
        return Some(name);
    }
    let first = text(body, "first_name", errors);
    let last = text(body, "last_name", errors);
    if first.is_none() && last.is_none() {
        return None;
    }
    let (old_first, old_last) = current.map(TrainualUser::names).unwrap_or_default();
    let first = first.unwrap_or(old_first);
    let last = last.unwrap_or(old_last);
    Some(format!("{first} {last}").trim().to_owned())
}

/// Ids under any of `keys`, as an array or one value, numbers or numeric strings.
fn ids(body: &Object, keys: &[&str]) -> Result<Vec<u64>, ApiError> {
    let Some((key, value)) = keys.iter().find_map(|k| body.get(*k).map(|v| (*k, v))) else {
        return Err(ApiError::BadRequest(format!(
            "one of {} is required",
            keys.join(", ")
        )));
    };
    let one = |v: &Value| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(o) => o.get("id").and_then(|id| match id {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }),
        _ => None,
    };
    let values: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        // A form's comma-separated list.
        Value::String(s) if s.contains(',') => {
            return s
                .split(',')
                .map(|part| part.trim().parse::<u64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| ApiError::BadRequest(format!("{key} must be ids")));
        }
        other => vec![other],
    };
    values
        .into_iter()
        .map(|v| one(v).ok_or_else(|| ApiError::BadRequest(format!("{key} must be ids"))))
        .collect()
}

fn read(headers: &HeaderMap, body: &Bytes) -> Result<Object, ApiError> {
    Ok(h::object(headers, body)?)
}

// ---------------------------------------------------------------------------------------------
// Users

const DEFAULT_PER_PAGE: usize = 25;
const MAX_PER_PAGE: usize = 100;

async fn list_users(Extract(shared): Extract<Arc<Shared>>, RawQuery(raw): RawQuery) -> Reply {
    let pairs = h::query(raw.as_deref());
    let page = param(&pairs, "page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let per_page = param(&pairs, "per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .map_or(DEFAULT_PER_PAGE, |p| p.min(MAX_PER_PAGE));
    let data = shared.trainual();
    let search = param(&pairs, "search")
        .or_else(|| param(&pairs, "q"))
        .map(str::to_lowercase);
    let users: Vec<&TrainualUser> = data
        .users
        .values()
        .filter(|u| param(&pairs, "email").is_none_or(|e| u.email.eq_ignore_ascii_case(e.trim())))
        .filter(|u| param(&pairs, "status").is_none_or(|s| u.status == s.trim()))
        .filter(|u| {
            search
                .as_deref()
                .is_none_or(|s| u.email.to_lowercase().contains(s) || u.name.to_lowercase().contains(s))
        })
        .collect();
    let items: Vec<Value> = page_of(&users, page, per_page)
        .iter()
        .map(|u| data.user_json(u))
        .collect();
    ok(StatusCode::OK, Value::Array(items))
}

fn parse_id(raw: &str) -> Result<u64, ApiError> {
    raw.trim()
        .parse()
        .map_err(|_| ApiError::NotFound("User not found"))
}

async fn get_user(Extract(shared): Extract<Arc<Shared>>, Path(id): Path<String>) -> Reply {
    let data = shared.trainual();
    let user = data
        .users
        .get(&parse_id(&id)?)
        .ok_or(ApiError::NotFound("User not found"))?;
    ok(StatusCode::OK, data.user_json(user))
}

/// An invitation. Not repeat-safe: an email already on the account is a 422.
async fn create_user(Extract(shared): Extract<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Reply {
    let body = user_params(read(&headers, &body)?);
    let mut errors = Errors::default();
    let email = text(&body, "email", &mut errors);
    let name = name(&body, None, &mut errors);
    let title = text(&body, "title", &mut errors);
    if email.is_none() {
        errors.add("email", "can't be blank");
    }
    errors.check()?;
    let roles = ids(&body, &["role_ids"]).unwrap_or_default();
    let subjects = ids(&body, &["subject_ids", "curriculum_ids"]).unwrap_or_default();
    let mut data = shared.trainual();
    // Unknown ids refuse the whole invitation rather than leave a user behind a 422.
    data.check_known(Kind::Role, &roles)?;
    data.check_known(Kind::Subject, &subjects)?;
    let user = data.invite(
        email.as_deref().unwrap_or_default(),
        name.as_deref().unwrap_or_default(),
        title,
    )?;
    let user = assign(&mut data, user.id, Kind::Role, &roles, true)
        .and_then(|_| assign(&mut data, user.id, Kind::Subject, &subjects, true))?;
    ok(StatusCode::CREATED, data.user_json(&user))
}

async fn update_user(
    Extract(shared): Extract<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let id = parse_id(&id)?;
    let body = user_params(read(&headers, &body)?);
    let mut data = shared.trainual();
    let current = data
        .users
        .get(&id)
        .cloned()
        .ok_or(ApiError::NotFound("User not found"))?;
    let mut errors = Errors::default();
    let email = text(&body, "email", &mut errors);
    let name = name(&body, Some(&current), &mut errors);
    let title = text(&body, "title", &mut errors);
    if let Some(email) = &email {
        if !h::valid_email(email.trim()) {
            errors.add("email", "is invalid");
        } else if data.user_by_email(email).is_some_and(|u| u.id != id) {
            errors.add("email", "has already been taken");
        }
    }
    if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        errors.add("name", "can't be blank");
    }
    errors.check()?;
    let user = data
        .users
        .get_mut(&id)
        .ok_or(ApiError::NotFound("User not found"))?;
    if let Some(email) = email {
        user.email = email.trim().to_owned();
    }
    if let Some(name) = name {
        user.name = name;
    }
    if body.contains_key("title") {
        user.title = title;
    }
    user.updated_at = now();
    let user = user.clone();
    ok(StatusCode::OK, data.user_json(&user))
}

fn set_archived(shared: &Shared, id: &str, archived: bool) -> Reply {
    let id = parse_id(id)?;
    let mut data = shared.trainual();
    let user = data
        .users
        .get_mut(&id)
        .ok_or(ApiError::NotFound("User not found"))?;
    let status = if archived { "archived" } else { "active" };
    if user.status != status {
        user.status = status.into();
        user.archived_at = archived.then(now);
        user.updated_at = now();
    }
    let user = user.clone();
    ok(StatusCode::OK, data.user_json(&user))
}

/// Repeat-safe: archiving an archived user answers the user again.
async fn archive(Extract(shared): Extract<Arc<Shared>>, Path(id): Path<String>) -> Reply {
    set_archived(&shared, &id, true)
}

/// `DELETE /users/{id}` archives too: Trainual keeps people's records.
async fn archive_by_delete(Extract(shared): Extract<Arc<Shared>>, Path(id): Path<String>) -> Reply {
    set_archived(&shared, &id, true)
}

async fn unarchive(Extract(shared): Extract<Arc<Shared>>, Path(id): Path<String>) -> Reply {
    set_archived(&shared, &id, false)
}

// ---------------------------------------------------------------------------------------------
// Roles and subjects: assigning what is assigned, or unassigning what is not, changes nothing
// and answers the user (repeat-safe); an id the account does not have is a 422.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Role,
    Subject,
}

impl Kind {
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Role => &["role_ids", "roles", "ids", "role_id", "id"],
            Kind::Subject => &[
                "subject_ids",
                "curriculum_ids",
                "subjects",
                "curriculums",
                "ids",
                "subject_id",
                "curriculum_id",
                "id",
            ],
        }
    }

    fn field(self) -> &'static str {
        match self {
            Kind::Role => "role_ids",
            Kind::Subject => "subject_ids",
        }
    }
}

impl State {
    /// A 422 naming the ids the account does not have.
    fn check_known(&self, kind: Kind, items: &[u64]) -> Result<(), Errors> {
        let known = |id: &u64| match kind {
            Kind::Role => self.roles.iter().any(|r| r.id == *id),
            Kind::Subject => self.subjects.iter().any(|s| s.id == *id),
        };
        let unknown: Vec<String> = items.iter().filter(|id| !known(id)).map(u64::to_string).collect();
        let mut errors = Errors::default();
        if !unknown.is_empty() {
            errors.add(kind.field(), &format!("not found: {}", unknown.join(", ")));
        }
        errors.check()
    }
}

fn assign(
    data: &mut State,
    user_id: u64,
    kind: Kind,
    items: &[u64],
    add: bool,
) -> Result<TrainualUser, ApiError> {
    data.check_known(kind, items)?;
    let user = data
        .users
        .get_mut(&user_id)
        .ok_or(ApiError::NotFound("User not found"))?;
    let before = user.clone();
    for id in items {
        match (kind, add) {
            (Kind::Role, true) => {
                user.role_ids.insert(*id);
            }
            (Kind::Role, false) => {
                user.role_ids.remove(id);
            }
            (Kind::Subject, true) => {
                user.subjects.entry(*id).or_insert(0);
            }
            (Kind::Subject, false) => {
                user.subjects.remove(id);
            }
        }
    }
    if *user != before {
        user.updated_at = now();
    }
    Ok(user.clone())
}

async fn change(
    shared: &Shared,
    id: &str,
    kind: Kind,
    add: bool,
    headers: &HeaderMap,
    body: &Bytes,
) -> Reply {
    let id = parse_id(id)?;
    let body = user_params(read(headers, body)?);
    let items = ids(&body, kind.keys())?;
    let mut data = shared.trainual();
    let user = assign(&mut data, id, kind, &items, add)?;
    ok(StatusCode::OK, data.user_json(&user))
}

async fn assign_roles(
    Extract(shared): Extract<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    change(&shared, &id, Kind::Role, true, &headers, &body).await
}

async fn unassign_roles(
    Extract(shared): Extract<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    change(&shared, &id, Kind::Role, false, &headers, &body).await
}

async fn assign_subjects(
    Extract(shared): Extract<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    change(&shared, &id, Kind::Subject, true, &headers, &body).await
}

async fn unassign_subjects(
    Extract(shared): Extract<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    change(&shared, &id, Kind::Subject, false, &headers, &body).await
}

fn unassign_one(shared: &Shared, id: &str, item: &str, kind: Kind) -> Reply {
    let id = parse_id(id)?;
    let item: u64 = item.trim().parse().map_err(|_| ApiError::NotFound("Not found"))?;
    let mut data = shared.trainual();
    let user = assign(&mut data, id, kind, &[item], false)?;
    ok(StatusCode::OK, data.user_json(&user))
}

async fn unassign_role(
    Extract(shared): Extract<Arc<Shared>>,
    Path((id, item)): Path<(String, String)>,
) -> Reply {
    unassign_one(&shared, &id, &item, Kind::Role)
}

async fn unassign_subject(
    Extract(shared): Extract<Arc<Shared>>,
    Path((id, item)): Path<(String, String)>,
) -> Reply {
    unassign_one(&shared, &id, &item, Kind::Subject)
}

async fn user_roles(Extract(shared): Extract<Arc<Shared>>, Path(id): Path<String>) -> Reply {
    let data = shared.trainual();
    let user = data
        .users
        .get(&parse_id(&id)?)
        .ok_or(ApiError::NotFound("User not found"))?;
    ok(StatusCode::OK, data.user_json(user)["roles"].clone())
}

async fn user_subjects(Extract(shared): Extract<Arc<Shared>>, Path(id): Path<String>) -> Reply {
    let data = shared.trainual();
    let user = data
        .users
        .get(&parse_id(&id)?)
        .ok_or(ApiError::NotFound("User not found"))?;
    ok(StatusCode::OK, data.user_json(user)["subjects"].clone())
}

async fn list_roles(Extract(shared): Extract<Arc<Shared>>) -> Reply {
    let data = shared.trainual();
    let roles: Vec<Value> = data
        .roles
        .iter()
        .map(|r| json!({"id": r.id, "name": r.name}))
        .collect();
    ok(StatusCode::OK, Value::Array(roles))
}

async fn list_subjects(Extract(shared): Extract<Arc<Shared>>) -> Reply {
    let data = shared.trainual();
    let subjects: Vec<Value> = data
        .subjects
        .iter()
        .map(|s| json!({"id": s.id, "title": s.title}))
        .collect();
    ok(StatusCode::OK, Value::Array(subjects))
}
