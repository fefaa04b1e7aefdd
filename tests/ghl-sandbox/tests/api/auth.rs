use ghl_sandbox::{LocationConfig, SandboxConfig};
use serde_json::json;

use crate::common::{Client, LOC, start};

#[tokio::test]
async fn version_header_is_required() {
    let sandbox = start(SandboxConfig::default()).await;
    let client = Client::new(&sandbox);
    let response = client
        .http
        .get(format!("{}/contacts/?locationId={LOC}", sandbox.url()))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().contains_key("x-ratelimit-remaining"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["statusCode"], 400);
    assert!(body["message"].as_str().unwrap().contains("Version"));
}

#[tokio::test]
async fn bearer_token_is_required_and_must_be_known() {
    let sandbox = start(SandboxConfig::default()).await;
    let unknown = Client::with_token(&sandbox, "not-a-token")
        .get(&format!("/contacts/?locationId={LOC}"))
        .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(
        unknown.body,
        json!({"statusCode": 401, "message": "Invalid JWT", "error": "Unauthorized"})
    );
    let missing = reqwest::Client::new()
        .get(format!("{}/contacts/?locationId={LOC}", sandbox.url()))
        .header("Version", "2021-07-28")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        sandbox.stats().max_attempted_in_window,
        0,
        "unauthenticated requests spend no budget"
    );
}

#[tokio::test]
async fn a_token_acts_for_its_own_location_only() {
    let mut config = SandboxConfig::default();
    config
        .locations
        .push(LocationConfig::new("otherLocation0000001").with_token("pit-other"));
    let sandbox = start(config).await;
    let theirs = sandbox
        .seed_contacts(
            "otherLocation0000001",
            [ghl_sandbox::ContactSeed::email("o@example.com")],
        )
        .unwrap();
    let client = Client::new(&sandbox);
    let cross = client.get(&format!("/contacts/{}", theirs[0].id)).await;
    assert_eq!(cross.status, 403);
    let create = client
        .post("/contacts/", json!({"locationId": "otherLocation0000001"}))
        .await;
    assert_eq!(create.status, 403);
    let other = Client::with_token(&sandbox, "pit-other");
    assert_eq!(
        other.get(&format!("/contacts/{}", theirs[0].id)).await.status,
        200
    );
}

#[tokio::test]
async fn unknown_routes_answer_like_nestjs() {
    let sandbox = start(SandboxConfig::default()).await;
    let answer = Client::new(&sandbox).get("/opportunities/search").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body["message"], "Cannot GET /opportunities/search");
    assert_eq!(sandbox.stats().total_requests, 1);
}
