//! Everything that can go wrong with a delivery, and the one place that turns it into an answer.

use http::StatusCode;
use serde_json::json;
use tracing::warn;

use crate::secrets::SecretError;

/// Larger bodies are refused before anything else reads them (SQS's own limit is 256 KiB too).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no webhook route at {0:?}; POST to /<function>/<provider> (the README lists the routes)")]
    NotFound(String),
    #[error("method {0} not allowed; use POST")]
    MethodNotAllowed(String),
    #[error("body is {size} bytes; the limit is {MAX_BODY_BYTES}")]
    PayloadTooLarge { size: usize },
    #[error("content type must be application/json, got {0:?}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("at `{field}`: {problem}")]
    Unprocessable { field: String, problem: String },
    #[error("the same delivery is being processed right now; retry later")]
    InProgress,
    #[error("temporarily unavailable; retry later")]
    Unavailable(String),
    #[error("the service is misconfigured; the operator has been told")]
    Misconfigured(String),
}

impl IngestError {
    pub fn missing(field: &str) -> Self {
        IngestError::Unprocessable {
            field: field.into(),
            problem: "required".into(),
        }
    }

    /// The answer's status, given how this error's sender is told to retry.
    pub fn status(&self, retry: RetryAnswer) -> StatusCode {
        if retry == RetryAnswer::TooManyRequests && self.means_retry() {
            return StatusCode::TOO_MANY_REQUESTS;
        }
        match self {
            IngestError::NotFound(_) => StatusCode::NOT_FOUND,
            IngestError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            IngestError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            IngestError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            IngestError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            IngestError::InProgress | IngestError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            IngestError::Misconfigured(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Nothing was queued, and nothing is wrong with the delivery itself: the same delivery, sent
    /// again later, can be accepted.
    pub fn means_retry(&self) -> bool {
        matches!(
            self,
            IngestError::InProgress | IngestError::Unavailable(_) | IngestError::Misconfigured(_)
        )
    }

    pub fn code(&self) -> &'static str {
        match self {
            IngestError::NotFound(_) => "not_found",
            IngestError::MethodNotAllowed(_) => "method_not_allowed",
            IngestError::PayloadTooLarge { .. } => "payload_too_large",
            IngestError::UnsupportedMediaType(_) => "unsupported_media_type",
            IngestError::Unauthorized(_) => "unauthorized",
            IngestError::MalformedJson(_) => "malformed_json",
            IngestError::Unprocessable { .. } => "unprocessable",
            IngestError::InProgress => "in_progress",
            IngestError::Unavailable(_) => "unavailable",
            IngestError::Misconfigured(_) => "misconfigured",
        }
    }

    pub(crate) fn into_response(self, retry: RetryAnswer) -> IngestResponse {
        // Operators' details (which port failed, what is misconfigured) go to the log only.
        match &self {
            IngestError::Unavailable(detail) | IngestError::Misconfigured(detail) => {
                tracing::error!(error = self.code(), detail = %detail, "delivery not accepted");
            }
            _ => warn!(error = self.code(), detail = %self, "delivery refused"),
        }
        IngestResponse {
            status: self.status(retry),
            body: json!({ "error": self.code(), "detail": self.to_string() }),
        }
    }
}

/// How a sender is told that its delivery was not accepted and should come again: the queue, the
/// table or the secret is out of reach, the same delivery is mid-flight, or the deployment is
/// misconfigured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryAnswer {
    /// 503 (500 for a misconfiguration), which LMS senders treat as "try later".
    #[default]
    ServiceUnavailable,
    /// 429 for all of them: GHL retries a webhook on nothing else, and loses it on a 5xx.
    TooManyRequests,
}

impl From<SecretError> for IngestError {
    fn from(err: SecretError) -> Self {
        match err {
            SecretError::Unavailable(e) => IngestError::Unavailable(e.to_string()),
            malformed @ SecretError::Malformed { .. } => IngestError::Misconfigured(malformed.to_string()),
        }
    }
}

/// Every answer a webhook gets: a status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestResponse {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

impl IngestResponse {
    /// The HTTP response: status and a JSON body, the same shape for every answer.
    pub fn into_http(self) -> http::Response<String> {
        let mut response = http::Response::new(self.body.to_string());
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_retry_answer_differs_between_senders() {
        let cases = [
            (IngestError::InProgress, 503),
            (IngestError::Unavailable("queue".into()), 503),
            (IngestError::Misconfigured("no section".into()), 500),
        ];
        for (error, status) in cases {
            assert_eq!(error.status(RetryAnswer::ServiceUnavailable).as_u16(), status);
            assert_eq!(error.status(RetryAnswer::TooManyRequests).as_u16(), 429);
        }
        let refused = IngestError::Unauthorized("bad signature".into());
        for retry in [RetryAnswer::ServiceUnavailable, RetryAnswer::TooManyRequests] {
            assert_eq!(refused.status(retry).as_u16(), 401);
        }
    }
}
