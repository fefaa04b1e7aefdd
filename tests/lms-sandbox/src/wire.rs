//! Request parsing and answer building the three platforms share: bodies (JSON or form), query
//! strings, timestamps, page slicing and absolute paging links.

use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

pub(crate) type Object = Map<String, Value>;

/// Why a body could not be read; each platform words it its own way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("malformed JSON at line {line} column {column}")]
    Malformed { line: usize, column: usize },
    #[error("the body is not an object")]
    NotAnObject,
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),
}

/// The body as an object: JSON (`application/json` or `+json`) or a form
/// (`application/x-www-form-urlencoded`, every value a string). An empty body reads as `{}` so
/// that required-field checks report it; a non-empty body of another type is refused.
pub(crate) fn object(headers: &HeaderMap, bytes: &Bytes) -> Result<Object, BodyError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Object::new());
    }
    let media = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/x-www-form-urlencoded" {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|_| BodyError::UnsupportedMediaType(media.clone()))?;
        return Ok(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect());
    }
    if media != "application/json" && !media.ends_with("+json") {
        return Err(BodyError::UnsupportedMediaType(media));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(BodyError::NotAnObject),
        Err(e) => Err(BodyError::Malformed {
            line: e.line(),
            column: e.column(),
        }),
    }
}

/// Query pairs in order. A query that is not valid form encoding (bad UTF-8 after decoding)
/// reads as empty rather than failing, so handlers need no error path for it.
pub(crate) fn query(raw: Option<&str>) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or("")).unwrap_or_default()
}

/// The last value given for `key`.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// `2026-11-23T14:11:07.123456Z`: Django REST framework's rendering (Skilljar).
pub(crate) fn iso_micros(t: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.to_offset(UtcOffset::UTC).format(format).unwrap_or_default()
}

/// `2026-11-23T14:11:07.123Z`: Rails' rendering (Trainual).
pub(crate) fn iso_millis(t: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(UtcOffset::UTC).format(format).unwrap_or_default()
}

/// `2026-11-23T14:11:07Z`.
pub(crate) fn iso_seconds(t: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.to_offset(UtcOffset::UTC).format(format).unwrap_or_default()
}

/// RFC 3339, a date-time without offset (read as UTC), or a bare date (its midnight, UTC).
pub(crate) fn parse_instant(raw: &str) -> Option<OffsetDateTime> {
    let raw = raw.trim();
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Some(t);
    }
    let naive = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let spaced = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let seconds = raw.split('.').next().unwrap_or(raw);
    if let Ok(t) =
        PrimitiveDateTime::parse(seconds, naive).or_else(|_| PrimitiveDateTime::parse(seconds, spaced))
    {
        return Some(t.assume_utc());
    }
    Date::parse(raw, format_description!("[year]-[month]-[day]"))
        .ok()
        .map(|d| d.midnight().assume_utc())
}

/// A cheap email check: one `@`, something before it, a dotted domain after it, no spaces.
pub(crate) fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

/// Items of 1-based `page` of `size`; empty past the end.
pub(crate) fn page_of<T>(items: &[T], page: usize, size: usize) -> &[T] {
    let start = page.saturating_sub(1).saturating_mul(size).min(items.len());
    let end = start.saturating_add(size).min(items.len());
    &items[start..end]
}

/// Number of pages `total` items fill (at least one, as the platforms report an empty list).
pub(crate) fn page_count(total: usize, size: usize) -> usize {
    total.div_ceil(size.max(1)).max(1)
}

/// `base + path` with the request's query, `changes` applied (`None` removes the key).
pub(crate) fn link(
    base: &str,
    path: &str,
    pairs: &[(String, String)],
    changes: &[(&str, Option<String>)],
) -> String {
    let mut out: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .cloned()
        .collect();
    for (key, value) in changes {
        if let Some(value) = value {
            out.push(((*key).to_owned(), value.clone()));
        }
    }
    let query = serde_urlencoded::to_string(&out).unwrap_or_default();
    if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    }
}

/// A string value of a body field: `Ok(None)` when absent or null, `Err` when of another type.
pub(crate) fn opt_string(body: &Object, key: &str) -> Result<Option<String>, ()> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(()),
    }
}

/// A boolean that forms send as text (`true`/`false`/`1`/`0`).
pub(crate) fn opt_bool(body: &Object, key: &str) -> Result<Option<bool>, ()> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(()),
        },
        Some(_) => Err(()),
    }
}

/// An id given as a number or a numeric string (forms, and clients that quote ids).
pub(crate) fn opt_id(body: &Object, key: &str) -> Result<Option<u64>, ()> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(()),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| ()),
        Some(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn bodies_are_json_or_forms() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        let body = object(&headers, &Bytes::from_static(br#"{"a":1}"#)).unwrap();
        assert_eq!(body["a"], 1);
        assert!(matches!(
            object(&headers, &Bytes::from_static(b"{")),
            Err(BodyError::Malformed { .. })
        ));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let body = object(&headers, &Bytes::from_static(b"a=1&b=x%40y")).unwrap();
        assert_eq!(body["b"], "x@y");
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(object(&headers, &Bytes::from_static(b"x")).is_err());
        assert!(object(&headers, &Bytes::new()).unwrap().is_empty());
    }

    #[test]
    fn instants_parse_in_the_forms_filters_use() {
        let t = parse_instant("2024-01-02T03:04:05Z").unwrap();
        assert_eq!(parse_instant("2024-01-02T03:04:05"), Some(t));
        assert_eq!(parse_instant("2024-01-02 03:04:05"), Some(t));
        assert_eq!(iso_seconds(t), "2024-01-02T03:04:05Z");
        assert_eq!(iso_micros(t), "2024-01-02T03:04:05.000000Z");
        assert!(parse_instant("2024-01-02").is_some());
        assert!(parse_instant("yesterday").is_none());
    }

    #[test]
    fn pages_and_links() {
        let items: Vec<u32> = (1..=5).collect();
        assert_eq!(page_of(&items, 2, 2), [3, 4]);
        assert!(page_of(&items, 4, 2).is_empty());
        assert_eq!(page_count(5, 2), 3);
        assert_eq!(page_count(0, 2), 1);
        let pairs = vec![
            ("email".to_owned(), "a@b.io".to_owned()),
            ("page".to_owned(), "1".to_owned()),
        ];
        assert_eq!(
            link("http://h", "/x", &pairs, &[("page", Some("2".into()))]),
            "http://h/x?email=a%40b.io&page=2"
        );
        assert_eq!(
            link("http://h", "/x", &pairs, &[("page", None), ("email", None)]),
            "http://h/x"
        );
    }
}
