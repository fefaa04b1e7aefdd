//! The LMS clients against the project's LMS sandbox (`tests/lms-sandbox`): create / find /
//! update and enroll repeat-safely, memberships, the calls each operation takes (counted by the
//! sandbox before any check), 429s with the platform's headers honoured and retried, 5xx retried,
//! and the shared rate budget keeping two processes under a platform's limit.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use integration_tests::Deployment;
use lms_ghl::domain::Email;
use lms_ghl::http::{BudgetConfig, RateBudget, RateLimits, RetryPolicy, SharedRateBudget};
use lms_ghl::lms::{
    LearnerFields, LmsAccount, LmsConfig, LmsError, Membership, SkilljarClient, TalentLmsClient,
    TrainualClient, skilljar, talentlms, trainual,
};
use lms_ghl::memory::{MemorySecrets, MemorySlots};
use lms_ghl::ports::SlotSchedule;
use lms_ghl::secrets::CachedSecret;
use lms_sandbox::{
    DEFAULT_SKILLJAR_API_KEY, DEFAULT_SKILLJAR_DOMAIN, DEFAULT_TALENTLMS_API_KEY, DEFAULT_TRAINUAL_PASSWORD,
    DEFAULT_TRAINUAL_USERNAME, FaultConfig, Platform, Sandbox, SandboxConfig, SkilljarProgress,
};

/// Published course `3x5sl8stqd2r` and group `4ekqyk3w1qp2` of the default Skilljar catalogue.
const SJ_COURSE: &str = "3x5sl8stqd2r";
const SJ_GROUP: &str = "4ekqyk3w1qp2";

async fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        log_requests: false,
        ..config
    })
    .await
    .unwrap_or_else(|e| panic!("lms sandbox: {e}"))
}

fn http() -> reqwest::Client {
    lms_ghl::http::client(Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e}"))
}

fn secret<T: serde::de::DeserializeOwned + Send + Sync>(json: &str) -> CachedSecret<T> {
    let source = Arc::new(MemorySecrets::default().with("lms/account", json));
    CachedSecret::new(source, "lms/account", Duration::from_secs(300))
}

/// A budget with the sandbox's scaled limits, as production runs with the platform's real ones.
fn budget(base: BudgetConfig, max: u32, interval: Duration) -> Arc<dyn RateBudget> {
    budget_on(Arc::new(MemorySlots::default()), base, max, interval)
}

fn budget_on(
    slots: Arc<dyn SlotSchedule>,
    base: BudgetConfig,
    max: u32,
    interval: Duration,
) -> Arc<dyn RateBudget> {
    Arc::new(SharedRateBudget::new(
        slots,
        BudgetConfig {
            limits: RateLimits {
                max,
                interval,
                daily: u32::MAX,
            },
            // The sandbox's short window, standing in for TalentLMS's 5 s.
            spent_pause: base.spent_pause.map(|_| interval),
            ..base
        },
    ))
}

fn config(sandbox: &Sandbox, platform: Platform) -> LmsConfig {
    LmsConfig {
        base_url: Some(sandbox.base_url(platform)),
        retry: RetryPolicy::default(),
    }
}

fn skilljar_client(sandbox: &Sandbox, budget: Arc<dyn RateBudget>) -> SkilljarClient {
    let json = format!(r#"{{"apiKey":"{DEFAULT_SKILLJAR_API_KEY}","domain":"{DEFAULT_SKILLJAR_DOMAIN}"}}"#);
    SkilljarClient::new(
        &config(sandbox, Platform::Skilljar),
        http(),
        secret(&json),
        budget,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn talentlms_client(sandbox: &Sandbox, budget: Arc<dyn RateBudget>) -> TalentLmsClient {
    let json = format!(r#"{{"domain":"sandbox","apiKey":"{DEFAULT_TALENTLMS_API_KEY}"}}"#);
    TalentLmsClient::new(
        &config(sandbox, Platform::TalentLms),
        http(),
        secret(&json),
        budget,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn trainual_client(sandbox: &Sandbox, budget: Arc<dyn RateBudget>) -> TrainualClient {
    let json =
        format!(r#"{{"email":"{DEFAULT_TRAINUAL_USERNAME}","password":"{DEFAULT_TRAINUAL_PASSWORD}"}}"#);
    TrainualClient::new(
        &config(sandbox, Platform::Trainual),
        http(),
        secret(&json),
        budget,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn skilljar_default(sandbox: &Sandbox) -> SkilljarClient {
    skilljar_client(
        sandbox,
        budget(skilljar::budget_config(), 50, Duration::from_secs(1)),
    )
}

fn talentlms_default(sandbox: &Sandbox) -> TalentLmsClient {
    talentlms_client(
        sandbox,
        budget(talentlms::budget_config(), 50, Duration::from_secs(1)),
    )
}

fn trainual_default(sandbox: &Sandbox) -> TrainualClient {
    trainual_client(
        sandbox,
        budget(trainual::budget_config(), 15, Duration::from_secs(1)),
    )
}

fn email(s: &str) -> Email {
    Email::try_from(s.to_owned()).unwrap_or_else(|e| panic!("{e}"))
}

fn learner(address: &str, first: &str, last: &str) -> LearnerFields {
    LearnerFields {
        email: email(address),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        custom_fields: BTreeMap::new(),
    }
}

/// Runs one operation and counts the requests it made to `platform`.
async fn counted<T>(sandbox: &Sandbox, platform: Platform, op: impl Future<Output = T>) -> (T, u64) {
    sandbox.reset_stats();
    let out = op.await;
    (out, sandbox.stats(platform).total_requests)
}

#[tokio::test]
async fn skilljar_learners_are_created_found_updated_and_deactivated_repeat_safely() -> Result<(), LmsError> {
    let lms = sandbox(SandboxConfig::default()).await;
    let sj = skilljar_default(&lms);
    let ada = learner("ada@example.com", "Ada", "Byron");

    let (created, calls) = counted(&lms, Platform::Skilljar, sj.upsert_user(&ada)).await;
    let created = created?;
    assert_eq!(calls, 1, "POST /domains/{{domain}}/users");
    let (again, calls) = counted(&lms, Platform::Skilljar, sj.upsert_user(&ada)).await;
    assert_eq!((again?.id, calls), (created.id.clone(), 1));
    assert_eq!(lms.skilljar_users().len(), 1, "one learner after a repeat");

    let renamed = learner("ada@example.com", "Ada", "Lovelace");
    let (updated, calls) = counted(&lms, Platform::Skilljar, sj.upsert_user(&renamed)).await;
    assert_eq!(updated?.last_name.as_deref(), Some("Lovelace"));
    assert_eq!(
        calls, 2,
        "the domain POST returns the old name; a PATCH corrects it"
    );
    let stored = lms.skilljar_user_by_email("ada@example.com");
    assert_eq!(stored.map(|u| u.last_name).as_deref(), Some("Lovelace"));

    let (found, calls) = counted(
        &lms,
        Platform::Skilljar,
        sj.find_user_by_email(&email("ADA@example.com")),
    )
    .await;
    let found = found?.unwrap_or_else(|| panic!("not found"));
    assert_eq!(
        (found.id.as_str(), found.active, calls),
        (created.id.as_str(), true, 1)
    );
    assert!(
        sj.find_user_by_email(&email("nobody@example.com"))
            .await?
            .is_none()
    );

    let (done, calls) = counted(&lms, Platform::Skilljar, sj.deactivate(&created.id)).await;
    done?;
    assert_eq!(calls, 1);
    let membership = lms.skilljar_domain_users(DEFAULT_SKILLJAR_DOMAIN);
    assert!(membership.iter().all(|m| !m.active), "{membership:?}");
    let found = sj.find_user_by_email(&email("ada@example.com")).await?;
    assert_eq!(found.map(|u| u.active), Some(false));
    lms.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn skilljar_enrollment_progress_and_groups_are_repeat_safe() -> Result<(), LmsError> {
    let lms = sandbox(SandboxConfig::default()).await;
    let sj = skilljar_default(&lms);
    let user = sj
        .upsert_user(&learner("grace@example.com", "Grace", "Hopper"))
        .await?;

    let (enrolled, calls) = counted(&lms, Platform::Skilljar, sj.enroll(&user.id, SJ_COURSE)).await;
    enrolled?;
    assert_eq!(calls, 2, "progress check, then the enrollment");
    let (again, calls) = counted(&lms, Platform::Skilljar, sj.enroll(&user.id, SJ_COURSE)).await;
    again?;
    assert_eq!(calls, 1, "enrolled already: the check only");
    assert_eq!(lms.skilljar_enrollments().len(), 1);

    lms.set_skilljar_progress(
        &user.id,
        SJ_COURSE,
        SkilljarProgress {
            completed_lesson_count: 2,
            score: Some(80),
            max_score: Some(100),
            success_status: Some("PASSED".into()),
            ..SkilljarProgress::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let progress = sj.course_progress(&user.id, SJ_COURSE).await?;
    let progress = progress.unwrap_or_else(|| panic!("no progress"));
    assert_eq!(progress.completed_lesson_count, Some(2));
    assert_eq!(
        (progress.score, progress.success_status.as_deref()),
        (Some(80), Some("PASSED"))
    );
    assert!(progress.course_title.is_some());
    assert!(sj.course_progress(&user.id, "2p8dmw0i6hx9o").await?.is_none());
    assert_eq!(
        progress.status().certificate_url,
        None,
        "no certificate before completion"
    );
    lms.set_skilljar_progress(
        &user.id,
        SJ_COURSE,
        SkilljarProgress {
            completed_lesson_count: 3,
            completed_at: Some(time::OffsetDateTime::now_utc()),
            ..SkilljarProgress::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let completed = sj.course_progress(&user.id, SJ_COURSE).await?;
    let certificate = completed.and_then(|p| p.status().certificate_url);
    assert!(
        certificate
            .as_deref()
            .is_some_and(|url| url.contains("/certificates/CERT-")),
        "{certificate:?}"
    );

    let group = Membership::Group(SJ_GROUP.into());
    let (granted, calls) = counted(&lms, Platform::Skilljar, sj.grant(&user.id, &group)).await;
    assert_eq!((granted.is_ok(), calls), (true, 1));
    let (again, calls) = counted(&lms, Platform::Skilljar, sj.grant(&user.id, &group)).await;
    assert_eq!(
        (again.is_ok(), calls),
        (true, 2),
        "refused as a duplicate, then checked"
    );
    assert_eq!(lms.skilljar_group_members(SJ_GROUP).len(), 1);
    let (revoked, calls) = counted(&lms, Platform::Skilljar, sj.revoke(&user.id, &group)).await;
    assert_eq!((revoked.is_ok(), calls), (true, 1));
    let (again, calls) = counted(&lms, Platform::Skilljar, sj.revoke(&user.id, &group)).await;
    assert_eq!((again.is_ok(), calls), (true, 1), "not a member: 404 is fine");
    assert!(lms.skilljar_group_members(SJ_GROUP).is_empty());

    // Ending the enrollment (a learning record expired in GHL): found, then made inactive.
    let (ended, calls) = counted(&lms, Platform::Skilljar, sj.unenroll(&user.id, SJ_COURSE)).await;
    assert_eq!((ended.is_ok(), calls), (true, 2), "{ended:?}");
    assert!(lms.skilljar_enrollments().iter().all(|e| !e.active));
    let (none, calls) = counted(&lms, Platform::Skilljar, sj.unenroll(&user.id, "2p8dmw0i6hx9o")).await;
    assert_eq!((none.is_ok(), calls), (true, 1), "not enrolled: nothing to end");

    let (role, calls) = counted(
        &lms,
        Platform::Skilljar,
        sj.grant(&user.id, &Membership::Role("1".into())),
    )
    .await;
    assert!(matches!(role, Err(LmsError::Unsupported { .. })), "{role:?}");
    assert_eq!(calls, 0);
    lms.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn talentlms_users_custom_fields_enrollments_groups_and_branches() -> Result<(), LmsError> {
    let lms = sandbox(SandboxConfig::default()).await;
    let tl = talentlms_default(&lms);
    let mut kat = learner("kat@example.com", "Katherine", "Goble");
    kat.custom_fields.insert("custom_field_1".into(), "42".into());

    let (created, calls) = counted(&lms, Platform::TalentLms, tl.upsert_user(&kat)).await;
    let created = created?;
    assert_eq!(calls, 3, "lookup, v2 create, v1 custom fields");
    let stored = lms
        .talentlms_user_by_email("kat@example.com")
        .unwrap_or_else(|| panic!("not created"));
    assert_eq!(stored.custom_fields.get(&1).map(String::as_str), Some("42"));
    assert_eq!(stored.id.to_string(), created.id);

    let plain = learner("kat@example.com", "Katherine", "Goble");
    let (again, calls) = counted(&lms, Platform::TalentLms, tl.upsert_user(&plain)).await;
    assert_eq!((again?.id, calls), (created.id.clone(), 1));
    let renamed = learner("kat@example.com", "Katherine", "Johnson");
    let (updated, calls) = counted(&lms, Platform::TalentLms, tl.upsert_user(&renamed)).await;
    assert_eq!(
        (updated?.last_name.as_deref().map(str::to_owned), calls),
        (Some("Johnson".into()), 2)
    );
    assert_eq!(lms.talentlms_users().len(), 1);

    let (enrolled, calls) = counted(&lms, Platform::TalentLms, tl.enroll(&created.id, "101")).await;
    assert_eq!((enrolled.is_ok(), calls), (true, 1));
    let (again, calls) = counted(&lms, Platform::TalentLms, tl.enroll(&created.id, "101")).await;
    assert_eq!(
        (again.is_ok(), calls),
        (true, 2),
        "refused as enrolled, then checked"
    );
    assert_eq!(lms.talentlms_enrollments().len(), 1);
    let (ended, calls) = counted(&lms, Platform::TalentLms, tl.unenroll(&created.id, "101")).await;
    assert_eq!((ended.is_ok(), calls), (true, 1));
    assert!(lms.talentlms_enrollments().is_empty());
    let (again, calls) = counted(&lms, Platform::TalentLms, tl.unenroll(&created.id, "101")).await;
    assert_eq!((again.is_ok(), calls), (true, 1), "not enrolled: 404 is fine");
    let (enrolled, _) = counted(&lms, Platform::TalentLms, tl.enroll(&created.id, "101")).await;
    assert!(enrolled.is_ok());

    for membership in [Membership::Group("1".into()), Membership::Branch("1".into())] {
        let (granted, calls) = counted(&lms, Platform::TalentLms, tl.grant(&created.id, &membership)).await;
        assert_eq!((granted.is_ok(), calls), (true, 1), "{membership:?}");
        let (again, calls) = counted(&lms, Platform::TalentLms, tl.grant(&created.id, &membership)).await;
        assert_eq!((again.is_ok(), calls), (true, 2), "{membership:?}");
    }
    assert_eq!(lms.talentlms_group_members(1), [stored.id]);
    assert_eq!(lms.talentlms_branch_members(1), [stored.id]);
    let group = Membership::Group("1".into());
    let (revoked, calls) = counted(&lms, Platform::TalentLms, tl.revoke(&created.id, &group)).await;
    assert_eq!((revoked.is_ok(), calls), (true, 1));
    let (again, calls) = counted(&lms, Platform::TalentLms, tl.revoke(&created.id, &group)).await;
    assert_eq!((again.is_ok(), calls), (true, 1));
    assert!(lms.talentlms_group_members(1).is_empty());

    let (done, calls) = counted(&lms, Platform::TalentLms, tl.deactivate(&created.id)).await;
    assert_eq!((done.is_ok(), calls), (true, 1));
    let stored = lms.talentlms_user_by_email("kat@example.com");
    assert_eq!(stored.map(|u| u.status).as_deref(), Some("inactive"));
    let subject = tl.grant(&created.id, &Membership::Subject("11".into())).await;
    assert!(
        matches!(subject, Err(LmsError::Unsupported { .. })),
        "{subject:?}"
    );
    lms.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn trainual_users_roles_and_subjects() -> Result<(), LmsError> {
    let lms = sandbox(SandboxConfig::default()).await;
    let tr = trainual_client(
        &lms,
        budget(trainual::budget_config(), 15, Duration::from_secs(1)),
    );
    let ann = learner("ann@example.com", "Ann", "Lee");

    let (created, calls) = counted(&lms, Platform::Trainual, tr.upsert_user(&ann)).await;
    let created = created?;
    assert_eq!(calls, 2, "lookup, invitation");
    let (again, calls) = counted(&lms, Platform::Trainual, tr.upsert_user(&ann)).await;
    assert_eq!((again?.id, calls), (created.id.clone(), 1));
    let renamed = learner("ann@example.com", "Ann", "Leigh");
    let (updated, calls) = counted(&lms, Platform::Trainual, tr.upsert_user(&renamed)).await;
    assert_eq!(
        (updated?.last_name.as_deref().map(str::to_owned), calls),
        (Some("Leigh".into()), 2)
    );
    let stored = lms.trainual_user_by_email("ann@example.com");
    assert_eq!(stored.map(|u| u.name).as_deref(), Some("Ann Leigh"));

    for membership in [Membership::Role("1".into()), Membership::Subject("11".into())] {
        for _ in 0..2 {
            let (granted, calls) =
                counted(&lms, Platform::Trainual, tr.grant(&created.id, &membership)).await;
            assert_eq!((granted.is_ok(), calls), (true, 1), "{membership:?}");
        }
    }
    let stored = lms
        .trainual_user_by_email("ann@example.com")
        .unwrap_or_else(|| panic!("gone"));
    assert!(
        stored.role_ids.contains(&1) && stored.subjects.contains_key(&11),
        "{stored:?}"
    );
    let subject = Membership::Subject("11".into());
    let (revoked, calls) = counted(&lms, Platform::Trainual, tr.revoke(&created.id, &subject)).await;
    assert_eq!((revoked.is_ok(), calls), (true, 1));
    assert!(
        tr.revoke(&created.id, &subject).await.is_ok(),
        "unassigned already"
    );

    let unknown = tr.grant(&created.id, &Membership::Role("999".into())).await;
    assert!(
        matches!(unknown, Err(LmsError::Rejected { status: 422, .. })),
        "{unknown:?}"
    );

    let (enroll, calls) = counted(&lms, Platform::Trainual, tr.enroll(&created.id, "c1")).await;
    assert!(matches!(enroll, Err(LmsError::Unsupported { .. })), "{enroll:?}");
    assert_eq!(calls, 0);

    let (done, calls) = counted(&lms, Platform::Trainual, tr.deactivate(&created.id)).await;
    assert_eq!((done.is_ok(), calls), (true, 1));
    let stored = lms.trainual_user_by_email("ann@example.com");
    assert_eq!(stored.map(|u| u.status).as_deref(), Some("archived"));
    let found = tr.find_user_by_email(&email("ann@example.com")).await?;
    assert_eq!(found.map(|u| u.active), Some(false));
    lms.shutdown().await;
    Ok(())
}

/// Each platform limited to 2 requests a second, and two processes whose budgets believe in 100
/// and do not share a table: the 429s (with each platform's `Retry-After`, and TalentLMS's
/// `X-RateLimit-*`) are waited out and retried, and every operation succeeds.
#[tokio::test]
async fn a_429_is_honoured_and_retried_on_every_platform() {
    let mut config = SandboxConfig::default();
    for platform in Platform::ALL {
        config = config.with_rate_limit(platform, 2, Duration::from_secs(1));
    }
    let lms = sandbox(config).await;
    let eager = |base: BudgetConfig| budget(base, 100, Duration::from_secs(1));
    for platform in Platform::ALL {
        lms.reset_stats();
        let mut tasks = Vec::new();
        for process in 0..2 {
            let client: Box<dyn LmsAccount> = match platform {
                Platform::Skilljar => Box::new(skilljar_client(&lms, eager(skilljar::budget_config()))),
                Platform::TalentLms => Box::new(talentlms_client(&lms, eager(talentlms::budget_config()))),
                Platform::Trainual => Box::new(trainual_client(&lms, eager(trainual::budget_config()))),
            };
            tasks.push(tokio::spawn(async move {
                for i in 0..3 {
                    let address = format!("p{process}-{i}@example.com");
                    let found = client.find_user_by_email(&email(&address)).await;
                    assert!(matches!(found, Ok(None)), "{found:?}");
                }
            }));
        }
        for task in tasks {
            task.await.unwrap_or_else(|e| panic!("{platform:?}: {e}"));
        }
        let stats = lms.stats(platform);
        assert!(stats.rate_limited >= 1, "{platform:?}: {stats:?}");
        assert_eq!(
            stats.total_requests,
            6 + stats.rate_limited,
            "{platform:?}: one retry per 429"
        );
        assert!(stats.max_admitted_in_window <= 2, "{platform:?}: {stats:?}");
    }
    lms.shutdown().await;
}

/// TalentLMS names a spent window on the answer before the 429 would come
/// (`X-RateLimit-Remaining: 0`): the client waits it out and is never refused.
#[tokio::test]
async fn a_spent_window_is_waited_out_before_talentlms_refuses() -> Result<(), LmsError> {
    let lms =
        sandbox(SandboxConfig::default().with_rate_limit(Platform::TalentLms, 2, Duration::from_secs(1)))
            .await;
    let tl = talentlms_client(
        &lms,
        budget(talentlms::budget_config(), 100, Duration::from_secs(1)),
    );
    let started = tokio::time::Instant::now();
    for i in 0..5 {
        tl.find_user_by_email(&email(&format!("n{i}@example.com")))
            .await?;
    }
    let stats = lms.stats(Platform::TalentLms);
    assert_eq!((stats.total_requests, stats.rate_limited), (5, 0), "{stats:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "two spent windows waited out"
    );
    lms.shutdown().await;
    Ok(())
}

/// A budget no faster than the platform's limit is never refused. (The budget's window is longer
/// than the sandbox's, as TalentLMS's hour is longer than its 5 s window, so the sandbox's
/// `X-RateLimit-Limit` is not taken for a larger plan.)
#[tokio::test]
async fn within_the_budget_no_request_is_refused() -> Result<(), LmsError> {
    let lms =
        sandbox(SandboxConfig::default().with_rate_limit(Platform::TalentLms, 5, Duration::from_secs(1)))
            .await;
    let tl = talentlms_client(
        &lms,
        budget(talentlms::budget_config(), 20, Duration::from_secs(5)),
    );
    for i in 0..10 {
        tl.find_user_by_email(&email(&format!("n{i}@example.com")))
            .await?;
    }
    let stats = lms.stats(Platform::TalentLms);
    assert_eq!((stats.total_requests, stats.rate_limited), (10, 0), "{stats:?}");
    assert!(stats.max_admitted_in_window <= 4, "{stats:?}");
    lms.shutdown().await;
    Ok(())
}

/// Injected 5xx (HTML on Skilljar, each platform's JSON elsewhere) are retried: every operation
/// succeeds, and the calls are the operations' own plus one per fault.
#[tokio::test]
async fn server_errors_are_retried_on_every_platform() -> Result<(), LmsError> {
    let faults = FaultConfig {
        rate_5xx: 0.3,
        ..FaultConfig::default()
    };
    let mut config = SandboxConfig::default();
    for platform in Platform::ALL {
        config = config.with_faults(platform, faults.clone());
    }
    let lms = sandbox(config).await;
    let sj = skilljar_default(&lms);
    let tl = talentlms_default(&lms);
    let tr = trainual_default(&lms);
    let mut clean_calls = 0;
    for i in 0..4 {
        let fields = learner(&format!("l{i}@example.com"), "Lee", &format!("N{i}"));
        sj.upsert_user(&fields).await?;
        let user = tl.upsert_user(&fields).await?;
        tl.enroll(&user.id, "102").await?;
        let user = tr.upsert_user(&fields).await?;
        tr.grant(&user.id, &Membership::Subject("12".into())).await?;
        clean_calls += 1 + 3 + 3;
    }
    assert_eq!(lms.skilljar_users().len(), 4);
    assert_eq!(lms.talentlms_enrollments().len(), 4);
    assert_eq!(lms.trainual_users().len(), 4);
    let stats: Vec<_> = Platform::ALL.iter().map(|p| lms.stats(*p)).collect();
    let injected: u64 = stats.iter().map(|s| s.injected_5xx).sum();
    let total: u64 = stats.iter().map(|s| s.total_requests).sum();
    assert!(injected >= 3, "{stats:?}");
    assert_eq!(total, clean_calls + injected, "{stats:?}");
    lms.shutdown().await;
    Ok(())
}

/// Two processes (two clients, two budgets) on one DynamoDB table share the account's schedule:
/// together they stay under TalentLMS's limit.
#[tokio::test]
async fn budgets_in_separate_processes_share_an_account_s_schedule() {
    let deployment = Deployment::new().await;
    let lms =
        sandbox(SandboxConfig::default().with_rate_limit(Platform::TalentLms, 5, Duration::from_secs(1)))
            .await;
    let mut tasks = Vec::new();
    for worker in 0..2 {
        let table = Arc::new(deployment.table());
        let client = talentlms_client(
            &lms,
            budget_on(table, talentlms::budget_config(), 20, Duration::from_secs(5)),
        );
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                let address = format!("w{worker}-{i}@example.com");
                client
                    .find_user_by_email(&email(&address))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let stats = lms.stats(Platform::TalentLms);
    assert_eq!((stats.total_requests, stats.rate_limited), (10, 0), "{stats:?}");
    assert!(stats.max_admitted_in_window <= 4, "{stats:?}");
    lms.shutdown().await;
}

#[tokio::test]
async fn skilljar_subscribe_registers_each_route_once_and_unsubscribe_removes_only_ours() {
    let sandbox = sandbox(SandboxConfig::default()).await;
    let client = skilljar_default(&sandbox);
    // Someone else's subscription, to be left alone.
    let theirs = secrecy::SecretString::from("their-password");
    client
        .create_webhook(
            "https://other.example.com/hook",
            "COURSE_COMPLETION",
            ("them", &theirs),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let webhook_secret = secrecy::SecretString::from(integration_tests::WEBHOOK_SECRETS);
    let (user, password) = ops::skilljar::basic_auth(&webhook_secret).unwrap_or_else(|e| panic!("{e}"));
    let api = "https://abc123.execute-api.eu-west-2.amazonaws.com/";
    let first = ops::skilljar::subscribe(&client, api, (&user, &password))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let expected: usize = ops::skilljar::ROUTES.iter().map(|(_, types)| types.len()).sum();
    assert_eq!((first.created.len(), first.kept.len()), (expected, 0));
    let hooks = sandbox.skilljar_webhooks();
    assert_eq!(hooks.len(), expected + 1);
    let enrollments: Vec<&str> = hooks
        .iter()
        .filter(|h| h.event_type.as_deref() == Some("COURSE_ENROLLMENT"))
        .map(|h| h.target_url.as_str())
        .collect();
    assert_eq!(
        enrollments,
        [
            "https://abc123.execute-api.eu-west-2.amazonaws.com/learner-created/skilljar",
            "https://abc123.execute-api.eu-west-2.amazonaws.com/milestone-completed/skilljar"
        ]
    );
    // The ingest's Basic credentials, from the webhook secret, on every one of ours.
    assert!(
        hooks
            .iter()
            .filter(|h| h.target_url.starts_with(api))
            .all(|h| h.basic_auth_username == "skilljar" && h.basic_auth_password == "local-demo-password")
    );

    let again = ops::skilljar::subscribe(&client, api, (&user, &password))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (again.created.len(), again.kept.len()),
        (0, expected),
        "repeating changes nothing"
    );
    assert_eq!(sandbox.skilljar_webhooks().len(), expected + 1);

    let removed = ops::skilljar::unsubscribe(&client, api)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(removed.deleted.len(), expected);
    let left = sandbox.skilljar_webhooks();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].target_url, "https://other.example.com/hook");
}
