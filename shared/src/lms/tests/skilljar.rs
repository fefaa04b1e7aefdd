use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{basic, body_of, calls, config, email, http, secret, unlimited};
use crate::http::SharedRateBudget;
use crate::lms::skilljar::{self, SkilljarClient};
use crate::lms::{LearnerFields, LmsAccount, LmsError, Membership};
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
