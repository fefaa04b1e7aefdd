use std::collections::BTreeMap;

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{basic, calls, config, email, http, secret, unlimited};
use crate::lms::trainual::TrainualClient;
use crate::lms::{LearnerFields, LmsAccount, LmsError, Membership};

const SECRET: &str = r#"{"email":"owner@acme.example","accountId":"acct-1","password":"pw-secret"}"#;

fn client(server: &MockServer) -> TrainualClient {
    TrainualClient::new(&config(server, "/v1"), http(), secret(SECRET), unlimited())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn fields(first: Option<&str>, last: Option<&str>) -> LearnerFields {
    LearnerFields {
        email: email("grace@example.com"),
        first_name: first.map(Into::into),
        last_name: last.map(Into::into),
        custom_fields: BTreeMap::from([("ignored".to_owned(), "x".to_owned())]),
    }
}

async fn users_answer(server: &MockServer, users: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .and(query_param("email", "grace@example.com"))
        .and(header(
            "authorization",
            basic("owner@acme.example&acct-1", "pw-secret").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(users))
        .mount(server)
        .await;
}

#[tokio::test]
async fn finds_among_the_listed_users_with_the_account_s_basic_credentials() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    users_answer(
        &server,
        json!([
            {"id": 8, "name": "Someone Else", "email": "else@example.com", "status": "active"},
            {"id": 9, "name": "Grace Brewster Hopper", "email": "Grace@example.com", "status": "archived",
             "roles_assigned": [{"id": 3, "name": "Engineer"}]}
        ]),
    )
    .await;
    let found = client(&server)
        .find_user_by_email(&email("grace@example.com"))
        .await?;
    let found = found.unwrap_or_else(|| panic!("not found"));
    assert_eq!(found.id, "9");
    assert_eq!(found.first_name.as_deref(), Some("Grace"));
    assert_eq!(found.last_name.as_deref(), Some("Brewster Hopper"));
    assert!(!found.active, "archived");
    assert_eq!(found.raw["roles_assigned"][0]["name"], "Engineer");
    Ok(())
}

#[tokio::test]
async fn a_new_learner_is_invited_with_one_name() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    users_answer(&server, json!({"users": []})).await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .and(body_json(
            json!({"user": {"email": "grace@example.com", "name": "Grace Hopper"}}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "user": {"id": 9, "name": "Grace Hopper", "email": "grace@example.com", "status": "invited"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let created = client(&server)
        .upsert_user(&fields(Some("Grace"), Some("Hopper")))
        .await?;
    assert_eq!(created.id, "9");
    assert!(created.active, "invited counts as active");
    assert_eq!(
        calls(&server).await.len(),
        2,
        "lookup, invitation; custom fields skipped"
    );
    Ok(())
}

#[tokio::test]
async fn an_update_keeps_the_name_parts_the_change_does_not_name() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    users_answer(
        &server,
        json!([{"id": 9, "name": "Grace Hopper", "email": "grace@example.com", "status": "active"}]),
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/v1/users/9"))
        .and(body_json(json!({"user": {"name": "Amazing Hopper"}})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let updated = client.upsert_user(&fields(Some("Amazing"), None)).await?;
    assert_eq!(updated.first_name.as_deref(), Some("Amazing"));
    assert_eq!(updated.last_name.as_deref(), Some("Hopper"));
    assert_eq!(calls(&server).await.len(), 2);
    client.upsert_user(&fields(Some("Grace"), Some("Hopper"))).await?;
    client.upsert_user(&fields(None, None)).await?;
    assert_eq!(calls(&server).await.len(), 4, "unchanged: lookups only");
    Ok(())
}

#[tokio::test]
async fn roles_and_subjects_are_assigned_and_unassigned() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    for (action, key) in [
        ("assign_roles", "role_ids"),
        ("unassign_roles", "role_ids"),
        ("assign_curriculums", "curriculum_ids"),
    ] {
        let mut body = json!({});
        body[key] = json!([3]);
        Mock::given(method("PUT"))
            .and(path(format!("/v1/users/9/{action}")))
            .and(body_json(body))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 9})))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("PUT"))
        .and(path("/v1/users/9/unassign_curriculums"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v1/users/9/archive"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    client.grant("9", &Membership::Role("3".into())).await?;
    client.revoke("9", &Membership::Role("3".into())).await?;
    client.grant("9", &Membership::Subject("3".into())).await?;
    client.revoke("9", &Membership::Subject("3".into())).await?;
    client.deactivate("9").await?;
    assert_eq!(calls(&server).await.len(), 5);
    Ok(())
}

#[tokio::test]
async fn what_trainual_cannot_do_is_named() {
    let server = MockServer::start().await;
    let client = client(&server);
    let err = client.enroll("9", "c1").await.err();
    assert!(
        matches!(&err, Some(LmsError::Unsupported { platform: "trainual", what }) if what.contains("subjects")),
        "{err:?}"
    );
    for membership in [Membership::Group("g".into()), Membership::Branch("b".into())] {
        assert!(matches!(
            client.grant("9", &membership).await,
            Err(LmsError::Unsupported { .. })
        ));
        assert!(matches!(
            client.revoke("9", &membership).await,
            Err(LmsError::Unsupported { .. })
        ));
    }
    assert!(calls(&server).await.is_empty());
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("trainual cannot enroll in courses (training is assigned as subjects) through its API")
    );
}
