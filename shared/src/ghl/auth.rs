//! GHL credentials: a Private Integration Token, or OAuth 2.0 with safe rotation.
//!
//! GHL refresh tokens are single use: every refresh returns a new pair and voids the old refresh
//! token. So across all concurrent Lambdas at most one refresh per token may run: the refresher
//! holds a DynamoDB lease, writes the new pair to Secrets Manager *before* using it, and everyone
//! else waits and re-reads the secret.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::RwLock;
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::client::{Credentials, LocationAuth, parse_base};
use super::error::GhlError;
use super::types::TokenAnswer;
use crate::keys;
use crate::ports::{Lease, PortError, SecretSource};
use crate::secrets::{CachedSecret, SecretError, parse_secret};

/// A location's Private Integration Token secret (`GHL_SECRET_ID`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GhlCredentials {
    pub location_id: String,
    pub private_integration_token: SecretString,
}

/// The GHL secret document: either kind, told apart by its fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum GhlSecret {
    PrivateIntegration(GhlCredentials),
    OAuth(OAuthTokens),
}

/// The OAuth secret document (`expiresAt` in epoch seconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthTokens {
    pub location_id: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub expires_at: i64,
}

impl OAuthTokens {
    fn fresh(&self, margin: Duration) -> bool {
        self.expires_at - margin.as_secs() as i64 > time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn to_secret(&self) -> SecretString {
        SecretString::from(
            serde_json::json!({
                "locationId": self.location_id,
                "clientId": self.client_id,
                "clientSecret": self.client_secret.expose_secret(),
                "accessToken": self.access_token.expose_secret(),
                "refreshToken": self.refresh_token.expose_secret(),
                "expiresAt": self.expires_at,
            })
            .to_string(),
        )
    }

    fn auth(&self) -> LocationAuth {
        LocationAuth {
            location_id: self.location_id.clone(),
            token: self.access_token.clone(),
        }
    }
}

fn same(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}

fn secret_error(err: SecretError) -> GhlError {
    match err {
        SecretError::Unavailable(e) => GhlError::Credentials(e.to_string()),
        malformed @ SecretError::Malformed { .. } => GhlError::CredentialsInvalid(malformed.to_string()),
    }
}

fn port_error(err: PortError) -> GhlError {
    GhlError::Credentials(err.to_string())
}

/// A Private Integration Token and its location, read from Secrets Manager.
pub struct PrivateIntegrationToken(pub CachedSecret<GhlCredentials>);

#[async_trait]
impl Credentials for PrivateIntegrationToken {
    async fn location_auth(&self) -> Result<LocationAuth, GhlError> {
        let creds = self.0.get().await.map_err(secret_error)?;
        Ok(LocationAuth {
            location_id: creds.location_id.clone(),
            token: creds.private_integration_token.clone(),
        })
    }
}

/// `POST /oauth/token` (form-encoded), for both grants.
#[derive(Clone)]
pub struct TokenEndpoint {
    http: reqwest::Client,
    url: Url,
}

impl TokenEndpoint {
    pub fn new(http: reqwest::Client, base_url: &str) -> Result<Self, GhlError> {
        let mut url = parse_base(base_url)?;
        url.path_segments_mut()
            .map_err(|_| GhlError::CredentialsInvalid("GHL base URL cannot be a base".into()))?
            .extend(["oauth", "token"]);
        Ok(Self { http, url })
    }

    /// Trades a refresh token for a new pair (the old refresh token is void afterwards).
    pub async fn refresh(&self, tokens: &OAuthTokens) -> Result<TokenAnswer, GhlError> {
        let form = [
            ("client_id", tokens.client_id.as_str()),
            ("client_secret", tokens.client_secret.expose_secret()),
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token.expose_secret()),
            ("user_type", "Location"),
        ];
        self.post(&form, &tokens.location_id).await
    }

    /// Trades an authorization code (from the app's install redirect) for the first pair.
    pub async fn exchange_code(
        &self,
        client_id: &str,
        client_secret: &SecretString,
        code: &SecretString,
        redirect_uri: Option<&str>,
        location_id: &str,
    ) -> Result<TokenAnswer, GhlError> {
        let mut form = vec![
            ("client_id", client_id),
            ("client_secret", client_secret.expose_secret()),
            ("grant_type", "authorization_code"),
            ("code", code.expose_secret()),
            ("user_type", "Location"),
        ];
        if let Some(uri) = redirect_uri {
            form.push(("redirect_uri", uri));
        }
        self.post(&form, location_id).await
    }

    async fn post(&self, form: &[(&str, &str)], location_id: &str) -> Result<TokenAnswer, GhlError> {
        let response = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|_| GhlError::Decode {
                status,
                problem: "token answer without access_token".into(),
            });
        }
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        if text.contains("invalid_grant") || text.contains("invalid grant") {
            Err(GhlError::InvalidGrant {
                location_id: location_id.to_owned(),
            })
        } else if text.contains("not active") {
            Err(GhlError::LocationInactive {
                location_id: location_id.to_owned(),
            })
        } else {
            Err(GhlError::from_response(status, &bytes))
        }
    }
}

#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// Refresh this long before `expiresAt`.
    pub refresh_margin: Duration,
    /// The refresher's lease; longer than one token request can take.
    pub lease_ttl: Duration,
    /// How long a process waits for another one's refresh before giving up (retryable).
    pub wait_for_peer: Duration,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::from_secs(300),
            lease_ttl: Duration::from_secs(30),
            wait_for_peer: Duration::from_secs(25),
        }
    }
}

/// OAuth credentials of one location, rotated safely across processes.
pub struct OAuthCredentials {
    secret_id: String,
    secrets: Arc<dyn SecretSource>,
    lease: Arc<dyn Lease>,
    endpoint: TokenEndpoint,
    settings: OAuthSettings,
    /// Identifies this process as a lease holder.
    owner: String,
    current: RwLock<Option<OAuthTokens>>,
}

impl OAuthCredentials {
    pub fn new(
        secret_id: impl Into<String>,
        secrets: Arc<dyn SecretSource>,
        lease: Arc<dyn Lease>,
        endpoint: TokenEndpoint,
        settings: OAuthSettings,
    ) -> Self {
        Self {
            secret_id: secret_id.into(),
            secrets,
            lease,
            endpoint,
            settings,
            owner: uuid::Uuid::new_v4().to_string(),
            current: RwLock::new(None),
        }
    }

    async fn read_secret(&self) -> Result<OAuthTokens, GhlError> {
        let raw = self
            .secrets
            .secret_string(&self.secret_id)
            .await
            .map_err(port_error)?;
        match parse_secret::<GhlSecret>(&self.secret_id, &raw).map_err(secret_error)? {
            GhlSecret::OAuth(tokens) => Ok(tokens),
            GhlSecret::PrivateIntegration(_) => Err(GhlError::CredentialsInvalid(format!(
                "secret {} holds a Private Integration Token, not OAuth tokens",
                self.secret_id
            ))),
        }
    }

    async fn adopt(&self, tokens: OAuthTokens) -> LocationAuth {
        let auth = tokens.auth();
        *self.current.write().await = Some(tokens);
        auth
    }

    /// Gets a token newer than `stale`: by waiting for a peer's refresh or by doing it here.
    async fn refresh_from(&self, stale: &SecretString) -> Result<LocationAuth, GhlError> {
        let lease_name = keys::oauth_refresh_lease(&self.secret_id);
        let give_up = Instant::now() + self.settings.wait_for_peer;
        loop {
            let latest = self.read_secret().await?;
            if !same(&latest.access_token, stale) && latest.fresh(self.settings.refresh_margin) {
                return Ok(self.adopt(latest).await);
            }
            if self
                .lease
                .try_acquire(&lease_name, &self.owner, self.settings.lease_ttl)
                .await
                .map_err(port_error)?
            {
                return self.refresh_holding_lease(&lease_name, stale).await;
            }
            if Instant::now() >= give_up {
                return Err(GhlError::Credentials(format!(
                    "another process is refreshing the OAuth token of {} and has not finished",
                    latest.location_id
                )));
            }
            tokio::time::sleep(Duration::from_millis(100).mul_f64(1.0 + 2.0 * fastrand::f64())).await;
        }
    }

    async fn refresh_holding_lease(
        &self,
        lease_name: &str,
        stale: &SecretString,
    ) -> Result<LocationAuth, GhlError> {
        // A peer may have finished between our read and our lease.
        let latest = match self.read_secret().await {
            Ok(latest) => latest,
            Err(e) => {
                self.release(lease_name).await;
                return Err(e);
            }
        };
        if !same(&latest.access_token, stale) && latest.fresh(self.settings.refresh_margin) {
            self.release(lease_name).await;
            return Ok(self.adopt(latest).await);
        }
        let answer = match self.endpoint.refresh(&latest).await {
            Ok(answer) => answer,
            Err(e) => {
                crate::telemetry::metric::count(crate::telemetry::metric::TOKEN_REFRESH_FAILURES, None);
                self.release(lease_name).await;
                return Err(e);
            }
        };
        let rotated = OAuthTokens {
            access_token: answer.access_token,
            // GHL always sends one; keeping the old one otherwise is the least bad choice.
            refresh_token: answer.refresh_token.unwrap_or(latest.refresh_token),
            expires_at: time::OffsetDateTime::now_utc().unix_timestamp()
                + answer.expires_in.unwrap_or(86_399),
            ..latest
        };
        // Stored before use: the old refresh token is already void.
        let mut stored = Err(PortError::new("secrets", "not tried"));
        for attempt in 0..3u32 {
            stored = self
                .secrets
                .put_secret_string(&self.secret_id, &rotated.to_secret())
                .await;
            if stored.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt + 1))).await;
        }
        match stored {
            Ok(()) => {
                info!(location_id = %rotated.location_id, "OAuth token refreshed and stored");
                self.release(lease_name).await;
            }
            // Keep the lease: peers wait for it to expire rather than spend the void refresh token.
            Err(e) => error!(location_id = %rotated.location_id, error = %e,
                "OAuth token refreshed but not stored; other processes will need a new authorisation"),
        }
        Ok(self.adopt(rotated).await)
    }

    async fn release(&self, lease_name: &str) {
        if let Err(e) = self.lease.release(lease_name, &self.owner).await {
            warn!(error = %e, "could not release the OAuth refresh lease; it expires by itself");
        }
    }
}

#[async_trait]
impl Credentials for OAuthCredentials {
    async fn location_auth(&self) -> Result<LocationAuth, GhlError> {
        if let Some(tokens) = self.current.read().await.as_ref()
            && tokens.fresh(self.settings.refresh_margin)
        {
            return Ok(tokens.auth());
        }
        let stored = self.read_secret().await?;
        if stored.fresh(self.settings.refresh_margin) {
            return Ok(self.adopt(stored).await);
        }
        self.refresh_from(&stored.access_token).await
    }

    async fn after_unauthorized(&self, rejected: &LocationAuth) -> Result<Option<LocationAuth>, GhlError> {
        self.refresh_from(&rejected.token).await.map(Some)
    }
}

/// Builds the credentials the GHL secret describes.
pub async fn credentials_from_secret(
    secret_id: &str,
    secrets: Arc<dyn SecretSource>,
    lease: Arc<dyn Lease>,
    endpoint: TokenEndpoint,
    cache_ttl: Duration,
) -> Result<Arc<dyn Credentials>, GhlError> {
    let raw = secrets.secret_string(secret_id).await.map_err(port_error)?;
    match parse_secret::<GhlSecret>(secret_id, &raw).map_err(secret_error)? {
        GhlSecret::PrivateIntegration(_) => Ok(Arc::new(PrivateIntegrationToken(CachedSecret::new(
            secrets, secret_id, cache_ttl,
        )))),
        GhlSecret::OAuth(_) => Ok(Arc::new(OAuthCredentials::new(
            secret_id,
            secrets,
            lease,
            endpoint,
            OAuthSettings::default(),
        ))),
    }
}
