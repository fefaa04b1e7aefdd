//! Stateful local stand-ins of three LMS APIs — Skilljar, TalentLMS and Trainual — on one port,
//! for the LMS clients' tests and for `scripts/run`. Each platform is served under its own prefix
//! (`/skilljar/v1`, `/talentlms/api/v2` and `/talentlms/api/v1`, `/trainual/v1`), remembers what
//! was written (users, domain memberships, enrollments and progress, groups, branches, roles,
//! subjects, custom fields), checks the platform's credentials, limits the request rate with a
//! sliding window and the platform's headers, and can misbehave at seeded random (429, 5xx,
//! dropped connections, latency), in the style of `tests/ghl-sandbox`, whose GHL-agnostic parts
//! (`ghl_sandbox::kit`) it reuses.
//!
//! Shapes follow the platforms' OpenAPI descriptions where they exist (vendored, cut down, in
//! `tests/contract/lms-api/`); every assumption beyond them is listed in this crate's README.

mod config;
mod gate;
mod server;
mod skilljar;
mod stats;
mod talentlms;
mod trainual;
mod wire;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use ghl_sandbox::kit::{self, validate_faults};
use http::StatusCode;
use serde_json::json;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config::{
    DEFAULT_SKILLJAR_API_KEY, DEFAULT_SKILLJAR_DOMAIN, DEFAULT_TALENTLMS_API_KEY, DEFAULT_TRAINUAL_PASSWORD,
    DEFAULT_TRAINUAL_USERNAME, FaultConfig, Latency, LongWindow, Platform, RateLimit, SandboxConfig,
    SkilljarConfig, SkilljarCourse, SkilljarDomain, SkilljarGroup, TalentLmsBranch, TalentLmsConfig,
    TalentLmsCourse, TalentLmsCustomField, TalentLmsGroup, TrainualConfig, TrainualRole, TrainualSubject,
};
pub use skilljar::{
    SkilljarDomainUser, SkilljarEnrollment, SkilljarGroupMember, SkilljarProgress, SkilljarSetupError,
    SkilljarUser, SkilljarWebhook,
};
pub use stats::PlatformStats;
pub use talentlms::{TalentLmsEnrollment, TalentLmsSetupError, TalentLmsUser};
pub use trainual::{TrainualSetupError, TrainualUser};

use server::{Edge, Shared};

/// Why a configuration, seeding or runtime setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("{platform}: {message}")]
    Invalid { platform: Platform, message: String },
    #[error(transparent)]
    Skilljar(#[from] SkilljarSetupError),
    #[error(transparent)]
    TalentLms(#[from] TalentLmsSetupError),
    #[error(transparent)]
    Trainual(#[from] TrainualSetupError),
}

/// A running sandbox. Dropping it stops the server too; `shutdown` also waits for that.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

fn validate(config: &SandboxConfig) -> Result<(), SetupError> {
    let mut config = config.clone();
    for platform in Platform::ALL {
        let invalid = |message: String| SetupError::Invalid { platform, message };
        validate_faults("faults", config.faults_mut(platform)).map_err(invalid)?;
        let limit = config.rate_limit_mut(platform);
        if limit.max == 0 || limit.interval.is_zero() {
            return Err(invalid("rate_limit: max and interval must be positive".into()));
        }
        if limit.long.is_some_and(|l| l.window.is_zero()) {
            return Err(invalid("rate_limit: the long window must be positive".into()));
        }
    }
    Ok(())
}

impl Sandbox {
    /// Binds 127.0.0.1 (on `config.port`, or a free port) and starts serving all three platforms.
    pub async fn start(config: SandboxConfig) -> io::Result<Sandbox> {
        validate(&config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port.unwrap_or(0))).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(&config, format!("http://{addr}"), Instant::now()));
        let router = Router::new()
            .nest("/skilljar/v1", skilljar::router(shared.clone()))
            .nest("/talentlms", talentlms::router(shared.clone()))
            .nest("/trainual/v1", trainual::router(shared.clone()))
            .fallback(outside_the_platforms);
        let edge = Edge {
            router,
            shared: shared.clone(),
        };
        let (stop, task) = kit::serve(listener, edge);
        Ok(Sandbox {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What a client of the platform takes as its base URL (see `Platform::base_path`):
    /// `…/skilljar/v1`, `…/talentlms` (append `/api/v2/…` or `/api/v1/…`), `…/trainual/v1`.
    pub fn base_url(&self, platform: Platform) -> String {
        self.shared.platform_url(platform)
    }

    pub fn stats(&self, platform: Platform) -> PlatformStats {
        let mut edge = self.shared.edge(platform);
        let (admitted, attempted) = (edge.limiter.max_admitted, edge.limiter.max_attempted);
        edge.stats.max_admitted_in_window = admitted;
        edge.stats.max_attempted_in_window = attempted;
        edge.stats.clone()
    }

    /// Zeroes every platform's counters (not the limiters' windows), e.g. after seeding over HTTP.
    pub fn reset_stats(&self) {
        for platform in Platform::ALL {
            self.shared.edge(platform).stats = PlatformStats::default();
        }
    }

    /// Replaces a platform's faults; its dice keep rolling from where they were.
    pub fn set_faults(&self, platform: Platform, faults: FaultConfig) -> Result<(), SetupError> {
        validate_faults("faults", &faults).map_err(|message| SetupError::Invalid { platform, message })?;
        self.shared.edge(platform).faults = faults;
        Ok(())
    }

    /// Stops accepting, aborts open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    // -----------------------------------------------------------------------------------------
    // Skilljar

    /// Every user, in creation order.
    pub fn skilljar_users(&self) -> Vec<SkilljarUser> {
        self.shared.skilljar().users.clone()
    }

    pub fn skilljar_user_by_email(&self, email: &str) -> Option<SkilljarUser> {
        self.shared.skilljar().user_by_email(email).cloned()
    }

    /// The domain's memberships (`active: false` = deactivated), in the order they were made.
    pub fn skilljar_domain_users(&self, domain: &str) -> Vec<SkilljarDomainUser> {
        let data = self.shared.skilljar();
        data.domains
            .get(domain)
            .map(|d| d.members.clone())
            .unwrap_or_default()
    }

    /// The organisation's webhook subscriptions, in creation order.
    pub fn skilljar_webhooks(&self) -> Vec<SkilljarWebhook> {
        self.shared.skilljar().webhooks.clone()
    }

    pub fn skilljar_enrollments(&self) -> Vec<SkilljarEnrollment> {
        self.shared.skilljar().enrollments.clone()
    }

    pub fn skilljar_group_members(&self, group_id: &str) -> Vec<SkilljarGroupMember> {
        let data = self.shared.skilljar();
        data.groups
            .get(group_id)
            .map(|g| g.members.clone())
            .unwrap_or_default()
    }

    /// Adds a learner to a domain as `POST /domains/{domain}/users` would, without HTTP, the
    /// rate limit or the stats.
    pub fn seed_skilljar_user(
        &self,
        domain: &str,
        email: &str,
        first_name: &str,
        last_name: &str,
    ) -> Result<SkilljarUser, SetupError> {
        let mut data = self.shared.skilljar();
        let (user, _) = data.join_domain(
            domain,
            email,
            Some(first_name),
            Some(last_name),
            skilljar::MembershipFields::default(),
        )?;
        Ok(user)
    }

    /// Moves when a learner joined a domain (the membership's `enrolled_at`), for tests of
    /// polling by activity.
    pub fn set_skilljar_domain_enrolled_at(
        &self,
        domain: &str,
        user_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), SetupError> {
        let mut data = self.shared.skilljar();
        let members = &mut data
            .domains
            .get_mut(domain)
            .ok_or_else(|| SkilljarSetupError::UnknownDomain(domain.into()))?
            .members;
        let member = members
            .iter_mut()
            .find(|m| m.user_id == user_id)
            .ok_or_else(|| SkilljarSetupError::UnknownUser(user_id.into()))?;
        member.enrolled_at = at;
        Ok(())
    }

    /// Enrolls a member of a domain in one of its published courses at `enrolled_at`, as
    /// `POST /domains/{domain}/published-courses/{id}/enrollments` would, without HTTP, the rate
    /// limit or the stats. An enrollment at the same time is returned again.
    pub fn seed_skilljar_enrollment(
        &self,
        domain: &str,
        user_id: &str,
        published_course_id: &str,
        enrolled_at: OffsetDateTime,
    ) -> Result<SkilljarEnrollment, SetupError> {
        let mut data = self.shared.skilljar();
        if data.course(domain, published_course_id).is_none() {
            return Err(SkilljarSetupError::UnknownCourse(domain.into(), published_course_id.into()).into());
        }
        if data.membership(domain, user_id).is_none() {
            return Err(SkilljarSetupError::UnknownUser(user_id.into()).into());
        }
        let existing = data.enrollments.iter().find(|e| {
            e.domain == domain
                && e.published_course_id == published_course_id
                && e.user_id == user_id
                && e.enrolled_at == enrolled_at
        });
        if let Some(existing) = existing {
            return Ok(existing.clone());
        }
        Ok(data.enroll(domain, published_course_id, user_id, enrolled_at, None, true))
    }

    /// Sets a learner's progress in a course they are enrolled in.
    pub fn set_skilljar_progress(
        &self,
        user_id: &str,
        published_course_id: &str,
        progress: SkilljarProgress,
    ) -> Result<(), SetupError> {
        let mut data = self.shared.skilljar();
        let enrolled = data
            .enrollments
            .iter()
            .any(|e| e.user_id == user_id && e.published_course_id == published_course_id);
        if !enrolled {
            return Err(SkilljarSetupError::NotEnrolled(user_id.into(), published_course_id.into()).into());
        }
        data.progress_entry(user_id, published_course_id).1 = progress;
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // TalentLMS

    /// Every user, by id.
    pub fn talentlms_users(&self) -> Vec<TalentLmsUser> {
        self.shared.talentlms().users.values().cloned().collect()
    }

    pub fn talentlms_user_by_email(&self, email: &str) -> Option<TalentLmsUser> {
        self.shared.talentlms().user_by_email(email).cloned()
    }

    pub fn talentlms_enrollments(&self) -> Vec<TalentLmsEnrollment> {
        self.shared.talentlms().enrollments.clone()
    }

    /// The user ids in a group.
    pub fn talentlms_group_members(&self, group_id: u64) -> Vec<u64> {
        let data = self.shared.talentlms();
        data.group_members
            .iter()
            .filter(|(g, _)| *g == group_id)
            .map(|(_, u)| *u)
            .collect()
    }

    /// The user ids in a branch.
    pub fn talentlms_branch_members(&self, branch_id: u64) -> Vec<u64> {
        let data = self.shared.talentlms();
        data.branch_members
            .iter()
            .filter(|(b, _)| *b == branch_id)
            .map(|(_, u)| *u)
            .collect()
    }

    /// Adds a learner (login = email) as `POST /api/v2/users` would, without HTTP.
    pub fn seed_talentlms_user(
        &self,
        email: &str,
        name: &str,
        surname: &str,
    ) -> Result<TalentLmsUser, SetupError> {
        let fields = talentlms::UserFields {
            login: Some(email.into()),
            name: Some(name.into()),
            surname: Some(surname.into()),
            email: Some(email.into()),
            password: Some("Sandbox-Passw0rd".into()),
            ..talentlms::UserFields::default()
        };
        Ok(self.shared.talentlms().create_user(fields)?)
    }

    /// Moves a user's `last_updated`, for tests of polling with `filter[last_updated][gte]`.
    pub fn set_talentlms_last_updated(&self, user_id: u64, at: OffsetDateTime) -> Result<(), SetupError> {
        let mut data = self.shared.talentlms();
        let user = data
            .users
            .get_mut(&user_id)
            .ok_or(TalentLmsSetupError::UnknownUser(user_id))?;
        user.last_updated = at;
        Ok(())
    }

    /// Sets an enrollment's progress: `completion_percentage` 100 completes it (status
    /// `completed`, `completed_on` now), anything above 0 makes it `incomplete`.
    pub fn set_talentlms_progress(
        &self,
        user_id: u64,
        course_id: u64,
        completion_percentage: u32,
    ) -> Result<(), SetupError> {
        let mut data = self.shared.talentlms();
        let enrollment = data
            .enrollments
            .iter_mut()
            .find(|e| e.user_id == user_id && e.course_id == course_id)
            .ok_or(TalentLmsSetupError::NotEnrolled(user_id, course_id))?;
        let percentage = completion_percentage.min(100);
        enrollment.completion_percentage = percentage;
        enrollment.completion_status = match percentage {
            0 => "not_attempted",
            100 => "completed",
            _ => "incomplete",
        }
        .into();
        enrollment.completed_on = (percentage == 100).then(OffsetDateTime::now_utc);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Trainual

    /// Every user, by id.
    pub fn trainual_users(&self) -> Vec<TrainualUser> {
        self.shared.trainual().users.values().cloned().collect()
    }

    pub fn trainual_user_by_email(&self, email: &str) -> Option<TrainualUser> {
        self.shared.trainual().user_by_email(email).cloned()
    }

    /// Invites a user as `POST /users` would, without HTTP.
    pub fn seed_trainual_user(&self, email: &str, name: &str) -> Result<TrainualUser, SetupError> {
        self.shared
            .trainual()
            .invite(email, name, None)
            .map_err(|e| TrainualSetupError::Invalid(e.to_string()).into())
    }

    /// Moves a user's `updated_at`, for tests of polling by it.
    pub fn set_trainual_updated_at(&self, user_id: u64, at: OffsetDateTime) -> Result<(), SetupError> {
        let mut data = self.shared.trainual();
        let user = data
            .users
            .get_mut(&user_id)
            .ok_or(TrainualSetupError::UnknownUser(user_id))?;
        user.updated_at = at;
        Ok(())
    }

    /// Sets a user's completion of an assigned subject (0–100). It does not move the user's
    /// `updated_at` (**assumed**: progress is not the user's own record), whereas assigning or
    /// unassigning a subject does.
    pub fn set_trainual_completion(
        &self,
        user_id: u64,
        subject_id: u64,
        percentage: u32,
    ) -> Result<(), SetupError> {
        let mut data = self.shared.trainual();
        let user = data
            .users
            .get_mut(&user_id)
            .ok_or(TrainualSetupError::UnknownUser(user_id))?;
        let slot = user
            .subjects
            .get_mut(&subject_id)
            .ok_or(TrainualSetupError::NotAssigned(user_id, subject_id))?;
        *slot = percentage.min(100);
        Ok(())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A path under none of the platforms.
async fn outside_the_platforms() -> Response {
    let body = json!({
        "error": "not_found",
        "detail": "the LMS sandbox serves /skilljar/v1, /talentlms/api/v2, /talentlms/api/v1 and /trainual/v1",
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
