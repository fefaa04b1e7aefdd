use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_json, body_string_contains, header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use lms_sandbox::{DEFAULT_TALENTLMS_API_KEY, Platform, Sandbox, SandboxConfig};

use super::{
    basic, body_of, calls, config, email, emails, every_page, http, lms_sandbox, now_s, sandbox_budget,
    sandbox_config, secret, throttling_sandbox, unlimited,
};
use crate::http::{RateBudget, SharedRateBudget};
use crate::lms::talentlms::{self, TalentLmsClient, TalentLmsSecret};
use crate::lms::{LearnerFields, LearnerQuery, LmsAccount, LmsError, Membership};
use crate::memory::MemorySlots;

const SECRET: &str = r#"{"domain":"acme","apiKey":"tlms-key-42"}"#;

fn client_with(server: &MockServer, budget: Arc<dyn RateBudget>) -> TalentLmsClient {
    TalentLmsClient::new(&config(server, ""), http(), secret(SECRET), budget)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn client(server: &MockServer) -> TalentLmsClient {
    client_with(server, unlimited())
}

fn user(id: u64, name: &str, surname: &str, status: &str) -> serde_json::Value {
    json!({"id": id, "login": "ada@example.com", "name": name, "surname": surname,
           "email": "ada@example.com", "status": status, "type": "Learner-Type"})
}

async fn users_answer(server: &MockServer, users: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .and(query_param("filter[email][eq]", "ada@example.com"))
        .and(header("x-api-key", "tlms-key-42"))
        .and(header("x-api-version", talentlms::API_VERSION))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "_data": users,
            "_links": {"self": "…", "next": null},
            "_meta": {"pagination": {"page": 1, "page_size": 25, "total_items": 1}}
        })))
        .mount(server)
        .await;
}

fn fields(first: &str, last: &str) -> LearnerFields {
    LearnerFields {
        email: email("ada@example.com"),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        custom_fields: BTreeMap::new(),
    }
}

#[tokio::test]
async fn finds_a_user_by_email_with_the_v2_headers() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    users_answer(&server, json!([user(17, "Ada", "Lovelace", "active")])).await;
    let found = client(&server)
        .find_user_by_email(&email("ada@example.com"))
        .await?;
    let found = found.unwrap_or_else(|| panic!("not found"));
    assert_eq!((found.id.as_str(), found.active), ("17", true));
    assert_eq!(found.last_name.as_deref(), Some("Lovelace"));
    assert_eq!(found.raw["type"], "Learner-Type");
    Ok(())
}

#[tokio::test]
async fn a_new_learner_is_created_then_custom_fields_go_through_v1() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    users_answer(&server, json!([])).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users"))
        .and(header_exists("x-api-key"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"_data": user(17, "Ada", "Lovelace", "active")})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/edituser"))
        .and(header("authorization", basic("tlms-key-42", "").as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("user_id=17"))
        .and(body_string_contains("custom_field_3=Engines"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "17"})))
        .expect(1)
        .mount(&server)
        .await;
    let mut fields = fields("Ada", "Lovelace");
    fields
        .custom_fields
        .insert("custom_field_3".into(), "Engines".into());
    let created = client(&server).upsert_user(&fields).await?;
    assert_eq!(created.id, "17");
    let body = body_of(&server, "POST", "/api/v2/users").await;
    assert_eq!(body["name"], "Ada");
    assert_eq!(body["surname"], "Lovelace");
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["login"], "ada@example.com");
    assert!(body["password"].as_str().is_some_and(|p| p.len() >= 16), "{body}");
    assert_eq!(calls(&server).await.len(), 3);
    Ok(())
}

#[tokio::test]
async fn an_existing_learner_is_updated_only_where_the_names_differ() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    users_answer(&server, json!([user(17, "Ada", "Byron", "inactive")])).await;
    Mock::given(method("PATCH"))
        .and(path("/api/v2/users/17"))
        .and(body_json(
            json!({"name": "Ada", "surname": "Lovelace", "status": "inactive"}),
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let updated = client.upsert_user(&fields("Ada", "Lovelace")).await?;
    assert_eq!(updated.last_name.as_deref(), Some("Lovelace"));
    assert!(
        !updated.active,
        "the learner's status is not changed by an upsert"
    );
    assert_eq!(calls(&server).await.len(), 2);
    let same = client.upsert_user(&fields("Ada", "Byron")).await?;
    assert_eq!(same.id, "17");
    assert_eq!(calls(&server).await.len(), 3, "unchanged: the lookup only");
    Ok(())
}

#[tokio::test]
async fn a_create_refused_because_the_learner_appeared_meanwhile_adopts_them() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"_data": []})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    users_answer(&server, json!([user(17, "Ada", "Lovelace", "active")])).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {"type": "invalid_request_error", "message": "The email is already taken."}
        })))
        .mount(&server)
        .await;
    let user = client(&server).upsert_user(&fields("Ada", "Lovelace")).await?;
    assert_eq!(user.id, "17");
    assert_eq!(
        calls(&server).await,
        ["GET /api/v2/users", "POST /api/v2/users", "GET /api/v2/users"]
    );
    Ok(())
}

#[tokio::test]
async fn enrolling_again_is_not_an_error() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/enrollments"))
        .and(body_json(json!({"user_id": 17, "course_id": 5})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"_data": {"user_id": 17, "course_id": 5}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/enrollments"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {"type": "invalid_request_error", "message": "User is already enrolled in this course."}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users/id:17"))
        .and(header("authorization", basic("tlms-key-42", "").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "17", "courses": [{"id": "5", "name": "Engines"}], "groups": [], "branches": []
        })))
        .mount(&server)
        .await;
    let client = client(&server);
    client.enroll("17", "5").await?;
    client.enroll("17", "5").await?;
    assert_eq!(calls(&server).await.len(), 3);

    let err = client.enroll("17", "6").await.err();
    assert!(
        matches!(&err, Some(LmsError::Rejected { status: 400, message, .. }) if message.contains("already enrolled")),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn groups_and_branches_where_the_mapping_says() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/group-memberships"))
        .and(body_json(json!({"user_id": 17, "group_id": 3})))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/branch-users"))
        .and(body_json(json!({"user_id": 17, "branch_id": 8})))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({"error": {"message": "exists"}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users/id:17"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "17", "courses": [], "groups": [], "branches": [{"id": "8", "name": "EU"}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v2/group-memberships"))
        .and(body_json(json!({"user_id": 17, "group_id": 3})))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v2/branch-users"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let client = client(&server);
    client.grant("17", &Membership::Group("3".into())).await?;
    client.grant("17", &Membership::Branch("8".into())).await?;
    client.revoke("17", &Membership::Group("3".into())).await?;
    client.revoke("17", &Membership::Branch("8".into())).await?;
    assert_eq!(calls(&server).await.len(), 5);
    let err = client.grant("17", &Membership::Role("admin".into())).await.err();
    assert!(
        matches!(
            err,
            Some(LmsError::Unsupported {
                platform: "talentlms",
                ..
            })
        ),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn deactivation_sets_the_status() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/api/v2/users/17"))
        .and(body_json(json!({"status": "inactive"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).deactivate("17").await
}

#[tokio::test]
async fn a_spent_hourly_window_stops_calls_until_it_resets() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/api/v2/users/17"))
        .respond_with(
            ResponseTemplate::new(204)
                .insert_header("x-ratelimit-limit", "10000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1800"),
        )
        .mount(&server)
        .await;
    let budget = Arc::new(SharedRateBudget::new(
        Arc::new(MemorySlots::default()),
        talentlms::budget_config(),
    ));
    let client = client_with(&server, budget);
    client.deactivate("17").await?;
    let started = tokio::time::Instant::now();
    let err = client.deactivate("17").await.err();
    assert!(matches!(err, Some(LmsError::RateLimited { .. })), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused at once, not slept through"
    );
    assert_eq!(calls(&server).await.len(), 1, "nothing sent into a spent window");
    Ok(())
}

#[tokio::test]
async fn a_429_is_retried_after_the_wait_asked() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/api/v2/users/17"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/v2/users/17"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    client(&server).deactivate("17").await?;
    assert_eq!(calls(&server).await.len(), 3);
    Ok(())
}

#[test]
fn the_domain_names_the_host_and_nothing_else() {
    let origin = |domain: &str| {
        crate::secrets::parse_secret::<TalentLmsSecret>(
            "t",
            &secrecy::SecretString::from(format!(r#"{{"domain":"{domain}","apiKey":"k"}}"#)),
        )
        .ok()
        .and_then(|s| s.origin_for_tests())
    };
    assert_eq!(origin("acme").as_deref(), Some("https://acme.talentlms.com"));
    assert_eq!(
        origin("Acme.TalentLMS.com").as_deref(),
        Some("https://acme.talentlms.com")
    );
    assert_eq!(origin("evil.example/steal?"), None);
    assert_eq!(origin("a@evil.example"), None);
    assert_eq!(origin(""), None);
}

// ---------------------------------------------------------------------------------------------
// Learners, against the LMS sandbox

fn sandbox_client(sandbox: &Sandbox) -> TalentLmsClient {
    let json = format!(r#"{{"domain":"sandbox","apiKey":"{DEFAULT_TALENTLMS_API_KEY}"}}"#);
    TalentLmsClient::new(
        &sandbox_config(sandbox, Platform::TalentLms),
        http(),
        secret(&json),
        sandbox_budget(talentlms::budget_config()),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Seeds `count` learners `l<i>@example.com`; their ids, in order.
fn seed(sandbox: &Sandbox, count: usize) -> Vec<u64> {
    (0..count)
        .map(|i| {
            sandbox
                .seed_talentlms_user(&format!("l{i}@example.com"), "Lee", &format!("N{i}"))
                .unwrap_or_else(|e| panic!("{e}"))
                .id
        })
        .collect()
}

const LIST: &str = "/api/v2/users";
const RECORD: &str = "/api/v1/users/{selector}";

#[tokio::test]
async fn learners_page_through_every_user_once_with_their_courses_from_v1() -> Result<(), LmsError> {
    let lms = lms_sandbox(SandboxConfig::default()).await;
    let tl = sandbox_client(&lms);
    let ids = seed(&lms, 5);
    let first = ids[0].to_string();
    tl.enroll(&first, "101").await?;
    tl.enroll(&first, "102").await?;
    tl.enroll(&ids[1].to_string(), "101").await?;
    let set = |user, course, percent| {
        lms.set_talentlms_progress(user, course, percent)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    set(ids[0], 101, 100);
    set(ids[0], 102, 40);

    let query = LearnerQuery {
        since: None,
        page_size: 2,
    };
    let pages = every_page(&tl, &lms, Platform::TalentLms, &query).await?;
    let tokens: Vec<_> = pages.iter().map(|(p, _)| p.next.clone()).collect();
    assert_eq!(tokens, [Some("2".to_owned()), Some("3".to_owned()), None]);
    // Calls per page: 1 listing + 1 v1 user record per learner on it.
    for (page, stats) in &pages {
        assert_eq!(stats.route("GET", LIST), 1, "{stats:?}");
        assert_eq!(
            stats.route("GET", RECORD),
            page.learners.len() as u64,
            "{stats:?}"
        );
        assert_eq!(stats.total_requests, 1 + page.learners.len() as u64, "{stats:?}");
    }
    let learners: Vec<_> = pages.iter().flat_map(|(p, _)| &p.learners).collect();
    assert_eq!(
        emails(learners.iter().copied()),
        (0..5).map(|i| format!("l{i}@example.com")).collect::<Vec<_>>(),
        "every learner exactly once, in TalentLMS's order"
    );

    let ada = learners[0];
    assert_eq!(ada.user.id, first);
    assert!(ada.updated_at.is_some() && ada.created_at.is_some(), "{ada:?}");
    let enrolled = lms.talentlms_enrollments();
    let sandbox_course = |course: u64| {
        enrolled
            .iter()
            .find(|e| e.user_id == ids[0] && e.course_id == course)
            .unwrap_or_else(|| panic!("not enrolled in {course}"))
            .clone()
    };
    let done = ada
        .courses
        .iter()
        .find(|c| c.course.id == "101")
        .unwrap_or_else(|| panic!("{ada:?}"));
    assert_eq!(done.course.title.as_deref(), Some("Onboarding 101"));
    assert_eq!(done.percent, Some(100));
    let completed_on = sandbox_course(101).completed_on.map(|t| t.unix_timestamp());
    assert!(completed_on.is_some());
    assert_eq!(done.completed_at.map(|t| t.unix_timestamp()), completed_on);
    assert_eq!(
        done.enrolled_at.map(|t| t.unix_timestamp()),
        Some(sandbox_course(101).enrolled_on.unix_timestamp())
    );
    assert_eq!(done.score, None, "TalentLMS reports no course score");
    let started = ada
        .courses
        .iter()
        .find(|c| c.course.id == "102")
        .unwrap_or_else(|| panic!("{ada:?}"));
    assert_eq!((started.percent, started.completed_at), (Some(40), None));
    assert_eq!(learners[1].courses.len(), 1);
    assert_eq!(
        (
            learners[1].courses[0].percent,
            learners[1].courses[0].completed_at
        ),
        (Some(0), None)
    );
    assert!(learners[2].courses.is_empty());
    lms.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn learners_since_is_filtered_by_talentlms_itself() -> Result<(), LmsError> {
    let lms = lms_sandbox(SandboxConfig::default()).await;
    let tl = sandbox_client(&lms);
    let ids = seed(&lms, 4);
    let now = now_s();
    for (id, age) in ids.iter().zip([48, 30, 2, 1]) {
        lms.set_talentlms_last_updated(*id, now - time::Duration::hours(age))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let query = LearnerQuery {
        since: Some(now - time::Duration::hours(24)),
        page_size: 0,
    };
    let pages = every_page(&tl, &lms, Platform::TalentLms, &query).await?;
    assert_eq!(pages.len(), 1);
    let (page, stats) = &pages[0];
    assert_eq!(emails(&page.learners), ["l2@example.com", "l3@example.com"]);
    // Filtered by TalentLMS: only the two changed users' records are read (1 + 2 calls); a
    // filter applied here would have read all four.
    assert_eq!(
        (stats.route("GET", LIST), stats.route("GET", RECORD)),
        (1, 2),
        "{stats:?}"
    );
    lms.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn learners_pages_come_back_through_injected_429s() -> Result<(), LmsError> {
    let lms = throttling_sandbox(Platform::TalentLms, 0.3).await;
    let tl = sandbox_client(&lms);
    let ids = seed(&lms, 3);
    tl.enroll(&ids[2].to_string(), "102").await?;
    lms.reset_stats();
    let query = LearnerQuery {
        since: None,
        page_size: 2,
    };
    let mut learners = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = tl.learners(&query, token.as_deref()).await?;
        learners.extend(page.learners);
        pages += 1;
        token = page.next;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(
        emails(&learners),
        ["l0@example.com", "l1@example.com", "l2@example.com"]
    );
    assert_eq!(
        learners[2].courses.len(),
        1,
        "the third learner's record came back too"
    );
    let stats = lms.stats(Platform::TalentLms);
    assert!(stats.injected_429 >= 1, "{stats:?}");
    // 2 listings + 3 records, and one retry per 429.
    assert_eq!(stats.total_requests, 5 + stats.injected_429, "{stats:?}");
    lms.shutdown().await;
    Ok(())
}

/// v1 dates without their timestamps, a completion without a status or without a date, a
/// listing with no links (a full page means more), and the query a poll sends.
#[tokio::test]
async fn learners_read_v1_courses_leniently_and_send_the_filter() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .and(query_param("page[number]", "3"))
        .and(query_param("page[size]", "2"))
        .and(query_param("filter[last_updated][gte]", "2026-03-01T10:00:00Z"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"_data": [
            {"id": 17, "email": "ada@example.com", "name": "Ada", "surname": "L", "status": "active",
             "last_updated": "2026-03-04T05:06:07Z", "registration": "2026-01-01T00:00:00Z"},
            {"id": 18, "login": "no-email"}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users/id:17"))
        .and(header("authorization", basic("tlms-key-42", "").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "17", "courses": [
                {"id": "5", "name": "Engines", "enrolled_on": "02/03/2026, 08:09:10",
                 "completed_on": "05/03/2026, 10:20:30", "completion_percentage": "100"},
                {"id": "6", "name": "Looms", "completion_status": "Completed", "completed_on": "",
                 "completion_percentage": "66.67"},
                {"id": "7", "name": "Notes", "completion_status": "incomplete",
                 "completed_on": "", "completion_percentage": "10"}
            ]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let query = LearnerQuery {
        since: Some(time::macros::datetime!(2026-03-01 11:00:00.75 +01:00)),
        page_size: 2,
    };
    let page = client(&server).learners(&query, Some("3")).await?;
    assert_eq!(page.next.as_deref(), Some("4"), "a full page without links");
    assert_eq!(
        emails(&page.learners),
        ["ada@example.com"],
        "no email: not listed"
    );
    let ada = &page.learners[0];
    assert_eq!(
        ada.updated_at,
        Some(time::macros::datetime!(2026-03-04 05:06:07 UTC))
    );
    assert_eq!(
        ada.created_at,
        Some(time::macros::datetime!(2026-01-01 00:00:00 UTC))
    );
    let [engines, looms, notes] = &ada.courses[..] else {
        panic!("{ada:?}")
    };
    assert_eq!(
        (engines.enrolled_at, engines.completed_at, engines.percent),
        (
            Some(time::macros::datetime!(2026-03-02 08:09:10 UTC)),
            Some(time::macros::datetime!(2026-03-05 10:20:30 UTC)),
            Some(100)
        )
    );
    assert_eq!(
        (looms.completed_at, looms.percent),
        (ada.updated_at, Some(67)),
        "completed without a date: as of the learner's last update"
    );
    assert_eq!((notes.completed_at, notes.percent), (None, Some(10)));

    let refused = client(&server).learners(&query, Some("page-two")).await.err();
    assert!(
        matches!(refused, Some(LmsError::Rejected { status: 400, .. })),
        "{refused:?}"
    );
    Ok(())
}
