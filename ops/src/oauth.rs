//! `oauth install` (an authorization code from the app's install redirect → the location's token
//! pair, stored in its secret in the shape the worker reads) and `oauth status` (what a GHL
//! secret holds: which location, which kind of credential, when the access token expires). No
//! token or client secret is ever printed.

use lms_ghl::ghl::{GhlError, TokenEndpoint};
use lms_ghl::ports::SecretSource;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("GHL refused the authorization code: {0}")]
    Exchange(#[from] GhlError),
    #[error("GHL secret {id}: {detail}")]
    Secret { id: String, detail: String },
}

/// What `install` stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub location_id: String,
    pub expires_at: i64,
}

/// What the app gives for one location's install.
pub struct Install<'a> {
    pub secret_id: &'a str,
    pub location_id: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    pub code: &'a SecretString,
    pub redirect_uri: Option<&'a str>,
}

/// Trades the code for the first token pair and writes the secret (replacing what it held).
pub async fn install(
    secrets: &dyn SecretSource,
    endpoint: &TokenEndpoint,
    install: &Install<'_>,
    now: i64,
) -> Result<Installed, OAuthError> {
    let answer = endpoint
        .exchange_code(
            install.client_id,
            install.client_secret,
            install.code,
            install.redirect_uri,
            install.location_id,
        )
        .await?;
    let refresh_token = answer.refresh_token.ok_or_else(|| OAuthError::Secret {
        id: install.secret_id.to_owned(),
        detail: "GHL's answer has no refresh token; nothing stored".into(),
    })?;
    let expires_at = now + answer.expires_in.unwrap_or(86_399);
    let document = serde_json::json!({
        "locationId": install.location_id,
        "clientId": install.client_id,
        "clientSecret": install.client_secret.expose_secret(),
        "accessToken": answer.access_token.expose_secret(),
        "refreshToken": refresh_token.expose_secret(),
        "expiresAt": expires_at,
    });
    secrets
        .put_secret_string(install.secret_id, &SecretString::from(document.to_string()))
        .await
        .map_err(|e| OAuthError::Secret {
            id: install.secret_id.to_owned(),
            detail: e.to_string(),
        })?;
    Ok(Installed {
        location_id: install.location_id.to_owned(),
        expires_at,
    })
}

/// What one GHL secret holds, without its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStatus {
    PrivateIntegrationToken { location_id: String },
    OAuth { location_id: String, expires_at: i64 },
}

pub async fn status(secrets: &dyn SecretSource, secret_id: &str) -> Result<TokenStatus, OAuthError> {
    let problem = |detail: &str| OAuthError::Secret {
        id: secret_id.to_owned(),
        detail: detail.to_owned(),
    };
    let text = secrets
        .secret_string(secret_id)
        .await
        .map_err(|e| problem(&e.to_string()))?;
    let doc: Value = serde_json::from_str(text.expose_secret()).map_err(|_| problem("not JSON"))?;
    let location_id = doc["locationId"]
        .as_str()
        .ok_or_else(|| problem("no locationId"))?
        .to_owned();
    if doc.get("privateIntegrationToken").is_some() {
        return Ok(TokenStatus::PrivateIntegrationToken { location_id });
    }
    let expires_at = doc["expiresAt"]
        .as_i64()
        .ok_or_else(|| problem("neither privateIntegrationToken nor an OAuth pair with expiresAt"))?;
    Ok(TokenStatus::OAuth {
        location_id,
        expires_at,
    })
}
