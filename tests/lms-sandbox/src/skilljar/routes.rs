//! Skilljar's routes, in the path syntax of its OpenAPI description.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use super::{
    ApiError, MembershipFields, SkilljarEnrollment, SkilljarGroupMember, SkilljarSetupError, SkilljarWebhook,
    State as Data,
};
use crate::config::Platform;
use crate::gate::{self, Auth, Gate};
use crate::server::{FullPath, Shared};
use crate::wire::{self, Object, iso_micros, link, now, page_count, page_of, param};

type Reply = Result<Response, ApiError>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/users", get(list_users))
        .route(
            "/users/{user_id}",
            get(get_user).put(update_user).patch(update_user),
        )
        .route("/users/{user_id}/published-courses", get(user_courses))
        .route(
            "/domains/{domain_name}/users",
            get(list_domain_users).post(create_domain_user),
        )
        .route(
            "/domains/{domain_name}/users/{user_id}",
            get(get_domain_user)
                .put(update_domain_user)
                .patch(update_domain_user),
        )
        .route(
            "/domains/{domain_name}/published-courses/{published_course_id}/enrollments",
            get(list_enrollments).post(create_enrollment),
        )
        .route(
            "/domains/{domain_name}/published-courses/{published_course_id}/enrollments/{enrollment_id}",
            get(get_enrollment).patch(update_enrollment),
        )
        .route(
            "/groups/{group_id}/users",
            get(list_group_users).post(add_group_user),
        )
        .route(
            "/groups/{group_id}/users/{user_id}",
            get(get_group_user).delete(remove_group_user),
        )
        .route("/webhooks", get(list_webhooks).post(create_webhook))
        .route("/webhooks/{webhook_id}", get(get_webhook).delete(delete_webhook))
        .route_layer(from_fn_with_state(
            Gate::new(&shared, Platform::Skilljar, Auth::Basic),
            gate::gate,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
}

async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

async fn method_not_allowed(method: http::Method) -> Response {
    let body = json!({ "detail": format!("Method \"{method}\" not allowed.") });
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

fn ok(status: StatusCode, body: Value) -> Reply {
    Ok((status, Json(body)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Paging

const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 100;

fn page_size(pairs: &[(String, String)]) -> usize {
    param(pairs, "page_size")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .map_or(DEFAULT_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE))
}

/// DRF's `PageNumberPagination`: `{count, next, previous, results}`; a page past the end (or not
/// a number) is a 404 `Invalid page.`; `page=last` names the last page.
fn page_number(
    base: &str,
    path: &str,
    pairs: &[(String, String)],
    items: &[Value],
) -> Result<Value, ApiError> {
    let size = page_size(pairs);
    let pages = page_count(items.len(), size);
    let page = match param(pairs, "page") {
        None => 1,
        Some("last") => pages,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=pages).contains(p))
            .ok_or(ApiError::InvalidPage)?,
    };
    let next = (page < pages).then(|| link(base, path, pairs, &[("page", Some((page + 1).to_string()))]));
    // DRF links the first page without a `page` parameter.
    let previous = (page > 1).then(|| {
        let value = (page > 2).then(|| (page - 1).to_string());
        link(base, path, pairs, &[("page", value)])
    });
    Ok(json!({
        "count": items.len(),
        "next": next,
        "previous": previous,
        "results": page_of(items, page, size),
    }))
}

/// DRF's `CursorPagination` (what `GET /users` uses unless `page` is given): `{next, previous,
/// results}`, no count; cursors are opaque.
fn cursor_page(
    base: &str,
    path: &str,
    pairs: &[(String, String)],
    items: &[Value],
) -> Result<Value, ApiError> {
    let size = page_size(pairs);
    let offset = match param(pairs, "cursor") {
        None => 0,
        Some(cursor) => decode_cursor(cursor).ok_or(ApiError::InvalidCursor)?,
    };
    let start = offset.min(items.len());
    let end = start.saturating_add(size).min(items.len());
    let next = (end < items.len()).then(|| link(base, path, pairs, &[("cursor", Some(encode_cursor(end)))]));
    let previous = (start > 0).then(|| {
        let back = start.saturating_sub(size);
        link(base, path, pairs, &[("cursor", Some(encode_cursor(back)))])
    });
    Ok(json!({ "next": next, "previous": previous, "results": &items[start..end] }))
}

fn encode_cursor(offset: usize) -> String {
    STANDARD.encode(format!("o={offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let raw = STANDARD.decode(cursor.trim()).ok()?;
    String::from_utf8(raw).ok()?.strip_prefix("o=")?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Field validation, DRF style: every problem of a body in one `{field: [messages]}` object.

#[derive(Default)]
struct Errors(Map<String, Value>);

impl Errors {
    fn add(&mut self, path: &[&str], message: &str) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut map = &mut self.0;
        for key in parents {
            let entry = map.entry((*key).to_owned()).or_insert_with(|| json!({}));
            if !entry.is_object() {
                *entry = json!({});
            }
            let Value::Object(inner) = entry else { return };
            map = inner;
        }
        let entry = map.entry((*last).to_owned()).or_insert_with(|| json!([]));
        if let Value::Array(messages) = entry {
            messages.push(json!(message));
        }
    }

    fn check(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(Value::Object(self.0)))
        }
    }
}

const REQUIRED: &str = "This field is required.";
const NOT_A_STRING: &str = "Not a valid string.";
const BAD_EMAIL: &str = "Enter a valid email address.";
const BAD_BOOL: &str = "Must be a valid boolean.";
const BAD_DATETIME: &str = "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

/// An optional string of at most `max` characters.
fn text(body: &Object, key: &str, max: usize, path: &[&str], errors: &mut Errors) -> Option<String> {
    match wire::opt_string(body, key) {
        Ok(Some(s)) if s.chars().count() > max => {
            errors.add(
                path,
                &format!("Ensure this field has no more than {max} characters."),
            );
            None
        }
        Ok(value) => value,
        Err(()) => {
            errors.add(path, NOT_A_STRING);
            None
        }
    }
}

fn email(body: &Object, path: &[&str], required: bool, errors: &mut Errors) -> Option<String> {
    if required && !body.contains_key("email") {
        errors.add(path, REQUIRED);
        return None;
    }
    let value = text(body, "email", 254, path, errors)?;
    if wire::valid_email(value.trim()) {
        Some(value.trim().to_owned())
    } else {
        errors.add(path, BAD_EMAIL);
        None
    }
}

fn boolean(body: &Object, key: &str, errors: &mut Errors) -> Option<bool> {
    wire::opt_bool(body, key).unwrap_or_else(|()| {
        errors.add(&[key], BAD_BOOL);
        None
    })
}

/// A nullable date-time, kept as given once it parses.
fn datetime(body: &Object, key: &str, errors: &mut Errors) -> Option<String> {
    match wire::opt_string(body, key) {
        Ok(Some(raw)) if wire::parse_instant(&raw).is_some() => Some(raw),
        Ok(None) => None,
        Ok(Some(_)) | Err(()) => {
            errors.add(&[key], BAD_DATETIME);
            None
        }
    }
}

/// `{"user": {"id": "…"}}` (`ReadOnlyUserRequest`): the id of a user that exists.
fn user_ref(data: &Data, body: &Object) -> Result<String, ApiError> {
    let id = match body.get("user") {
        None | Some(Value::Null) => return Err(ApiError::field("user", REQUIRED)),
        Some(Value::Object(user)) => match user.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            None => return Err(ApiError::Invalid(json!({"user": {"id": [REQUIRED]}}))),
            Some(_) => return Err(ApiError::Invalid(json!({"user": {"id": [NOT_A_STRING]}}))),
        },
        Some(_) => {
            let message = "Invalid data. Expected a dictionary.";
            return Err(ApiError::Invalid(
                json!({"user": {"non_field_errors": [message]}}),
            ));
        }
    };
    match data.user(&id) {
        Some(_) => Ok(id),
        None => Err(ApiError::Invalid(json!({"user": {"id": ["User not found."]}}))),
    }
}

// ---------------------------------------------------------------------------------------------
// Users

async fn list_users(
    State(shared): State<Arc<Shared>>,
    Extension(FullPath(path)): Extension<FullPath>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let pairs = wire::query(raw.as_deref());
    let data = shared.skilljar();
    let inactive =
        param(&pairs, "is_inactive").map(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1"));
    let items: Vec<Value> = data
        .users
        .iter()
        .filter(|u| param(&pairs, "email").is_none_or(|e| u.email.eq_ignore_ascii_case(e.trim())))
        .filter(|u| param(&pairs, "first_name").is_none_or(|n| u.first_name == n))
        .filter(|u| param(&pairs, "last_name").is_none_or(|n| u.last_name == n))
        .filter(|u| inactive.is_none_or(|i| u.inactive_at.is_some() == i))
        .map(|u| data.overview(u))
        .collect();
    let body = if param(&pairs, "page").is_some() {
        page_number(&shared.base_url, &path, &pairs, &items)?
    } else {
        cursor_page(&shared.base_url, &path, &pairs, &items)?
    };
    ok(StatusCode::OK, body)
}

async fn get_user(State(shared): State<Arc<Shared>>, Path(user_id): Path<String>) -> Reply {
    let data = shared.skilljar();
    let user = data.user(&user_id).ok_or(ApiError::NotFound)?;
    ok(StatusCode::OK, data.overview(user))
}

/// PUT and PATCH alike: "Both PUT and PATCH perform partial updates."
async fn update_user(
    State(shared): State<Arc<Shared>>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let mut data = shared.skilljar();
    if data.user(&user_id).is_none() {
        return Err(ApiError::NotFound);
    }
    let body = wire::object(&headers, &body)?;
    let mut errors = Errors::default();
    let new_email = if body.contains_key("email") {
        email(&body, &["email"], false, &mut errors)
    } else {
        None
    };
    let first_name = text(&body, "first_name", 50, &["first_name"], &mut errors);
    let last_name = text(&body, "last_name", 50, &["last_name"], &mut errors);
    if let Some(email) = &new_email
        && data.user_by_email(email).is_some_and(|other| other.id != user_id)
    {
        errors.add(&["email"], "A user with that email address already exists.");
    }
    errors.check()?;
    let user = data
        .users
        .iter_mut()
        .find(|u| u.id == user_id)
        .ok_or(ApiError::NotFound)?;
    if let Some(email) = new_email {
        user.email = email;
    }
    if let Some(first_name) = first_name {
        user.first_name = first_name;
    }
    if let Some(last_name) = last_name {
        user.last_name = last_name;
    }
    let body = json!({
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "inactive_at": user.inactive_at.map(iso_micros),
    });
    ok(StatusCode::OK, body)
}

/// `UserPublishedCourseProgress` for every course the user is enrolled in (an array, unpaged).
async fn user_courses(State(shared): State<Arc<Shared>>, Path(user_id): Path<String>) -> Reply {
    let data = shared.skilljar();
    if data.user(&user_id).is_none() {
        return Err(ApiError::NotFound);
    }
    let mut courses: Vec<&str> = Vec::new();
    for e in data.enrollments.iter().filter(|e| e.user_id == user_id) {
        if !courses.contains(&e.published_course_id.as_str()) {
            courses.push(&e.published_course_id);
        }
    }
    let mut out = Vec::new();
    for pc in courses {
        let enrollments: Vec<&SkilljarEnrollment> = data
            .enrollments
            .iter()
            .filter(|e| e.user_id == user_id && e.published_course_id == pc)
            .collect();
        let Some(latest) = enrollments.iter().max_by_key(|e| e.enrolled_at) else {
            continue;
        };
        let Some((domain, course)) = data.course_anywhere(pc) else {
            continue;
        };
        let (progress_id, progress) = data
            .progress
            .get(&(user_id.clone(), pc.to_owned()))
            .cloned()
            .unwrap_or_default();
        out.push(json!({
            "published_course_id": pc,
            "domain_name": domain,
            "enrolled_at": iso_micros(latest.enrolled_at),
            "enrollment_id": latest.id,
            "course": {
                "id": course.course_id,
                "title": course.title,
                "lesson_count": course.lesson_count,
                "required_lesson_count": course.lesson_count,
            },
            "course_progress": {
                "course_progress_id": progress_id,
                "completed_lesson_count": progress.completed_lesson_count,
                "completed_required_lesson_count": progress.completed_lesson_count,
                "completed_at": progress.completed_at.map(iso_micros),
                // The latest dated event the sandbox knows of: the enrollment or the completion.
                "latest_activity": iso_micros(progress.completed_at.map_or(latest.enrolled_at, |done| done.max(latest.enrolled_at))),
                "score": progress.score,
                "max_score": progress.max_score,
                "credits_earned": "",
                "credit_unit_plural": "",
                "success_status": progress.success_status,
            },
            // Skilljar issues a certificate with the completion (where the course has one).
            "certificate": progress.completed_at.map(|done| json!({
                "code": format!("CERT-{progress_id}"),
                "validate_url": format!("{}/certificates/CERT-{progress_id}", shared.base_url.trim_end_matches('/')),
                "issued_at": iso_micros(done),
                "expires_at": null,
            })),
            "all_enrollments": enrollments.iter().map(|e| json!({
                "course_progress_id": progress_id,
                "active": e.active,
                "expires_at": e.expires_at,
                "enrollment_id": e.id,
            })).collect::<Vec<_>>(),
        }));
    }
    ok(StatusCode::OK, Value::Array(out))
}

// ---------------------------------------------------------------------------------------------
// Domain users

async fn list_domain_users(
    State(shared): State<Arc<Shared>>,
    Path(domain): Path<String>,
    Extension(FullPath(path)): Extension<FullPath>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let pairs = wire::query(raw.as_deref());
    let data = shared.skilljar();
    let members = &data.domains.get(&domain).ok_or(ApiError::NotFound)?.members;
    let active = param(&pairs, "active").map(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1"));
    let items: Vec<Value> = members
        .iter()
        .filter(|m| active.is_none_or(|a| m.active == a))
        .filter_map(|m| data.user(&m.user_id).map(|u| (u, m)))
        .filter(|(u, _)| param(&pairs, "user__email").is_none_or(|e| u.email.eq_ignore_ascii_case(e.trim())))
        .filter(|(u, _)| param(&pairs, "user__first_name").is_none_or(|n| u.first_name == n))
        .filter(|(u, _)| param(&pairs, "user__last_name").is_none_or(|n| u.last_name == n))
        .map(|(u, m)| Data::domain_user(u, m))
        .collect();
    ok(
        StatusCode::OK,
        page_number(&shared.base_url, &path, &pairs, &items)?,
    )
}

/// Repeat-safe on the email: an existing user is added to the domain (or found in it) and their
/// existing details are returned, with the same 201.
async fn create_domain_user(
    State(shared): State<Arc<Shared>>,
    Path(domain): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let mut data = shared.skilljar();
    if !data.domains.contains_key(&domain) {
        return Err(ApiError::NotFound);
    }
    let body = wire::object(&headers, &body)?;
    let mut errors = Errors::default();
    let (email, first_name, last_name) = match body.get("user") {
        Some(Value::Object(user)) => (
            email(user, &["user", "email"], true, &mut errors),
            text(user, "first_name", 50, &["user", "first_name"], &mut errors),
            text(user, "last_name", 50, &["user", "last_name"], &mut errors),
        ),
        None | Some(Value::Null) => {
            errors.add(&["user"], REQUIRED);
            (None, None, None)
        }
        Some(_) => {
            errors.add(
                &["user", "non_field_errors"],
                "Invalid data. Expected a dictionary.",
            );
            (None, None, None)
        }
    };
    let membership = MembershipFields {
        active: boolean(&body, "active", &mut errors),
        marketing_optin: boolean(&body, "marketing_optin", &mut errors),
        expires_at: datetime(&body, "expires_at", &mut errors),
    };
    errors.check()?;
    let email = email.ok_or_else(|| ApiError::Invalid(json!({"user": {"email": [REQUIRED]}})))?;
    let (user, member) = data
        .join_domain(
            &domain,
            &email,
            first_name.as_deref(),
            last_name.as_deref(),
            membership,
        )
        .map_err(|e| match e {
            SkilljarSetupError::InvalidEmail => ApiError::Invalid(json!({"user": {"email": [BAD_EMAIL]}})),
            SkilljarSetupError::UnknownDomain(_)
            | SkilljarSetupError::UnknownUser(_)
            | SkilljarSetupError::UnknownCourse(..)
            | SkilljarSetupError::NotEnrolled(..) => ApiError::NotFound,
        })?;
    ok(StatusCode::CREATED, Data::domain_user(&user, &member))
}

async fn get_domain_user(
    State(shared): State<Arc<Shared>>,
    Path((domain, user_id)): Path<(String, String)>,
) -> Reply {
    let data = shared.skilljar();
    let member = data.membership(&domain, &user_id).ok_or(ApiError::NotFound)?;
    let user = data.user(&user_id).ok_or(ApiError::NotFound)?;
    ok(StatusCode::OK, Data::domain_user(user, member))
}

/// Only `active`, `expires_at` and `access_code` may change; `active: false` deactivates.
async fn update_domain_user(
    State(shared): State<Arc<Shared>>,
    Path((domain, user_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let mut data = shared.skilljar();
    if data.membership(&domain, &user_id).is_none() {
        return Err(ApiError::NotFound);
    }
    let body = wire::object(&headers, &body)?;
    let mut errors = Errors::default();
    let active = boolean(&body, "active", &mut errors);
    let expires_at = datetime(&body, "expires_at", &mut errors);
    errors.check()?;
    let members = &mut data.domains.get_mut(&domain).ok_or(ApiError::NotFound)?.members;
    let member = members
        .iter_mut()
        .find(|m| m.user_id == user_id)
        .ok_or(ApiError::NotFound)?;
    if let Some(active) = active {
        member.active = active;
    }
    if body.contains_key("expires_at") {
        member.expires_at = expires_at;
    }
    let member = member.clone();
    data.refresh_inactive(&user_id);
    let user = data.user(&user_id).ok_or(ApiError::NotFound)?;
    ok(StatusCode::OK, Data::domain_user(user, &member))
}

// ---------------------------------------------------------------------------------------------
// Enrollments

fn enrollment_json(data: &Data, e: &SkilljarEnrollment) -> Value {
    let user = data.user(&e.user_id).map(Data::read_only_user);
    json!({
        "id": e.id,
        "user": user,
        "enrolled_at": iso_micros(e.enrolled_at),
        "expires_at": e.expires_at,
        "active": e.active,
        "purchase": null,
        "rating": null,
        "feedback": null,
    })
}

async fn list_enrollments(
    State(shared): State<Arc<Shared>>,
    Path((domain, pc)): Path<(String, String)>,
    Extension(FullPath(path)): Extension<FullPath>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let pairs = wire::query(raw.as_deref());
    let data = shared.skilljar();
    data.course(&domain, &pc).ok_or(ApiError::NotFound)?;
    let items: Vec<Value> = data
        .enrollments
        .iter()
        .filter(|e| e.domain == domain && e.published_course_id == pc)
        .map(|e| enrollment_json(&data, e))
        .collect();
    ok(
        StatusCode::OK,
        page_number(&shared.base_url, &path, &pairs, &items)?,
    )
}

/// "Idempotent for the same user and enrollment time": a repeat without `enrolled_at`, or with
/// the existing enrollment's, returns that enrollment (201 again); another `enrolled_at` adds an
/// enrollment, since a user may have several. The user must be a member of the domain.
async fn create_enrollment(
    State(shared): State<Arc<Shared>>,
    Path((domain, pc)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let mut data = shared.skilljar();
    data.course(&domain, &pc).ok_or(ApiError::NotFound)?;
    let body = wire::object(&headers, &body)?;
    let user_id = user_ref(&data, &body)?;
    let mut errors = Errors::default();
    let enrolled_at = datetime(&body, "enrolled_at", &mut errors);
    let expires_at = datetime(&body, "expires_at", &mut errors);
    let active = boolean(&body, "active", &mut errors);
    errors.check()?;
    if data.membership(&domain, &user_id).is_none() {
        return Err(ApiError::field("user", "User is not registered on this domain."));
    }
    let enrolled_at = enrolled_at.as_deref().and_then(wire::parse_instant);
    let existing = data.enrollments.iter().find(|e| {
        e.domain == domain
            && e.published_course_id == pc
            && e.user_id == user_id
            && enrolled_at.is_none_or(|at| at == e.enrolled_at)
    });
    if let Some(existing) = existing {
        let body = enrollment_json(&data, existing);
        return ok(StatusCode::CREATED, body);
    }
    let enrollment = data.enroll(
        &domain,
        &pc,
        &user_id,
        enrolled_at.unwrap_or_else(now),
        expires_at,
        active.unwrap_or(true),
    );
    ok(StatusCode::CREATED, enrollment_json(&data, &enrollment))
}

/// One enrollment of a published course (`domains_published_courses_enrollments_retrieve`).
async fn get_enrollment(
    State(shared): State<Arc<Shared>>,
    Path((domain, pc, enrollment_id)): Path<(String, String, String)>,
) -> Reply {
    let data = shared.skilljar();
    data.course(&domain, &pc).ok_or(ApiError::NotFound)?;
    let enrollment = data
        .enrollments
        .iter()
        .find(|e| e.domain == domain && e.published_course_id == pc && e.id == enrollment_id)
        .ok_or(ApiError::NotFound)?;
    ok(StatusCode::OK, enrollment_json(&data, enrollment))
}

/// `PatchedUpdateEnrollmentRequest`: `active` and `expires_at`, each optional; an inactive
/// enrollment gives the learner no access (the sandbox keeps it, as Skilljar keeps its history).
async fn update_enrollment(
    State(shared): State<Arc<Shared>>,
    Path((domain, pc, enrollment_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let mut data = shared.skilljar();
    data.course(&domain, &pc).ok_or(ApiError::NotFound)?;
    let body = wire::object(&headers, &body)?;
    let mut errors = Errors::default();
    let expires_at = datetime(&body, "expires_at", &mut errors);
    let active = boolean(&body, "active", &mut errors);
    errors.check()?;
    let enrollment = data
        .enrollments
        .iter_mut()
        .find(|e| e.domain == domain && e.published_course_id == pc && e.id == enrollment_id)
        .ok_or(ApiError::NotFound)?;
    if let Some(active) = active {
        enrollment.active = active;
    }
    if expires_at.is_some() {
        enrollment.expires_at = expires_at;
    }
    let enrollment = enrollment.clone();
    ok(StatusCode::OK, enrollment_json(&data, &enrollment))
}

// ---------------------------------------------------------------------------------------------
// Groups

fn group_user_json(data: &Data, m: &SkilljarGroupMember) -> Value {
    json!({
        "user": data.user(&m.user_id).map(Data::read_only_user),
        "created_at": iso_micros(m.created_at),
    })
}

async fn list_group_users(
    State(shared): State<Arc<Shared>>,
    Path(group_id): Path<String>,
    Extension(FullPath(path)): Extension<FullPath>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let pairs = wire::query(raw.as_deref());
    let data = shared.skilljar();
    let group = data.groups.get(&group_id).ok_or(ApiError::NotFound)?;
    let items: Vec<Value> = group.members.iter().map(|m| group_user_json(&data, m)).collect();
    ok(
        StatusCode::OK,
        page_number(&shared.base_url, &path, &pairs, &items)?,
    )
}

/// A second add of the same user is refused with a 400 (a unique membership, as DRF's unique
/// validators answer), not repeated: a client treats it as "already a member".
async fn add_group_user(
    State(shared): State<Arc<Shared>>,
    Path(group_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let mut data = shared.skilljar();
    if !data.groups.contains_key(&group_id) {
        return Err(ApiError::NotFound);
    }
    let body = wire::object(&headers, &body)?;
    let user_id = user_ref(&data, &body)?;
    let group = data.groups.get_mut(&group_id).ok_or(ApiError::NotFound)?;
    if group.members.iter().any(|m| m.user_id == user_id) {
        return Err(ApiError::field(
            "non_field_errors",
            "The fields group, user must make a unique set.",
        ));
    }
    let member = SkilljarGroupMember {
        group_id,
        user_id,
        created_at: now(),
    };
    group.members.push(member.clone());
    ok(StatusCode::CREATED, group_user_json(&data, &member))
}

async fn get_group_user(
    State(shared): State<Arc<Shared>>,
    Path((group_id, user_id)): Path<(String, String)>,
) -> Reply {
    let data = shared.skilljar();
    let group = data.groups.get(&group_id).ok_or(ApiError::NotFound)?;
    let member = group
        .members
        .iter()
        .find(|m| m.user_id == user_id)
        .ok_or(ApiError::NotFound)?;
    ok(StatusCode::OK, group_user_json(&data, member))
}

async fn remove_group_user(
    State(shared): State<Arc<Shared>>,
    Path((group_id, user_id)): Path<(String, String)>,
) -> Reply {
    let mut data = shared.skilljar();
    let group = data.groups.get_mut(&group_id).ok_or(ApiError::NotFound)?;
    let before = group.members.len();
    group.members.retain(|m| m.user_id != user_id);
    if group.members.len() == before {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// Webhook subscriptions (`WebHook` in the description: one event type each, or null for all)

const EVENT_TYPES: &[&str] = &[
    "COURSE_COMPLETION",
    "COURSE_ENROLLMENT",
    "DOMAIN_ENROLLMENT",
    "LESSON_COMPLETION",
    "PATH_COMPLETION",
    "PATH_ENROLLMENT",
    "PURCHASE_FULFILLMENT",
    "QUIZ_COMPLETION",
    "VILT_EVENT_REGISTRATION",
    "DASHBOARD_TASK_CREATED",
];

fn webhook_json(hook: &SkilljarWebhook) -> Value {
    json!({
        "id": hook.id,
        "target_url": hook.target_url,
        "active": hook.active,
        "deactivate_reason": null,
        "event_type": hook.event_type,
        "basic_auth_username": hook.basic_auth_username,
        "additional_headers": {},
    })
}

async fn list_webhooks(
    State(shared): State<Arc<Shared>>,
    Extension(FullPath(path)): Extension<FullPath>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let pairs = wire::query(raw.as_deref());
    let data = shared.skilljar();
    let items: Vec<Value> = data.webhooks.iter().map(webhook_json).collect();
    ok(
        StatusCode::OK,
        page_number(&shared.base_url, &path, &pairs, &items)?,
    )
}

async fn create_webhook(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Reply {
    let body = wire::object(&headers, &body)?;
    let target_url = body
        .get("target_url")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .ok_or_else(|| ApiError::field("target_url", "Enter a valid URL."))?
        .to_owned();
    let event_type = match body.get("event_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if EVENT_TYPES.contains(&t.as_str()) => Some(t.clone()),
        Some(_) => return Err(ApiError::field("event_type", "Not a valid choice.")),
    };
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut data = shared.skilljar();
    let hook = SkilljarWebhook {
        id: data.new_id(),
        target_url,
        event_type,
        active: body.get("active").and_then(Value::as_bool).unwrap_or(true),
        basic_auth_username: text("basic_auth_username"),
        basic_auth_password: text("basic_auth_password"),
    };
    data.webhooks.push(hook.clone());
    ok(StatusCode::CREATED, webhook_json(&hook))
}

async fn get_webhook(State(shared): State<Arc<Shared>>, Path(webhook_id): Path<String>) -> Reply {
    let data = shared.skilljar();
    let hook = data
        .webhooks
        .iter()
        .find(|h| h.id == webhook_id)
        .ok_or(ApiError::NotFound)?;
    ok(StatusCode::OK, webhook_json(hook))
}

async fn delete_webhook(State(shared): State<Arc<Shared>>, Path(webhook_id): Path<String>) -> Reply {
    let mut data = shared.skilljar();
    let before = data.webhooks.len();
    data.webhooks.retain(|h| h.id != webhook_id);
    if data.webhooks.len() == before {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
