use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_json, body_string_contains, header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{basic, body_of, calls, config, email, http, secret, unlimited};
use crate::http::{RateBudget, SharedRateBudget};
use crate::lms::talentlms::{self, TalentLmsClient, TalentLmsSecret};
use crate::lms::{LearnerFields, LmsAccount, LmsError, Membership};
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
