//! Contact CRUD, upsert, the deprecated list, the business list and the duplicate lookup.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::{Reply, ensure_location, location_with_contact, reply};
use crate::body;
use crate::error::{ApiError, Problems};
use crate::gate::Caller;
use crate::model::{Contact, now_ms};
use crate::patch::{ContactPatch, WriteKind};
use crate::server::Shared;
use crate::store::Cursor;

pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(contact_id): Path<String>,
) -> Reply {
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    reply(
        StatusCode::OK,
        json!({"contact": loc.contact(&contact_id)?.to_json()}),
    )
}

pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    let mut state = shared.state();
    let id = state.new_id();
    let loc = state.location_mut(&caller.location_id)?;
    let patch = ContactPatch::parse(&body, WriteKind::Create, &loc.custom_fields)?;
    ensure_location(&caller, patch.location_id.as_deref().unwrap_or_default())?;
    let contact = loc.create_contact(&patch, id, now_ms())?;
    shared.webhooks.contact("ContactCreate", &contact);
    reply(StatusCode::CREATED, json!({"contact": contact.to_json()}))
}

pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let patch = ContactPatch::parse(&body, WriteKind::Update, &loc.custom_fields)?;
    loc.duplicate_of(&patch, Some(&contact_id))?;
    let before = loc.contact(&contact_id)?.clone();
    let mut contact = before.clone();
    patch.apply(&mut contact);
    contact.date_updated = now_ms();
    loc.contacts.put(contact.clone());
    shared.webhooks.contact_changed(&before, &contact);
    reply(
        StatusCode::OK,
        json!({"succeded": true, "contact": contact.to_json()}),
    )
}

pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(contact_id): Path<String>,
) -> Reply {
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    if let Some(removed) = loc.remove_contact(&contact_id) {
        shared.webhooks.contact("ContactDelete", &removed);
    }
    reply(StatusCode::OK, json!({"succeded": true}))
}

/// Matches on email, then phone (the location disallows duplicates, so
/// `createNewIfDuplicateAllowed` never applies); `tags` replace the contact's tags.
pub(crate) async fn upsert(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    let mut state = shared.state();
    let id = state.new_id();
    let trace_id = trace_id(&mut state);
    let loc = state.location_mut(&caller.location_id)?;
    let patch = ContactPatch::parse(&body, WriteKind::Upsert, &loc.custom_fields)?;
    ensure_location(&caller, patch.location_id.as_deref().unwrap_or_default())?;
    let existing = patch
        .email()
        .and_then(|e| loc.contacts.find_by_email(e))
        .or_else(|| patch.phone().and_then(|p| loc.contacts.find_by_phone(p)))
        .cloned();
    let (new, contact) = match existing {
        Some(before) => {
            let mut contact = before.clone();
            patch.apply(&mut contact);
            contact.date_updated = now_ms();
            loc.contacts.put(contact.clone());
            shared.webhooks.contact_changed(&before, &contact);
            (false, contact)
        }
        None => {
            let contact = loc.create_contact(&patch, id, now_ms())?;
            shared.webhooks.contact("ContactCreate", &contact);
            (true, contact)
        }
    };
    reply(
        StatusCode::OK,
        json!({"new": new, "contact": contact.to_json(), "traceId": trace_id}),
    )
}

/// `GET /contacts/`: cursor paging by (dateAdded, id), as the deprecated endpoint does.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = body::query(raw.as_deref())?;
    let mut problems = Problems::default();
    let location_id = required(&q, "locationId", &mut problems);
    let limit = number(&q, "limit", &mut problems).unwrap_or(20);
    if !(1..=100).contains(&limit) {
        problems.push("limit must not be greater than 100 or less than 1");
    }
    let start_after = number(&q, "startAfter", &mut problems);
    problems.into_result()?;
    ensure_location(&caller, &location_id)?;
    let limit = usize::try_from(limit).unwrap_or(20);
    let state = shared.state();
    let loc = state.location(&caller.location_id)?;
    let query = q
        .get("query")
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    let matches = |c: &&Contact| query.as_deref().is_none_or(|q| matches_query(c, q));
    let cursor = match (start_after, q.get("startAfterId").filter(|s| !s.is_empty())) {
        (Some(ms), Some(id)) => Cursor::After(ms, id.clone()),
        (None, Some(id)) => match loc.contacts.get(id) {
            Some(c) => Cursor::After(c.date_added_ms(), id.clone()),
            None => {
                return Err(ApiError::BadRequest(
                    "startAfterId does not name a contact".into(),
                ));
            }
        },
        (Some(ms), None) => Cursor::AfterMs(ms),
        (None, None) => Cursor::Start,
    };
    let mut page: Vec<&Contact> = loc
        .contacts
        .after(&cursor)
        .filter(matches)
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let total = match query {
        None => loc.contacts.len(),
        Some(_) => loc.contacts.ordered().filter(matches).count(),
    };
    let remaining = loc.contacts.after(&cursor).filter(matches).count();
    let current = (total - remaining) / limit + 1;
    let next = page.last().filter(|_| more);
    let next_url = next.map(|c| {
        format!(
            "{}/contacts/?locationId={}&startAfter={}&startAfterId={}",
            shared.base_url,
            location_id,
            c.date_added_ms(),
            c.id
        )
    });
    let contacts: Vec<Value> = page.iter().map(|c| c.to_json()).collect();
    reply(
        StatusCode::OK,
        json!({
            "contacts": contacts,
            "count": total,
            "meta": {
                "total": total,
                "startAfterId": next.map(|c| c.id.clone()),
                "startAfter": next.map(|c| c.date_added_ms()),
                "nextPageUrl": next_url,
                "currentPage": current,
                "nextPage": more.then_some(current + 1),
                "prevPage": (current > 1).then(|| current - 1),
            },
        }),
    )
}

/// `GET /contacts/business/:businessId` with `skip`/`limit` paging: `{contacts, count}`.
pub(crate) async fn by_business(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(business_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = body::query(raw.as_deref())?;
    let mut problems = Problems::default();
    let location_id = required(&q, "locationId", &mut problems);
    let limit = number(&q, "limit", &mut problems).unwrap_or(25);
    let skip = number(&q, "skip", &mut problems).unwrap_or(0);
    if limit < 1 || skip < 0 {
        problems.push("limit must be positive and skip must not be negative");
    }
    problems.into_result()?;
    ensure_location(&caller, &location_id)?;
    let state = shared.state();
    let loc = state.location(&caller.location_id)?;
    let query = q
        .get("query")
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    let matching: Vec<&Contact> = loc
        .contacts
        .ordered()
        .filter(|c| c.business_id.as_deref() == Some(business_id.as_str()))
        .filter(|c| query.as_deref().is_none_or(|q| matches_query(c, q)))
        .collect();
    let contacts: Vec<Value> = matching
        .iter()
        .skip(usize::try_from(skip).unwrap_or(0))
        .take(usize::try_from(limit).unwrap_or(25))
        .map(|c| c.to_json())
        .collect();
    reply(
        StatusCode::OK,
        json!({"contacts": contacts, "count": matching.len()}),
    )
}

/// `GET /contacts/search/duplicate`: email first, then `number`, as the spec describes.
pub(crate) async fn duplicate(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = body::query(raw.as_deref())?;
    let mut problems = Problems::default();
    let location_id = required(&q, "locationId", &mut problems);
    problems.into_result()?;
    ensure_location(&caller, &location_id)?;
    let state = shared.state();
    let loc = state.location(&caller.location_id)?;
    let email = q.get("email").filter(|s| !s.trim().is_empty());
    let number = q.get("number").filter(|s| !s.trim().is_empty());
    if email.is_none() && number.is_none() {
        return Err(ApiError::BadRequest("email or number is required".into()));
    }
    let found = email
        .and_then(|e| loc.contacts.find_by_email(e))
        .or_else(|| number.and_then(|n| loc.contacts.find_by_phone(n)));
    reply(StatusCode::OK, json!({"contact": found.map(Contact::to_json)}))
}

/// The free-text `query` of the list endpoints: a substring of name, email, phone or company.
pub(crate) fn matches_query(contact: &Contact, query: &str) -> bool {
    let name = contact.display_name();
    [
        Some(name.as_str()),
        contact.email.as_deref(),
        contact.phone.as_deref(),
        contact.company_name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .any(|field| field.to_lowercase().contains(query))
}

fn required(q: &std::collections::HashMap<String, String>, key: &str, problems: &mut Problems) -> String {
    match q.get(key).filter(|v| !v.trim().is_empty()) {
        Some(v) => v.clone(),
        None => {
            problems.push(format!("{key} should not be empty"));
            String::new()
        }
    }
}

fn number(q: &std::collections::HashMap<String, String>, key: &str, problems: &mut Problems) -> Option<i64> {
    let raw = q.get(key)?;
    match raw.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n.fract() == 0.0 => Some(n as i64),
        _ => {
            problems.push(format!(
                "{key} must be a number conforming to the specified constraints"
            ));
            None
        }
    }
}

/// Shaped like the UUIDs GHL puts in `traceId`, drawn from the seeded id stream.
fn trace_id(state: &mut crate::state::State) -> String {
    let hex = state.random_hex(32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}
