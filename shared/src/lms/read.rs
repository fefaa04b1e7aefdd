//! Reading platform answers leniently: several platforms document their shapes only in part, so
//! ids may come as numbers or text, lists bare or in an envelope, and anything unexpected is
//! kept in `LmsUser::raw` rather than refused.

use reqwest::Url;
use serde_json::Value;

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
