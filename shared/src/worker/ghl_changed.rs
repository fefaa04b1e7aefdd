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

/// Returns a summary of what was done, per target. Each target is applied on its own: one that
/// fails does not keep the others from their change. The event then fails with that target's
/// error (a retryable one first, so the event is redelivered), and the LMS accounts already done
/// cost nothing on redelivery (their mirror holds the change; an outbound document is sent again,
/// and its id lets the receiver drop the repeat).
pub async fn sync(cx: &Context<'_>, event_id: &EventId, change: &GhlChange) -> Result<String, SyncError> {
    let (outbound, targets): (Vec<Named<'_>>, Vec<Named<'_>>) = cx
        .mapping
        .targets_of(&change.location_id)
        .partition(|(_, t)| *t.platform.get_ref() == Platform::Outbound);
    let mut outcome = Outcome::default();
    for (name, target) in outbound {
        outcome.record(name, deliver(cx, event_id, name, target, change).await);
    }
    if let GhlChangeKind::RecordUpdated { properties, .. } = &change.change {
        // A learning record a person changed in GHL: its LMS action, if any, is the records'.
        let done = super::learning_records::changed_in_ghl(cx, change, properties).await;
        outcome.record("learning record", done);
    } else if !targets.is_empty() {
        outcome.record("LMS accounts", apply_to_accounts(cx, &targets, change).await);
    }
    outcome.finish()
}

/// Applies a contact change to the LMS accounts; a summary per account.
async fn apply_to_accounts(
    cx: &Context<'_>,
    targets: &[Named<'_>],
    change: &GhlChange,
) -> Result<String, SyncError> {
    // Learners are made of contacts: notes, tasks and appointments have no place in these LMSs.
    if !concerns_the_contact(&change.change) {
        return Ok(format!("{:?}: nothing an LMS account keeps", change.change));
    }
    let Some(contact_id) = change.contact_id.as_deref() else {
        return Ok("no contact id in the delivery; nothing to apply".into());
    };
    // Custom fields are read by mapped fields and by field qualification only.
    let reads_custom_fields = targets
        .iter()
        .any(|(_, t)| !t.fields.is_empty() || matches!(t.qualify, Some(Qualify::Field { .. })));
    let Some(snapshot) = snapshot(cx, change, contact_id, reads_custom_fields).await? else {
        return Ok("the contact no longer exists in GHL; nothing to apply".into());
    };
    let mut outcome = Outcome::default();
    for (name, target) in targets {
        let result = match cx.lms.get(name) {
            Some(account) => apply(cx, name, target, account, &snapshot).await,
            None => Err(SyncError::NoAccount((*name).to_owned())),
        };
        outcome.record(name, result);
    }
    outcome.finish()
}

/// What the targets of one change came to.
#[derive(Default)]
struct Outcome {
    done: Vec<String>,
    failure: Option<SyncError>,
}

impl Outcome {
    fn record(&mut self, name: &str, result: Result<String, SyncError>) {
        match result {
            Ok(summary) => self.done.push(format!("{name}: {summary}")),
            Err(e) => {
                tracing::warn!(target = name, reason = e.reason(), error = %e, "target failed; the others go on");
                self.done.push(format!("{name}: failed ({})", e.reason()));
                self.fail(e);
            }
        }
    }

    /// Keeps the failure to report: a retryable one wins, so the event comes back.
    fn fail(&mut self, e: SyncError) {
        if self
            .failure
            .as_ref()
            .is_none_or(|f| !f.is_retryable() && e.is_retryable())
        {
            self.failure = Some(e);
        }
    }

    fn finish(self) -> Result<String, SyncError> {
        match self.failure {
            Some(e) => Err(e),
            None => Ok(self.done.join("; ")),
        }
    }
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

/// The contact as the delivery described it (a marketplace contact webhook carries all of it), else
/// as GHL has it now (one call): when the delivery carried none, or only part of it (a workflow's
/// carries no custom fields) and a target reads custom fields. `None` when GHL no longer has it.
async fn snapshot(
    cx: &Context<'_>,
    change: &GhlChange,
    contact_id: &str,
    reads_custom_fields: bool,
) -> Result<Option<ContactSnapshot>, SyncError> {
    let deleted = change.change == GhlChangeKind::ContactDeleted;
    let facts = match &change.contact {
        Some(facts) if !(facts.partial && reads_custom_fields) => facts.clone(),
        _ => {
            match cx.ghl.get_contact(contact_id).await {
                Ok(contact) => facts_of(contact),
                // Deleted in GHL since the delivery: there is no contact left to apply.
                Err(crate::ghl::GhlError::Rejected { status: 404, .. }) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    };
    Ok(Some(ContactSnapshot {
        deleted,
        ..snapshot_of(&change.location_id, contact_id, facts, change.occurred_at)
    }))
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

/// Whether applying the contact to the target would write anything: the comparison `apply`
/// makes, without its writes. The daily batch's reconcile asks it before queueing a contact.
pub(crate) async fn differs(
    cx: &Context<'_>,
    target: &Target,
    s: &ContactSnapshot,
    mirror: Option<&LearnerMirror>,
) -> Result<bool, SyncError> {
    if mirror.is_some_and(|m| epoch_ms(s.as_of) < m.as_of_ms) {
        return Ok(false);
    }
    if s.deleted {
        return Ok(target.on_delete == OnDelete::Deactivate
            && mirror.is_some_and(|m| m.active && !m.lms_user_id.is_empty()));
    }
    let Some(email) = s.email.as_ref() else {
        return Ok(false);
    };
    if !qualifies(cx, target, s).await? {
        return Ok(false);
    }
    let want = desired(cx, target, email, s).await?;
    let Some(m) = mirror else {
        return Ok(true);
    };
    Ok(m.lms_user_id.is_empty()
        || m.identity != want.identity
        || !m.active
        || want.courses.difference(&m.courses).next().is_some()
        || want.grant.difference(&m.memberships).next().is_some()
        || want.revoke.intersection(&m.memberships).next().is_some())
}

/// A GHL contact as read (a search row, `GET /contacts/:id`) in the rules' terms.
pub(crate) fn facts_of(contact: crate::ghl::Contact) -> GhlContactFacts {
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
        partial: false,
    }
}

/// The snapshot of a contact whose facts are in hand.
pub(crate) fn snapshot_of(
    location_id: &str,
    contact_id: &str,
    facts: GhlContactFacts,
    as_of: time::OffsetDateTime,
) -> ContactSnapshot {
    ContactSnapshot {
        location_id: location_id.to_owned(),
        contact_id: contact_id.to_owned(),
        email: facts.email,
        first_name: facts.first_name,
        last_name: facts.last_name,
        tags: facts.tags.into_iter().collect(),
        custom_fields: facts.custom_fields,
        deleted: false,
        as_of,
    }
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
    let as_of = epoch_ms(s.as_of);
    if let Some(m) = &mirror
        && as_of < m.as_of_ms
    {
        info!(target = name, contact_id = %s.contact_id, "older than the state already applied; skipped");
        return Ok("older than the state already applied; skipped".into());
    }
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
        if !next.lms_user_id.is_empty() && next.lms_user_id != user.id {
            // Another learner (the contact's email changed): it has none of the old one's courses
            // or groups, so all of them are owed to it.
            next.courses.clear();
            next.memberships.clear();
        }
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
        // Still newer than the mirror: recorded, so that an older change arriving later is seen
        // as older (it would otherwise find a difference and undo this state).
        if let Some(m) = mirror.filter(|m| m.as_of_ms < as_of) {
            let next = LearnerMirror { as_of_ms: as_of, ..m };
            if !cx.entities.put_mirror(name, &s.contact_id, &next).await? {
                return Err(SyncError::Concurrent(format!(
                    "target {name}, contact {}",
                    s.contact_id
                )));
            }
        }
        return Ok("no difference; nothing written".into());
    }
    next.as_of_ms = next.as_of_ms.max(as_of);
    if !cx.entities.put_mirror(name, &s.contact_id, &next).await? {
        return Err(SyncError::Concurrent(format!(
            "target {name}, contact {}",
            s.contact_id
        )));
    }
    for _ in &written {
        crate::telemetry::metric::count(
            crate::telemetry::metric::EFFECTS_APPLIED,
            Some(("Effect", "LmsWrite")),
        );
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

fn epoch_ms(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
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
    mirror.as_of_ms = mirror.as_of_ms.max(epoch_ms(s.as_of));
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
