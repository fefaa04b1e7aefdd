//! Reading a delivery's body and fields, the same way for every provider: syntax errors are 400
//! with line and column, missing or wrong data 422 naming the JSON path, and no message ever
//! quotes a value (bodies carry learners' personal data).

use serde::de::DeserializeOwned;

use super::error::IngestError;
use crate::domain::Email;
use crate::json_error;

/// Upper bound for senders' ids (events, tasks, notes, milestones).
pub const MAX_ID_BYTES: usize = 256;

/// Parses a body in two steps so that syntax errors (400) and missing data (422) differ.
pub fn body<T: DeserializeOwned>(body: &[u8]) -> Result<T, IngestError> {
    view(&document(body)?)
}

/// Step one: the body must be JSON at all (400 with line and column otherwise).
pub fn document(body: &[u8]) -> Result<serde_json::Value, IngestError> {
    serde_json::from_slice(body).map_err(|e| {
        IngestError::MalformedJson(format!(
            "{} at line {}, column {}",
            json_error::kind(&e),
            e.line(),
            e.column()
        ))
    })
}

/// Step two: a typed view of the document (422 naming the JSON path otherwise). Taking a view
/// at a time lets a format read the envelope first and only the part its event type owns.
pub fn view<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, IngestError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let (field, problem) = json_error::describe(err);
        IngestError::Unprocessable { field, problem }
    })
}

/// Trimmed text, or nothing when blank.
pub fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// An id that must be present and fit a store key alongside its prefix.
pub fn required_id(value: Option<String>, field: &str) -> Result<String, IngestError> {
    let value = value.ok_or_else(|| IngestError::missing(field))?;
    // Returned as sent: ids are identities, and every trigger must see the same one.
    if value.trim().is_empty() || value.len() > MAX_ID_BYTES {
        return Err(IngestError::Unprocessable {
            field: field.into(),
            problem: format!("must be 1-{MAX_ID_BYTES} characters"),
        });
    }
    Ok(value)
}

/// A field that must hold a usable email address.
pub fn required_email(value: Option<String>, field: &str) -> Result<Email, IngestError> {
    let value = value.ok_or_else(|| IngestError::missing(field))?;
    Email::try_from(value).map_err(|_| IngestError::Unprocessable {
        field: field.into(),
        problem: "not a usable email address".into(),
    })
}
