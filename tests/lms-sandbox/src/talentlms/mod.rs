//! TalentLMS (`https://<domain>.talentlms.com`, served under `/talentlms`): the v2 JSON API
//! (`/api/v2`, `X-API-Key` + `X-API-Version`) for users, enrollments, group and branch
//! memberships, progress and batch upserts, and the legacy v1 form API (`/api/v1`, Basic auth)
//! for what v2 cannot do one user at a time: custom fields on sign-up and edit.
//! Errors answer `{"error": {"type": "invalid_request_error" | "api_error", "message": …}}`.

mod v1;
mod v2;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::config::{
    TalentLmsBranch, TalentLmsConfig, TalentLmsCourse, TalentLmsCustomField, TalentLmsGroup,
};
use crate::gate::Refusal;
use crate::server::Shared;
use crate::wire::{BodyError, now};

/// A TalentLMS user, as `Sandbox::talentlms_users` reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct TalentLmsUser {
    pub id: u64,
    pub login: String,
    /// First name (`name` in v2, `first_name` in v1).
    pub name: String,
    /// Last name (`surname` in v2, `last_name` in v1).
    pub surname: String,
    pub email: String,
    /// `active` or `inactive`.
    pub status: String,
    pub user_type_id: u64,
    pub timezone: String,
    pub locale: String,
    pub description: Option<String>,
    pub deactivation_date: Option<String>,
    pub registration: OffsetDateTime,
    /// Moves on every change to the user's own fields (names, email, status, custom fields),
    /// not on enrollments or memberships.
    pub last_updated: OffsetDateTime,
    /// Custom field id → value.
    pub custom_fields: BTreeMap<u64, String>,
}

/// An enrollment and the progress in it (set with `Sandbox::set_talentlms_progress`).
#[derive(Debug, Clone, PartialEq)]
pub struct TalentLmsEnrollment {
    pub user_id: u64,
    pub course_id: u64,
    /// `learner` or `instructor`.
    pub role: String,
    pub enrolled_on: OffsetDateTime,
    /// `not_attempted`, `incomplete` or `completed`.
    pub completion_status: String,
    pub completion_percentage: u32,
    pub completed_on: Option<OffsetDateTime>,
    pub total_time_seconds: u64,
}

/// The user types a portal starts with (`user_type` in answers, `user_type_id` in writes).
pub(crate) const USER_TYPES: [(u64, &str); 4] = [
    (1, "SuperAdmin"),
    (2, "Admin-Type"),
    (3, "Trainer-Type"),
    (4, "Learner-Type"),
];
pub(crate) const LEARNER_TYPE: u64 = 4;

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) users: BTreeMap<u64, TalentLmsUser>,
    next_user_id: u64,
    pub(crate) courses: Vec<TalentLmsCourse>,
    pub(crate) groups: Vec<TalentLmsGroup>,
    pub(crate) branches: Vec<TalentLmsBranch>,
    pub(crate) custom_fields: Vec<TalentLmsCustomField>,
    pub(crate) enrollments: Vec<TalentLmsEnrollment>,
    /// (group id, user id).
    pub(crate) group_members: BTreeSet<(u64, u64)>,
    /// (branch id, user id).
    pub(crate) branch_members: BTreeSet<(u64, u64)>,
    /// Batch task id → its report.
    pub(crate) tasks: BTreeMap<String, Value>,
}

/// Why seeding or a setup call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TalentLmsSetupError {
    #[error("{0}")]
    Invalid(String),
    #[error("unknown TalentLMS user {0}")]
    UnknownUser(u64),
    #[error("TalentLMS user {0} is not enrolled in course {1}")]
    NotEnrolled(u64, u64),
}

/// The fields a create or update may set; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserFields {
    pub(crate) login: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) surname: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) user_type_id: Option<u64>,
    pub(crate) timezone: Option<String>,
    pub(crate) locale: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) deactivation_date: Option<String>,
    /// Custom field id → value.
    pub(crate) custom_fields: BTreeMap<u64, String>,
}

impl State {
    pub(crate) fn new(config: &TalentLmsConfig) -> Self {
        Self {
            users: BTreeMap::new(),
            next_user_id: 1,
            courses: config.courses.clone(),
            groups: config.groups.clone(),
            branches: config.branches.clone(),
            custom_fields: config.custom_fields.clone(),
            enrollments: Vec::new(),
            group_members: BTreeSet::new(),
            branch_members: BTreeSet::new(),
            tasks: BTreeMap::new(),
        }
    }

    pub(crate) fn user_by_email(&self, email: &str) -> Option<&TalentLmsUser> {
        let email = email.trim();
        self.users.values().find(|u| u.email.eq_ignore_ascii_case(email))
    }

    pub(crate) fn user_by_login(&self, login: &str) -> Option<&TalentLmsUser> {
        self.users
            .values()
            .find(|u| u.login.eq_ignore_ascii_case(login.trim()))
    }

    /// The custom field a `custom_field_<id>` key names.
    pub(crate) fn custom_field_id(&self, key: &str) -> Option<u64> {
        let id: u64 = key.strip_prefix("custom_field_")?.parse().ok()?;
        self.custom_fields.iter().any(|f| f.id == id).then_some(id)
    }

    /// Every problem of a write, in TalentLMS's (Laravel's) words.
    fn problems(&self, fields: &UserFields, existing: Option<u64>) -> Vec<String> {
        let mut problems = Vec::new();
        let required: [(&str, &Option<String>); 5] = [
            ("name", &fields.name),
            ("surname", &fields.surname),
            ("login", &fields.login),
            ("email", &fields.email),
            ("password", &fields.password),
        ];
        if existing.is_none() {
            for (key, value) in required {
                if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                    problems.push(format!("The {key} field is required."));
                }
            }
        }
        for (key, value) in [
            ("name", &fields.name),
            ("surname", &fields.surname),
            ("login", &fields.login),
            ("email", &fields.email),
        ] {
            if value.as_deref().is_some_and(|v| v.chars().count() > 191) {
                problems.push(format!("The {key} may not be greater than 191 characters."));
            }
        }
        if let Some(email) = &fields.email {
            if !crate::wire::valid_email(email.trim()) {
                problems.push("The email must be a valid email address.".into());
            } else if self.user_by_email(email).is_some_and(|u| Some(u.id) != existing) {
                problems.push("The email has already been taken.".into());
            }
        }
        if let Some(login) = &fields.login
            && self.user_by_login(login).is_some_and(|u| Some(u.id) != existing)
        {
            problems.push("The login has already been taken.".into());
        }
        if let Some(status) = &fields.status
            && status != "active"
            && status != "inactive"
        {
            problems.push("The selected status is invalid.".into());
        }
        if let Some(id) = fields.user_type_id
            && !USER_TYPES.iter().any(|(t, _)| *t == id)
        {
            problems.push("The selected user type id is invalid.".into());
        }
        problems
    }

    pub(crate) fn create_user(&mut self, fields: UserFields) -> Result<TalentLmsUser, TalentLmsSetupError> {
        let problems = self.problems(&fields, None);
        if !problems.is_empty() {
            return Err(TalentLmsSetupError::Invalid(problems.join(" ")));
        }
        let at = now();
        let id = self.next_user_id;
        self.next_user_id += 1;
        let user = TalentLmsUser {
            id,
            login: fields.login.unwrap_or_default().trim().to_owned(),
            name: fields.name.unwrap_or_default(),
            surname: fields.surname.unwrap_or_default(),
            email: fields.email.unwrap_or_default().trim().to_owned(),
            status: fields.status.unwrap_or_else(|| "active".into()),
            user_type_id: fields.user_type_id.unwrap_or(LEARNER_TYPE),
            timezone: fields.timezone.unwrap_or_else(|| "UTC".into()),
            locale: fields.locale.unwrap_or_else(|| "en-US".into()),
            description: fields.description,
            deactivation_date: fields.deactivation_date,
            registration: at,
            last_updated: at,
            custom_fields: fields.custom_fields,
        };
        self.users.insert(id, user.clone());
        Ok(user)
    }

    pub(crate) fn update_user(
        &mut self,
        id: u64,
        fields: UserFields,
    ) -> Result<TalentLmsUser, TalentLmsSetupError> {
        if !self.users.contains_key(&id) {
            return Err(TalentLmsSetupError::UnknownUser(id));
        }
        let problems = self.problems(&fields, Some(id));
        if !problems.is_empty() {
            return Err(TalentLmsSetupError::Invalid(problems.join(" ")));
        }
        let user = self
            .users
            .get_mut(&id)
            .ok_or(TalentLmsSetupError::UnknownUser(id))?;
        let before = user.clone();
        let set = |slot: &mut String, value: Option<String>| {
            if let Some(value) = value {
                *slot = value.trim().to_owned();
            }
        };
        set(&mut user.login, fields.login);
        set(&mut user.name, fields.name);
        set(&mut user.surname, fields.surname);
        set(&mut user.email, fields.email);
        set(&mut user.status, fields.status);
        set(&mut user.timezone, fields.timezone);
        set(&mut user.locale, fields.locale);
        if let Some(type_id) = fields.user_type_id {
            user.user_type_id = type_id;
        }
        if fields.description.is_some() {
            user.description = fields.description;
        }
        if fields.deactivation_date.is_some() {
            user.deactivation_date = fields.deactivation_date;
        }
        for (field, value) in fields.custom_fields {
            user.custom_fields.insert(field, value);
        }
        if *user != before {
            user.last_updated = now();
        }
        Ok(user.clone())
    }

    pub(crate) fn course(&self, id: u64) -> Option<&TalentLmsCourse> {
        self.courses.iter().find(|c| c.id == id)
    }

    pub(crate) fn group(&self, id: u64) -> Option<&TalentLmsGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    pub(crate) fn branch(&self, id: u64) -> Option<&TalentLmsBranch> {
        self.branches.iter().find(|b| b.id == id)
    }

    pub(crate) fn enrollment(&self, user_id: u64, course_id: u64) -> Option<&TalentLmsEnrollment> {
        self.enrollments
            .iter()
            .find(|e| e.user_id == user_id && e.course_id == course_id)
    }

    pub(crate) fn enroll(&mut self, user_id: u64, course_id: u64, role: &str) -> TalentLmsEnrollment {
        let enrollment = TalentLmsEnrollment {
            user_id,
            course_id,
            role: role.to_owned(),
            enrolled_on: now(),
            completion_status: "not_attempted".into(),
            completion_percentage: 0,
            completed_on: None,
            total_time_seconds: 0,
        };
        self.enrollments.push(enrollment.clone());
        enrollment
    }

    pub(crate) fn type_name(id: u64) -> &'static str {
        USER_TYPES
            .iter()
            .find(|(t, _)| *t == id)
            .map_or("Learner-Type", |(_, name)| name)
    }
}

/// TalentLMS's answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    /// A missing or invalid parameter (the documented meaning of 400).
    #[error("400 {0}")]
    BadRequest(String),
    #[error("404 {0}")]
    NotFound(String),
}

impl ApiError {
    pub(crate) fn user_not_found() -> Self {
        Self::NotFound("The requested user does not exist".into())
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Malformed { .. } | BodyError::NotAnObject => {
                Self::BadRequest("Malformed request body".into())
            }
            BodyError::UnsupportedMediaType(_) => Self::BadRequest("Unsupported content type".into()),
        }
    }
}

impl From<TalentLmsSetupError> for ApiError {
    fn from(e: TalentLmsSetupError) -> Self {
        match e {
            TalentLmsSetupError::Invalid(message) => Self::BadRequest(message),
            TalentLmsSetupError::UnknownUser(_) => Self::user_not_found(),
            TalentLmsSetupError::NotEnrolled(..) => {
                Self::NotFound("The user is not enrolled in this course".into())
            }
        }
    }
}

pub(crate) fn error_body(kind: &str, message: &str) -> Value {
    json!({ "error": { "type": kind, "message": message } })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            Self::NotFound(message) => (StatusCode::NOT_FOUND, message),
        };
        (status, Json(error_body("invalid_request_error", message))).into_response()
    }
}

pub(crate) fn refusal(refusal: Refusal) -> Response {
    let (status, kind, message) = match refusal {
        Refusal::Unauthorized { given: false } => (
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "The API key is missing".to_owned(),
        ),
        Refusal::Unauthorized { given: true } => (
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Invalid API key provided".to_owned(),
        ),
        Refusal::Throttled { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request_error",
            "API rate limit exceeded".to_owned(),
        ),
        Refusal::BadVersion => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "The X-API-Version header is missing or not a YYYY-MM-DD date".to_owned(),
        ),
        Refusal::Server(status) => (
            status,
            "api_error",
            status.canonical_reason().unwrap_or("Server error").to_owned(),
        ),
    };
    (status, Json(error_body(kind, &message))).into_response()
}

async fn not_found() -> Response {
    ApiError::NotFound("Unknown endpoint".into()).into_response()
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .nest("/api/v2", v2::router(shared.clone()))
        .nest("/api/v1", v1::router(shared))
        .fallback(not_found)
}
