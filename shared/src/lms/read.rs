//! Reading platform answers leniently: several platforms document their shapes only in part, so
//! ids may come as numbers or text, lists bare or in an envelope, and anything unexpected is
//! kept in `LmsUser::raw` rather than refused.

use reqwest::Url;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::LmsError;
use crate::domain::Email;

/// A field as text, whether the platform sent a string or a number.
pub(crate) fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The document inside an envelope (`{"_data": …}`, `{"user": …}`), or the value itself.
pub(crate) fn unwrap(value: Value, envelopes: &[&str]) -> Value {
    match value {
        Value::Object(mut map) => {
            for key in envelopes {
                if map.get(*key).is_some_and(|v| v.is_object() || v.is_array()) {
                    return map.remove(*key).unwrap_or(Value::Null);
                }
            }
            Value::Object(map)
        }
        other => other,
    }
}

/// The items of a list answer: a bare array, or the first of `keys` holding one.
pub(crate) fn items(value: Value, keys: &[&str]) -> Vec<Value> {
    match unwrap(value, keys) {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

/// Whether a platform's item is the learner with `email` (platforms may match loosely, or
/// ignore a filter they do not know).
pub(crate) fn has_email(item: &Value, email: &Email) -> bool {
    text(item, "email").is_some_and(|e| e.eq_ignore_ascii_case(email.as_str()))
}

/// The email an answer carries, or the one asked for when it carries none usable.
pub(crate) fn email_or(item: &Value, asked: &Email) -> Email {
    text(item, "email")
        .and_then(|e| Email::try_from(e).ok())
        .unwrap_or_else(|| asked.clone())
}

/// The email of a listed learner, when it is one (a listing has no email asked for to fall
/// back on).
pub(crate) fn listed_email(item: &Value) -> Option<Email> {
    text(item, "email").and_then(|e| Email::try_from(e).ok())
}

/// A `next` link is followed only to the API's own origin: credentials never go elsewhere.
pub(crate) fn same_origin(base: &Url, next: &Url) -> bool {
    base.scheme() == next.scheme()
        && base.host_str() == next.host_str()
        && base.port_or_known_default() == next.port_or_known_default()
}

/// An id for a JSON body: a number where the platform's ids are numbers, else the text.
pub(crate) fn id_value(id: &str) -> Value {
    id.parse::<u64>()
        .map_or_else(|_| Value::String(id.to_owned()), Value::from)
}

/// Whether a list of `{id, …}` items holds `id`.
pub(crate) fn lists_id(items: &[Value], id: &str) -> bool {
    items.iter().any(|item| text(item, "id").as_deref() == Some(id))
}

/// First and last name from a single `name`: everything after the first space is the last name.
pub(crate) fn split_name(name: Option<String>) -> (Option<String>, Option<String>) {
    match name {
        Some(name) => match name.split_once(' ') {
            Some((first, last)) => (Some(first.to_owned()), Some(last.trim().to_owned())),
            None => (Some(name), None),
        },
        None => (None, None),
    }
}

/// A date-time field: RFC 3339, or `YYYY-MM-DD HH:MM:SS` read as UTC; anything else is none.
pub(crate) fn instant(value: &Value, key: &str) -> Option<OffsetDateTime> {
    let raw = text(value, key)?;
    OffsetDateTime::parse(&raw, &Rfc3339).ok().or_else(|| {
        let spaced = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        PrimitiveDateTime::parse(&raw, spaced)
            .ok()
            .map(PrimitiveDateTime::assume_utc)
    })
}

/// A percentage as a number or numeric text (`"50"`, `"66.67"`), rounded and kept within 0–100.
pub(crate) fn percent(value: &Value, key: &str) -> Option<u32> {
    let raw = text(value, key)?;
    let number: f64 = raw.trim_end_matches('%').trim().parse().ok()?;
    // Clamped first, so the conversion cannot overflow.
    number
        .is_finite()
        .then(|| number.round().clamp(0.0, 100.0) as u32)
}

/// The page size to ask for: the caller's, at most the platform's `max`; `0` asks for `max`.
pub(crate) fn page_size(asked: u32, max: u32) -> u32 {
    if asked == 0 { max } else { asked.min(max) }
}

/// The page a learner listing's token names: `None` is the first page, else a page number.
pub(crate) fn page_number(platform: &'static str, token: Option<&str>) -> Result<u32, LmsError> {
    match token {
        None => Ok(1),
        Some(token) => token
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad_page_token(platform)),
    }
}

/// A page token this client did not hand out. Never quotes the token: it may be a URL.
pub(crate) fn bad_page_token(platform: &'static str) -> LmsError {
    LmsError::Rejected {
        platform,
        status: 400,
        message: "list learners: the page token is not one this client handed out".into(),
    }
}

/// `since` for a platform's filter: RFC 3339 in UTC, whole seconds (rounded down, so that a
/// `gte` filter never misses the second it names).
pub(crate) fn iso_seconds(since: OffsetDateTime, platform: &'static str) -> Result<String, LmsError> {
    let utc = since.to_offset(time::UtcOffset::UTC);
    utc.replace_nanosecond(0)
        .unwrap_or(utc)
        .format(&Rfc3339)
        .map_err(|e| LmsError::Transport {
            platform,
            message: format!("cannot write {since} as RFC 3339: {e}"),
        })
}
