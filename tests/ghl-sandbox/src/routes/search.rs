//! `POST /contacts/search` (Search Contacts, advanced filters): page or `searchAfter` paging,
//! free-text `query`, a subset of the filter language and one sort key.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::contacts::matches_query;
use super::{Reply, ensure_location, reply};
use crate::body::{self, Object};
use crate::error::Problems;
use crate::gate::Caller;
use crate::model::{Contact, epoch_ms};
use crate::server::Shared;
use crate::store::{email_key, phone_key};

const ALLOWED: [&str; 7] = [
    "locationId",
    "page",
    "pageLimit",
    "searchAfter",
    "query",
    "filters",
    "sort",
];
const FIELDS: [&str; 16] = [
    "id",
    "email",
    "phone",
    "firstName",
    "lastName",
    "firstNameLowerCase",
    "lastNameLowerCase",
    "companyName",
    "source",
    "businessId",
    "tags",
    "assignedTo",
    "country",
    "city",
    "state",
    "postalCode",
];
const OPERATORS: [&str; 6] = ["eq", "not_eq", "contains", "not_contains", "exists", "not_exists"];
/// GHL refuses page-based paging beyond this many records; past it only `searchAfter` works.
const PAGE_WINDOW: i64 = 10_000;

#[derive(Debug)]
enum Filter {
    Leaf {
        field: String,
        operator: String,
        value: Value,
    },
    Group {
        all: bool,
        filters: Vec<Filter>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Sort {
    by_updated: bool,
    descending: bool,
}

pub(crate) async fn search(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    let mut problems = Problems::default();
    body::reject_unknown(&body, &ALLOWED, &mut problems);
    let location_id = body::required_string(&body, "locationId", &mut problems);
    let limit = integer(&body, "pageLimit", &mut problems).unwrap_or(20);
    if !(1..=500).contains(&limit) {
        problems.push("pageLimit must not be greater than 500 or less than 1");
    }
    let page = integer(&body, "page", &mut problems);
    if page.is_some_and(|p| p < 1) {
        problems.push("page must not be less than 1");
    }
    if page.is_some_and(|p| p * limit > PAGE_WINDOW) {
        problems.push("page * pageLimit must not exceed 10000; use searchAfter to go further");
    }
    let after = search_after(&body, &mut problems);
    if page.is_some() && after.is_some() {
        problems.push("page and searchAfter cannot be used together");
    }
    let query = body::string(&body, "query", &mut problems).flatten();
    let sort = sort(body.get("sort"), &mut problems);
    let filters = match body.get("filters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, f)| filter(f, &format!("filters.{i}"), &mut problems))
            .collect(),
        Some(_) => {
            problems.push("filters must be an array");
            Vec::new()
        }
    };
    problems.into_result()?;
    ensure_location(&caller, location_id.as_deref().unwrap_or_default())?;

    let state = shared.state();
    let loc = state.location(&caller.location_id)?;
    let query = query.map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty());
    let mut matched: Vec<&Contact> = loc
        .contacts
        .ordered()
        .filter(|c| query.as_deref().is_none_or(|q| matches_query(c, q)))
        .filter(|c| filters.iter().all(|f| holds(f, c)))
        .collect();
    matched.sort_by(|a, b| compare(sort, &key(sort, a), &key(sort, b)));
    let total = matched.len();
    let limit = usize::try_from(limit).unwrap_or(20);
    let page: Vec<&Contact> = match after {
        Some(cursor) => matched
            .into_iter()
            .filter(|c| compare(sort, &key(sort, c), &cursor) == Ordering::Greater)
            .take(limit)
            .collect(),
        None => {
            let skip = usize::try_from(page.unwrap_or(1) - 1).unwrap_or(0) * limit;
            matched.into_iter().skip(skip).take(limit).collect()
        }
    };
    let contacts: Vec<Value> = page
        .iter()
        .map(|c| {
            let mut json = c.to_json();
            let (ms, id) = key(sort, c);
            if let Value::Object(map) = &mut json {
                map.insert("searchAfter".into(), json!([ms, id]));
            }
            json
        })
        .collect();
    reply(StatusCode::OK, json!({"contacts": contacts, "total": total}))
}

fn key(sort: Sort, contact: &Contact) -> (i64, String) {
    let at = if sort.by_updated {
        contact.date_updated
    } else {
        contact.date_added
    };
    (epoch_ms(at), contact.id.clone())
}

/// Position in the requested order: `Greater` means `a` comes after `b`.
fn compare(sort: Sort, a: &(i64, String), b: &(i64, String)) -> Ordering {
    let natural = a.cmp(b);
    if sort.descending {
        natural.reverse()
    } else {
        natural
    }
}

fn integer(body: &Object, key: &str, problems: &mut Problems) -> Option<i64> {
    match body.get(key)? {
        Value::Number(n) if n.as_i64().is_some() => n.as_i64(),
        _ => {
            problems.push(format!("{key} must be an integer number"));
            None
        }
    }
}

/// `[sortValue, id]` as the previous page's last contact carried it.
fn search_after(body: &Object, problems: &mut Problems) -> Option<(i64, String)> {
    let raw = body.get("searchAfter")?;
    let parsed = match raw.as_array().map(Vec::as_slice) {
        Some([ms, Value::String(id)]) => {
            let ms = ms.as_i64().or_else(|| ms.as_str().and_then(|s| s.parse().ok()));
            ms.map(|ms| (ms, id.clone()))
        }
        _ => None,
    };
    if parsed.is_none() {
        problems.push("searchAfter must be [sortValue, contactId] as returned on the previous page");
    }
    parsed
}

/// `[{field: "dateAdded" | "dateUpdated", direction: "asc" | "desc"}]`; the first entry counts.
fn sort(raw: Option<&Value>, problems: &mut Problems) -> Sort {
    let mut sort = Sort {
        by_updated: false,
        descending: false,
    };
    let Some(raw) = raw.filter(|v| !v.is_null()) else {
        return sort;
    };
    let Some(first) = raw.as_array().and_then(|a| a.first()) else {
        if !raw.as_array().is_some_and(Vec::is_empty) {
            problems.push("sort must be an array");
        }
        return sort;
    };
    match first.get("field").and_then(Value::as_str) {
        Some("dateAdded") => {}
        Some("dateUpdated") => sort.by_updated = true,
        other => problems.push(format!(
            "sort.0.field {other:?} is not supported by the sandbox (dateAdded, dateUpdated)"
        )),
    }
    match first.get("direction").and_then(Value::as_str) {
        None | Some("asc") => {}
        Some("desc") => sort.descending = true,
        Some(other) => problems.push(format!("sort.0.direction must be asc or desc, not {other}")),
    }
    sort
}

fn filter(raw: &Value, path: &str, problems: &mut Problems) -> Option<Filter> {
    let Value::Object(map) = raw else {
        problems.push(format!("{path} must be an object"));
        return None;
    };
    if let Some(group) = map.get("group") {
        let all = match group.as_str() {
            Some("AND") => true,
            Some("OR") => false,
            _ => {
                problems.push(format!("{path}.group must be AND or OR"));
                return None;
            }
        };
        let Some(items) = map.get("filters").and_then(Value::as_array) else {
            problems.push(format!("{path}.filters must be an array"));
            return None;
        };
        let filters = items
            .iter()
            .enumerate()
            .filter_map(|(i, f)| filter(f, &format!("{path}.filters.{i}"), problems))
            .collect();
        return Some(Filter::Group { all, filters });
    }
    let field = map.get("field").and_then(Value::as_str).unwrap_or_default();
    let operator = map.get("operator").and_then(Value::as_str).unwrap_or_default();
    let mut ok = true;
    if !FIELDS.contains(&field) {
        problems.push(format!("{path}.field {field:?} is not supported by the sandbox"));
        ok = false;
    }
    if !OPERATORS.contains(&operator) {
        problems.push(format!(
            "{path}.operator {operator:?} is not supported by the sandbox"
        ));
        ok = false;
    }
    ok.then(|| Filter::Leaf {
        field: field.to_owned(),
        operator: operator.to_owned(),
        value: map.get("value").cloned().unwrap_or(Value::Null),
    })
}

fn holds(filter: &Filter, contact: &Contact) -> bool {
    match filter {
        Filter::Group { all: true, filters } => filters.iter().all(|f| holds(f, contact)),
        Filter::Group { all: false, filters } => filters.iter().any(|f| holds(f, contact)),
        Filter::Leaf {
            field,
            operator,
            value,
        } => {
            let have = values(contact, field);
            let wanted: Vec<String> = match value {
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| normal(field, s))
                    .collect(),
                Value::String(s) => vec![normal(field, s)],
                Value::Null => Vec::new(),
                other => vec![other.to_string()],
            };
            let eq = || have.iter().any(|h| wanted.contains(h));
            let contains = || have.iter().any(|h| wanted.iter().any(|w| h.contains(w.as_str())));
            match operator.as_str() {
                "eq" => eq(),
                "not_eq" => !eq(),
                "contains" => contains(),
                "not_contains" => !contains(),
                "exists" => !have.is_empty(),
                "not_exists" => have.is_empty(),
                _ => false,
            }
        }
    }
}

/// A field's values, normalised for comparison (tags give several).
fn values(contact: &Contact, field: &str) -> Vec<String> {
    let single = match field {
        "id" => Some(contact.id.clone()),
        "email" => contact.email.clone(),
        "phone" => contact.phone.clone(),
        "firstName" | "firstNameLowerCase" => contact.first_name.clone(),
        "lastName" | "lastNameLowerCase" => contact.last_name.clone(),
        "companyName" => contact.company_name.clone(),
        "source" => contact.source.clone(),
        "businessId" => contact.business_id.clone(),
        "assignedTo" => contact.assigned_to.clone(),
        "country" => contact.country.clone(),
        "city" => contact.city.clone(),
        "state" => contact.state.clone(),
        "postalCode" => contact.postal_code.clone(),
        "tags" => return contact.tags.clone(),
        _ => None,
    };
    single
        .map(|v| normal(field, &v))
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect()
}

fn normal(field: &str, value: &str) -> String {
    match field {
        "email" => email_key(value),
        "phone" => phone_key(value),
        "id" => value.to_owned(),
        _ => value.trim().to_lowercase(),
    }
}
