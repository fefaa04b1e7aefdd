use ghl_sandbox::{DEFAULT_LOCATION_ID, DEFAULT_PIT, LocationConfig, SandboxConfig};
use serde_json::json;

use crate::common::{Client, LOC, start, token_request};

fn config() -> SandboxConfig {
    let mut config = SandboxConfig::default().with_oauth_client("client-1", "secret-1");
    config.locations = vec![
        LocationConfig::new(DEFAULT_LOCATION_ID)
            .with_token(DEFAULT_PIT)
            .with_refresh_token("client-1", "rt-seed")
            .with_authorization_code("client-1", "code-1"),
    ];
    config
}

fn refresh(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", "client-1".into()),
        ("client_secret", "secret-1".into()),
        ("grant_type", "refresh_token".into()),
        ("refresh_token", token.into()),
        ("user_type", "Location".into()),
    ]
}

async fn post(sandbox: &ghl_sandbox::Sandbox, fields: &[(&'static str, String)]) -> crate::common::Answer {
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    token_request(sandbox, &borrowed).await
}

#[tokio::test]
async fn refresh_tokens_are_single_use_and_rotate() {
    let sandbox = start(config()).await;
    let first = post(&sandbox, &refresh("rt-seed")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let body = &first.body;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["userType"], "Location");
    assert_eq!(body["locationId"], LOC);
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 0));
    for key in ["access_token", "refresh_token", "scope", "companyId", "userId"] {
        assert!(body[key].as_str().is_some_and(|v| !v.is_empty()), "{key}");
    }
    let new_refresh = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, "rt-seed");

    let again = post(&sandbox, &refresh("rt-seed")).await;
    assert_eq!(again.status, 400);
    assert_eq!(
        again.body,
        json!({"error": "invalid_grant", "error_description": "Invalid grant: refresh token is invalid"})
    );

    let access = body["access_token"].as_str().unwrap();
    let client = Client::with_token(&sandbox, access);
    assert_eq!(
        client.get(&format!("/contacts/?locationId={LOC}")).await.status,
        200
    );

    let second = post(&sandbox, &refresh(&new_refresh)).await;
    assert_eq!(second.status, 200);
    assert!(!sandbox.refresh_token_is_valid(&new_refresh));
    assert!(sandbox.refresh_token_is_valid(second.body["refresh_token"].as_str().unwrap()));

    let stats = sandbox.stats();
    assert_eq!(
        (
            stats.token_requests,
            stats.token_success,
            stats.token_invalid_grant
        ),
        (3, 2, 1)
    );
    assert_eq!(stats.route("POST", "/oauth/token"), 3);
}

#[tokio::test]
async fn authorization_codes_are_single_use() {
    let sandbox = start(config()).await;
    let fields = [
        ("client_id", "client-1".to_string()),
        ("client_secret", "secret-1".to_string()),
        ("grant_type", "authorization_code".to_string()),
        ("code", "code-1".to_string()),
        ("redirect_uri", "https://example.com/cb".to_string()),
    ];
    assert_eq!(post(&sandbox, &fields).await.status, 200);
    let reused = post(&sandbox, &fields).await;
    assert_eq!(reused.status, 400);
    assert_eq!(reused.body["error"], "invalid_grant");
}

#[tokio::test]
async fn bad_client_missing_fields_and_inactive_location() {
    let sandbox = start(config()).await;
    let mut wrong_secret = refresh("rt-seed");
    wrong_secret[1].1 = "nope".into();
    let refused = post(&sandbox, &wrong_secret).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body["error"], "invalid_client");

    let missing = token_request(&sandbox, &[("grant_type", "refresh_token")]).await;
    assert_eq!(missing.status, 422);
    assert_eq!(missing.body["statusCode"], 422);

    sandbox.set_location_active(LOC, false).unwrap();
    let inactive = post(&sandbox, &refresh("rt-seed")).await;
    assert_eq!(inactive.status, 400);
    assert_eq!(
        inactive.body,
        json!({"error": "invalid_request", "error_description": "Location is not active"})
    );
    assert!(
        sandbox.refresh_token_is_valid("rt-seed"),
        "a refused grant is not spent"
    );
    let pit = Client::new(&sandbox)
        .get(&format!("/contacts/?locationId={LOC}"))
        .await;
    assert_eq!(pit.status, 401);
    assert_eq!(pit.body["message"], "Location is not active");
}

#[tokio::test]
async fn expired_access_tokens_are_refused() {
    let sandbox = start(config()).await;
    let issued = post(&sandbox, &refresh("rt-seed")).await;
    let client = Client::with_token(&sandbox, issued.body["access_token"].as_str().unwrap());
    assert_eq!(
        client.get(&format!("/contacts/?locationId={LOC}")).await.status,
        200
    );
    sandbox.expire_access_tokens();
    let expired = client.get(&format!("/contacts/?locationId={LOC}")).await;
    assert_eq!(expired.status, 401);
    assert_eq!(
        expired.body,
        json!({"statusCode": 401, "message": "Invalid JWT", "error": "Unauthorized"})
    );
}
