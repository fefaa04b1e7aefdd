//! The one request path of the LMS clients and outbound destinations: rate budget → request →
//! headers observed → retry, over the client setup, retry policy and budget every API shares
//! (`crate::http`). The clients build requests and read answers; nothing here knows a platform.

use crate::telemetry::metric;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::LmsError;
use crate::http::{BudgetError, Failure, Idempotence, RateBudget, RateHeaders, RetryClass, RetryPolicy};
use crate::ingest::signature;

/// How a request proves who sends it.
pub(crate) enum Auth {
    /// HTTP Basic (Skilljar's key with an empty password, TalentLMS v1, Trainual).
    Basic {
        user: SecretString,
        password: SecretString,
    },
    /// A secret header (TalentLMS v2's `X-API-Key`), marked sensitive so no debug output shows it.
    Header { name: HeaderName, value: SecretString },
    /// `X-Webhook-Signature` over the body, made afresh for each attempt so that a retry is
    /// never refused as stale.
    Signed { secret: SecretString },
}

pub(crate) enum Body {
    Empty,
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
}

/// One API request, described once so that retries repeat it exactly.
pub(crate) struct Request {
    /// For logs: the operation, never the URL (it may carry an email or a capability).
    pub operation: &'static str,
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Body,
    pub idempotence: Idempotence,
}

impl Request {
    pub fn new(operation: &'static str, method: Method, url: Url, idempotence: Idempotence) -> Self {
        Self {
            operation,
            method,
            url,
            headers: Vec::new(),
            body: Body::Empty,
            idempotence,
        }
    }

    pub fn get(operation: &'static str, url: Url) -> Self {
        Self::new(operation, Method::GET, url, Idempotence::Idempotent)
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    pub fn form(mut self, fields: Vec<(String, String)>) -> Self {
        self.body = Body::Form(fields);
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// `base` with `segments` appended, each percent-encoded (ids cannot escape their segment).
pub(crate) fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    // Bases come from `crate::http::base_url`, which refuses those that cannot take segments.
    if let Ok(mut path) = url.path_segments_mut() {
        path.extend(segments);
    }
    url
}

/// A 2xx answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// Why one request failed, before a client says what it means on its platform.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    #[error("answered {status}")]
    Status {
        status: u16,
        body: Bytes,
        retry_after: Option<Duration>,
    },
    #[error("timed out")]
    Timeout,
    /// The request never reached the platform, so it certainly had no effect.
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("transport: {0}")]
    Transport(String),
    #[error(transparent)]
    Budget(#[from] BudgetError),
    /// The account's secret is unreadable, or holds what a header cannot carry: an operator
    /// must fix it. The text names the secret and a path, never its content.
    #[error("{0}")]
    Credentials(String),
}

impl From<reqwest::Error> for CallError {
    fn from(err: reqwest::Error) -> Self {
        // Without the URL: it may carry an email, or be an outbound destination's capability.
        if err.is_timeout() {
            CallError::Timeout
        } else if err.is_connect() {
            CallError::Connect(err.without_url().to_string())
        } else {
            CallError::Transport(err.without_url().to_string())
        }
    }
}

impl RetryClass for CallError {
    fn failure(&self) -> Failure {
        match self {
            CallError::Status { status: 429, .. } => Failure::Throttled,
            CallError::Status { status, .. } if *status == 408 || *status >= 500 => Failure::MaybeActed,
            CallError::Connect(_) => Failure::NotSent,
            CallError::Timeout | CallError::Transport(_) => Failure::MaybeActed,
            // The budget has waited as long as the caller may: the queue's redelivery is next.
            CallError::Budget(_) => Failure::Final,
            _ => Failure::Final,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl CallError {
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// What the failure means to the worker. `what` names the thing a 404 did not find.
    pub fn into_lms(self, platform: &'static str, what: impl FnOnce() -> String) -> LmsError {
        match self {
            CallError::Status { status: 429, .. } | CallError::Budget(_) => {
                LmsError::RateLimited { platform }
            }
            CallError::Status { status, .. } if status >= 500 => LmsError::Server { platform, status },
            CallError::Status {
                status: status @ (401 | 403),
                ..
            } => LmsError::Unauthorized { platform, status },
            CallError::Status { status: 404, .. } => LmsError::NotFound {
                platform,
                what: what(),
            },
            CallError::Status { status, body, .. } => LmsError::Rejected {
                platform,
                status,
                message: error_message(&body),
            },
            CallError::Timeout => LmsError::Timeout { platform },
            CallError::Connect(message) | CallError::Transport(message) => {
                LmsError::Transport { platform, message }
            }
            CallError::Credentials(message) => LmsError::Credentials { platform, message },
        }
    }
}

/// The platform's own words from an error body, read leniently: DRF's `detail`, `message`,
/// `error` (text or `{message}`), `errors` (list or field map), else the start of the text.
pub(crate) fn error_message(body: &[u8]) -> String {
    const MAX: usize = 300;
    fn text(value: &serde_json::Value) -> Option<String> {
        match value {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(items) => {
                let parts: Vec<String> = items.iter().filter_map(text).collect();
                (!parts.is_empty()).then(|| parts.join("; "))
            }
            serde_json::Value::Object(map) => ["message", "detail", "error", "description"]
                .iter()
                .find_map(|k| map.get(*k).and_then(text))
                .or_else(|| {
                    // A field map (`{"email": ["already taken"]}`): name each field.
                    let parts: Vec<String> = map
                        .iter()
                        .filter_map(|(field, v)| text(v).map(|t| format!("{field}: {t}")))
                        .collect();
                    (!parts.is_empty()).then(|| parts.join("; "))
                }),
            _ => None,
        }
    }
    let message = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => text(&value).unwrap_or_else(|| "no message".to_owned()),
        Err(_) => {
            let raw = String::from_utf8_lossy(body);
            let raw = raw.trim();
            if raw.is_empty() {
                "no message".to_owned()
            } else {
                raw.to_owned()
            }
        }
    };
    message.chars().take(MAX).collect()
}

/// The shared pieces one client holds; cheap to clone.
#[derive(Clone)]
pub(crate) struct Transport {
    platform: &'static str,
    http: reqwest::Client,
    budget: Arc<dyn RateBudget>,
    retry: Arc<RetryPolicy>,
    /// Retries stop in time for the invocation to finish by this instant.
    deadline: Option<Instant>,
}

impl Transport {
    pub fn new(
        platform: &'static str,
        http: reqwest::Client,
        budget: Arc<dyn RateBudget>,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            platform,
            http,
            budget,
            retry: Arc::new(retry),
            deadline: None,
        }
    }

    pub fn with_deadline(&self, deadline: Instant) -> Self {
        Self {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    /// Sends `request` for `account` (whose rate budget it spends) until it succeeds, fails for
    /// good, or the retry policy gives up. Non-2xx answers come back as `CallError::Status`.
    pub async fn send(&self, account: &str, auth: &Auth, request: &Request) -> Result<Answer, CallError> {
        let mut attempts = self.retry.attempts(self.deadline);
        loop {
            let error = match self.attempt(account, auth, request).await {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            if let Some(delay) = attempts.next_wait(&error, request.idempotence) {
                metric::count(metric::API_RETRIES, Some(("Api", self.platform)));
                warn!(
                    platform = self.platform,
                    operation = request.operation,
                    error = %error,
                    delay_ms = delay.as_millis() as u64,
                    "LMS call failed; retrying"
                );
                tokio::time::sleep(delay).await;
                continue;
            }
            return Err(error);
        }
    }

    async fn attempt(&self, account: &str, auth: &Auth, request: &Request) -> Result<Answer, CallError> {
        // Leave the request itself time to finish before the deadline.
        let slot_deadline = self
            .deadline
            .map(|d| d.checked_sub(self.retry.reserve).unwrap_or(d));
        self.budget.acquire(account, slot_deadline).await?;

        let mut builder = self
            .http
            .request(request.method.clone(), request.url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let json_bytes = match &request.body {
            Body::Json(value) => {
                Some(serde_json::to_vec(value).map_err(|e| CallError::Transport(e.to_string()))?)
            }
            _ => None,
        };
        builder = match auth {
            Auth::Basic { user, password } => {
                builder.basic_auth(user.expose_secret(), Some(password.expose_secret()))
            }
            Auth::Header { name, value } => {
                let mut value = HeaderValue::from_str(value.expose_secret()).map_err(|_| {
                    CallError::Credentials("the API key cannot be sent in an HTTP header".into())
                })?;
                value.set_sensitive(true);
                builder.header(name, value)
            }
            Auth::Signed { secret } => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let signed = signature::sign(secret, now, json_bytes.as_deref().unwrap_or_default());
                builder.header(signature::SIGNATURE_HEADER, signed)
            }
        };
        builder = match (&request.body, json_bytes) {
            (Body::Json(_), Some(bytes)) => builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes),
            (Body::Form(fields), _) => builder.form(fields),
            _ => builder,
        };

        metric::count(metric::LMS_CALLS, Some(("Platform", self.platform)));
        let response = builder.send().await?;
        let status = response.status().as_u16();
        metric::count_by(
            metric::LMS_CALLS,
            &[
                ("Platform", self.platform.to_owned()),
                ("Operation", request.operation.to_owned()),
                ("Status", status.to_string()),
            ],
        );
        let rate = RateHeaders::parse(response.headers());
        self.budget.observe(account, &rate);
        if status == 429 {
            self.budget.throttled(account);
        }
        let body = response.bytes().await?;
        debug!(
            platform = self.platform,
            operation = request.operation,
            status,
            "LMS call"
        );
        if (200..300).contains(&status) {
            Ok(Answer { status, body })
        } else {
            Err(CallError::Status {
                status,
                body,
                retry_after: rate.retry_after,
            })
        }
    }
}

impl Answer {
    /// The answer as JSON; an empty body reads as `null`.
    pub fn json<T: DeserializeOwned>(&self, platform: &'static str, operation: &str) -> Result<T, LmsError> {
        let bytes: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &self.body
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut de).map_err(|e| LmsError::Rejected {
            platform,
            status: self.status,
            message: format!(
                "{operation}: unreadable answer at `{}`: {}",
                e.path(),
                crate::json_error::kind(e.inner())
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_read_leniently_and_kept_short() {
        assert_eq!(error_message(br#"{"detail":"Not found."}"#), "Not found.");
        assert_eq!(
            error_message(br#"{"error":{"type":"invalid_request_error","message":"course_id is invalid"}}"#),
            "course_id is invalid"
        );
        assert_eq!(
            error_message(br#"{"email":["This field is required."],"user":{"id":["bad"]}}"#),
            "email: This field is required.; user: id: bad"
        );
        assert_eq!(error_message(b"  Bad Gateway "), "Bad Gateway");
        assert_eq!(error_message(b""), "no message");
        assert_eq!(error_message("x".repeat(1000).as_bytes()).len(), 300);
    }

    #[test]
    fn statuses_become_the_port_s_errors() {
        let status = |status: u16| CallError::Status {
            status,
            body: Bytes::from_static(br#"{"message":"nope"}"#),
            retry_after: None,
        };
        let what = || "user 7".to_owned();
        assert!(matches!(
            status(429).into_lms("x", what),
            LmsError::RateLimited { .. }
        ));
        assert!(matches!(
            status(503).into_lms("x", what),
            LmsError::Server { status: 503, .. }
        ));
        assert!(matches!(
            status(403).into_lms("x", what),
            LmsError::Unauthorized { status: 403, .. }
        ));
        assert!(
            matches!(status(404).into_lms("x", what), LmsError::NotFound { what, .. } if what == "user 7")
        );
        assert!(matches!(
            status(422).into_lms("x", what),
            LmsError::Rejected { status: 422, message, .. } if message == "nope"
        ));
        assert_eq!(status(408).failure(), Failure::MaybeActed);
        assert_eq!(status(429).failure(), Failure::Throttled);
        assert_eq!(status(400).failure(), Failure::Final);
        assert_eq!(CallError::Connect("refused".into()).failure(), Failure::NotSent);
    }
}
