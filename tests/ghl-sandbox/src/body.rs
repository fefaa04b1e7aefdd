//! Request body and query parsing with GHL's (NestJS) validation behaviour: malformed JSON is a
//! 400, unknown properties and wrong types are a 422 listing every problem.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::{ApiError, Problems};

pub(crate) type Object = Map<String, Value>;

/// A JSON object body; an empty body reads as `{}` so required-field checks report it.
pub(crate) fn object(bytes: &Bytes) -> Result<Object, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Object::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::BadRequest("Request body must be a JSON object".into())),
        Err(e) => Err(ApiError::BadRequest(format!(
            "Unexpected token in JSON at line {} column {}",
            e.line(),
            e.column()
        ))),
    }
}

pub(crate) fn query(raw: Option<&str>) -> Result<HashMap<String, String>, ApiError> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or(""))
        .map(|pairs| pairs.into_iter().collect())
        .map_err(|e| ApiError::BadRequest(format!("Invalid query string: {e}")))
}

pub(crate) fn reject_unknown(body: &Object, allowed: &[&str], problems: &mut Problems) {
    for key in body.keys() {
        if !allowed.contains(&key.as_str()) {
            problems.push(format!("property {key} should not exist"));
        }
    }
}

/// Absent → `None`; `null` → `Some(None)`; a string → `Some(Some(..))`.
pub(crate) fn string(body: &Object, key: &str, problems: &mut Problems) -> Option<Option<String>> {
    match body.get(key)? {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        _ => {
            problems.push(format!("{key} must be a string"));
            None
        }
    }
}

pub(crate) fn required_string(body: &Object, key: &str, problems: &mut Problems) -> Option<String> {
    match string(body, key, problems) {
        Some(Some(s)) if !s.trim().is_empty() => Some(s),
        Some(Some(_)) | Some(None) => {
            problems.push(format!("{key} should not be empty"));
            None
        }
        None if body.contains_key(key) => None,
        None => {
            problems.push(format!("{key} should not be empty"));
            problems.push(format!("{key} must be a string"));
            None
        }
    }
}

pub(crate) fn boolean(body: &Object, key: &str, problems: &mut Problems) -> Option<bool> {
    match body.get(key)? {
        Value::Bool(b) => Some(*b),
        _ => {
            problems.push(format!("{key} must be a boolean value"));
            None
        }
    }
}

pub(crate) fn required_boolean(body: &Object, key: &str, problems: &mut Problems) -> Option<bool> {
    if !body.contains_key(key) {
        problems.push(format!("{key} must be a boolean value"));
        return None;
    }
    boolean(body, key, problems)
}

pub(crate) fn string_array(body: &Object, key: &str, problems: &mut Problems) -> Option<Vec<String>> {
    match body.get(key)? {
        Value::Array(items) => {
            let strings: Vec<String> = items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            if strings.len() != items.len() {
                problems.push(format!("each value in {key} must be a string"));
                return None;
            }
            Some(strings)
        }
        _ => {
            problems.push(format!("{key} must be an array"));
            None
        }
    }
}

pub(crate) fn required_string_array(
    body: &Object,
    key: &str,
    problems: &mut Problems,
) -> Option<Vec<String>> {
    if !body.contains_key(key) {
        problems.push(format!("{key} must be an array"));
        return None;
    }
    string_array(body, key, problems)
}

/// Tags as GHL keeps them: trimmed, lower-cased, without repeats or empties.
pub(crate) fn normalise_tags(tags: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if !tag.is_empty() && !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}
