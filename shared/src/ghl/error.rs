use serde::Deserialize;

/// What went wrong talking to GHL, split by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum GhlError {
    #[error("GHL rate limit reached (429): {message}")]
    RateLimited { message: String },
    #[error("GHL server error ({status}): {message}")]
    Server { status: u16, message: String },
    #[error("GHL refused the credentials ({status}): {message}")]
    Unauthorized { status: u16, message: String },
    #[error("GHL could not process the request (422): {}", messages.join("; "))]
    Unprocessable { messages: Vec<String> },
    /// 400 and other 4xx. GHL's duplicate-contact answer carries the existing contact's id.
    #[error("GHL rejected the request ({status}): {message}")]
    Rejected {
        status: u16,
        message: String,
        existing_contact_id: Option<String>,
    },
    #[error("GHL did not answer in time")]
    Timeout,
    /// The request never reached GHL, so it certainly had no effect.
    #[error("could not connect to GHL: {0}")]
    Connect(String),
    #[error("the daily GHL request budget of location {location_id} is spent")]
    DailyLimit { location_id: String },
    #[error("custom field {key:?} does not exist in location {location_id}")]
    UnknownCustomField { key: String, location_id: String },
    #[error("GHL says location {location_id} is not active; reinstall the app there")]
    LocationInactive { location_id: String },
    #[error(
        "GHL refused the refresh token of location {location_id} (invalid grant); authorise the app again"
    )]
    InvalidGrant { location_id: String },
    #[error("could not reach GHL: {0}")]
    Transport(String),
    #[error("GHL answered {status} with a body we could not read: {problem}")]
    Decode { status: u16, problem: String },
    #[error("GHL credentials unavailable: {0}")]
    Credentials(String),
    #[error("GHL credentials are invalid: {0}")]
    CredentialsInvalid(String),
}

impl GhlError {
    /// Worth trying again later: the request may succeed unchanged.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            GhlError::RateLimited { .. }
                | GhlError::Server { .. }
                | GhlError::Timeout
                | GhlError::Connect(_)
                | GhlError::Transport(_)
                | GhlError::Credentials(_)
                | GhlError::DailyLimit { .. }
        )
    }

    /// A short machine-readable reason for logs and dead-letter attributes.
    pub fn reason(&self) -> &'static str {
        match self {
            GhlError::RateLimited { .. } => "rate_limited",
            GhlError::Server { .. } => "server_error",
            GhlError::Unauthorized { .. } => "unauthorized",
            GhlError::Unprocessable { .. } => "unprocessable",
            GhlError::Rejected { .. } => "rejected",
            GhlError::Timeout => "timeout",
            GhlError::Connect(_) => "connect",
            GhlError::DailyLimit { .. } => "daily_limit",
            GhlError::UnknownCustomField { .. } => "unknown_custom_field",
            GhlError::LocationInactive { .. } => "location_inactive",
            GhlError::InvalidGrant { .. } => "invalid_grant",
            GhlError::Transport(_) => "transport",
            GhlError::Decode { .. } => "decode",
            GhlError::Credentials(_) => "credentials_unavailable",
            GhlError::CredentialsInvalid(_) => "credentials_invalid",
        }
    }

    /// Builds the error for a non-2xx answer from its status and body (tolerant of GHL's shapes:
    /// `message` as a string or a list, `meta.contactId` on duplicates, or no JSON at all).
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
        let messages: Vec<String> = match parsed.as_ref().and_then(|b| b.message.clone()) {
            Some(Message::One(m)) => vec![m],
            Some(Message::Many(ms)) => ms,
            None => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if text.is_empty() {
                    vec![]
                } else {
                    vec![text.chars().take(300).collect()]
                }
            }
        };
        let message = if messages.is_empty() {
            parsed
                .as_ref()
                .and_then(|b| b.error.clone())
                .unwrap_or_else(|| "no message".to_owned())
        } else {
            messages.join("; ")
        };
        match status {
            429 => GhlError::RateLimited { message },
            401 | 403 => GhlError::Unauthorized { status, message },
            422 => GhlError::Unprocessable {
                messages: if messages.is_empty() {
                    vec![message]
                } else {
                    messages
                },
            },
            500..=599 => GhlError::Server { status, message },
            _ => GhlError::Rejected {
                status,
                message,
                existing_contact_id: parsed.and_then(|b| b.meta).and_then(|m| m.contact_id),
            },
        }
    }
}

impl From<reqwest::Error> for GhlError {
    fn from(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            GhlError::Timeout
        } else if err.is_connect() {
            GhlError::Connect(err.without_url().to_string())
        } else {
            // The URL carries no secret (the token travels in a header), so the text is safe.
            GhlError::Transport(err.without_url().to_string())
        }
    }
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Message {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    contact_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ghl_error_shapes() {
        let e = GhlError::from_response(422, br#"{"statusCode":422,"message":["email must be an email","phone is bad"],"error":"Unprocessable Entity"}"#);
        assert!(matches!(&e, GhlError::Unprocessable { messages } if messages.len() == 2));
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "GHL could not process the request (422): email must be an email; phone is bad"
        );

        let e = GhlError::from_response(400, br#"{"statusCode":400,"message":"This location does not allow duplicated contacts.","meta":{"contactId":"abc123","matchingField":"email"}}"#);
        assert!(matches!(&e, GhlError::Rejected { existing_contact_id: Some(id), .. } if id == "abc123"));

        let e = GhlError::from_response(
            401,
            br#"{"statusCode":401,"message":"Invalid JWT","error":"Unauthorized"}"#,
        );
        assert!(matches!(&e, GhlError::Unauthorized { .. }) && !e.is_retryable());

        let e = GhlError::from_response(429, b"Too Many Requests");
        assert!(
            matches!(&e, GhlError::RateLimited { message } if message == "Too Many Requests")
                && e.is_retryable()
        );

        let e = GhlError::from_response(502, b"");
        assert!(matches!(&e, GhlError::Server { status: 502, .. }) && e.is_retryable());
    }
}
