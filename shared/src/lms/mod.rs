//! LMS API clients, one module per platform, beside `ghl/`, behind the one port the worker uses
//! to apply a GHL contact to an LMS account: [`LmsAccount`]. Apps without an API of ours get the
//! change as a signed JSON document instead ([`outbound`]).
//!
//! What each platform cannot do through its API is answered with [`LmsError::Unsupported`] naming
//! it, so the worker can skip that part of a change and say so, instead of failing the event.
//!
//! Every client sends through one request path (`transport`) over what all APIs share
//! (`crate::http`: client setup, retry policy, rate budget); each holds its account's secret in a
//! [`CachedSecret`](crate::secrets::CachedSecret), whose JSON shape is defined next to it.

pub mod outbound;
mod read;
pub mod skilljar;
pub mod talentlms;
pub mod trainual;
mod transport;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;

use time::OffsetDateTime;

pub use crate::domain::Membership;
use crate::domain::{CourseRef, Email};
use crate::http::RetryPolicy;
use crate::secrets::SecretError;

pub use outbound::{OutboundConfig, OutboundDestination, OutboundDocument, OutboundSecret};
pub use skilljar::{CourseProgress, SkilljarClient, SkilljarSecret, Webhook as SkilljarWebhook};
pub use talentlms::{TalentLmsClient, TalentLmsSecret};
pub use trainual::{TrainualClient, TrainualSecret};

/// Where an LMS client sends its requests and how it retries. The HTTP client
/// (`crate::http::client`) and the rate budget are given separately because they are shared.
#[derive(Debug, Clone, Default)]
pub struct LmsConfig {
    /// The API's base URL; `None` for the platform's own (TalentLMS: the account's domain).
    pub base_url: Option<String>,
    pub retry: RetryPolicy,
}

impl LmsConfig {
    /// The base URL to call: the configured one, else the platform's own `default`.
    pub(crate) fn base_or(
        &self,
        platform: &'static str,
        default: &str,
    ) -> Result<reqwest::Url, LmsConfigError> {
        parse_base(platform, self.base_url.as_deref().unwrap_or(default))
    }

    /// The configured base URL, if any (TalentLMS derives its own from the account's domain).
    pub(crate) fn base_override(
        &self,
        platform: &'static str,
    ) -> Result<Option<reqwest::Url>, LmsConfigError> {
        self.base_url
            .as_deref()
            .map(|url| parse_base(platform, url))
            .transpose()
    }
}

fn parse_base(platform: &'static str, url: &str) -> Result<reqwest::Url, LmsConfigError> {
    crate::http::base_url(url).map_err(|e| LmsConfigError {
        platform,
        problem: format!("base URL {e}"),
    })
}

/// A client that cannot be built from its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{platform}: {problem}")]
pub struct LmsConfigError {
    pub platform: &'static str,
    pub problem: String,
}

/// A learner as an LMS holds them. `raw` keeps the platform's own document for support, since
/// several platforms' shapes are only partly documented.
#[derive(Debug, Clone, PartialEq)]
pub struct LmsUser {
    pub id: String,
    pub email: Email,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub active: bool,
    pub raw: serde_json::Value,
}

/// What the sync writes about a learner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnerFields {
    pub email: Email,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// LMS custom field key → value (platforms that have custom fields).
    pub custom_fields: BTreeMap<String, String>,
}

/// What the daily batch asks an LMS account for: its learners, each with their course progress,
/// one page at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearnerQuery {
    /// Only learners the platform changed at or after this time (a poll's cursor); every learner
    /// when `None` (a reconcile). TalentLMS filters by its users' `last_updated`; the platforms
    /// without such a filter apply it here, to what they read: Trainual to the user's
    /// `updated_at`, Skilljar to the dates of the learner's domain membership, enrollments,
    /// completions and latest activity. A change a platform does not date that way (progress
    /// in a Trainual subject, which leaves the user's `updated_at` as it is; perhaps progress in
    /// a TalentLMS course, which may not move `last_updated`) is seen by the next reconcile,
    /// not by a poll. There pages are cut before the filter, so a page may hold
    /// fewer learners than `page_size` (none, even) and still have a `next`.
    pub since: Option<OffsetDateTime>,
    /// Learners per page, as far as the platform lets the caller choose (at most 100 on each
    /// platform); `0` asks for the platform's largest page.
    pub page_size: u32,
}

/// One page of learners and where the next one starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LearnerPage {
    pub learners: Vec<LearnerActivity>,
    /// Opaque to the caller (a page number, a `next` link): handed back to read the next page,
    /// and stored in the batch's run state so that a killed run resumes here. `None`: last page.
    pub next: Option<String>,
}

/// A learner with their progress, as the platform reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnerActivity {
    pub user: LmsUser,
    pub created_at: Option<OffsetDateTime>,
    /// When the platform last changed the learner, where it says.
    pub updated_at: Option<OffsetDateTime>,
    pub courses: Vec<CourseStatus>,
}

/// A learner's state in one course (a Trainual subject counts as a course).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseStatus {
    pub course: CourseRef,
    /// Enrolled (or assigned) since, where the platform says.
    pub enrolled_at: Option<OffsetDateTime>,
    /// Completed, and when; platforms that report completion without a date give the time the
    /// learner was last updated.
    pub completed_at: Option<OffsetDateTime>,
    pub percent: Option<u32>,
    pub score: Option<String>,
    /// Where the learner's certificate can be seen, where the platform issues one (Skilljar's
    /// `certificate.validate_url`).
    pub certificate_url: Option<String>,
}

/// One LMS account, as the worker needs it. Every write is repeat-safe: a redelivered event may
/// call it again after a crash.
#[async_trait]
pub trait LmsAccount: Send + Sync {
    /// The platform's slug (`skilljar`, `talentlms`, `trainual`).
    fn platform(&self) -> &'static str;

    /// The same account, retrying only while there is time left before `deadline` (the worker
    /// binds each invocation's deadline, as it does for GHL).
    fn with_deadline(&self, deadline: tokio::time::Instant) -> Arc<dyn LmsAccount>;

    async fn find_user_by_email(&self, email: &Email) -> Result<Option<LmsUser>, LmsError>;

    /// Creates the learner, or updates the user with this email if one exists (found first, so a
    /// create after a crash never makes a second learner).
    async fn upsert_user(&self, fields: &LearnerFields) -> Result<LmsUser, LmsError>;

    /// Enrolls in a course; enrolling again is not an error.
    async fn enroll(&self, user_id: &str, course_id: &str) -> Result<(), LmsError>;

    async fn grant(&self, user_id: &str, membership: &Membership) -> Result<(), LmsError>;

    /// Removing what the learner does not have is not an error.
    async fn revoke(&self, user_id: &str, membership: &Membership) -> Result<(), LmsError>;

    /// Deactivates (never deletes) the learner.
    async fn deactivate(&self, user_id: &str) -> Result<(), LmsError>;

    /// Ends the learner's enrollment in a course (a learning record set to "expired" in GHL);
    /// ending one that is not there is not an error. Not every platform's API can.
    async fn unenroll(&self, _user_id: &str, _course_id: &str) -> Result<(), LmsError> {
        Err(LmsError::Unsupported {
            platform: self.platform(),
            what: "end an enrollment",
        })
    }

    /// One page of the account's learners with their course progress (the daily batch's pollers
    /// and reconcile): the first page with `page: None`, then each page's `next`, with the same
    /// `query` throughout. A failed page can be asked for again with the same token. Every
    /// request goes through the client's rate budget and retry policy; the calls a page takes
    /// are in `docs/architecture.md` (one listing, plus one progress read per learner on
    /// Skilljar and TalentLMS).
    /// The ones among `courses` and `memberships` this account does not have, each named
    /// (`course 3x5sl8stqd2r`, `group 4ekqyk3w1qp2`), for `lms-sync-ops config check`;
    /// `Unsupported` where the platform's API has no way to look them up.
    async fn missing(&self, courses: &[String], memberships: &[Membership]) -> Result<Vec<String>, LmsError>;

    async fn learners(&self, query: &LearnerQuery, page: Option<&str>) -> Result<LearnerPage, LmsError>;
}

/// The LMS accounts of a deployment, by the mapping's target names.
#[derive(Clone, Default)]
pub struct LmsAccounts(HashMap<String, Arc<dyn LmsAccount>>);

impl LmsAccounts {
    pub fn insert(&mut self, target: impl Into<String>, account: Arc<dyn LmsAccount>) {
        self.0.insert(target.into(), account);
    }

    pub fn get(&self, target: &str) -> Option<&dyn LmsAccount> {
        self.0.get(target).map(|a| a.as_ref())
    }

    /// Every account bound to one invocation's deadline.
    pub fn with_deadline(&self, deadline: tokio::time::Instant) -> Self {
        Self(
            self.0
                .iter()
                .map(|(name, account)| (name.clone(), account.with_deadline(deadline)))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The outbound destinations of a deployment, by the mapping's target names.
#[derive(Clone, Default)]
pub struct Destinations(HashMap<String, OutboundDestination>);

impl Destinations {
    pub fn insert(&mut self, target: impl Into<String>, destination: OutboundDestination) {
        self.0.insert(target.into(), destination);
    }

    pub fn get(&self, target: &str) -> Option<&OutboundDestination> {
        self.0.get(target)
    }

    /// Every destination bound to one invocation's deadline.
    pub fn with_deadline(&self, deadline: tokio::time::Instant) -> Self {
        Self(
            self.0
                .iter()
                .map(|(name, d)| (name.clone(), d.with_deadline(deadline)))
                .collect(),
        )
    }
}

/// Why an LMS call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LmsError {
    #[error("{platform}: rate limited")]
    RateLimited { platform: &'static str },
    #[error("{platform}: server error {status}")]
    Server { platform: &'static str, status: u16 },
    #[error("{platform}: timed out")]
    Timeout { platform: &'static str },
    #[error("{platform}: {message}")]
    Transport { platform: &'static str, message: String },
    #[error("{platform}: credentials refused ({status})")]
    Unauthorized { platform: &'static str, status: u16 },
    #[error("{platform}: {status} {message}")]
    Rejected {
        platform: &'static str,
        status: u16,
        message: String,
    },
    #[error("{platform}: not found: {what}")]
    NotFound { platform: &'static str, what: String },
    #[error("{platform} cannot {what} through its API")]
    Unsupported {
        platform: &'static str,
        what: &'static str,
    },
    #[error("{platform}: credentials unavailable: {message}")]
    Credentials { platform: &'static str, message: String },
}

impl LmsError {
    /// The secret could not be read (retryable: an operator may fix it before the redelivery).
    /// Its message names the secret and the path only, never its text.
    pub(crate) fn secret(platform: &'static str, err: SecretError) -> Self {
        LmsError::Credentials {
            platform,
            message: err.to_string(),
        }
    }

    /// Worth retrying later: the platform did not act, or may not have.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LmsError::RateLimited { .. }
                | LmsError::Server { .. }
                | LmsError::Timeout { .. }
                | LmsError::Transport { .. }
                | LmsError::Credentials { .. }
        )
    }

    /// A short reason for the DLQ attribute and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            LmsError::RateLimited { .. } => "lms_rate_limited",
            LmsError::Server { .. } => "lms_server_error",
            LmsError::Timeout { .. } => "lms_timeout",
            LmsError::Transport { .. } => "lms_transport",
            LmsError::Unauthorized { .. } => "lms_unauthorized",
            LmsError::Rejected { .. } => "lms_rejected",
            LmsError::NotFound { .. } => "lms_not_found",
            LmsError::Unsupported { .. } => "lms_unsupported",
            LmsError::Credentials { .. } => "lms_credentials",
        }
    }
}
