//! Trainual's API v1 (`https://api.trainual.com/v1`, HTTP Basic). Trainual publishes no API
//! description: the operations used are those its official Make app offers (users: get, list,
//! invite / update, archive; assign and unassign roles and subjects) at the paths public
//! integrations use (`tests/contract/lms-api/trainual-client.md`), and answers are read leniently, the
//! whole document kept in `LmsUser::raw`.
//!
//! What it cannot do: write training content (subjects, topics, steps, tests are read-only to
//! the API), enroll in courses (training is assigned as subjects: grant `Membership::Subject`),
//! groups or branches (it has roles), and custom fields (it has none; they are skipped).
//! About 20 requests a second per account.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::debug;

use super::read::{self, text};
use super::transport::{Answer, Auth, CallError, Request, Transport, endpoint};
use super::{
    CourseStatus, LearnerActivity, LearnerFields, LearnerPage, LearnerQuery, LmsAccount, LmsConfig,
    LmsConfigError, LmsError, LmsUser, Membership,
};
use crate::domain::{CourseRef, Email};
use crate::http::{BudgetConfig, Idempotence, RateBudget, RateLimits};
use crate::secrets::CachedSecret;

pub const PLATFORM: &str = "trainual";
pub const DEFAULT_BASE_URL: &str = "https://api.trainual.com/v1";

/// About 20 requests a second.
pub const RATE_LIMITS: RateLimits = RateLimits {
    max: 20,
    interval: Duration::from_secs(1),
    daily: u32::MAX,
};

/// The rate budget of Trainual accounts.
pub fn budget_config() -> BudgetConfig {
    BudgetConfig::lms(PLATFORM, RATE_LIMITS)
}

/// The largest `per_page` asked for (the public integrations' figure; Trainual documents none).
const MAX_PAGE_SIZE: u32 = 100;

/// The Secrets Manager document of one Trainual account: an admin's sign-in and the account id,
/// `{"email": "admin@example.com", "accountId": "…", "password": "…"}`. Trainual's Basic user
/// name is `<email>&<accountId>` (the email alone for a user of a single account, when
/// `accountId` is absent).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainualSecret {
    pub email: String,
    #[serde(default)]
    pub account_id: Option<String>,
    pub password: SecretString,
}

impl TrainualSecret {
    /// The rate budget's account: the account id, or the admin's email without one.
    fn account(&self) -> &str {
        self.account_id.as_deref().unwrap_or(&self.email)
    }

    fn auth(&self) -> Auth {
        let user = match &self.account_id {
            Some(account) => format!("{}&{account}", self.email),
            None => self.email.clone(),
        };
        Auth::Basic {
            user: SecretString::from(user),
            password: SecretString::from(self.password.expose_secret().to_owned()),
        }
    }
}

/// One Trainual account.
#[derive(Clone)]
pub struct TrainualClient {
    base: Url,
    secret: Arc<CachedSecret<TrainualSecret>>,
    transport: Transport,
}

impl TrainualClient {
    pub fn new(
        config: &LmsConfig,
        http: reqwest::Client,
        secret: CachedSecret<TrainualSecret>,
        budget: Arc<dyn RateBudget>,
    ) -> Result<Self, LmsConfigError> {
        let base = config.base_or(PLATFORM, DEFAULT_BASE_URL)?;
        Ok(Self {
            base,
            secret: Arc::new(secret),
            transport: Transport::new(PLATFORM, http, budget, config.retry.clone()),
        })
    }

    /// The same client, retrying only while there is time left before `deadline`.
    pub fn with_deadline(&self, deadline: Instant) -> Self {
        Self {
            transport: self.transport.with_deadline(deadline),
            ..self.clone()
        }
    }

    async fn send(&self, request: Request) -> Result<Answer, CallError> {
        let secret = self
            .secret
            .get()
            .await
            .map_err(|e| CallError::Credentials(e.to_string()))?;
        self.transport
            .send(secret.account(), &secret.auth(), &request)
            .await
    }

    fn url(&self, segments: &[&str]) -> Url {
        endpoint(&self.base, segments)
    }

    /// `PUT /users/{id}/<action>` with `{<key>: [id]}`: Trainual's assign / unassign calls, which
    /// leave what is already so as it is.
    async fn assign(
        &self,
        operation: &'static str,
        user_id: &str,
        action: &str,
        key: &str,
        id: &str,
    ) -> Result<(), LmsError> {
        let url = self.url(&["users", user_id, action]);
        let mut body = json!({});
        body[key] = json!([read::id_value(id)]);
        let request = Request::new(operation, Method::PUT, url, Idempotence::Idempotent).json(body);
        self.send(request)
            .await
            .map_err(|e| e.into_lms(PLATFORM, || format!("user {user_id} or {key} {id}")))?;
        Ok(())
    }
}

fn to_user(raw: Value, asked: &Email) -> Result<LmsUser, LmsError> {
    let raw = read::unwrap(raw, &["user", "data"]);
    let id = text(&raw, "id").ok_or_else(|| LmsError::Rejected {
        platform: PLATFORM,
        status: 200,
        message: "answer names no user id".into(),
    })?;
    let (first_name, last_name) = match (text(&raw, "first_name"), text(&raw, "last_name")) {
        (None, None) => read::split_name(text(&raw, "name")),
        names => names,
    };
    let active = text(&raw, "status").is_none_or(|s| {
        !matches!(
            s.to_ascii_lowercase().as_str(),
            "archived" | "deactivated" | "inactive"
        )
    });
    Ok(LmsUser {
        id,
        email: read::email_or(&raw, asked),
        first_name,
        last_name,
        active,
        raw,
    })
}

/// A learner's assigned subjects as courses. Trainual dates neither an assignment nor a
/// completion: a subject at 100 % is completed as of the user's `updated_at`.
fn subjects(raw: &Value, updated_at: Option<time::OffsetDateTime>) -> Vec<CourseStatus> {
    let subjects = raw
        .get("subjects")
        .or_else(|| raw.get("curriculums"))
        .and_then(Value::as_array);
    subjects
        .into_iter()
        .flatten()
        .filter_map(|subject| {
            let id = text(subject, "id")?;
            let percent = read::percent(subject, "completion_percentage");
            Some(CourseStatus {
                course: CourseRef {
                    id,
                    title: text(subject, "title").or_else(|| text(subject, "name")),
                    published_id: None,
                },
                enrolled_at: None,
                completed_at: if percent == Some(100) { updated_at } else { None },
                percent,
                score: None,
                certificate_url: None,
            })
        })
        .collect()
}

fn joined(first: Option<&String>, last: Option<&String>) -> String {
    [first, last]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

fn full_name(fields: &LearnerFields) -> String {
    let name = joined(fields.first_name.as_ref(), fields.last_name.as_ref());
    if name.is_empty() {
        // Trainual requires a name: the email's local part stands in.
        fields
            .email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned()
    } else {
        name
    }
}

#[async_trait]
impl LmsAccount for TrainualClient {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    /// Subjects (the target's courses too) from `GET /subjects`, roles from `GET /roles`: one
    /// listing each, ids compared here.
    async fn missing(&self, courses: &[String], memberships: &[Membership]) -> Result<Vec<String>, LmsError> {
        let mut wanted: Vec<(&str, &str)> = courses.iter().map(|c| ("subject", c.as_str())).collect();
        for membership in memberships {
            match membership {
                Membership::Subject(id) => wanted.push(("subject", id)),
                Membership::Role(id) => wanted.push(("role", id)),
                _ => {
                    return Err(LmsError::Unsupported {
                        platform: PLATFORM,
                        what: "have groups or branches (only roles and subjects)",
                    });
                }
            }
        }
        let mut missing = Vec::new();
        for (kind, listing) in [("subject", "subjects"), ("role", "roles")] {
            if !wanted.iter().any(|(k, _)| *k == kind) {
                continue;
            }
            let answer = self
                .send(Request::get("lookup", self.url(&[listing])))
                .await
                .map_err(|e| e.into_lms(PLATFORM, || listing.to_owned()))?;
            let ids: Vec<String> = read::items(answer.json(PLATFORM, "lookup")?, &[listing, "data"])
                .iter()
                .filter_map(|item| text(item, "id"))
                .collect();
            missing.extend(
                wanted
                    .iter()
                    .filter(|(k, id)| *k == kind && !ids.iter().any(|have| have == id))
                    .map(|(k, id)| format!("{k} {id}")),
            );
        }
        Ok(missing)
    }

    fn with_deadline(&self, deadline: Instant) -> Arc<dyn LmsAccount> {
        Arc::new(TrainualClient::with_deadline(self, deadline))
    }

    /// `GET /users?email=` (one call). Trainual's filters are undocumented, so the list is
    /// matched on the email here as well.
    async fn find_user_by_email(&self, email: &Email) -> Result<Option<LmsUser>, LmsError> {
        let mut url = self.url(&["users"]);
        url.query_pairs_mut().append_pair("email", email.as_str());
        let answer = self
            .send(Request::get("find_user_by_email", url))
            .await
            .map_err(|e| e.into_lms(PLATFORM, || "users".into()))?;
        read::items(answer.json(PLATFORM, "find_user_by_email")?, &["users", "data"])
            .into_iter()
            .find(|u| read::has_email(u, email))
            .map(|u| to_user(u, email))
            .transpose()
    }

    /// Found first (one call); then `POST /users` (an invitation) for a new learner, or
    /// `PUT /users/{id}` when the name differs.
    async fn upsert_user(&self, fields: &LearnerFields) -> Result<LmsUser, LmsError> {
        if !fields.custom_fields.is_empty() {
            debug!(
                fields = fields.custom_fields.len(),
                "Trainual has no custom fields; skipped"
            );
        }
        let Some(found) = self.find_user_by_email(&fields.email).await? else {
            let body = json!({ "user": { "email": fields.email.as_str(), "name": full_name(fields) } });
            // Emails are unique in Trainual: a repeated invitation is refused, never doubled.
            let request = Request::new(
                "create_user",
                Method::POST,
                self.url(&["users"]),
                Idempotence::Protected,
            )
            .json(body);
            return match self.send(request).await {
                Ok(answer) => to_user(answer.json(PLATFORM, "create_user")?, &fields.email),
                // Refused: perhaps invited meanwhile (a crash after Trainual acted).
                Err(err) if matches!(err.status(), Some(400 | 409 | 422)) => {
                    match self.find_user_by_email(&fields.email).await? {
                        Some(found) => Ok(found),
                        None => Err(err.into_lms(PLATFORM, || "users".into())),
                    }
                }
                Err(err) => Err(err.into_lms(PLATFORM, || "users".into())),
            };
        };
        // Trainual holds one name: a part the change does not name stays as it is.
        let first = fields.first_name.as_ref().or(found.first_name.as_ref());
        let last = fields.last_name.as_ref().or(found.last_name.as_ref());
        let name = joined(first, last);
        if name.is_empty() || name == joined(found.first_name.as_ref(), found.last_name.as_ref()) {
            return Ok(found);
        }
        let request = Request::new(
            "update_user",
            Method::PUT,
            self.url(&["users", &found.id]),
            Idempotence::Idempotent,
        )
        .json(json!({ "user": { "name": name } }));
        let answer = self
            .send(request)
            .await
            .map_err(|e| e.into_lms(PLATFORM, || format!("user {}", found.id)))?;
        match to_user(answer.json(PLATFORM, "update_user")?, &fields.email) {
            Ok(updated) => Ok(updated),
            // An answer without the user: what was written is known.
            Err(_) => Ok(LmsUser {
                first_name: fields.first_name.clone().or(found.first_name),
                last_name: fields.last_name.clone().or(found.last_name),
                ..found
            }),
        }
    }

    async fn enroll(&self, _user_id: &str, _course_id: &str) -> Result<(), LmsError> {
        Err(LmsError::Unsupported {
            platform: PLATFORM,
            what: "enroll in courses (training is assigned as subjects)",
        })
    }

    /// Roles (`PUT /users/{id}/assign_roles`) and subjects (`PUT /users/{id}/assign_curriculums`).
    async fn grant(&self, user_id: &str, membership: &Membership) -> Result<(), LmsError> {
        match membership {
            Membership::Role(role) => {
                self.assign("assign_role", user_id, "assign_roles", "role_ids", role)
                    .await
            }
            Membership::Subject(subject) => {
                self.assign(
                    "assign_subject",
                    user_id,
                    "assign_curriculums",
                    "curriculum_ids",
                    subject,
                )
                .await
            }
            Membership::Group(_) | Membership::Branch(_) => Err(LmsError::Unsupported {
                platform: PLATFORM,
                what: "grant groups or branches (it has roles and subjects)",
            }),
        }
    }

    /// `PUT /users/{id}/unassign_roles` / `unassign_curriculums`; 404 is fine.
    async fn revoke(&self, user_id: &str, membership: &Membership) -> Result<(), LmsError> {
        let result = match membership {
            Membership::Role(role) => {
                self.assign("unassign_role", user_id, "unassign_roles", "role_ids", role)
                    .await
            }
            Membership::Subject(subject) => {
                self.assign(
                    "unassign_subject",
                    user_id,
                    "unassign_curriculums",
                    "curriculum_ids",
                    subject,
                )
                .await
            }
            Membership::Group(_) | Membership::Branch(_) => {
                return Err(LmsError::Unsupported {
                    platform: PLATFORM,
                    what: "revoke groups or branches (it has roles and subjects)",
                });
            }
        };
        match result {
            Err(LmsError::NotFound { .. }) => Ok(()),
            other => other,
        }
    }

    /// `GET /users?page=&per_page=` (at most 100): one call a page, each user with their
    /// assigned `subjects` and completion. Trainual's list has no paging metadata, so the token
    /// is the next page number while a page comes back full (a listing that fills its last page
    /// exactly ends with one empty page). Trainual has no filter by change either: `since` is
    /// applied here to each user's `updated_at` (a user without one is kept), after the page is
    /// cut; progress in a subject does not move `updated_at`, so a poll sees a completion only
    /// when something else changed the user, and the reconcile (`since: None`) sees every one.
    /// Archived users are listed too, inactive.
    async fn learners(&self, query: &LearnerQuery, page: Option<&str>) -> Result<LearnerPage, LmsError> {
        let number = read::page_number(PLATFORM, page)?;
        let size = read::page_size(query.page_size, MAX_PAGE_SIZE);
        let mut url = self.url(&["users"]);
        url.query_pairs_mut()
            .append_pair("page", &number.to_string())
            .append_pair("per_page", &size.to_string());
        let answer = self
            .send(Request::get("list_learners", url))
            .await
            .map_err(|e| e.into_lms(PLATFORM, || "users".into()))?;
        let items = read::items(answer.json(PLATFORM, "list_learners")?, &["users", "data"]);
        let next = (items.len() >= size as usize)
            .then(|| number.checked_add(1))
            .flatten()
            .map(|n| n.to_string());
        let learners = items
            .into_iter()
            .filter_map(|item| {
                let email = read::listed_email(&item)?;
                let user = to_user(item, &email).ok()?;
                let updated_at = read::instant(&user.raw, "updated_at");
                if query
                    .since
                    .is_some_and(|since| updated_at.is_some_and(|at| at < since))
                {
                    return None;
                }
                Some(LearnerActivity {
                    created_at: read::instant(&user.raw, "created_at"),
                    updated_at,
                    courses: subjects(&user.raw, updated_at),
                    user,
                })
            })
            .collect();
        Ok(LearnerPage { learners, next })
    }

    /// `PUT /users/{id}/archive`: Trainual's deactivation, which keeps the learner's history.
    async fn deactivate(&self, user_id: &str) -> Result<(), LmsError> {
        let request = Request::new(
            "deactivate",
            Method::PUT,
            self.url(&["users", user_id, "archive"]),
            Idempotence::Idempotent,
        );
        self.send(request)
            .await
            .map_err(|e| e.into_lms(PLATFORM, || format!("user {user_id}")))?;
        Ok(())
    }
}
