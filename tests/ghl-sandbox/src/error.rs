//! Error answers in the shapes of `common-schemas.json` and of GHL's OAuth server.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

pub(crate) const FORBIDDEN_LOCATION: &str = "The token does not have access to this location.";

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("400 {0}")]
    BadRequest(String),
    #[error("400 duplicate of {contact_id} by {matching_field}")]
    Duplicate {
        contact_name: String,
        contact_id: String,
        matching_field: &'static str,
    },
    #[error("401 {0}")]
    Unauthorized(&'static str),
    /// A token (or plan) without the scope the endpoint needs: `{statusCode, message}` only.
    #[error("401 {0}")]
    NoScope(&'static str),
    #[error("403 {0}")]
    Forbidden(&'static str),
    #[error("404 {0}")]
    NotFound(String),
    #[error("422 {0:?}")]
    Unprocessable(Vec<String>),
    #[error("429")]
    TooManyRequests,
    #[error("{0} injected")]
    Injected(StatusCode),
    /// RFC 6749 style, as GHL's token endpoint answers.
    #[error("{status} {error}: {description}")]
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
}

impl ApiError {
    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::Unprocessable(vec![message.into()])
    }

    pub(crate) fn contact_not_found() -> Self {
        Self::NotFound("Contact not found".into())
    }

    pub(crate) fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self::OAuth {
            status,
            error,
            description: description.into(),
        }
    }

    fn parts(&self) -> (StatusCode, Value) {
        match self {
            Self::BadRequest(message) => (
                StatusCode::BAD_REQUEST,
                json!({"statusCode": 400, "message": message}),
            ),
            Self::Duplicate {
                contact_name,
                contact_id,
                matching_field,
            } => (
                StatusCode::BAD_REQUEST,
                json!({
                    "statusCode": 400,
                    "message": "This location does not allow duplicated contacts.",
                    "meta": {"contactName": contact_name, "contactId": contact_id, "matchingField": matching_field},
                }),
            ),
            Self::Unauthorized(message) => (
                StatusCode::UNAUTHORIZED,
                json!({"statusCode": 401, "message": message, "error": "Unauthorized"}),
            ),
            Self::NoScope(message) => (
                StatusCode::UNAUTHORIZED,
                json!({"statusCode": 401, "message": message}),
            ),
            Self::Forbidden(message) => (
                StatusCode::FORBIDDEN,
                json!({"statusCode": 403, "message": message, "error": "Forbidden"}),
            ),
            Self::NotFound(message) => (
                StatusCode::NOT_FOUND,
                json!({"statusCode": 404, "message": message}),
            ),
            Self::Unprocessable(messages) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"statusCode": 422, "message": messages, "error": "Unprocessable Entity"}),
            ),
            Self::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"statusCode": 429, "message": "Too Many Requests"}),
            ),
            Self::Injected(status) => (
                *status,
                json!({"statusCode": status.as_u16(), "message": status.canonical_reason().unwrap_or("Error")}),
            ),
            Self::OAuth {
                status,
                error,
                description,
            } => (*status, json!({"error": error, "error_description": description})),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.parts();
        (status, Json(body)).into_response()
    }
}

/// Collects NestJS-style validation messages so one 422 lists every problem, as GHL's does.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<String>);

impl Problems {
    pub(crate) fn push(&mut self, message: impl Into<String>) {
        self.0.push(message.into());
    }

    pub(crate) fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Unprocessable(self.0))
        }
    }
}
