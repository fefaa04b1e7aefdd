//! Skilljar (`https://api.skilljar.com/v1`, served under `/skilljar/v1`): users, domain
//! memberships, course enrollments and progress, groups. Skilljar's API is Django REST framework
//! (its description is drf-spectacular output), so errors, paging and throttling answer in DRF's
//! shapes: `{"detail": …}`, field errors `{"field": ["…"]}`, `{count, next, previous, results}`.

mod routes;

use std::collections::BTreeMap;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::config::{SkilljarConfig, SkilljarCourse};
use crate::gate::Refusal;
use crate::wire::{BodyError, iso_micros, now};

pub(crate) use routes::router;

/// A Skilljar user, as `Sandbox::skilljar_users` reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct SkilljarUser {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub signed_up_at: OffsetDateTime,
    /// Set when every domain membership of the user is inactive.
    pub inactive_at: Option<OffsetDateTime>,
}

/// A user's membership of a domain; `active: false` is how the API deactivates a learner.
#[derive(Debug, Clone, PartialEq)]
pub struct SkilljarDomainUser {
    pub domain: String,
    pub user_id: String,
    pub active: bool,
    pub marketing_optin: Option<bool>,
    pub enrolled_at: OffsetDateTime,
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SkilljarEnrollment {
    pub id: String,
    pub domain: String,
    pub published_course_id: String,
    pub user_id: String,
    pub enrolled_at: OffsetDateTime,
    pub expires_at: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SkilljarGroupMember {
    pub group_id: String,
    pub user_id: String,
    pub created_at: OffsetDateTime,
}

/// A learner's progress in a published course (`course_progress` in progress answers); set with
/// `Sandbox::set_skilljar_progress`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SkilljarProgress {
    pub completed_lesson_count: u32,
    pub completed_at: Option<OffsetDateTime>,
    pub score: Option<u32>,
    pub max_score: Option<u32>,
    /// `PASSED`, `FAILED` or none.
    pub success_status: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Domain {
    pub(crate) courses: Vec<SkilljarCourse>,
    pub(crate) members: Vec<SkilljarDomainUser>,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) members: Vec<SkilljarGroupMember>,
}

#[derive(Debug)]
pub(crate) struct State {
    /// In creation order, which is also list order.
    pub(crate) users: Vec<SkilljarUser>,
    pub(crate) domains: BTreeMap<String, Domain>,
    pub(crate) enrollments: Vec<SkilljarEnrollment>,
    pub(crate) groups: BTreeMap<String, Group>,
    /// (user id, published course id) → progress and its id.
    pub(crate) progress: BTreeMap<(String, String), (String, SkilljarProgress)>,
    /// The organisation's webhook subscriptions (`/v1/webhooks`), in creation order.
    pub(crate) webhooks: Vec<SkilljarWebhook>,
    ids: fastrand::Rng,
}

/// A webhook subscription as Skilljar stores it; the Basic password is kept to check what a
/// client sent, and never listed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkilljarWebhook {
    pub id: String,
    pub target_url: String,
    pub event_type: Option<String>,
    pub active: bool,
    pub basic_auth_username: String,
    pub basic_auth_password: String,
}

/// Why seeding or a setup call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkilljarSetupError {
    #[error("unknown Skilljar domain {0}")]
    UnknownDomain(String),
    #[error("unknown Skilljar user {0}")]
    UnknownUser(String),
    #[error("invalid email address")]
    InvalidEmail,
    #[error("Skilljar user {0} is not enrolled in {1}")]
    NotEnrolled(String, String),
    #[error("Skilljar domain {0} publishes no course {1}")]
    UnknownCourse(String, String),
}

impl State {
    pub(crate) fn new(config: &SkilljarConfig, seed: u64) -> Self {
        let domains = config
            .domains
            .iter()
            .map(|d| {
                let domain = Domain {
                    courses: d.published_courses.clone(),
                    members: Vec::new(),
                };
                (d.name.clone(), domain)
            })
            .collect();
        let groups = config
            .groups
            .iter()
            .map(|g| (g.id.clone(), Group { members: Vec::new() }))
            .collect();
        Self {
            users: Vec::new(),
            domains,
            enrollments: Vec::new(),
            groups,
            progress: BTreeMap::new(),
            webhooks: Vec::new(),
            ids: fastrand::Rng::with_seed(seed ^ 0x51_4a),
        }
    }

    /// Skilljar's ids: lower-case letters and digits (`^[0-9a-z]+$` in its paths).
    pub(crate) fn new_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        (0..13)
            .map(|_| char::from(ALPHABET[self.ids.usize(..ALPHABET.len())]))
            .collect()
    }

    pub(crate) fn user(&self, id: &str) -> Option<&SkilljarUser> {
        self.users.iter().find(|u| u.id == id)
    }

    pub(crate) fn user_by_email(&self, email: &str) -> Option<&SkilljarUser> {
        let email = email.trim();
        self.users.iter().find(|u| u.email.eq_ignore_ascii_case(email))
    }

    /// What `POST /domains/{domain}/users` does: the user with this email (case-insensitive), or
    /// a new one; then a membership of the domain unless there is one. Existing details win: a
    /// repeat with other names changes nothing, as Skilljar returns "their existing details".
    pub(crate) fn join_domain(
        &mut self,
        domain: &str,
        email: &str,
        first_name: Option<&str>,
        last_name: Option<&str>,
        membership: MembershipFields,
    ) -> Result<(SkilljarUser, SkilljarDomainUser), SkilljarSetupError> {
        if !self.domains.contains_key(domain) {
            return Err(SkilljarSetupError::UnknownDomain(domain.into()));
        }
        if !crate::wire::valid_email(email.trim()) {
            return Err(SkilljarSetupError::InvalidEmail);
        }
        let at = now();
        let user = match self.user_by_email(email) {
            Some(user) => user.clone(),
            None => {
                let user = SkilljarUser {
                    id: self.new_id(),
                    email: email.trim().to_owned(),
                    first_name: first_name.unwrap_or_default().to_owned(),
                    last_name: last_name.unwrap_or_default().to_owned(),
                    signed_up_at: at,
                    inactive_at: None,
                };
                self.users.push(user.clone());
                user
            }
        };
        let members = &mut self
            .domains
            .get_mut(domain)
            .ok_or_else(|| SkilljarSetupError::UnknownDomain(domain.into()))?
            .members;
        let member = match members.iter().find(|m| m.user_id == user.id) {
            Some(member) => member.clone(),
            None => {
                let member = SkilljarDomainUser {
                    domain: domain.to_owned(),
                    user_id: user.id.clone(),
                    active: membership.active.unwrap_or(true),
                    marketing_optin: membership.marketing_optin,
                    enrolled_at: at,
                    expires_at: membership.expires_at,
                };
                members.push(member.clone());
                member
            }
        };
        self.refresh_inactive(&user.id);
        let user = self.user(&user.id).cloned().unwrap_or(user);
        Ok((user, member))
    }

    pub(crate) fn membership(&self, domain: &str, user_id: &str) -> Option<&SkilljarDomainUser> {
        self.domains
            .get(domain)?
            .members
            .iter()
            .find(|m| m.user_id == user_id)
    }

    /// A user is inactive once none of their domain memberships is active.
    pub(crate) fn refresh_inactive(&mut self, user_id: &str) {
        let memberships: Vec<bool> = self
            .domains
            .values()
            .flat_map(|d| d.members.iter())
            .filter(|m| m.user_id == user_id)
            .map(|m| m.active)
            .collect();
        let inactive = !memberships.is_empty() && memberships.iter().all(|active| !active);
        if let Some(user) = self.users.iter_mut().find(|u| u.id == user_id) {
            match (inactive, user.inactive_at) {
                (true, None) => user.inactive_at = Some(now()),
                (false, Some(_)) => user.inactive_at = None,
                _ => {}
            }
        }
    }

    pub(crate) fn course(&self, domain: &str, published_course_id: &str) -> Option<&SkilljarCourse> {
        self.domains
            .get(domain)?
            .courses
            .iter()
            .find(|c| c.published_course_id == published_course_id)
    }

    /// The course a published course id names, in whichever domain publishes it.
    pub(crate) fn course_anywhere(&self, published_course_id: &str) -> Option<(&str, &SkilljarCourse)> {
        self.domains.iter().find_map(|(name, d)| {
            d.courses
                .iter()
                .find(|c| c.published_course_id == published_course_id)
                .map(|c| (name.as_str(), c))
        })
    }

    /// Records an enrollment (and the progress record of a first one), after the caller's checks.
    pub(crate) fn enroll(
        &mut self,
        domain: &str,
        published_course_id: &str,
        user_id: &str,
        enrolled_at: OffsetDateTime,
        expires_at: Option<String>,
        active: bool,
    ) -> SkilljarEnrollment {
        let enrollment = SkilljarEnrollment {
            id: self.new_id(),
            domain: domain.to_owned(),
            published_course_id: published_course_id.to_owned(),
            user_id: user_id.to_owned(),
            enrolled_at,
            expires_at,
            active,
        };
        self.progress_entry(user_id, published_course_id);
        self.enrollments.push(enrollment.clone());
        enrollment
    }

    /// The progress record of (user, course), created on first enrollment.
    pub(crate) fn progress_entry(
        &mut self,
        user_id: &str,
        published_course_id: &str,
    ) -> &mut (String, SkilljarProgress) {
        let key = (user_id.to_owned(), published_course_id.to_owned());
        // Drawn only for a new record, so that ids stay a function of the seed and the calls.
        let id = if self.progress.contains_key(&key) {
            String::new()
        } else {
            self.new_id()
        };
        self.progress
            .entry(key)
            .or_insert_with(|| (id, SkilljarProgress::default()))
    }

    /// `{id, email, first_name, last_name}`: `ReadOnlyUser`.
    pub(crate) fn read_only_user(user: &SkilljarUser) -> Value {
        json!({
            "id": user.id,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
        })
    }

    /// `User`: `ReadOnlyUser` plus `full_name`.
    pub(crate) fn full_user(user: &SkilljarUser) -> Value {
        let full_name = format!("{} {}", user.first_name, user.last_name)
            .trim()
            .to_owned();
        json!({
            "id": user.id,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "full_name": full_name,
        })
    }

    /// `UserOverview`.
    pub(crate) fn overview(&self, user: &SkilljarUser) -> Value {
        let courses: Vec<&str> = {
            let mut ids: Vec<&str> = self
                .enrollments
                .iter()
                .filter(|e| e.user_id == user.id)
                .map(|e| e.published_course_id.as_str())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let completed = courses
            .iter()
            .filter(|pc| {
                self.progress
                    .get(&(user.id.clone(), pc.to_string()))
                    .is_some_and(|(_, p)| p.completed_at.is_some())
            })
            .count();
        json!({
            "user": Self::read_only_user(user),
            "registration_count": courses.len(),
            "completion_count": completed,
            "signed_up_at": iso_micros(user.signed_up_at),
            "latest_activity": iso_micros(user.signed_up_at),
            "inactive_at": user.inactive_at.map(iso_micros),
        })
    }

    /// `DomainUserListItem` / `DomainUserDetail` / `DomainUserCreate` / `DomainUserUpdate`: the
    /// same fields (signup fields always empty, no access code, no login token).
    pub(crate) fn domain_user(user: &SkilljarUser, member: &SkilljarDomainUser) -> Value {
        json!({
            "user": Self::full_user(user),
            "active": member.active,
            "marketing_optin": member.marketing_optin,
            "enrolled_at": iso_micros(member.enrolled_at),
            "expires_at": member.expires_at,
            "access_code": null,
            "signup_fields": [],
        })
    }
}

/// The membership fields `POST /domains/{domain}/users` takes besides the user.
#[derive(Debug, Clone, Default)]
pub(crate) struct MembershipFields {
    pub(crate) active: Option<bool>,
    pub(crate) marketing_optin: Option<bool>,
    pub(crate) expires_at: Option<String>,
}

/// DRF's answers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("404 not found")]
    NotFound,
    #[error("404 invalid page")]
    InvalidPage,
    #[error("404 invalid cursor")]
    InvalidCursor,
    /// Field errors, e.g. `{"user": {"email": ["Enter a valid email address."]}}`.
    #[error("400 {0}")]
    Invalid(Value),
    #[error("400 {0}")]
    Parse(BodyError),
    #[error("415 {0}")]
    UnsupportedMediaType(String),
}

impl ApiError {
    /// `{field: [message]}`.
    pub(crate) fn field(field: &str, message: &str) -> Self {
        Self::Invalid(json!({ field: [message] }))
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::UnsupportedMediaType(media) => Self::UnsupportedMediaType(media),
            other => Self::Parse(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail =
            |status: StatusCode, detail: String| (status, Json(json!({ "detail": detail }))).into_response();
        match self {
            Self::NotFound => detail(StatusCode::NOT_FOUND, "Not found.".into()),
            Self::InvalidPage => detail(StatusCode::NOT_FOUND, "Invalid page.".into()),
            Self::InvalidCursor => detail(StatusCode::NOT_FOUND, "Invalid cursor".into()),
            Self::Invalid(errors) => (StatusCode::BAD_REQUEST, Json(errors)).into_response(),
            Self::Parse(BodyError::Malformed { line, column }) => detail(
                StatusCode::BAD_REQUEST,
                format!("JSON parse error - line {line} column {column}"),
            ),
            Self::Parse(_) => detail(
                StatusCode::BAD_REQUEST,
                "Invalid data. Expected a dictionary.".into(),
            ),
            Self::UnsupportedMediaType(media) => detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Unsupported media type \"{media}\" in request."),
            ),
        }
    }
}

/// The edge's refusals in DRF's words; server errors as Django / the load balancer send them
/// (HTML, not JSON: a client must not expect a JSON body on a 5xx).
pub(crate) fn refusal(refusal: Refusal) -> Response {
    let detail =
        |status: StatusCode, detail: &str| (status, Json(json!({ "detail": detail }))).into_response();
    match refusal {
        Refusal::Unauthorized { given } => {
            let message = if given {
                "Invalid username/password."
            } else {
                "Authentication credentials were not provided."
            };
            let mut response = detail(StatusCode::UNAUTHORIZED, message);
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"api\""));
            response
        }
        // DRF's wording, with the wait when the throttle knows it.
        Refusal::Throttled { wait } => {
            let message = match wait {
                Some(1) => "Request was throttled. Expected available in 1 second.".to_owned(),
                Some(n) => format!("Request was throttled. Expected available in {n} seconds."),
                None => "Request was throttled.".to_owned(),
            };
            detail(StatusCode::TOO_MANY_REQUESTS, &message)
        }
        Refusal::BadVersion => detail(StatusCode::BAD_REQUEST, "Bad request."),
        Refusal::Server(status) => {
            let body = if status == StatusCode::INTERNAL_SERVER_ERROR {
                "<h1>Server Error (500)</h1>".to_owned()
            } else {
                let reason = status.canonical_reason().unwrap_or("Error");
                format!("<html><body><h1>{} {reason}</h1></body></html>", status.as_u16())
            };
            let mut response = (status, body).into_response();
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            response
        }
    }
}
