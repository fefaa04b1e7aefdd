//! OAuth rotation across "processes" (separate credential instances) sharing moto's DynamoDB
//! lease and Secrets Manager secret, against a token endpoint that counts its calls.

use std::sync::Arc;
use std::time::Duration;

use integration_tests::{LOCATION_ID, now, oauth_credentials as credentials, oauth_deployment, oauth_secret};
use lms_ghl::aws::SecretsManager;
use lms_ghl::ghl::{Credentials, GhlClient, GhlConfig, GhlError, Unlimited};
use lms_ghl::ports::SecretSource;
use secrecy::ExposeSecret;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn token_answer(access: &str, refresh: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 86399, "refresh_token": refresh,
        "scope": "contacts.write", "userType": "Location", "locationId": LOCATION_ID, "userId": "u1"
    }))
}

#[tokio::test]
async fn twenty_concurrent_callers_with_an_expired_token_refresh_exactly_once() {
    let ghl = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=refresh-1"))
        .respond_with(token_answer("access-2", "refresh-2").set_delay(Duration::from_millis(300)))
        .expect(1)
        .mount(&ghl)
        .await;
    let deployment = oauth_deployment(&oauth_secret("access-1", "refresh-1", now() - 10)).await;

    let callers: Vec<_> = (0..20)
        .map(|_| Arc::new(credentials(&deployment, &ghl.uri())))
        .collect();
    let tasks: Vec<_> = callers
        .iter()
        .map(|c| {
            let c = Arc::clone(c);
            tokio::spawn(async move { c.location_auth().await })
        })
        .collect();
    for task in tasks {
        let auth = task
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("caller failed: {e}"));
        assert_eq!(auth.token.expose_secret(), "access-2");
    }
    ghl.verify().await;
    let stored = SecretsManager::new(aws_sdk_secretsmanager::Client::new(&deployment.sdk))
        .secret_string(&deployment.ghl_secret_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        stored.expose_secret().contains("\"refreshToken\":\"refresh-2\""),
        "new pair stored before use"
    );
}

#[tokio::test]
async fn invalid_grant_is_a_permanent_error_naming_the_location() {
    let ghl = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant", "error_description": "Invalid grant: refresh token is invalid"
        })))
        .expect(1)
        .mount(&ghl)
        .await;
    let deployment = oauth_deployment(&oauth_secret("access-1", "refresh-used", now() - 10)).await;
    let err = credentials(&deployment, &ghl.uri()).location_auth().await.err();
    let err = err.unwrap_or_else(|| panic!("refresh with a used token must fail"));
    assert!(matches!(err, GhlError::InvalidGrant { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains(LOCATION_ID), "{err}");
}

#[tokio::test]
async fn a_401_refreshes_once_and_repeats_the_request() -> Result<(), GhlError> {
    let ghl = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"statusCode": 401, "message": "Invalid JWT"})),
        )
        .expect(1)
        .mount(&ghl)
        .await;
    Mock::given(method("GET"))
        .and(path("/contacts/c1"))
        .and(header("authorization", "Bearer access-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"contact": {"id": "c1"}})))
        .expect(1)
        .mount(&ghl)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token_answer("access-2", "refresh-2"))
        .expect(1)
        .mount(&ghl)
        .await;
    // The stored token looks fresh, but GHL has revoked it.
    let deployment = oauth_deployment(&oauth_secret("access-1", "refresh-1", now() + 3600)).await;
    let config = GhlConfig {
        base_url: ghl.uri(),
        ..GhlConfig::default()
    };
    let client = GhlClient::new(
        &config,
        Arc::new(credentials(&deployment, &ghl.uri())),
        Arc::new(Unlimited),
    )?;
    assert_eq!(client.get_contact("c1").await?.id, "c1");
    ghl.verify().await;
    Ok(())
}
