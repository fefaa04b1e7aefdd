//! `POST /oauth/token` (oauth.json, `GetAccessCodebodyDto` → `GetAccessCodeSuccessfulResponseDto`).
//!
//! Grants are single use: an authorization code or refresh token is spent by the answer that
//! redeems it, and a refresh answer carries a new refresh token. A refused grant (unknown,
//! already used, other client, inactive location) is left exactly as it was.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::routes::{Reply, reply};
use crate::server::Shared;
use crate::state::{Grant, GrantKind};

pub(crate) async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Reply {
    shared.count(|s| s.token_requests += 1);
    let outcome = grant(&shared, &headers, &body);
    shared.count(|s| match &outcome {
        Ok(_) => s.token_success += 1,
        Err(ApiError::OAuth {
            error: "invalid_grant",
            ..
        }) => s.token_invalid_grant += 1,
        Err(_) => {}
    });
    outcome
}

fn grant(shared: &Shared, headers: &HeaderMap, body: &Bytes) -> Reply {
    let form_encoded = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_encoded {
        return Err(invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map_err(|e| invalid_request(format!("Malformed form body: {e}")))?
        .into_iter()
        .collect();
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let missing: Vec<String> = ["client_id", "client_secret", "grant_type"]
        .into_iter()
        .filter(|name| field(name).is_none())
        .map(|name| format!("{name} should not be empty"))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::Unprocessable(missing));
    }
    let (client_id, secret) = (
        field("client_id").unwrap_or_default(),
        field("client_secret").unwrap_or_default(),
    );
    if field("user_type").is_some_and(|t| t != "Location") {
        return Err(invalid_request(
            "The sandbox issues Location tokens only (user_type=Location)",
        ));
    }
    let (kind, value, what) = match field("grant_type") {
        Some("refresh_token") => (GrantKind::Refresh, field("refresh_token"), "refresh token"),
        Some("authorization_code") => (GrantKind::Code, field("code"), "authorization code"),
        _ => {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant type: use authorization_code or refresh_token",
            ));
        }
    };
    let mut state = shared.state();
    let client = state
        .clients
        .get(client_id)
        .filter(|c| c.client_secret == secret)
        .cloned()
        .ok_or_else(|| {
            ApiError::oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Invalid client: client credentials are invalid",
            )
        })?;
    let invalid_grant = || {
        ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            format!("Invalid grant: {what} is invalid"),
        )
    };
    let grant: Grant = value
        .and_then(|v| state.grants_mut(kind).get(v))
        .filter(|g| g.client_id == client.client_id)
        .cloned()
        .ok_or_else(invalid_grant)?;
    let (company_id, user_id, active) = match state.locations.get(&grant.location_id) {
        Some(loc) => (loc.company_id.clone(), loc.user_id.clone(), loc.active),
        None => return Err(invalid_grant()),
    };
    if !active {
        return Err(invalid_request("Location is not active"));
    }
    if let Some(value) = value {
        state.grants_mut(kind).remove(value);
    }
    let access_token = format!("sbx-at-{}", state.random_alnum(40));
    let refresh_token = format!("sbx-rt-{}", state.random_alnum(40));
    let expires_at = Instant::now() + shared.access_token_ttl;
    state.add_token(&access_token, &grant.location_id, Some(expires_at));
    state
        .grants_mut(GrantKind::Refresh)
        .insert(refresh_token.clone(), grant.clone());
    reply(
        StatusCode::OK,
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": shared.access_token_ttl.as_secs(),
            "refresh_token": refresh_token,
            "scope": client.scope,
            "userType": "Location",
            "locationId": grant.location_id,
            "companyId": company_id,
            "userId": user_id,
            "isBulkInstallation": false,
        }),
    )
}

fn invalid_request(description: impl Into<String>) -> ApiError {
    ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
}
