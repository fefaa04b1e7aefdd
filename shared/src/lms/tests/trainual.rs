use std::collections::BTreeMap;

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use lms_sandbox::{DEFAULT_TRAINUAL_PASSWORD, DEFAULT_TRAINUAL_USERNAME, Platform, Sandbox, SandboxConfig};

use super::{
    basic, calls, config, email, emails, every_page, http, lms_sandbox, now_s, sandbox_budget,
    sandbox_config, secret, throttling_sandbox, unlimited,
};
use crate::lms::trainual::{self, TrainualClient};
use crate::lms::{LearnerFields, LearnerQuery, LmsAccount, LmsError, Membership};

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

// ---------------------------------------------------------------------------------------------
// Learners, against the LMS sandbox

fn sandbox_client(sandbox: &Sandbox) -> TrainualClient {
    let json =
        format!(r#"{{"email":"{DEFAULT_TRAINUAL_USERNAME}","password":"{DEFAULT_TRAINUAL_PASSWORD}"}}"#);
    TrainualClient::new(
        &sandbox_config(sandbox, Platform::Trainual),
        http(),
        secret(&json),
        sandbox_budget(trainual::budget_config()),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Seeds `count` learners `l<i>@example.com`; their ids, in order.
fn seed(sandbox: &Sandbox, count: usize) -> Vec<u64> {
    (0..count)
        .map(|i| {
            sandbox
                .seed_trainual_user(&format!("l{i}@example.com"), &format!("Lee N{i}"))
                .unwrap_or_else(|e| panic!("{e}"))
                .id
        })
        .collect()
}

#[tokio::test]
async fn learners_page_through_every_user_once_with_their_subjects() -> Result<(), LmsError> {
    let lms = lms_sandbox(SandboxConfig::default()).await;
    let tr = sandbox_client(&lms);
    let ids = seed(&lms, 5);
    for subject in ["11", "12"] {
        tr.grant(&ids[0].to_string(), &Membership::Subject(subject.into()))
            .await?;
    }
    lms.set_trainual_completion(ids[0], 11, 100)
        .unwrap_or_else(|e| panic!("{e}"));
    lms.set_trainual_completion(ids[0], 12, 50)
        .unwrap_or_else(|e| panic!("{e}"));
    tr.deactivate(&ids[4].to_string()).await?;

    let query = LearnerQuery {
        since: None,
        page_size: 2,
    };
    let pages = every_page(&tr, &lms, Platform::Trainual, &query).await?;
    let tokens: Vec<_> = pages.iter().map(|(p, _)| p.next.clone()).collect();
    assert_eq!(tokens, [Some("2".to_owned()), Some("3".to_owned()), None]);
    // Calls per page: 1 (`GET /users`; each user carries their subjects).
    for (_, stats) in &pages {
        assert_eq!(
            (stats.route("GET", "/users"), stats.total_requests),
            (1, 1),
            "{stats:?}"
        );
    }
    let learners: Vec<_> = pages.iter().flat_map(|(p, _)| &p.learners).collect();
    assert_eq!(
        emails(learners.iter().copied()),
        (0..5).map(|i| format!("l{i}@example.com")).collect::<Vec<_>>()
    );
    assert!(!learners[4].user.active, "archived users are listed, inactive");

    let first = learners[0];
    let stored = lms
        .trainual_user_by_email("l0@example.com")
        .unwrap_or_else(|| panic!("gone"));
    let updated_at = first.updated_at.unwrap_or_else(|| panic!("{first:?}"));
    assert_eq!(
        updated_at.unix_timestamp_nanos() / 1_000_000,
        stored.updated_at.unix_timestamp_nanos() / 1_000_000
    );
    assert_eq!(first.courses.len(), 2);
    let welcome = &first.courses[0];
    assert_eq!(
        (welcome.course.id.as_str(), welcome.course.title.as_deref()),
        ("11", Some("Welcome"))
    );
    assert_eq!(
        (welcome.percent, welcome.completed_at, welcome.enrolled_at),
        (Some(100), Some(updated_at), None),
        "completed as of the user's updated_at: Trainual dates no completion"
    );
    assert_eq!(welcome.score, None);
    let basics = &first.courses[1];
    assert_eq!(
        (basics.course.id.as_str(), basics.percent, basics.completed_at),
        ("12", Some(50), None)
    );
    assert!(learners[1].courses.is_empty());
    lms.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn learners_since_is_applied_to_updated_at_here() -> Result<(), LmsError> {
    let lms = lms_sandbox(SandboxConfig::default()).await;
    let tr = sandbox_client(&lms);
    let ids = seed(&lms, 4);
    let now = now_s();
    for (id, age) in ids.iter().zip([48, 1, 30, 2]) {
        lms.set_trainual_updated_at(*id, now - time::Duration::hours(age))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let query = LearnerQuery {
        since: Some(now - time::Duration::hours(24)),
        page_size: 2,
    };
    let pages = every_page(&tr, &lms, Platform::Trainual, &query).await?;
    let listed: Vec<_> = pages.iter().map(|(p, _)| emails(&p.learners)).collect();
    // Trainual has no filter: each page is read whole (still 1 call) and filtered here, so the
    // pages keep their cut; the third, empty, page ends the listing.
    assert_eq!(
        listed,
        [vec!["l1@example.com"], vec!["l3@example.com"], vec![]],
        "{pages:?}"
    );
    for (_, stats) in &pages {
        assert_eq!(stats.total_requests, 1, "{stats:?}");
    }
    lms.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn learners_pages_come_back_through_injected_429s() -> Result<(), LmsError> {
    let lms = throttling_sandbox(Platform::Trainual, 0.5).await;
    let tr = sandbox_client(&lms);
    seed(&lms, 5);
    let query = LearnerQuery {
        since: None,
        page_size: 1,
    };
    let pages = every_page(&tr, &lms, Platform::Trainual, &query).await?;
    let learners: Vec<_> = pages.iter().flat_map(|(p, _)| &p.learners).collect();
    assert_eq!(
        emails(learners.iter().copied()),
        (0..5).map(|i| format!("l{i}@example.com")).collect::<Vec<_>>()
    );
    let injected: u64 = pages.iter().map(|(_, s)| s.injected_429).sum();
    let total: u64 = pages.iter().map(|(_, s)| s.total_requests).sum();
    assert!(injected >= 1, "{pages:?}");
    // One call per page (5 full pages and the empty one that ends the listing), and one retry
    // per 429.
    assert_eq!(pages.len(), 6);
    assert_eq!(total, 6 + injected);
    lms.shutdown().await;
    Ok(())
}
