//! TalentLMS's public API v2 (`https://<domain>.talentlms.com/api/v2`, headers `X-API-Key` and
//! `X-API-Version`; the paths and shapes used are in
//! `tests/contract/lms-api/talentlms-openapi.subset.yaml` and `clients.md`), with the legacy v1
//! where v2 lacks an operation: v2 writes a single user's custom fields only through its
//! asynchronous batch endpoint, so they go through v1's `edituser` (Basic auth with the key,
//! form fields); and v1's user record (`GET api/v1/users/id:{id}`) lists a user's courses,
//! groups and branches in one read, which checks a refused relation.
//!
//! Limits: 2,000 or 10,000 calls an hour by plan, never more than 200 per 5 s. The budget starts
//! from the smaller hourly figure and learns the plan's from `X-RateLimit-Limit`; a spent window
//! (`X-RateLimit-Remaining: 0`) pauses the account until `X-RateLimit-Reset` if it is sent.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
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

pub const PLATFORM: &str = "talentlms";

/// The `X-API-Version` sent unless the secret names another.
pub const API_VERSION: &str = "2025-01-01";

/// The smaller plans' 2,000 requests an hour; larger plans are learned from the headers.
pub const RATE_LIMITS: RateLimits = RateLimits {
    max: 2_000,
    interval: Duration::from_secs(3600),
    daily: u32::MAX,
};

/// The rate budget of TalentLMS accounts. A spent window whose answer names no reset pauses the
/// account for the documented short window (200 calls per 5 s), not a tenth of the hour.
pub fn budget_config() -> BudgetConfig {
    BudgetConfig {
        spent_pause: Some(Duration::from_secs(5)),
        ..BudgetConfig::lms(PLATFORM, RATE_LIMITS)
    }
}

const MAX_PAGES: usize = 20;

/// The largest `page[size]` TalentLMS accepts.
const MAX_PAGE_SIZE: u32 = 100;

/// The Secrets Manager document of one TalentLMS account:
/// `{"domain": "acme", "apiKey": "…"}` (`acme` or `acme.talentlms.com`), optionally with
/// `"apiVersion": "YYYY-MM-DD"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TalentLmsSecret {
    pub domain: String,
    pub api_key: SecretString,
    #[serde(default)]
    pub api_version: Option<String>,
}

impl TalentLmsSecret {
    /// `https://<domain>.talentlms.com`, from a domain of letters, digits, dots and dashes only,
    /// so that a secret cannot point the key at another host's path.
    fn origin(&self) -> Result<String, CallError> {
        let domain = self.domain.trim().to_ascii_lowercase();
        let valid = !domain.is_empty()
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !valid {
            return Err(CallError::Credentials(
                "the TalentLMS secret's `domain` is not a host name".into(),
            ));
        }
        Ok(if domain.contains('.') {
            format!("https://{domain}")
        } else {
            format!("https://{domain}.talentlms.com")
        })
    }
}

#[cfg(test)]
impl TalentLmsSecret {
    pub(crate) fn origin_for_tests(&self) -> Option<String> {
        self.origin().ok()
    }
}

/// One TalentLMS account (domain + API key).
#[derive(Clone)]
pub struct TalentLmsClient {
    /// Set in tests and local runs; else the secret's domain.
    base_override: Option<Url>,
    secret: Arc<CachedSecret<TalentLmsSecret>>,
    transport: Transport,
}

/// Which API a request goes to.
#[derive(Clone, Copy)]
enum Api {
    V2,
    V1,
}

impl TalentLmsClient {
    pub fn new(
        config: &LmsConfig,
        http: reqwest::Client,
        secret: CachedSecret<TalentLmsSecret>,
        budget: Arc<dyn RateBudget>,
    ) -> Result<Self, LmsConfigError> {
        let base_override = config.base_override(PLATFORM)?;
        Ok(Self {
            base_override,
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

    /// Sends to `api/v2/<segments>` or `api/v1/<segments>`, authenticated for that API.
    async fn send(
        &self,
        api: Api,
        operation: &'static str,
        method: Method,
        segments: &[&str],
        build: impl FnOnce(Request) -> Request,
        idempotence: Idempotence,
    ) -> Result<Answer, CallError> {
        let secret = self
            .secret
            .get()
            .await
            .map_err(|e| CallError::Credentials(e.to_string()))?;
        let base = match &self.base_override {
            Some(base) => base.clone(),
            None => crate::http::base_url(&secret.origin()?).map_err(|_| {
                CallError::Credentials("the TalentLMS secret's `domain` is not a host".into())
            })?,
        };
        let version = match api {
            Api::V2 => "v2",
            Api::V1 => "v1",
        };
        let path: Vec<&str> = ["api", version].iter().chain(segments).copied().collect();
        let mut request = build(Request::new(
            operation,
            method,
            endpoint(&base, &path),
            idempotence,
        ));
        let auth = match api {
            Api::V2 => {
                let api_version = secret.api_version.as_deref().unwrap_or(API_VERSION);
                let api_version = HeaderValue::from_str(api_version).map_err(|_| {
                    CallError::Credentials("the TalentLMS `apiVersion` is not a header value".into())
                })?;
                request = request.header(HeaderName::from_static("x-api-version"), api_version);
                Auth::Header {
                    name: HeaderName::from_static("x-api-key"),
                    value: secret.api_key.clone(),
                }
            }
            Api::V1 => Auth::Basic {
                user: secret.api_key.clone(),
                password: SecretString::from(String::new()),
            },
        };
        self.transport.send(&secret.domain, &auth, &request).await
    }

    /// Users matching `filter[email][eq]`, following `_links.next` within TalentLMS.
    async fn users_with_email(&self, email: &Email) -> Result<Vec<Value>, LmsError> {
        let mut query = vec![("filter[email][eq]".to_owned(), email.as_str().to_owned())];
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer = self
                .send(
                    Api::V2,
                    "find_user_by_email",
                    Method::GET,
                    &["users"],
                    |mut r| {
                        r.url.query_pairs_mut().extend_pairs(&query);
                        r
                    },
                    Idempotence::Idempotent,
                )
                .await
                .map_err(|e| e.into_lms(PLATFORM, || "users".into()))?;
            let page: Value = answer.json(PLATFORM, "find_user_by_email")?;
            let next = page
                .get("_links")
                .and_then(|l| text(l, "next"))
                .and_then(|n| Url::parse(&n).ok());
            items.extend(read::items(page, &["_data", "data"]));
            if items.iter().any(|u| read::has_email(u, email)) {
                break;
            }
            // Only the query is taken from the link: the host stays the account's own.
            match next {
                Some(next) => query = next.query_pairs().into_owned().collect(),
                None => break,
            }
        }
        Ok(items)
    }

    /// `POST api/v2/users`. A password is required: a random one the learner never sees (they
    /// reset it, or sign in through SSO).
    async fn create_user(&self, fields: &LearnerFields) -> Result<Result<LmsUser, CallError>, LmsError> {
        let local = fields.email.as_str().split('@').next().unwrap_or_default();
        let password = format!("Ls{}!9", uuid::Uuid::new_v4().simple());
        let body = json!({
            "name": fields.first_name.as_deref().unwrap_or(local),
            "surname": fields.last_name.as_deref().unwrap_or("-"),
            "login": fields.email.as_str(),
            "email": fields.email.as_str(),
            "password": password,
        });
        // Emails are unique in TalentLMS: a repeated create is refused, never doubled.
        let answer = self
            .send(
                Api::V2,
                "create_user",
                Method::POST,
                &["users"],
                |r| r.json(body),
                Idempotence::Protected,
            )
            .await;
        match answer {
            Ok(answer) => {
                let created = read::unwrap(answer.json(PLATFORM, "create_user")?, &["_data", "data", "user"]);
                match text(&created, "id") {
                    Some(_) => Ok(Ok(to_user(created, &fields.email)?)),
                    // No id in the answer: look the learner up.
                    None => self
                        .find_user_by_email(&fields.email)
                        .await?
                        .map(Ok)
                        .ok_or_else(|| LmsError::Rejected {
                            platform: PLATFORM,
                            status: answer.status,
                            message: "created user not found by email".into(),
                        }),
                }
            }
            Err(err) => Ok(Err(err)),
        }
    }

    /// `POST` a relation (enrollment, group or branch membership); if TalentLMS refuses it
    /// (it answers 400 to a relation that exists), the user's v1 record, which lists their
    /// `courses`, `groups` and `branches` in one read, says whether it is there already.
    async fn relate(
        &self,
        operation: &'static str,
        path: &str,
        body: Value,
        user_id: &str,
        list: &'static str,
        related_id: &str,
    ) -> Result<(), LmsError> {
        let answer = self
            .send(
                Api::V2,
                operation,
                Method::POST,
                &[path],
                |r| r.json(body),
                Idempotence::Idempotent,
            )
            .await;
        match answer {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.status(), Some(400 | 409 | 422)) => {
                let held = read::items(self.user_record(user_id).await?, &[list]);
                if read::lists_id(&held, related_id) {
                    Ok(())
                } else {
                    Err(err.into_lms(PLATFORM, || path.to_owned()))
                }
            }
            Err(err) => Err(err.into_lms(PLATFORM, || format!("{path} for user {user_id}"))),
        }
    }

    /// The user's v1 record (`GET api/v1/users/id:{id}`): their `courses` (with enrollment and
    /// completion), `groups` and `branches` in one read.
    async fn user_record(&self, user_id: &str) -> Result<Value, LmsError> {
        let record = format!("id:{user_id}");
        self.send(
            Api::V1,
            "user_record",
            Method::GET,
            &["users", &record],
            |r| r,
            Idempotence::Idempotent,
        )
        .await
        .map_err(|e| e.into_lms(PLATFORM, || format!("user {user_id}")))?
        .json(PLATFORM, "user_record")
    }

    async fn unrelate(&self, operation: &'static str, path: &str, body: Value) -> Result<(), LmsError> {
        let answer = self
            .send(
                Api::V2,
                operation,
                Method::DELETE,
                &[path],
                |r| r.json(body),
                Idempotence::Idempotent,
            )
            .await;
        match answer {
            Ok(_) => Ok(()),
            Err(err) if err.status() == Some(404) => Ok(()),
            Err(err) => Err(err.into_lms(PLATFORM, || path.to_owned())),
        }
    }
}

fn to_user(raw: Value, asked: &Email) -> Result<LmsUser, LmsError> {
    let id = text(&raw, "id").ok_or_else(|| LmsError::Rejected {
        platform: PLATFORM,
        status: 200,
        message: "answer names no user id".into(),
    })?;
    let active = text(&raw, "status").is_none_or(|s| s.eq_ignore_ascii_case("active"));
    Ok(LmsUser {
        id,
        email: read::email_or(&raw, asked),
        first_name: text(&raw, "name"),
        last_name: text(&raw, "surname"),
        active,
        raw,
    })
}

/// Whether the v2 listing says it has a page after `number`: its `_links.next`, else its
/// `_meta.pagination.total_pages`; `None` when it says neither.
fn says_more(listing: &Value, number: u32) -> Option<bool> {
    if let Some(next) = listing.get("_links").and_then(|links| links.get("next")) {
        return Some(!next.is_null());
    }
    let pagination = listing.pointer("/_meta/pagination")?;
    let total = text(pagination, "total_pages")?.parse::<u64>().ok()?;
    Some(u64::from(number) < total)
}

/// A v1 date: its `<key>_timestamp` (Unix seconds), else `<key>` as `DD/MM/YYYY, HH:MM:SS`,
/// which names no zone and is read as UTC. Empty (`""`: not completed) is none.
fn v1_instant(value: &Value, key: &str) -> Option<OffsetDateTime> {
    let stamped = text(value, &format!("{key}_timestamp"))
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
    stamped.or_else(|| {
        let format = format_description!("[day]/[month]/[year], [hour]:[minute]:[second]");
        PrimitiveDateTime::parse(&text(value, key)?, format)
            .ok()
            .map(PrimitiveDateTime::assume_utc)
    })
}

/// One course of a v1 user record. Completed when `completion_status` says so, or at 100 %
/// with a completion date; a completion without a date is dated by the learner's last update.
/// v1 gives no score for a course.
fn course_status(course: &Value, updated_at: Option<OffsetDateTime>) -> Option<CourseStatus> {
    let id = text(course, "id")?;
    let percent = read::percent(course, "completion_percentage");
    let completed_on = v1_instant(course, "completed_on");
    let completed = text(course, "completion_status").is_some_and(|s| s.eq_ignore_ascii_case("completed"))
        || (percent == Some(100) && completed_on.is_some());
    Some(CourseStatus {
        course: CourseRef {
            id,
            title: text(course, "name"),
            published_id: None,
        },
        enrolled_at: v1_instant(course, "enrolled_on"),
        completed_at: if completed {
            completed_on.or(updated_at)
        } else {
            None
        },
        percent,
        score: None,
        certificate_url: None,
    })
}

fn ids(user_id: &str, key: &str, related_id: &str) -> Value {
    let mut body = json!({ "user_id": read::id_value(user_id) });
    body[key] = read::id_value(related_id);
    body
}

#[async_trait]
impl LmsAccount for TalentLmsClient {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    /// The vendored API descriptions have no course or group lookup for TalentLMS.
    async fn missing(
        &self,
        _courses: &[String],
        _memberships: &[Membership],
    ) -> Result<Vec<String>, LmsError> {
        Err(LmsError::Unsupported {
            platform: PLATFORM,
            what: "look up a course, group or branch by id",
        })
    }

    fn with_deadline(&self, deadline: Instant) -> Arc<dyn LmsAccount> {
        Arc::new(TalentLmsClient::with_deadline(self, deadline))
    }

    /// `GET api/v2/users?filter[email][eq]=` (one call).
    async fn find_user_by_email(&self, email: &Email) -> Result<Option<LmsUser>, LmsError> {
        self.users_with_email(email)
            .await?
            .into_iter()
            .find(|u| read::has_email(u, email))
            .map(|u| to_user(u, email))
            .transpose()
    }

    /// Found first (one call); then `POST api/v2/users` for a new learner, or
    /// `PATCH api/v2/users/{id}` when the names differ; then v1 `edituser` for custom fields
    /// (`custom_field_N` keys) if there are any.
    async fn upsert_user(&self, fields: &LearnerFields) -> Result<LmsUser, LmsError> {
        let mut learner = match self.find_user_by_email(&fields.email).await? {
            Some(found) => found,
            None => match self.create_user(fields).await? {
                Ok(created) => created,
                // Refused: perhaps created meanwhile (a crash after TalentLMS acted).
                Err(err) if matches!(err.status(), Some(400 | 409 | 422)) => {
                    match self.find_user_by_email(&fields.email).await? {
                        Some(found) => found,
                        None => return Err(err.into_lms(PLATFORM, || "users".into())),
                    }
                }
                Err(err) => return Err(err.into_lms(PLATFORM, || "users".into())),
            },
        };

        let first_differs = fields.first_name.is_some() && fields.first_name != learner.first_name;
        let last_differs = fields.last_name.is_some() && fields.last_name != learner.last_name;
        if first_differs || last_differs {
            // The description marks `status` required on update: send the learner's own.
            let status = text(&learner.raw, "status").unwrap_or_else(|| "active".into());
            let mut body = json!({ "status": status });
            if let Some(first) = &fields.first_name {
                body["name"] = json!(first);
            }
            if let Some(last) = &fields.last_name {
                body["surname"] = json!(last);
            }
            self.send(
                Api::V2,
                "update_user",
                Method::PATCH,
                &["users", &learner.id],
                |r| r.json(body),
                Idempotence::Idempotent,
            )
            .await
            .map_err(|e| e.into_lms(PLATFORM, || format!("user {}", learner.id)))?;
            learner.first_name = fields.first_name.clone().or(learner.first_name);
            learner.last_name = fields.last_name.clone().or(learner.last_name);
        }

        if !fields.custom_fields.is_empty() {
            let mut form = vec![("user_id".to_owned(), learner.id.clone())];
            form.extend(fields.custom_fields.iter().map(|(k, v)| (k.clone(), v.clone())));
            self.send(
                Api::V1,
                "set_custom_fields",
                Method::POST,
                &["edituser"],
                |r| r.form(form),
                Idempotence::Idempotent,
            )
            .await
            .map_err(|e| e.into_lms(PLATFORM, || format!("user {}", learner.id)))?;
            debug!(
                fields = fields.custom_fields.len(),
                "TalentLMS custom fields written"
            );
        }
        Ok(learner)
    }

    /// `POST api/v2/enrollments`; a refusal is checked against the user's v1 record.
    async fn enroll(&self, user_id: &str, course_id: &str) -> Result<(), LmsError> {
        let body = ids(user_id, "course_id", course_id);
        self.relate("enroll", "enrollments", body, user_id, "courses", course_id)
            .await
    }

    /// Groups (`POST api/v2/group-memberships`) and branches (`POST api/v2/branch-users`).
    async fn grant(&self, user_id: &str, membership: &Membership) -> Result<(), LmsError> {
        match membership {
            Membership::Group(group) => {
                let body = ids(user_id, "group_id", group);
                self.relate(
                    "add_to_group",
                    "group-memberships",
                    body,
                    user_id,
                    "groups",
                    group,
                )
                .await
            }
            Membership::Branch(branch) => {
                let body = ids(user_id, "branch_id", branch);
                self.relate("add_to_branch", "branch-users", body, user_id, "branches", branch)
                    .await
            }
            Membership::Role(_) | Membership::Subject(_) => Err(LmsError::Unsupported {
                platform: PLATFORM,
                what: "grant roles or subjects (it has groups and branches)",
            }),
        }
    }

    /// `DELETE api/v2/group-memberships` / `api/v2/branch-users`; 404 is fine.
    async fn revoke(&self, user_id: &str, membership: &Membership) -> Result<(), LmsError> {
        match membership {
            Membership::Group(group) => {
                self.unrelate(
                    "remove_from_group",
                    "group-memberships",
                    ids(user_id, "group_id", group),
                )
                .await
            }
            Membership::Branch(branch) => {
                self.unrelate(
                    "remove_from_branch",
                    "branch-users",
                    ids(user_id, "branch_id", branch),
                )
                .await
            }
            Membership::Role(_) | Membership::Subject(_) => Err(LmsError::Unsupported {
                platform: PLATFORM,
                what: "revoke roles or subjects (it has groups and branches)",
            }),
        }
    }

    /// `DELETE api/v2/enrollments` (`user_id`, `course_id`); 404 (not enrolled) is fine.
    async fn unenroll(&self, user_id: &str, course_id: &str) -> Result<(), LmsError> {
        self.unrelate("unenroll", "enrollments", ids(user_id, "course_id", course_id))
            .await
    }

    /// `PATCH api/v2/users/{id}` with `status: inactive`.
    async fn deactivate(&self, user_id: &str) -> Result<(), LmsError> {
        self.send(
            Api::V2,
            "deactivate",
            Method::PATCH,
            &["users", user_id],
            |r| r.json(json!({ "status": "inactive" })),
            Idempotence::Idempotent,
        )
        .await
        .map_err(|e| e.into_lms(PLATFORM, || format!("user {user_id}")))?;
        Ok(())
    }

    /// `GET api/v2/users` with `page[number]`, `page[size]` (at most 100) and, for a poll,
    /// `filter[last_updated][gte]` (TalentLMS filters), then each listed user's v1 record
    /// (`GET api/v1/users/id:{id}`) for their courses: 1 + 1 per learner calls per page. The
    /// token is the next page number, while the listing's links (or its pagination, or a full
    /// page) say there is one. `last_updated` certainly moves when the user's own fields
    /// change; whether course progress moves it is undocumented (the sandbox assumes not), so a
    /// poll may miss a completion that the reconcile (`since: None`) sees. Every user type is
    /// listed (the raw document's `type` says which); a user gone between the two reads is left
    /// out.
    async fn learners(&self, query: &LearnerQuery, page: Option<&str>) -> Result<LearnerPage, LmsError> {
        let number = read::page_number(PLATFORM, page)?;
        let size = read::page_size(query.page_size, MAX_PAGE_SIZE);
        let mut pairs = vec![
            ("page[number]", number.to_string()),
            ("page[size]", size.to_string()),
        ];
        if let Some(since) = query.since {
            pairs.push(("filter[last_updated][gte]", read::iso_seconds(since, PLATFORM)?));
        }
        let listing: Value = self
            .send(
                Api::V2,
                "list_learners",
                Method::GET,
                &["users"],
                |mut r| {
                    r.url.query_pairs_mut().extend_pairs(&pairs);
                    r
                },
                Idempotence::Idempotent,
            )
            .await
            .map_err(|e| e.into_lms(PLATFORM, || "users".into()))?
            .json(PLATFORM, "list_learners")?;
        let more = says_more(&listing, number);
        let items = read::items(listing, &["_data", "data"]);
        // An empty page ends the listing whatever it says, so a wrong link cannot loop.
        let more = !items.is_empty() && more.unwrap_or(items.len() >= size as usize);
        let next = more
            .then(|| number.checked_add(1))
            .flatten()
            .map(|n| n.to_string());

        let mut learners = Vec::with_capacity(items.len());
        for item in items {
            let Some(email) = read::listed_email(&item) else {
                debug!("TalentLMS user without a usable email; not listed");
                continue;
            };
            let Ok(user) = to_user(item, &email) else {
                debug!("TalentLMS user without an id; not listed");
                continue;
            };
            let record = match self.user_record(&user.id).await {
                Ok(record) => record,
                Err(LmsError::NotFound { .. }) => {
                    debug!("TalentLMS user gone since the listing; not listed");
                    continue;
                }
                Err(err) => return Err(err),
            };
            let updated_at = read::instant(&user.raw, "last_updated");
            let courses = read::items(record, &["courses"])
                .iter()
                .filter_map(|course| course_status(course, updated_at))
                .collect();
            learners.push(LearnerActivity {
                created_at: read::instant(&user.raw, "registration"),
                updated_at,
                courses,
                user,
            });
        }
        Ok(LearnerPage { learners, next })
    }
}
