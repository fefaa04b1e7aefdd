//! Reconcile, GHL → LMS: a page of the location's contacts, each compared with what the target
//! holds for it (its mirror, read for the whole page at once); a contact that differs is queued
//! as a `GhlChanged` carrying the contact as read, which the worker applies as it would GHL's
//! own webhook. The search row carries the tags and custom fields the rules read: an unchanged
//! contact costs no GHL call beyond its share of the page.

use serde_json::{Value, json};

use super::{BatchError, BatchRunner, Change};
use crate::domain::{GhlChange, GhlChangeKind, SyncEvent};
use crate::ghl::SearchQuery;
use crate::mapping::{Qualify, Target};
use crate::worker::Context;
use crate::worker::ghl_changed::{differs, facts_of, snapshot_of};

pub(super) struct Page {
    pub changes: Vec<Change>,
    pub seen: u64,
    pub next: Option<Vec<Value>>,
}

/// The search the target's contacts come from: its `[targets.<name>.reconcile]` filters, else
/// its qualifying tag (a contact without it cannot become a learner of the target).
pub fn query(target: &Target) -> SearchQuery {
    let mut filters = Vec::new();
    let tag = target.reconcile.tag.clone().or_else(|| match &target.qualify {
        Some(Qualify::Tag { tag }) => Some(tag.clone()),
        _ => None,
    });
    if let Some(tag) = tag {
        filters.push(json!({"field": "tags", "operator": "eq", "value": [tag]}));
    }
    if let Some(business) = &target.reconcile.business_id {
        filters.push(json!({"field": "businessId", "operator": "eq", "value": business}));
    }
    SearchQuery {
        query: None,
        filters,
        // A stable order for `searchAfter`: contacts added during the run come last.
        sort: vec![json!({"field": "dateAdded", "direction": "asc"})],
    }
}

pub(super) async fn page(
    runner: &BatchRunner,
    cx: &Context<'_>,
    name: &str,
    target: &Target,
    run_id: &str,
    after: Option<Vec<Value>>,
) -> Result<Page, BatchError> {
    let (found, next) = cx
        .ghl
        .search_after(&query(target), after, runner.tuning.ghl_page_size)
        .await?;
    // GHL's state as of the read: newer than any change the worker applied before it.
    let as_of = runner.clock.now();
    let ids: Vec<&str> = found.contacts.iter().map(|c| c.id.as_str()).collect();
    let mirrors = cx.entities.mirrors(name, &ids).await?;
    let seen = found.contacts.len() as u64;
    let mut changes = Vec::new();
    for contact in found.contacts {
        let id = contact.id.clone();
        let facts = facts_of(contact);
        let snapshot = snapshot_of(&target.location_id, &id, facts.clone(), as_of);
        if !differs(cx, target, &snapshot, mirrors.get(&id)).await? {
            continue;
        }
        changes.push(Change {
            kind: "ghl_to_lms:contact",
            idempotency_key: format!("batch:{run_id}:{name}:contact:{id}"),
            event: SyncEvent::GhlChanged(GhlChange {
                location_id: target.location_id.clone(),
                contact_id: Some(id),
                change: GhlChangeKind::ContactUpdated,
                contact: Some(facts),
                occurred_at: as_of,
            }),
        });
    }
    Ok(Page { changes, seen, next })
}
