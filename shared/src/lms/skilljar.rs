//! Skilljar's REST API (`https://api.skilljar.com/v1`; the paths and shapes used are in
//! `tests/contract/lms-api/skilljar-openapi.subset.yml` and `clients.md`): learners in one
//! domain, enrollments in published courses, groups, and course progress.
//!
//! Skilljar's own repeat-safety carries most operations: adding a user to a domain with an email
//! it knows returns that user; an enrollment is idempotent for the same user and enrollment time,
//! which the request fixes once so that retries repeat it exactly. Skilljar publishes no rate
//! figure (a third-party page says 600 calls / minute and 5,000 / hour): the budget keeps the
//! hourly figure and honours 429 and `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, Url};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::read::{self, text};
use super::transport::{Answer, Auth, CallError, Request, Transport, endpoint};
use super::{
    CourseStatus, LearnerActivity, LearnerFields, LearnerPage, LearnerQuery, LmsAccount, LmsConfig,
    LmsConfigError, LmsError, LmsUser, Membership,
};
use crate::domain::{CourseRef, Email};
use crate::http::{BudgetConfig, Idempotence, RateBudget, RateLimits};
use crate::secrets::CachedSecret;

pub const PLATFORM: &str = "skilljar";
pub const DEFAULT_BASE_URL: &str = "https://api.skilljar.com/v1";

/// 5,000 requests an hour (third-party figure; none is published), per organisation.
pub const RATE_LIMITS: RateLimits = RateLimits {
    max: 5_000,
    interval: Duration::from_secs(3600),
    daily: u32::MAX,
};

/// The rate budget of Skilljar accounts: `SharedRateBudget::new(table, skilljar::budget_config())`.
pub fn budget_config() -> BudgetConfig {
    BudgetConfig::lms(PLATFORM, RATE_LIMITS)
}

/// Longest run of pages one listing follows; a filtered listing needs one.
const MAX_PAGES: usize = 20;

/// The largest `page_size` asked for (Skilljar documents none; DRF's pages are usually capped).
const MAX_PAGE_SIZE: u32 = 100;

/// The Secrets Manager document of one Skilljar account:
/// `{"apiKey": "…", "domain": "acme.skilljar.com"}`. The key is sent as the Basic user name with
/// an empty password; the domain is where learners are created and enrolled.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkilljarSecret {
    pub api_key: SecretString,
    pub domain: String,
}

/// A learner's progress in one published course
/// (`GET /v1/users/{id}/published-courses`).
#[derive(Debug, Clone, PartialEq)]
pub struct CourseProgress {
    pub published_course_id: String,
    pub course_id: Option<String>,
    pub course_title: Option<String>,
    pub enrolled_at: Option<OffsetDateTime>,
    /// `None` until the learner completes the course.
    pub completed_at: Option<OffsetDateTime>,
    pub score: Option<i64>,
    pub max_score: Option<i64>,
    /// `PASSED`, `FAILED`, or none.
    pub success_status: Option<String>,
    pub completed_lesson_count: Option<u64>,
    pub lesson_count: Option<u64>,
    /// Skilljar's own document, for support.
    pub raw: Value,
}

impl CourseProgress {
    /// The latest date the progress names: enrollment, completion or `latest_activity`.
    pub fn last_activity(&self) -> Option<OffsetDateTime> {
        let latest = self
            .raw
            .get("course_progress")
            .and_then(|p| read::instant(p, "latest_activity"));
        [self.enrolled_at, self.completed_at, latest]
            .into_iter()
            .flatten()
            .max()
    }

    /// The course as the port reports it: the course id, with the published id Skilljar
    /// enrolls by; completed when Skilljar dates a completion; the percent from the lessons
    /// completed (100 once completed); the score as Skilljar writes it.
    pub fn status(&self) -> CourseStatus {
        let percent = match (self.completed_at, self.completed_lesson_count, self.lesson_count) {
            (Some(_), ..) => Some(100),
            (None, Some(done), Some(total)) if total > 0 => {
                Some(u32::try_from(done.min(total).saturating_mul(100) / total).unwrap_or(100))
            }
            _ => None,
        };
        let score = self.raw.get("course_progress").and_then(|p| text(p, "score"));
        CourseStatus {
            course: CourseRef {
                id: self
                    .course_id
                    .clone()
                    .unwrap_or_else(|| self.published_course_id.clone()),
                title: self.course_title.clone(),
                published_id: Some(self.published_course_id.clone()).filter(|id| !id.is_empty()),
            },
            enrolled_at: self.enrolled_at,
            completed_at: self.completed_at,
            percent,
            score,
            certificate_url: self.raw.get("certificate").and_then(|c| text(c, "validate_url")),
        }
    }

    fn from_value(raw: Value) -> Self {
        let progress = raw.get("course_progress").cloned().unwrap_or(Value::Null);
        let course = raw.get("course").cloned().unwrap_or(Value::Null);
        let at = |v: &Value, key: &str| text(v, key).and_then(|t| OffsetDateTime::parse(&t, &Rfc3339).ok());
        Self {
            published_course_id: text(&raw, "published_course_id").unwrap_or_default(),
            course_id: text(&course, "id"),
            course_title: text(&course, "title"),
            enrolled_at: at(&raw, "enrolled_at"),
            completed_at: at(&progress, "completed_at"),
            score: progress.get("score").and_then(Value::as_i64),
            max_score: progress.get("max_score").and_then(Value::as_i64),
            success_status: text(&progress, "success_status"),
            completed_lesson_count: progress.get("completed_lesson_count").and_then(Value::as_u64),
            lesson_count: course.get("lesson_count").and_then(Value::as_u64),
            raw,
        }
    }
}

/// One webhook subscription of the organisation (its credentials are not read back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub target_url: String,
    /// `None`: every event type.
    pub event_type: Option<String>,
    pub active: bool,
}

impl Webhook {
    fn from_value(raw: &Value) -> Option<Self> {
        Some(Self {
            id: text(raw, "id")?,
            target_url: raw.get("target_url")?.as_str()?.to_owned(),
            event_type: raw.get("event_type").and_then(Value::as_str).map(str::to_owned),
            active: raw.get("active").and_then(Value::as_bool).unwrap_or(true),
        })
    }
}

/// One Skilljar account (API key + domain).
#[derive(Clone)]
pub struct SkilljarClient {
    base: Url,
    secret: Arc<CachedSecret<SkilljarSecret>>,
    transport: Transport,
}

/// A paged listing, or a bare array (the description says both for `/v1/users`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Listing {
    Page {
        results: Vec<Value>,
        #[serde(default)]
        next: Option<String>,
    },
    Bare(Vec<Value>),
}

impl SkilljarClient {
    pub fn new(
        config: &LmsConfig,
        http: reqwest::Client,
        secret: CachedSecret<SkilljarSecret>,
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

    /// The learner's progress in one published course; `None` if not enrolled. Read from the
    /// learner's list (one call, like the single-course path, which not every Skilljar stand-in
    /// serves).
    pub async fn course_progress(
        &self,
        user_id: &str,
        published_course_id: &str,
    ) -> Result<Option<CourseProgress>, LmsError> {
        Ok(self
            .progress(user_id)
            .await?
            .into_iter()
            .find(|p| p.published_course_id == published_course_id))
    }

    /// Every published course the learner is enrolled in, with progress.
    pub async fn progress(&self, user_id: &str) -> Result<Vec<CourseProgress>, LmsError> {
        let url = self.url(&["users", user_id, "published-courses"]);
        let items = self.list("progress", url, |_| false).await?;
        Ok(items.into_iter().map(CourseProgress::from_value).collect())
    }

    fn url(&self, segments: &[&str]) -> Url {
        endpoint(&self.base, segments)
    }

    /// The organisation's webhook subscriptions, `GET /v1/webhooks` (every page).
    pub async fn webhooks(&self) -> Result<Vec<Webhook>, LmsError> {
        let items = self
            .list("list_webhooks", self.url(&["webhooks"]), |_| false)
            .await?;
        Ok(items.iter().filter_map(Webhook::from_value).collect())
    }

    /// `POST /v1/webhooks`: Skilljar then delivers `event_type` to `target_url` with these Basic
    /// credentials. Not repeated after a lost answer (it would subscribe twice): a caller lists
    /// again instead.
    pub async fn create_webhook(
        &self,
        target_url: &str,
        event_type: &str,
        basic_auth: (&str, &SecretString),
    ) -> Result<Webhook, LmsError> {
        use secrecy::ExposeSecret;
        let request = Request::new(
            "create_webhook",
            Method::POST,
            self.url(&["webhooks"]),
            Idempotence::NotIdempotent,
        )
        .json(json!({
            "target_url": target_url,
            "active": true,
            "event_type": event_type,
            "basic_auth_username": basic_auth.0,
            "basic_auth_password": basic_auth.1.expose_secret(),
        }));
        let answer = self
            .send(request)
            .await
            .map_err(|e| e.into_lms(PLATFORM, || format!("webhook for {event_type}")))?;
        let created: Value = answer.json(PLATFORM, "create_webhook")?;
        Webhook::from_value(&created).ok_or_else(|| LmsError::Rejected {
            platform: PLATFORM,
            status: answer.status,
            message: "created webhook without an id".into(),
        })
    }

    /// `DELETE /v1/webhooks/{id}`; 404 (already gone) is fine.
    pub async fn delete_webhook(&self, id: &str) -> Result<(), LmsError> {
        let request = Request::new(
            "delete_webhook",
            Method::DELETE,
            self.url(&["webhooks", id]),
            Idempotence::Idempotent,
        );
        match self.send(request).await {
            Ok(_) => Ok(()),
            Err(err) if err.status() == Some(404) => Ok(()),
            Err(err) => Err(err.into_lms(PLATFORM, || format!("webhook {id}"))),
        }
    }

    /// Where a learner listing's page is: the first or a numbered page of the domain's users, or
    /// a `next` link handed out as the token (only one to the same listing within Skilljar).
    fn learners_url(&self, domain: &str, size: u32, page: Option<&str>) -> Result<Url, LmsError> {
        let mut url = self.url(&["domains", domain, "users"]);
        let number = match page {
            Some(token) if token.trim().parse::<u32>().is_err() => {
                return Url::parse(token.trim())
                    .ok()
                    .filter(|next| read::same_origin(&self.base, next) && next.path() == url.path())
                    .ok_or_else(|| read::bad_page_token(PLATFORM));
            }
            page => read::page_number(PLATFORM, page)?,
        };
        url.query_pairs_mut()
            .append_pair("page", &number.to_string())
            .append_pair("page_size", &size.to_string());
        Ok(url)
    }

    async fn secret(&self) -> Result<Arc<SkilljarSecret>, LmsError> {
        self.secret.get().await.map_err(|e| LmsError::secret(PLATFORM, e))
    }

    async fn send(&self, request: Request) -> Result<Answer, CallError> {
        let secret = self
            .secret
            .get()
            .await
            .map_err(|e| CallError::Credentials(e.to_string()))?;
        let auth = Auth::Basic {
            user: secret.api_key.clone(),
            password: SecretString::from(String::new()),
        };
        // Skilljar's limits are the organisation's; a secret names one domain of it.
        self.transport.send(&secret.domain, &auth, &request).await
    }

    /// Items of a listing, following `next` within Skilljar until `enough` says an item was
    /// the one wanted.
    async fn list(
        &self,
        operation: &'static str,
        first: Url,
        enough: impl Fn(&Value) -> bool,
    ) -> Result<Vec<Value>, LmsError> {
        let mut url = first;
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer = self
                .send(Request::get(operation, url))
                .await
                .map_err(|e| e.into_lms(PLATFORM, || operation.to_owned()))?;
            let next = match answer.json::<Listing>(PLATFORM, operation)? {
                Listing::Bare(page) => {
                    items.extend(page);
                    None
                }
                Listing::Page { results, next } => {
                    items.extend(results);
                    next
                }
            };
            if items.iter().any(&enough) {
                break;
            }
            match next.and_then(|n| Url::parse(&n).ok()) {
                Some(next) if read::same_origin(&self.base, &next) => url = next,
                _ => break,
            }
        }
        Ok(items)
    }
}

/// A user from any of Skilljar's shapes: `{user: {…}, active | inactive_at}` or a bare user.
fn to_user(raw: Value, asked: &Email) -> Result<LmsUser, LmsError> {
    let user = raw.get("user").filter(|u| u.is_object()).unwrap_or(&raw);
    let id = text(user, "id").ok_or_else(|| LmsError::Rejected {
        platform: PLATFORM,
        status: 200,
        message: "answer names no user id".into(),
    })?;
    let active = match raw.get("active").and_then(Value::as_bool) {
        Some(active) => active,
        None => raw.get("inactive_at").is_none_or(Value::is_null),
    };
    Ok(LmsUser {
        id,
        email: read::email_or(user, asked),
        first_name: text(user, "first_name"),
        last_name: text(user, "last_name"),
        active,
        raw,
    })
}

/// The token of the page a `next` link names: its page number, or the link itself when it
/// names none (another paging scheme); `None` for a link that would leave Skilljar.
fn next_token(base: &Url, next: &str) -> Option<String> {
    let next = Url::parse(next).ok()?;
    if !read::same_origin(base, &next) {
        warn!("Skilljar's next page link leaves its API; the listing stops there");
        return None;
    }
    let page = next
        .query_pairs()
        .find(|(key, _)| key == "page")
        .and_then(|(_, value)| value.parse::<u32>().ok());
    Some(page.map_or_else(|| next.to_string(), |page| page.to_string()))
}

fn user_of(item: &Value) -> &Value {
    item.get("user").filter(|u| u.is_object()).unwrap_or(item)
}

#[async_trait]
impl LmsAccount for SkilljarClient {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    /// A course is `GET /v1/domains/{domain}/published-courses/{id}/enrollments`, a group
    /// `GET /v1/groups/{id}/users` (one page of one): a 404 is an unknown id.
    async fn missing(&self, courses: &[String], memberships: &[Membership]) -> Result<Vec<String>, LmsError> {
        let secret = self.secret().await?;
        let mut lookups: Vec<(String, Url)> = courses
            .iter()
            .map(|c| {
                let url = self.url(&["domains", &secret.domain, "published-courses", c, "enrollments"]);
                (format!("course {c}"), url)
            })
            .collect();
        for membership in memberships {
            let group = group_of(membership, "have anything but groups")?;
            lookups.push((format!("group {group}"), self.url(&["groups", group, "users"])));
        }
        let mut missing = Vec::new();
        for (what, mut url) in lookups {
            url.query_pairs_mut().append_pair("page_size", "1");
            match self.send(Request::get("lookup", url)).await {
                Ok(_) => {}
                Err(err) if err.status() == Some(404) => missing.push(what),
                Err(err) => return Err(err.into_lms(PLATFORM, || what.clone())),
            }
        }
        Ok(missing)
    }

    fn with_deadline(&self, deadline: Instant) -> Arc<dyn LmsAccount> {
        Arc::new(SkilljarClient::with_deadline(self, deadline))
    }

    /// `GET /v1/users?email=` (one call; further pages only if Skilljar pages a filtered list).
    async fn find_user_by_email(&self, email: &Email) -> Result<Option<LmsUser>, LmsError> {
        let mut url = self.url(&["users"]);
        url.query_pairs_mut().append_pair("email", email.as_str());
        let items = self
            .list("find_user_by_email", url, |item| {
                read::has_email(user_of(item), email)
            })
            .await?;
        items
            .into_iter()
            .find(|item| read::has_email(user_of(item), email))
            .map(|item| to_user(item, email))
            .transpose()
    }

    /// `POST /v1/domains/{domain}/users` (repeat-safe on the email: an existing user is added to
    /// the domain and returned unchanged), then `PATCH /v1/users/{id}` if the names differ, then
    /// the signup fields (`POST …/signup-fields-bulk`) if there are custom fields.
    async fn upsert_user(&self, fields: &LearnerFields) -> Result<LmsUser, LmsError> {
        let secret = self.secret().await?;
        let mut user = json!({ "email": fields.email.as_str() });
        if let Some(first) = &fields.first_name {
            user["first_name"] = json!(first);
        }
        if let Some(last) = &fields.last_name {
            user["last_name"] = json!(last);
        }
        let url = self.url(&["domains", &secret.domain, "users"]);
        let request = Request::new("upsert_user", Method::POST, url, Idempotence::Idempotent)
            .json(json!({ "user": user }));
        let answer = self
            .send(request)
            .await
            .map_err(|e| e.into_lms(PLATFORM, || format!("domain {}", secret.domain)))?;
        let mut learner = to_user(answer.json(PLATFORM, "upsert_user")?, &fields.email)?;

        let mut changes = serde_json::Map::new();
        if fields.first_name.is_some() && fields.first_name != learner.first_name {
            changes.insert("first_name".into(), json!(fields.first_name));
        }
        if fields.last_name.is_some() && fields.last_name != learner.last_name {
            changes.insert("last_name".into(), json!(fields.last_name));
        }
        if !changes.is_empty() {
            let url = self.url(&["users", &learner.id]);
            let request = Request::new("update_user", Method::PATCH, url, Idempotence::Idempotent)
                .json(Value::Object(changes));
            let answer = self
                .send(request)
                .await
                .map_err(|e| e.into_lms(PLATFORM, || format!("user {}", learner.id)))?;
            let updated: Value = answer.json(PLATFORM, "update_user")?;
            learner.first_name = text(&updated, "first_name").or(learner.first_name);
            learner.last_name = text(&updated, "last_name").or(learner.last_name);
        }

        // Skilljar refuses empty values, so a cleared field is left as it was.
        let signup_fields: Vec<Value> = fields
            .custom_fields
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(id, value)| json!({ "id": id, "value": value }))
            .collect();
        if !signup_fields.is_empty() {
            let url = self.url(&[
                "domains",
                &secret.domain,
                "users",
                &learner.id,
                "signup-fields-bulk",
            ]);
            let request = Request::new("set_signup_fields", Method::POST, url, Idempotence::Idempotent)
                .json(json!({ "signup_fields": signup_fields }));
            self.send(request)
                .await
                .map_err(|e| e.into_lms(PLATFORM, || format!("user {}", learner.id)))?;
        }
        Ok(learner)
    }

    /// Enrolled already (the course is in `GET /v1/users/{id}/published-courses`): nothing to do.
    /// Else `POST /v1/domains/{domain}/published-courses/{course}/enrollments` with the
    /// enrollment time fixed, which Skilljar treats as the same enrollment on a retry.
    async fn enroll(&self, user_id: &str, course_id: &str) -> Result<(), LmsError> {
        if self.course_progress(user_id, course_id).await?.is_some() {
            return Ok(());
        }
        let secret = self.secret().await?;
        let now = OffsetDateTime::now_utc();
        let enrolled_at = now
            .replace_nanosecond(0)
            .unwrap_or(now)
            .format(&Rfc3339)
            .map_err(|e| LmsError::Transport {
                platform: PLATFORM,
                message: e.to_string(),
            })?;
        let url = self.url(&[
            "domains",
            &secret.domain,
            "published-courses",
            course_id,
            "enrollments",
        ]);
        let request = Request::new("enroll", Method::POST, url, Idempotence::Idempotent).json(json!({
            "user": { "id": user_id },
            "enrolled_at": enrolled_at,
        }));
        self.send(request)
            .await
            .map_err(|e| e.into_lms(PLATFORM, || format!("published course {course_id}")))?;
        Ok(())
    }

    /// The learner's enrollment in the course (by course id or published id) from
    /// `GET /v1/users/{id}/published-courses`, then
    /// `PATCH /v1/domains/{domain}/published-courses/{course}/enrollments/{enrollment}` with
    /// `active: false`. Not enrolled: nothing to do. Two calls.
    async fn unenroll(&self, user_id: &str, course_id: &str) -> Result<(), LmsError> {
        let Some(progress) = self
            .progress(user_id)
            .await?
            .into_iter()
            .find(|p| p.published_course_id == course_id || p.course_id.as_deref() == Some(course_id))
        else {
            return Ok(());
        };
        let enrollment_id = text(&progress.raw, "enrollment_id").ok_or_else(|| LmsError::Rejected {
            platform: PLATFORM,
            status: 200,
            message: format!("no enrollment_id for course {course_id} of user {user_id}"),
        })?;
        let secret = self.secret().await?;
        let url = self.url(&[
            "domains",
            &secret.domain,
            "published-courses",
            &progress.published_course_id,
            "enrollments",
            &enrollment_id,
        ]);
        let request = Request::new("unenroll", Method::PATCH, url, Idempotence::Idempotent)
            .json(json!({ "active": false }));
        self.send(request)
            .await
            .map_err(|e| e.into_lms(PLATFORM, || format!("enrollment {enrollment_id}")))?;
        Ok(())
    }

    /// `POST /v1/groups/{group}/users`; if Skilljar refuses it (already a member?), one
    /// `GET /v1/groups/{group}/users/{user}` decides.
    async fn grant(&self, user_id: &str, membership: &Membership) -> Result<(), LmsError> {
        let group = group_of(membership, "add learners to anything but groups")?;
        let url = self.url(&["groups", group, "users"]);
        let request = Request::new("add_to_group", Method::POST, url, Idempotence::Idempotent)
            .json(json!({ "user": { "id": user_id } }));
        match self.send(request).await {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.status(), Some(400 | 409)) => {
                let check = Request::get("group_membership", self.url(&["groups", group, "users", user_id]));
                match self.send(check).await {
                    Ok(_) => Ok(()),
                    Err(_) => Err(err.into_lms(PLATFORM, || format!("group {group}"))),
                }
            }
            Err(err) => Err(err.into_lms(PLATFORM, || format!("group {group}"))),
        }
    }

    /// `DELETE /v1/groups/{group}/users/{user}`; 404 (not a member) is fine.
    async fn revoke(&self, user_id: &str, membership: &Membership) -> Result<(), LmsError> {
        let group = group_of(membership, "remove learners from anything but groups")?;
        let url = self.url(&["groups", group, "users", user_id]);
        let request = Request::new("remove_from_group", Method::DELETE, url, Idempotence::Idempotent);
        match self.send(request).await {
            Ok(_) => Ok(()),
            Err(err) if err.status() == Some(404) => Ok(()),
            Err(err) => Err(err.into_lms(PLATFORM, || format!("group {group}"))),
        }
    }

    /// The domain's users, `GET /v1/domains/{domain}/users?page=&page_size=` (at most 100), then
    /// each one's progress, `GET /v1/users/{id}/published-courses` (`progress`): 1 + 1 per
    /// learner calls per page. The token is the page number of the listing's `next` link, which is
    /// followed only within Skilljar. Skilljar has no filter by change: `since` is applied here,
    /// after the progress is read, leaving out a learner who neither joined the domain nor
    /// enrolled, completed or was active in a course at or after it (the page is cut before
    /// that filter). A learner gone between the two reads is left out.
    async fn learners(&self, query: &LearnerQuery, page: Option<&str>) -> Result<LearnerPage, LmsError> {
        let secret = self.secret().await?;
        let size = read::page_size(query.page_size, MAX_PAGE_SIZE);
        let url = self.learners_url(&secret.domain, size, page)?;
        let answer = self
            .send(Request::get("list_learners", url))
            .await
            .map_err(|e| e.into_lms(PLATFORM, || format!("domain {}", secret.domain)))?;
        let (items, next) = match answer.json::<Listing>(PLATFORM, "list_learners")? {
            Listing::Bare(items) => (items, None),
            Listing::Page { results, next } => (results, next),
        };
        let next = next
            .filter(|_| !items.is_empty())
            .and_then(|next| next_token(&self.base, &next));

        let mut learners = Vec::with_capacity(items.len());
        for item in items {
            let Some(email) = read::listed_email(user_of(&item)) else {
                debug!("Skilljar user without a usable email; not listed");
                continue;
            };
            let Ok(user) = to_user(item, &email) else {
                debug!("Skilljar user without an id; not listed");
                continue;
            };
            let progress = match self.progress(&user.id).await {
                Ok(progress) => progress,
                Err(LmsError::NotFound { .. }) => {
                    debug!("Skilljar user gone since the listing; not listed");
                    continue;
                }
                Err(err) => return Err(err),
            };
            // Joined the domain (the membership's `enrolled_at`).
            let joined = read::instant(&user.raw, "enrolled_at");
            let updated_at = progress
                .iter()
                .filter_map(CourseProgress::last_activity)
                .chain(joined)
                .max();
            // Nothing dated at all: kept, as nothing says it is unchanged.
            if query
                .since
                .is_some_and(|since| updated_at.is_some_and(|at| at < since))
            {
                continue;
            }
            learners.push(LearnerActivity {
                created_at: joined,
                updated_at,
                courses: progress.iter().map(CourseProgress::status).collect(),
                user,
            });
        }
        Ok(LearnerPage { learners, next })
    }

    /// `PATCH /v1/domains/{domain}/users/{id}` with `active: false`: the learner loses access to
    /// the domain and keeps their history.
    async fn deactivate(&self, user_id: &str) -> Result<(), LmsError> {
        let secret = self.secret().await?;
        let url = self.url(&["domains", &secret.domain, "users", user_id]);
        let request = Request::new("deactivate", Method::PATCH, url, Idempotence::Idempotent)
            .json(json!({ "active": false }));
        self.send(request)
            .await
            .map_err(|e| e.into_lms(PLATFORM, || format!("user {user_id} in domain {}", secret.domain)))?;
        Ok(())
    }
}

fn group_of<'m>(membership: &'m Membership, what: &'static str) -> Result<&'m str, LmsError> {
    match membership {
        Membership::Group(group) => Ok(group),
        _ => Err(LmsError::Unsupported {
            platform: PLATFORM,
            what,
        }),
    }
}
