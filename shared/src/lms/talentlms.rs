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
use tokio::time::Instant;
use tracing::debug;

use super::read::{self, text};
use super::transport::{Answer, Auth, CallError, Request, Transport, endpoint};
use super::{LearnerFields, LmsAccount, LmsConfig, LmsConfigError, LmsError, LmsUser, Membership};
use crate::domain::Email;
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
                let record = format!("id:{user_id}");
                let held = self
                    .send(
                        Api::V1,
                        "user_record",
                        Method::GET,
                        &["users", &record],
                        |r| r,
                        Idempotence::Idempotent,
                    )
                    .await
                    .map_err(|e| e.into_lms(PLATFORM, || format!("user {user_id}")))?;
                let held = read::items(held.json(PLATFORM, "user_record")?, &[list]);
                if read::lists_id(&held, related_id) {
                    Ok(())
                } else {
                    Err(err.into_lms(PLATFORM, || path.to_owned()))
                }
            }
            Err(err) => Err(err.into_lms(PLATFORM, || format!("{path} for user {user_id}"))),
        }
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
}
