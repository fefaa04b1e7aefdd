use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use lms_sandbox::{
    DEFAULT_SKILLJAR_API_KEY, DEFAULT_SKILLJAR_DOMAIN, Platform, Sandbox, SandboxConfig, SkilljarProgress,
};

use super::{
    basic, body_of, calls, config, email, emails, every_page, http, lms_sandbox, now_s, sandbox_budget,
    sandbox_config, secret, throttling_sandbox, unlimited,
};
use crate::http::SharedRateBudget;
use crate::lms::skilljar::{self, SkilljarClient};
use crate::lms::{LearnerFields, LearnerQuery, LmsAccount, LmsError, Membership};
use crate::memory::MemorySlots;

const SECRET: &str = r#"{"apiKey":"sk-live-123","domain":"acme.skilljar.com"}"#;

fn client(server: &MockServer) -> SkilljarClient {
    SkilljarClient::new(&config(server, "/v1"), http(), secret(SECRET), unlimited())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn learner(first: &str, last: &str) -> LearnerFields {
    LearnerFields {
        email: email("Ada@Example.com"),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        custom_fields: BTreeMap::new(),
    }
}

fn domain_user(first: &str, last: &str) -> serde_json::Value {
    json!({
        "user": {"id": "u1", "email": "ada@example.com", "first_name": first, "last_name": last},
        "active": true,
        "enrolled_at": "2026-01-02T03:04:05Z"
    })
}

#[tokio::test]
async fn finds_a_user_by_email_with_the_api_key_as_basic_user() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .and(query_param("email", "ada@example.com"))
        .and(header("authorization", basic("sk-live-123", "").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"user": {"id": "u0", "email": "adam@example.com"}, "inactive_at": null},
            {"user": {"id": "u1", "email": "ADA@example.com", "first_name": "Ada", "last_name": "L"},
             "inactive_at": "2026-01-01T00:00:00Z", "registration_count": 3}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let found = client(&server)
        .find_user_by_email(&email("ada@example.com"))
        .await?;
    let found = found.unwrap_or_else(|| panic!("not found"));
    assert_eq!(found.id, "u1");
    assert_eq!(found.email.as_str(), "ada@example.com");
    assert_eq!(found.first_name.as_deref(), Some("Ada"));
    assert!(!found.active, "inactive_at set");
    assert_eq!(found.raw["registration_count"], 3, "raw document kept");
    Ok(())
}

#[tokio::test]
async fn pages_are_followed_within_skilljar_only() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    let page2 = format!("{}/v1/users?email=ada%40example.com&cursor=abc", server.uri());
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .and(query_param("cursor", "abc"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 2, "next": "https://elsewhere.example.com/v1/users?cursor=def", "previous": null,
            "results": [{"user": {"id": "u1", "email": "ada@example.com"}, "inactive_at": null}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 2, "next": page2, "previous": null,
            "results": [{"user": {"id": "u0", "email": "someone@example.com"}}]
        })))
        .mount(&server)
        .await;
    let found = client(&server)
        .find_user_by_email(&email("ada@example.com"))
        .await?;
    assert_eq!(found.map(|u| u.id).as_deref(), Some("u1"));
    assert_eq!(
        calls(&server).await.len(),
        2,
        "stopped at the match; never left Skilljar"
    );

    let missing = client(&server)
        .find_user_by_email(&email("nobody@example.com"))
        .await?;
    assert!(missing.is_none());
    Ok(())
}

#[tokio::test]
async fn upsert_adds_to_the_domain_then_corrects_names_and_signup_fields() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/domains/acme.skilljar.com/users"))
        .and(body_json(
            json!({"user": {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(domain_user("Ada", "Byron")))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/v1/users/u1"))
        .and(body_json(json!({"last_name": "Lovelace"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(
            {"id": "u1", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/domains/acme.skilljar.com/users/u1/signup-fields-bulk"))
        .and(body_json(
            json!({"signup_fields": [{"id": "sf-company", "value": "Analytical Engines"}]}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"results": []})))
        .expect(1)
        .mount(&server)
        .await;
    let mut fields = learner("Ada", "Lovelace");
    fields
        .custom_fields
        .insert("sf-company".into(), "Analytical Engines".into());
    fields.custom_fields.insert("sf-empty".into(), String::new());
    let user = client(&server).upsert_user(&fields).await?;
    assert_eq!(user.id, "u1");
    assert_eq!(user.last_name.as_deref(), Some("Lovelace"));
    assert!(user.active);
    assert_eq!(calls(&server).await.len(), 3);
    Ok(())
}

#[tokio::test]
async fn upsert_of_an_unchanged_learner_is_one_call() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/domains/acme.skilljar.com/users"))
        .respond_with(ResponseTemplate::new(201).set_body_json(domain_user("Ada", "Lovelace")))
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server);
    let first = client.upsert_user(&learner("Ada", "Lovelace")).await?;
    let again = client.upsert_user(&learner("Ada", "Lovelace")).await?;
    assert_eq!(first.id, again.id);
    assert_eq!(calls(&server).await.len(), 2);
    Ok(())
}

#[tokio::test]
async fn enroll_checks_progress_first_and_fixes_the_enrollment_time() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/users/u1/published-courses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"published_course_id": "pc1", "course_progress": {}}
        ])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/v1/domains/acme.skilljar.com/published-courses/pc9/enrollments",
        ))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/v1/domains/acme.skilljar.com/published-courses/pc9/enrollments",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "e1", "user": {"id": "u1"}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/users/u1/published-courses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"published_course_id": "pc1", "course_progress": {}},
            {"published_course_id": "pc9", "enrollment_id": "e1",
             "course": {"id": "c9", "title": "Engines", "lesson_count": 4},
             "course_progress": {"completed_at": null, "completed_lesson_count": 1, "score": null}}
        ])))
        .mount(&server)
        .await;
    let client = client(&server);
    client.enroll("u1", "pc9").await?;
    let requests = server.received_requests().await.unwrap_or_default();
    let posts: Vec<_> = requests.iter().filter(|r| r.method.as_str() == "POST").collect();
    assert_eq!(posts.len(), 2, "the 503 was retried");
    assert_eq!(
        posts[0].body, posts[1].body,
        "the retry repeats the same enrollment time"
    );
    let body = body_of(
        &server,
        "POST",
        "/v1/domains/acme.skilljar.com/published-courses/pc9/enrollments",
    )
    .await;
    assert_eq!(body["user"], json!({"id": "u1"}));
    assert!(
        body["enrolled_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );

    // Enrolled now: a repeat reads the progress and stops.
    client.enroll("u1", "pc9").await?;
    assert_eq!(calls(&server).await.len(), 4);

    let progress = client.course_progress("u1", "pc9").await?;
    let progress = progress.unwrap_or_else(|| panic!("no progress"));
    assert_eq!(progress.course_title.as_deref(), Some("Engines"));
    assert_eq!(progress.completed_lesson_count, Some(1));
    assert_eq!(progress.lesson_count, Some(4));
    assert!(progress.completed_at.is_none());
    Ok(())
}

#[tokio::test]
async fn groups_are_joined_and_left_repeat_safely() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/groups/g1/users"))
        .and(body_json(json!({"user": {"id": "u1"}})))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"user": ["already a member"]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/groups/g1/users/u1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user": {"id": "u1"}})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/groups/g1/users/u1"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let client = client(&server);
    client.grant("u1", &Membership::Group("g1".into())).await?;
    client.revoke("u1", &Membership::Group("g1".into())).await?;
    assert_eq!(
        calls(&server).await,
        [
            "POST /v1/groups/g1/users",
            "GET /v1/groups/g1/users/u1",
            "DELETE /v1/groups/g1/users/u1"
        ]
    );
    for unsupported in [
        Membership::Role("r".into()),
        Membership::Branch("b".into()),
        Membership::Subject("s".into()),
    ] {
        let err = client.grant("u1", &unsupported).await.err();
        assert!(
            matches!(
                err,
                Some(LmsError::Unsupported {
                    platform: "skilljar",
                    ..
                })
            ),
            "{err:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_refused_group_add_that_is_not_a_membership_fails() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/groups/g1/users"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"detail": "User not in organization."})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/groups/g1/users/u1"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let err = client(&server)
        .grant("u1", &Membership::Group("g1".into()))
        .await
        .err();
    assert!(
        matches!(&err, Some(LmsError::Rejected { status: 400, message, .. }) if message == "User not in organization."),
        "{err:?}"
    );
}

#[tokio::test]
async fn deactivation_ends_the_domain_membership() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/v1/domains/acme.skilljar.com/users/u1"))
        .and(body_json(json!({"active": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(domain_user("Ada", "L")))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).deactivate("u1").await
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_and_refusals_are_not() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/groups/g1/users/u1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"detail": "Invalid token."})))
        .mount(&server)
        .await;
    let client = client(&server);
    assert!(
        client
            .find_user_by_email(&email("ada@example.com"))
            .await?
            .is_none()
    );
    assert_eq!(calls(&server).await.len(), 3);
    let err = client.revoke("u1", &Membership::Group("g1".into())).await.err();
    assert!(
        matches!(err, Some(LmsError::Unauthorized { status: 401, .. })),
        "{err:?}"
    );
    assert_eq!(calls(&server).await.len(), 4, "401 is not retried");
    Ok(())
}

#[tokio::test]
async fn a_longer_retry_after_than_the_policy_waits_goes_back_to_the_queue() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "120"))
        .mount(&server)
        .await;
    let budget = Arc::new(SharedRateBudget::new(
        Arc::new(MemorySlots::default()),
        skilljar::budget_config(),
    ));
    let client = SkilljarClient::new(&config(&server, "/v1"), http(), secret(SECRET), budget)
        .unwrap_or_else(|e| panic!("{e}"));
    let started = tokio::time::Instant::now();
    let err = client.find_user_by_email(&email("ada@example.com")).await.err();
    assert!(matches!(err, Some(LmsError::RateLimited { .. })), "{err:?}");
    assert!(err.is_some_and(|e| e.is_retryable()));
    assert_eq!(calls(&server).await.len(), 1);
    // The account is paused for the two minutes asked: the next call is refused at once.
    let err = client.find_user_by_email(&email("ada@example.com")).await.err();
    assert!(matches!(err, Some(LmsError::RateLimited { .. })), "{err:?}");
    assert_eq!(calls(&server).await.len(), 1, "not sent");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_malformed_secret_is_named_without_its_content() {
    let server = MockServer::start().await;
    let client = SkilljarClient::new(
        &config(&server, "/v1"),
        http(),
        secret(r#"{"apiKey":"sk-live-999"}"#),
        unlimited(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = client.deactivate("u1").await.err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(matches!(err, Some(LmsError::Credentials { .. })), "{err:?}");
    assert!(text.contains("lms/account") && text.contains("domain"), "{text}");
    assert!(!text.contains("sk-live-999"), "{text}");
    assert!(calls(&server).await.is_empty());
    let printed = format!(
        "{:?}",
        crate::secrets::parse_secret::<skilljar::SkilljarSecret>(
            "x",
            &secrecy::SecretString::from(SECRET.to_owned())
        )
    );
    assert!(!printed.contains("sk-live-123"), "{printed}");
}

// ---------------------------------------------------------------------------------------------
// Learners, against the LMS sandbox

/// Published course `3x5sl8stqd2r` ("Onboarding 101", course `1n0ib5mtxxzrz`, 5 lessons) and
/// `2p8dmw0i6hx9o` ("Product Basics", course `q4d3ju1bu4vm`, 3 lessons) of the default catalogue.
const ONBOARDING: &str = "3x5sl8stqd2r";
const BASICS: &str = "2p8dmw0i6hx9o";
const LIST: &str = "/domains/{domain_name}/users";
const PROGRESS: &str = "/users/{user_id}/published-courses";

fn sandbox_client(sandbox: &Sandbox) -> SkilljarClient {
    let json = format!(r#"{{"apiKey":"{DEFAULT_SKILLJAR_API_KEY}","domain":"{DEFAULT_SKILLJAR_DOMAIN}"}}"#);
    SkilljarClient::new(
        &sandbox_config(sandbox, Platform::Skilljar),
        http(),
        secret(&json),
        sandbox_budget(skilljar::budget_config()),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Seeds `count` learners `l<i>@example.com` in the default domain; their ids, in order.
fn seed(sandbox: &Sandbox, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            sandbox
                .seed_skilljar_user(
                    DEFAULT_SKILLJAR_DOMAIN,
                    &format!("l{i}@example.com"),
                    "Lee",
                    &format!("N{i}"),
                )
                .unwrap_or_else(|e| panic!("{e}"))
                .id
        })
        .collect()
}

fn enroll(sandbox: &Sandbox, user: &str, course: &str, at: time::OffsetDateTime) {
    sandbox
        .seed_skilljar_enrollment(DEFAULT_SKILLJAR_DOMAIN, user, course, at)
        .unwrap_or_else(|e| panic!("{e}"));
}

fn progress(sandbox: &Sandbox, user: &str, course: &str, progress: SkilljarProgress) {
    sandbox
        .set_skilljar_progress(user, course, progress)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn learners_page_through_the_domain_once_each_with_their_progress() -> Result<(), LmsError> {
    let lms = lms_sandbox(SandboxConfig::default()).await;
    let sj = sandbox_client(&lms);
    let ids = seed(&lms, 5);
    let now = now_s();
    let enrolled_at = now - time::Duration::days(3);
    let completed_at = now - time::Duration::days(1);
    enroll(&lms, &ids[0], ONBOARDING, enrolled_at);
    enroll(&lms, &ids[0], BASICS, enrolled_at);
    progress(
        &lms,
        &ids[0],
        ONBOARDING,
        SkilljarProgress {
            completed_lesson_count: 5,
            completed_at: Some(completed_at),
            score: Some(92),
            max_score: Some(100),
            success_status: Some("PASSED".into()),
        },
    );
    progress(
        &lms,
        &ids[0],
        BASICS,
        SkilljarProgress {
            completed_lesson_count: 1,
            ..SkilljarProgress::default()
        },
    );

    let query = LearnerQuery {
        since: None,
        page_size: 2,
    };
    let pages = every_page(&sj, &lms, Platform::Skilljar, &query).await?;
    let tokens: Vec<_> = pages.iter().map(|(p, _)| p.next.clone()).collect();
    assert_eq!(tokens, [Some("2".to_owned()), Some("3".to_owned()), None]);
    // Calls per page: 1 listing of the domain's users + 1 progress read per learner on it.
    for (page, stats) in &pages {
        assert_eq!(stats.route("GET", LIST), 1, "{stats:?}");
        assert_eq!(
            stats.route("GET", PROGRESS),
            page.learners.len() as u64,
            "{stats:?}"
        );
        assert_eq!(stats.total_requests, 1 + page.learners.len() as u64, "{stats:?}");
    }
    let learners: Vec<_> = pages.iter().flat_map(|(p, _)| &p.learners).collect();
    assert_eq!(
        emails(learners.iter().copied()),
        (0..5).map(|i| format!("l{i}@example.com")).collect::<Vec<_>>(),
        "every learner exactly once"
    );

    let first = learners[0];
    assert_eq!(first.user.id, ids[0]);
    assert!(first.created_at.is_some(), "joined the domain: {first:?}");
    let [onboarding, basics] = &first.courses[..] else {
        panic!("{first:?}")
    };
    assert_eq!(
        (
            onboarding.course.id.as_str(),
            onboarding.course.published_id.as_deref(),
            onboarding.course.title.as_deref()
        ),
        ("1n0ib5mtxxzrz", Some(ONBOARDING), Some("Onboarding 101"))
    );
    assert_eq!(
        (
            onboarding.enrolled_at,
            onboarding.completed_at,
            onboarding.percent,
            onboarding.score.as_deref()
        ),
        (Some(enrolled_at), Some(completed_at), Some(100), Some("92"))
    );
    assert_eq!(
        (
            basics.course.id.as_str(),
            basics.enrolled_at,
            basics.completed_at,
            basics.percent,
            basics.score.as_deref()
        ),
        ("q4d3ju1bu4vm", Some(enrolled_at), None, Some(33), None)
    );
    assert!(learners[1].courses.is_empty());
    lms.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn learners_since_keeps_those_with_activity_after_it() -> Result<(), LmsError> {
    let lms = lms_sandbox(SandboxConfig::default()).await;
    let sj = sandbox_client(&lms);
    let ids = seed(&lms, 4);
    let now = now_s();
    let days = |n| now - time::Duration::days(n);
    // l0, l1, l2 joined long ago; l3 joined now (a new learner).
    for id in &ids[..3] {
        lms.set_skilljar_domain_enrolled_at(DEFAULT_SKILLJAR_DOMAIN, id, days(30))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // l0: enrolled long ago, completed yesterday. l1: enrolled yesterday. l2: nothing recent.
    enroll(&lms, &ids[0], ONBOARDING, days(20));
    progress(
        &lms,
        &ids[0],
        ONBOARDING,
        SkilljarProgress {
            completed_at: Some(days(1)),
            ..SkilljarProgress::default()
        },
    );
    enroll(&lms, &ids[1], BASICS, days(1));
    enroll(&lms, &ids[2], BASICS, days(20));

    let query = LearnerQuery {
        since: Some(days(2)),
        page_size: 0,
    };
    let pages = every_page(&sj, &lms, Platform::Skilljar, &query).await?;
    assert_eq!(pages.len(), 1);
    let (page, stats) = &pages[0];
    assert_eq!(
        emails(&page.learners),
        ["l0@example.com", "l1@example.com", "l3@example.com"]
    );
    assert_eq!(page.learners[0].updated_at, Some(days(1)));
    // Skilljar has no filter: every learner's progress is read to apply it (1 + 4 calls).
    assert_eq!(
        (stats.route("GET", LIST), stats.route("GET", PROGRESS)),
        (1, 4),
        "{stats:?}"
    );
    lms.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn learners_pages_come_back_through_injected_429s() -> Result<(), LmsError> {
    let lms = throttling_sandbox(Platform::Skilljar, 0.3).await;
    let sj = sandbox_client(&lms);
    let ids = seed(&lms, 3);
    enroll(&lms, &ids[2], ONBOARDING, now_s());
    let query = LearnerQuery {
        since: None,
        page_size: 2,
    };
    let pages = every_page(&sj, &lms, Platform::Skilljar, &query).await?;
    let learners: Vec<_> = pages.iter().flat_map(|(p, _)| &p.learners).collect();
    assert_eq!(
        emails(learners.iter().copied()),
        ["l0@example.com", "l1@example.com", "l2@example.com"]
    );
    assert_eq!(
        learners[2].courses.len(),
        1,
        "the third learner's progress came back too"
    );
    let injected: u64 = pages.iter().map(|(_, s)| s.injected_429).sum();
    let total: u64 = pages.iter().map(|(_, s)| s.total_requests).sum();
    assert!(injected >= 1, "{pages:?}");
    // 2 listings + 3 progress reads, and one retry per 429.
    assert_eq!(total, 5 + injected);
    lms.shutdown().await;
    Ok(())
}

/// A `next` link that would leave Skilljar ends the listing; a token naming another host is
/// refused without a request; a same-origin link without a page number is its own token.
#[tokio::test]
async fn learners_follow_next_links_only_within_skilljar() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    let cursor_link = format!("{}/v1/domains/acme.skilljar.com/users?cursor=abc", server.uri());
    Mock::given(method("GET"))
        .and(path("/v1/domains/acme.skilljar.com/users"))
        .and(query_param("cursor", "abc"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 2, "next": "https://elsewhere.example.com/v1/domains/acme.skilljar.com/users?page=3",
            "results": [domain_user("Ada", "L")]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/domains/acme.skilljar.com/users"))
        .and(query_param("page", "1"))
        .and(query_param("page_size", "100"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 2, "next": cursor_link, "results": [domain_user("Ada", "L")]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/users/u1/published-courses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "published_course_id": "pc1", "enrolled_at": "2026-01-03T00:00:00.000000Z",
            "course": {"id": "c1", "title": "Engines", "lesson_count": 4},
            "course_progress": {"completed_at": null, "completed_lesson_count": 3, "score": "88.5"}
        }])))
        .mount(&server)
        .await;
    let client = client(&server);
    let query = LearnerQuery::default();
    let first = client.learners(&query, None).await?;
    assert_eq!(first.next.as_deref(), Some(cursor_link.as_str()));
    let course = &first.learners[0].courses[0];
    assert_eq!(
        (course.percent, course.score.as_deref(), course.completed_at),
        (Some(75), Some("88.5"), None)
    );
    let second = client.learners(&query, first.next.as_deref()).await?;
    assert_eq!(second.learners.len(), 1);
    assert_eq!(second.next, None, "the link elsewhere is not followed");

    let before = calls(&server).await.len();
    let foreign = "https://elsewhere.example.com/v1/domains/acme.skilljar.com/users?page=2";
    let err = client.learners(&query, Some(foreign)).await.err();
    assert!(
        matches!(err, Some(LmsError::Rejected { status: 400, .. })),
        "{err:?}"
    );
    assert_eq!(calls(&server).await.len(), before, "nothing sent elsewhere");
    Ok(())
}
