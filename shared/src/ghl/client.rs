use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::debug;

use super::error::GhlError;
use super::types::{TagsBody, UpsertContact, UpsertContactResponse};
use crate::secrets::{CachedSecret, GhlCredentials, SecretError};

/// The API version every v2 request must name.
pub const API_VERSION: &str = "2021-07-28";

#[derive(Debug, Clone)]
pub struct GhlConfig {
    pub base_url: String,
    pub timeout: Duration,
}

impl Default for GhlConfig {
    fn default() -> Self {
        Self {
            base_url: "https://services.leadconnectorhq.com".into(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// The location to act on and the bearer token that may act on it.
#[derive(Debug, Clone)]
pub struct LocationAuth {
    pub location_id: String,
    pub token: SecretString,
}

/// Where the client gets its token. Private Integration Tokens today; OAuth plugs in here.
#[async_trait]
pub trait Credentials: Send + Sync {
    async fn location_auth(&self) -> Result<LocationAuth, GhlError>;
}

/// A Private Integration Token and its location, read from Secrets Manager.
pub struct PrivateIntegrationToken(pub CachedSecret<GhlCredentials>);

#[async_trait]
impl Credentials for PrivateIntegrationToken {
    async fn location_auth(&self) -> Result<LocationAuth, GhlError> {
        let creds = self.0.get().await.map_err(|e| match e {
            SecretError::Unavailable(e) => GhlError::Credentials(e.to_string()),
            malformed @ SecretError::Malformed { .. } => GhlError::CredentialsInvalid(malformed.to_string()),
        })?;
        Ok(LocationAuth {
            location_id: creds.location_id.clone(),
            token: creds.private_integration_token.clone(),
        })
    }
}

/// The one HTTP client setup for GHL: rustls, a total timeout per request, the version header,
/// bearer auth, and GHL's error bodies turned into `GhlError`.
#[derive(Clone)]
pub struct GhlClient {
    http: reqwest::Client,
    base: Url,
    credentials: Arc<dyn Credentials>,
}

impl GhlClient {
    pub fn new(config: &GhlConfig, credentials: Arc<dyn Credentials>) -> Result<Self, GhlError> {
        let mut base = Url::parse(&config.base_url)
            .map_err(|e| GhlError::CredentialsInvalid(format!("GHL base URL {:?}: {e}", config.base_url)))?;
        if base.cannot_be_a_base() {
            return Err(GhlError::CredentialsInvalid(format!(
                "GHL base URL {:?} cannot be a base",
                config.base_url
            )));
        }
        // Path segments are appended below, so the base must not end in an empty one.
        if base.path().ends_with('/') {
            let trimmed = base.path().trim_end_matches('/').to_owned();
            base.set_path(&trimmed);
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(5).min(config.timeout))
            .user_agent(concat!("lms-ghl-sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(GhlError::from)?;
        Ok(Self {
            http,
            base,
            credentials,
        })
    }

    /// The location this client writes to.
    pub async fn location_id(&self) -> Result<String, GhlError> {
        Ok(self.credentials.location_auth().await?.location_id)
    }

    /// `POST /contacts/upsert`: creates the contact or updates the one GHL's duplicate rules match.
    pub async fn upsert_contact(&self, body: &UpsertContact) -> Result<UpsertContactResponse, GhlError> {
        self.send(Method::POST, &["contacts", "upsert"], Some(body)).await
    }

    /// `POST /contacts/:contactId/tags`: adds tags, leaving the contact's others in place.
    pub async fn add_tags(&self, contact_id: &str, tags: &[String]) -> Result<(), GhlError> {
        let _: serde::de::IgnoredAny = self
            .send(
                Method::POST,
                &["contacts", contact_id, "tags"],
                Some(&TagsBody { tags }),
            )
            .await?;
        Ok(())
    }

    async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<T, GhlError> {
        let auth = self.credentials.location_auth().await?;
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| GhlError::CredentialsInvalid("GHL base URL cannot be a base".into()))?
            .extend(segments);
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(auth.token.expose_secret())
            .header("Version", API_VERSION)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        debug!(%method, path = %segments.join("/"), status, "GHL call");
        if !(200..300).contains(&status) {
            return Err(GhlError::from_response(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| GhlError::Decode {
            status,
            problem: e.to_string(),
        })
    }
}
