//! Request shapes, repeat-safety, call counts and error mapping of the LMS clients and outbound
//! destinations, against wiremock; the learner listings also against the LMS sandbox
//! (`tests/lms-sandbox`), started in process, whose state, stats and faults they need.

mod outbound;
mod skilljar;
mod talentlms;
mod trainual;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde::de::DeserializeOwned;
use wiremock::MockServer;

use lms_sandbox::{Platform, Sandbox, SandboxConfig};

use super::{LearnerActivity, LearnerPage, LearnerQuery, LmsAccount, LmsConfig, LmsError};
use crate::domain::Email;
use crate::http::{BudgetConfig, RateBudget, RateLimits, RetryPolicy, SharedRateBudget, Unlimited};
use crate::memory::{MemorySecrets, MemorySlots};
use crate::secrets::CachedSecret;

/// Retries that take milliseconds, so that tests of 429 and 5xx stay fast.
fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(50),
        reserve: Duration::ZERO,
    }
}

fn config(server: &MockServer, path: &str) -> LmsConfig {
    LmsConfig {
        base_url: Some(format!("{}{path}", server.uri())),
        retry: quick_retry(),
    }
}

fn http() -> reqwest::Client {
    crate::http::client(Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"))
}

fn secret<T: DeserializeOwned + Send + Sync>(json: &str) -> CachedSecret<T> {
    let source = Arc::new(MemorySecrets::default().with("lms/account", json));
    CachedSecret::new(source, "lms/account", Duration::from_secs(300))
}

fn unlimited() -> Arc<dyn RateBudget> {
    Arc::new(Unlimited)
}

fn email(s: &str) -> Email {
    Email::try_from(s.to_owned()).unwrap_or_else(|e| panic!("{e}"))
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// How many requests the server received, by `METHOD path`.
async fn calls(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

async fn body_of(server: &MockServer, method: &str, path: &str) -> serde_json::Value {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .find(|r| r.method.as_str() == method && r.url.path() == path)
        .and_then(|r| serde_json::from_slice(&r.body).ok())
        .unwrap_or(serde_json::Value::Null)
}

// ---------------------------------------------------------------------------------------------
// The LMS sandbox

async fn lms_sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        log_requests: false,
        ..config
    })
    .await
    .unwrap_or_else(|e| panic!("lms sandbox: {e}"))
}

/// The sandbox with `rate_429` of the platform's requests answered 429 by its fault injection.
/// The dice are seeded (`SandboxConfig::default().seed`): the same requests meet the same faults
/// on every run, and the tests using this assert that at least one 429 came.
async fn throttling_sandbox(platform: Platform, rate_429: f64) -> Sandbox {
    let faults = lms_sandbox::FaultConfig {
        rate_429,
        ..lms_sandbox::FaultConfig::default()
    };
    lms_sandbox(SandboxConfig::default().with_faults(platform, faults)).await
}

/// The sandbox's `Retry-After` is whole seconds, at least 1: retries that wait it out, and
/// otherwise take milliseconds.
fn sandbox_config(sandbox: &Sandbox, platform: Platform) -> LmsConfig {
    LmsConfig {
        base_url: Some(sandbox.base_url(platform)),
        retry: RetryPolicy {
            max_retries: 6,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_secs(2),
            reserve: Duration::ZERO,
        },
    }
}

/// The platform's own budget (`<platform>::budget_config()`) at the sandbox's pace: its real
/// limits would space a test's calls by seconds.
fn sandbox_budget(base: BudgetConfig) -> Arc<dyn RateBudget> {
    let interval = Duration::from_secs(1);
    Arc::new(SharedRateBudget::new(
        Arc::new(MemorySlots::default()),
        BudgetConfig {
            limits: RateLimits {
                max: 100,
                interval,
                daily: u32::MAX,
            },
            spent_pause: base.spent_pause.map(|_| interval),
            ..base
        },
    ))
}

/// Every page of a listing, from the first to the one without `next`, each with the calls the
/// sandbox counted for it (`platform`'s stats, reset before each page).
async fn every_page(
    account: &dyn LmsAccount,
    sandbox: &Sandbox,
    platform: Platform,
    query: &LearnerQuery,
) -> Result<Vec<(LearnerPage, lms_sandbox::PlatformStats)>, LmsError> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        sandbox.reset_stats();
        let page = account.learners(query, token.as_deref()).await?;
        let stats = sandbox.stats(platform);
        token = page.next.clone();
        pages.push((page, stats));
        if token.is_none() || pages.len() > 50 {
            return Ok(pages);
        }
    }
}

/// The learners' emails across pages, in order.
fn emails<'a>(learners: impl IntoIterator<Item = &'a LearnerActivity>) -> Vec<String> {
    learners
        .into_iter()
        .map(|l| l.user.email.as_str().to_owned())
        .collect()
}

/// Now, to the whole second (the platforms write seconds, or fractions the tests need not
/// compare).
fn now_s() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// The in-memory account unit tests use: every user on one page, each enrollment a course, with
/// the progress set for it or none.
#[tokio::test]
async fn memory_lms_lists_its_users_with_enrollments_as_courses() -> Result<(), LmsError> {
    use super::{CourseStatus, LearnerFields};
    use crate::domain::CourseRef;

    let lms = crate::memory::MemoryLms::default();
    let mut ids = Vec::new();
    for address in ["ada@example.com", "bob@example.com"] {
        let fields = LearnerFields {
            email: email(address),
            first_name: None,
            last_name: None,
            custom_fields: Default::default(),
        };
        ids.push(lms.upsert_user(&fields).await?.id);
    }
    lms.enroll(&ids[0], "c1").await?;
    let done = CourseStatus {
        course: CourseRef {
            id: "c2".into(),
            title: Some("Engines".into()),
            published_id: None,
        },
        enrolled_at: Some(time::macros::datetime!(2026-01-01 00:00 UTC)),
        completed_at: Some(time::macros::datetime!(2026-02-01 00:00 UTC)),
        percent: Some(100),
        score: Some("92".into()),
        certificate_url: None,
    };
    lms.set_progress(&ids[0], done.clone());

    let page = lms.learners(&LearnerQuery::default(), None).await?;
    assert_eq!(page.next, None);
    assert_eq!(emails(&page.learners), ["ada@example.com", "bob@example.com"]);
    let ada = &page.learners[0];
    assert_eq!(ada.courses.len(), 2);
    assert_eq!(
        (
            ada.courses[0].course.id.as_str(),
            ada.courses[0].enrolled_at,
            ada.courses[0].completed_at,
            ada.courses[0].percent
        ),
        ("c1", None, None, None),
        "no progress for it"
    );
    assert_eq!(ada.courses[1], done);
    assert!(page.learners[1].courses.is_empty());
    Ok(())
}
