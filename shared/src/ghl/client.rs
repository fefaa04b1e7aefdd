use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::custom_fields::CustomFieldCache;
use super::enrollments::ReadinessCache;
use super::error::GhlError;
use super::rate::{RateBudget, RateHeaders};
use super::retry::{Idempotence, RetryPolicy};
use crate::telemetry::metric;

/// The API version every v2 request must name.
pub const API_VERSION: &str = "2021-07-28";

#[derive(Debug, Clone)]
pub struct GhlConfig {
    pub base_url: String,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for GhlConfig {
    fn default() -> Self {
        Self {
            base_url: "https://services.leadconnectorhq.com".into(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// The location to act on and the bearer token that may act on it.
#[derive(Debug, Clone)]
pub struct LocationAuth {
    pub location_id: String,
    pub token: SecretString,
}

/// Where the client gets its token: a Private Integration Token or OAuth.
#[async_trait]
pub trait Credentials: Send + Sync {
    async fn location_auth(&self) -> Result<LocationAuth, GhlError>;

    /// GHL answered 401 to `rejected`: a fresh token if this kind of credential can get one.
    async fn after_unauthorized(&self, _rejected: &LocationAuth) -> Result<Option<LocationAuth>, GhlError> {
        Ok(None)
    }
}

/// The one HTTP client setup (`crate::http::client`), for GHL's API and OAuth token endpoint.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, GhlError> {
    crate::http::client(timeout).map_err(GhlError::from)
}

pub(crate) fn parse_base(url: &str) -> Result<Url, GhlError> {
    crate::http::base_url(url).map_err(|e| GhlError::CredentialsInvalid(format!("GHL base URL {e}")))
}

/// GHL API v2 client: version header, bearer auth (refreshed once on 401 where possible), the
/// shared rate budget, the retry policy, and GHL's error bodies turned into `GhlError`.
#[derive(Clone)]
pub struct GhlClient {
    inner: Arc<Inner>,
    /// Retries stop in time for the invocation to finish by this instant.
    deadline: Option<Instant>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    credentials: Arc<dyn Credentials>,
    budget: Arc<dyn RateBudget>,
    retry: RetryPolicy,
    custom_fields: CustomFieldCache,
    readiness: ReadinessCache,
}

/// One API request, described once so that retries repeat it exactly.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub path: &'a [&'a str],
    pub query: Vec<(&'static str, String)>,
    pub body: Option<serde_json::Value>,
    pub idempotence: Idempotence,
}

impl<'a> Call<'a> {
    pub fn get(path: &'a [&'a str]) -> Self {
        Self {
            method: Method::GET,
            path,
            query: vec![],
            body: None,
            idempotence: Idempotence::Idempotent,
        }
    }

    pub fn send(
        method: Method,
        path: &'a [&'a str],
        body: impl serde::Serialize,
        idempotence: Idempotence,
    ) -> Self {
        Self {
            method,
            path,
            query: vec![],
            body: serde_json::to_value(body).ok(),
            idempotence,
        }
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }
}

impl GhlClient {
    pub fn new(
        config: &GhlConfig,
        credentials: Arc<dyn Credentials>,
        budget: Arc<dyn RateBudget>,
    ) -> Result<Self, GhlError> {
        Self::with_http(config, http_client(config.timeout)?, credentials, budget)
    }

    /// The same over an existing `http_client`, so that every location and the OAuth token
    /// endpoint share one connection pool to GHL.
    pub fn with_http(
        config: &GhlConfig,
        http: reqwest::Client,
        credentials: Arc<dyn Credentials>,
        budget: Arc<dyn RateBudget>,
    ) -> Result<Self, GhlError> {
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base: parse_base(&config.base_url)?,
                credentials,
                budget,
                retry: config.retry.clone(),
                custom_fields: CustomFieldCache::default(),
                readiness: ReadinessCache::default(),
            }),
            deadline: None,
        })
    }

    /// The same client, retrying only while there is time left before `deadline`.
    pub fn with_deadline(&self, deadline: Instant) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            deadline: Some(deadline),
        }
    }

    /// The location this client acts on.
    pub async fn location_id(&self) -> Result<String, GhlError> {
        Ok(self.inner.credentials.location_auth().await?.location_id)
    }

    pub(crate) fn custom_field_cache(&self) -> &CustomFieldCache {
        &self.inner.custom_fields
    }

    pub(crate) fn readiness_cache(&self) -> &ReadinessCache {
        &self.inner.readiness
    }

    pub(crate) async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, GhlError> {
        let inner = &self.inner;
        let mut attempts = inner.retry.attempts(self.deadline);
        let mut refreshed = false;
        let mut auth = inner.credentials.location_auth().await?;
        loop {
            // Leave the request itself time to finish before the deadline.
            let slot_deadline = self
                .deadline
                .map(|d| d.checked_sub(inner.retry.reserve).unwrap_or(d));
            let waiting = Instant::now();
            inner.budget.acquire(&auth.location_id, slot_deadline).await?;
            metric::millis(metric::GHL_BUDGET_WAIT_MS, waiting.elapsed());
            let error = match self.send_once(&auth, &call).await {
                Ok((status, bytes)) => return decode(status, &bytes, &call),
                Err(error) => error,
            };
            if matches!(error, GhlError::Unauthorized { status: 401, .. }) && !refreshed {
                refreshed = true;
                if let Some(fresh) = inner.credentials.after_unauthorized(&auth).await? {
                    auth = fresh;
                    continue;
                }
            }
            if matches!(error, GhlError::RateLimited { .. }) {
                inner.budget.throttled(&auth.location_id);
            }
            if let Some(delay) = attempts.next_wait(&error, call.idempotence) {
                metric::count(metric::API_RETRIES, Some(("Api", "ghl")));
                warn!(reason = error.reason(), error = %error, delay_ms = delay.as_millis() as u64, "GHL call failed; retrying");
                tokio::time::sleep(delay).await;
                continue;
            }
            return Err(error);
        }
    }

    async fn send_once(&self, auth: &LocationAuth, call: &Call<'_>) -> Result<(u16, bytes::Bytes), GhlError> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|_| GhlError::CredentialsInvalid("GHL base URL cannot be a base".into()))?
            .extend(call.path);
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url)
            .bearer_auth(auth.token.expose_secret())
            .header("Version", API_VERSION)
            .header(reqwest::header::ACCEPT, "application/json");
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        metric::count(metric::GHL_CALLS, Some(("Location", &auth.location_id)));
        let response = request.send().await?;
        let status = response.status().as_u16();
        if status == 429 {
            metric::count(metric::GHL_429, Some(("Location", &auth.location_id)));
        }
        metric::count_by(
            metric::GHL_RESPONSES,
            &[("Endpoint", endpoint(call)), ("Status", status.to_string())],
        );
        self.inner
            .budget
            .observe(&auth.location_id, &RateHeaders::parse(response.headers()));
        let bytes = response.bytes().await?;
        debug!(method = %call.method, path = %call.path.join("/"), status, "GHL call");
        if (200..300).contains(&status) {
            Ok((status, bytes))
        } else {
            Err(GhlError::from_response(status, &bytes))
        }
    }
}

/// A call's endpoint for the metrics, ids left out (`POST /contacts/{id}/tasks`): GHL's ids are
/// 20 letters and digits, its path words letters only.
fn endpoint(call: &Call<'_>) -> String {
    let mut endpoint = call.method.to_string();
    for segment in call.path {
        endpoint.push('/');
        let is_id = segment.len() >= 16 || segment.chars().any(|c| !c.is_ascii_alphabetic());
        endpoint.push_str(if is_id { "{id}" } else { segment });
    }
    endpoint.replacen('/', " /", 1)
}

fn decode<T: DeserializeOwned>(status: u16, bytes: &[u8], call: &Call<'_>) -> Result<T, GhlError> {
    // Some answers (e.g. DELETE) may come without a body.
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| GhlError::Decode {
        status,
        problem: format!(
            "{} /{}: at `{}`: {}",
            call.method,
            call.path.join("/"),
            e.path(),
            crate::json_error::kind(e.inner())
        ),
    })
}
