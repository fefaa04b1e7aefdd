//! How a change in GHL (a `GhlChange` from the `ghl-events` function) reaches the LMS targets its
//! location feeds: the contact's snapshot is projected onto each target (qualification, fields,
//! default courses, tag rules, deletion), compared with what the target holds as far as the sync
//! knows (its mirror), and only the difference is written. A change that only echoes our own
//! write, or concerns nothing a target keeps, costs no LMS call.

use std::collections::{BTreeMap, BTreeSet};

use tracing::info;

use super::mirror::identity;
use super::{Context, SyncError};
use crate::domain::EventId;
use crate::domain::{
    ContactSnapshot, Email, GhlChange, GhlChangeKind, GhlContactFacts, Membership, SourcePlatform,
};
use crate::lms::{LearnerFields, LmsAccount, LmsError, OutboundDocument};
use crate::mapping::{OnDelete, Platform, Qualify, Target};
use crate::ports::{ContactLink, LearnerMirror};

/// A target with its name.
type Named<'a> = (&'a str, &'a Target);

/// Returns a summary of what was done, per target.
pub async fn sync(cx: &Context<'_>, event_id: &EventId, change: &GhlChange) -> Result<String, SyncError> {
    let (outbound, targets): (Vec<Named<'_>>, Vec<Named<'_>>) = cx
        .mapping
        .targets_of(&change.location_id)
        .partition(|(_, t)| *t.platform.get_ref() == Platform::Outbound);
    let mut done = Vec::new();
    for (name, target) in outbound {
        done.push(format!(
            "{name}: {}",
            deliver(cx, event_id, name, target, change).await?
        ));
    }
    if targets.is_empty() {
        done.push(format!("location {} feeds no LMS account", change.location_id));
        return Ok(done.join("; "));
    }
    // Learners are made of contacts: notes, tasks and appointments have no place in these LMSs.
    if !concerns_the_contact(&change.change) {
        done.push(format!("{:?}: nothing an LMS account keeps", change.change));
        return Ok(done.join("; "));
    }
    let Some(contact_id) = change.contact_id.as_deref() else {
        done.push("no contact id in the delivery; nothing to apply".into());
        return Ok(done.join("; "));
    };
    let snapshot = snapshot(cx, change, contact_id).await?;
    for (name, target) in targets {
        let account = cx
            .lms
            .get(name)
            .ok_or_else(|| SyncError::NoAccount(name.to_owned()))?;
        let outcome = apply(cx, name, target, account, &snapshot).await?;
        done.push(format!("{name}: {outcome}"));
    }
    Ok(done.join("; "))
}

fn concerns_the_contact(kind: &GhlChangeKind) -> bool {
    matches!(
        kind,
        GhlChangeKind::ContactCreated
            | GhlChangeKind::ContactUpdated
            | GhlChangeKind::ContactDeleted
            | GhlChangeKind::ContactTagsChanged
    )
}

/// The contact as the delivery described it (contact webhooks carry all of it), else as GHL has
/// it now (one call).
async fn snapshot(
    cx: &Context<'_>,
    change: &GhlChange,
    contact_id: &str,
) -> Result<ContactSnapshot, SyncError> {
    let deleted = change.change == GhlChangeKind::ContactDeleted;
    let facts = match &change.contact {
        Some(facts) => facts.clone(),
        None => {
            let contact = cx.ghl.get_contact(contact_id).await?;
            GhlContactFacts {
                email: contact.email.and_then(|e| Email::try_from(e).ok()),
                first_name: contact.first_name,
                last_name: contact.last_name,
                phone: contact.phone,
                tags: contact.tags,
                custom_fields: contact
                    .custom_fields
                    .into_iter()
                    .map(|f| (f.id, text_of(&f.value)))
                    .collect(),
                dnd: None,
            }
        }
    };
    Ok(ContactSnapshot {
        location_id: change.location_id.clone(),
        contact_id: contact_id.to_owned(),
        email: facts.email,
        first_name: facts.first_name,
        last_name: facts.last_name,
        tags: facts.tags.into_iter().collect(),
        custom_fields: facts.custom_fields,
        deleted,
    })
}

fn text_of(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// What the target should hold for the contact.
struct Desired {
    fields: LearnerFields,
    identity: String,
    courses: BTreeSet<String>,
    grant: BTreeSet<Membership>,
    revoke: BTreeSet<Membership>,
}

async fn desired(
    cx: &Context<'_>,
    target: &Target,
    email: &Email,
    s: &ContactSnapshot,
) -> Result<Desired, SyncError> {
    let mut fields = BTreeMap::new();
    for (lms_key, ghl_field) in &target.fields {
        let id = cx.ghl.custom_field_id(ghl_field).await?;
        if let Some(value) = s.custom_fields.get(&id) {
            fields.insert(lms_key.clone(), value.clone());
        }
    }
    let mut grant = BTreeSet::new();
    let mut revoke = BTreeSet::new();
    for rule in &target.tag_rules {
        let rule = rule.get_ref();
        if let Some(membership) = rule.membership() {
            if s.tags.contains(&rule.tag) {
                grant.insert(membership);
            } else if rule.remove_when_untagged {
                revoke.insert(membership);
            }
        }
    }
    Ok(Desired {
        identity: identity(email, s.first_name.as_deref(), s.last_name.as_deref(), &fields),
        fields: LearnerFields {
            email: email.clone(),
            first_name: s.first_name.clone(),
            last_name: s.last_name.clone(),
            custom_fields: fields,
        },
        courses: target.default_courses.iter().cloned().collect(),
        grant,
        revoke,
    })
}

async fn qualifies(cx: &Context<'_>, target: &Target, s: &ContactSnapshot) -> Result<bool, SyncError> {
    Ok(match &target.qualify {
        None => true,
        Some(Qualify::Tag { tag }) => s.tags.contains(tag),
        Some(Qualify::Field { field, value }) => {
            let id = cx.ghl.custom_field_id(field).await?;
            s.custom_fields.get(&id) == Some(value)
        }
    })
}

/// Applies the snapshot to one target; returns what was written (or why nothing was).
async fn apply(
    cx: &Context<'_>,
    name: &str,
    target: &Target,
    account: &dyn LmsAccount,
    s: &ContactSnapshot,
) -> Result<String, SyncError> {
    let mirror = cx.entities.mirror(name, &s.contact_id).await?;
    if s.deleted {
        return deleted(cx, name, target, account, s, mirror).await;
    }
    let Some(email) = s.email.as_ref() else {
        return Ok("contact has no usable email; not a learner".into());
    };
    if !qualifies(cx, target, s).await? {
        return Ok("contact does not qualify; nothing written".into());
    }
    let want = desired(cx, target, email, s).await?;
    let mut next = mirror.clone().unwrap_or_default();
    let mut written = Vec::new();

    if next.lms_user_id.is_empty() || next.identity != want.identity || !next.active {
        let user = account.upsert_user(&want.fields).await?;
        // A crash test kills the worker here: the LMS has the learner, the mirror does not yet.
        fail::fail_point!("after-lms-upsert");
        written.push(format!("learner {}", user.id));
        next.lms_user_id = user.id;
        next.identity = want.identity.clone();
        next.active = true;
        remember_learner(cx, target, s, &next.lms_user_id).await?;
    }
    for course in want.courses.difference(&next.courses.clone()) {
        if let Some(note) = skipped(account.enroll(&next.lms_user_id, course).await)? {
            written.push(note);
            continue;
        }
        next.courses.insert(course.clone());
        written.push(format!("enrolled in {course}"));
    }
    for membership in want.grant.difference(&next.memberships.clone()) {
        if let Some(note) = skipped(account.grant(&next.lms_user_id, membership).await)? {
            written.push(note);
            continue;
        }
        next.memberships.insert(membership.clone());
        written.push(format!("granted {membership:?}"));
    }
    for membership in want.revoke.intersection(&next.memberships.clone()) {
        if let Some(note) = skipped(account.revoke(&next.lms_user_id, membership).await)? {
            written.push(note);
            continue;
        }
        next.memberships.remove(membership);
        written.push(format!("revoked {membership:?}"));
    }
    if written.is_empty() {
        info!(target = name, contact_id = %s.contact_id, "no difference from what the target holds; nothing written");
        return Ok("no difference; nothing written".into());
    }
    if !cx.entities.put_mirror(name, &s.contact_id, &next).await? {
        return Err(SyncError::Concurrent(format!(
            "target {name}, contact {}",
            s.contact_id
        )));
    }
    Ok(written.join(", "))
}

/// Apps without an API of ours get every change of their location as a signed document, whose id
/// (event and target) lets them drop a repeat; a contact that does not qualify is not sent.
async fn deliver(
    cx: &Context<'_>,
    event_id: &EventId,
    name: &str,
    target: &Target,
    change: &GhlChange,
) -> Result<String, SyncError> {
    if let (Some(Qualify::Tag { tag }), Some(facts)) = (&target.qualify, &change.contact)
        && !facts.tags.contains(tag)
    {
        return Ok("contact does not qualify; not sent".into());
    }
    let destination = cx
        .outbound
        .get(name)
        .ok_or_else(|| SyncError::NoAccount(name.to_owned()))?;
    let document = OutboundDocument::from_change(format!("{event_id}:{name}"), change);
    destination.deliver(&document).await?;
    Ok("document delivered".into())
}

/// An operation the platform cannot do is noted and skipped; anything else is an error.
fn skipped(result: Result<(), LmsError>) -> Result<Option<String>, SyncError> {
    match result {
        Ok(()) => Ok(None),
        Err(unsupported @ LmsError::Unsupported { .. }) => Ok(Some(format!("skipped: {unsupported}"))),
        Err(e) => Err(e.into()),
    }
}

async fn deleted(
    cx: &Context<'_>,
    name: &str,
    target: &Target,
    account: &dyn LmsAccount,
    s: &ContactSnapshot,
    mirror: Option<LearnerMirror>,
) -> Result<String, SyncError> {
    let Some(mut mirror) = mirror.filter(|m| !m.lms_user_id.is_empty()) else {
        return Ok("contact deleted; no learner was made of it".into());
    };
    if target.on_delete == OnDelete::Leave || !mirror.active {
        return Ok("contact deleted; learner left as is".into());
    }
    if let Some(note) = skipped(account.deactivate(&mirror.lms_user_id).await)? {
        return Ok(note);
    }
    mirror.active = false;
    if !cx.entities.put_mirror(name, &s.contact_id, &mirror).await? {
        return Err(SyncError::Concurrent(format!(
            "target {name}, contact {}",
            s.contact_id
        )));
    }
    Ok(format!("learner {} deactivated", mirror.lms_user_id))
}

/// Records learner → contact for the LMS → GHL direction, so the LMS's own events about this
/// learner find the contact (and the mirror) instead of making a second one.
async fn remember_learner(
    cx: &Context<'_>,
    target: &Target,
    s: &ContactSnapshot,
    user_id: &str,
) -> Result<(), SyncError> {
    let Ok(source) = SourcePlatform::try_from(target.source().to_owned()) else {
        return Ok(());
    };
    cx.entities
        .put_contact(&ContactLink {
            source,
            source_user_id: user_id.to_owned(),
            location_id: s.location_id.clone(),
            contact_id: s.contact_id.clone(),
        })
        .await?;
    Ok(())
}
