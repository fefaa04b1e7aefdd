//! No echo loops: what an LMS target holds for a contact, as far as the sync knows
//! (`ports::LearnerMirror`), compared by both directions before they write.
//!
//! - GHL → LMS writes only what differs from the mirror, then records what it wrote.
//! - LMS → GHL records what the LMS reported about its learner, and drops an LMS event that adds
//!   nothing to the mirror: the LMS telling us about our own write (an enrollment we made fires
//!   the LMS's enrollment webhook).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use tracing::info;

use super::{Context, SyncError};
use crate::domain::{Email, SourcePlatform};
use crate::ports::LearnerMirror;

/// The hash of what identifies a learner's record: email, names and mapped fields. Both
/// directions compute it from their own side's values.
pub fn identity(
    email: &Email,
    first_name: Option<&str>,
    last_name: Option<&str>,
    fields: &BTreeMap<String, String>,
) -> String {
    let mut hasher = Sha256::new();
    for part in [Some(email.as_str()), first_name, last_name] {
        hasher.update(part.unwrap_or_default().as_bytes());
        hasher.update([0u8]);
    }
    for (key, value) in fields {
        hasher.update(key.as_bytes());
        hasher.update([1u8]);
        hasher.update(value.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// What an LMS event says about its learner, in mirror terms.
pub(crate) struct Reported<'a> {
    pub source: &'a SourcePlatform,
    pub user_id: &'a str,
    pub email: &'a Email,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    /// LMS custom fields as the LMS sent them (only the target's mapped ones count); `None` when
    /// the event does not describe the learner (a progress event), so identity is not compared.
    pub fields: Option<&'a BTreeMap<String, String>>,
    /// The ids of a course the learner is (now) enrolled in (an LMS may name a course by more
    /// than one: Skilljar's webhook by its id, its enrollment API by the published id).
    pub course: Vec<&'a str>,
}

/// The target this LMS event's account is, with what the mirror holds for the learner's contact.
async fn mirrored<'c>(
    cx: &Context<'c>,
    reported: &Reported<'_>,
) -> Result<Option<(&'c str, String, BTreeMap<String, String>, Option<LearnerMirror>)>, SyncError> {
    let location = cx.ghl.location_id().await?;
    let Some((name, target)) = cx.mapping.target_of_source(reported.source, &location) else {
        return Ok(None);
    };
    let Some(link) = cx.entities.contact(reported.source, reported.user_id).await? else {
        return Ok(None);
    };
    let fields: BTreeMap<String, String> = reported
        .fields
        .into_iter()
        .flatten()
        .filter(|(k, _)| target.fields.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mirror = cx.entities.mirror(name, &link.contact_id).await?;
    Ok(Some((name, link.contact_id, fields, mirror)))
}

/// `Some(target)` when the event adds nothing to what the target's mirror holds: the LMS is
/// telling us about our own write, and writing it to GHL again would start a loop.
pub(crate) async fn echo_of_our_write(
    cx: &Context<'_>,
    reported: &Reported<'_>,
) -> Result<Option<String>, SyncError> {
    let Some((name, _, fields, Some(mirror))) = mirrored(cx, reported).await? else {
        return Ok(None);
    };
    let same_identity = reported.fields.is_none()
        || mirror.identity == identity(reported.email, reported.first_name, reported.last_name, &fields);
    let same_learner = mirror.lms_user_id == reported.user_id && same_identity;
    // A Trainual subject the sync assigned is reported back as the learner's course.
    let nothing_new = reported.course.is_empty()
        || reported.course.iter().any(|c| {
            mirror.courses.contains(*c)
                || mirror
                    .memberships
                    .contains(&crate::domain::Membership::Subject((*c).to_owned()))
        });
    if same_learner && nothing_new {
        info!(
            target = name,
            user_id = reported.user_id,
            "LMS event repeats what the sync wrote there; not written to GHL (no echo)"
        );
        return Ok(Some(name.to_owned()));
    }
    Ok(None)
}

/// Records what the LMS reported, after its event reached GHL, so that GHL's webhook about that
/// write is recognised as nothing new for the LMS.
pub(crate) async fn record_reported(cx: &Context<'_>, reported: &Reported<'_>) -> Result<(), SyncError> {
    let Some((name, contact_id, fields, mirror)) = mirrored(cx, reported).await? else {
        return Ok(());
    };
    let mut next = mirror.unwrap_or_default();
    next.lms_user_id = reported.user_id.to_owned();
    if reported.fields.is_some() {
        next.identity = identity(reported.email, reported.first_name, reported.last_name, &fields);
    }
    next.active = true;
    next.courses
        .extend(reported.course.iter().map(|c| (*c).to_owned()));
    if !cx.entities.put_mirror(name, &contact_id, &next).await? {
        return Err(SyncError::Concurrent(format!(
            "target {name}, contact {contact_id}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_covers_email_names_and_fields_without_ambiguity() {
        let email = |e: &str| Email::try_from(e.to_owned()).unwrap_or_else(|_| panic!("{e}"));
        let none = BTreeMap::new();
        let a = identity(&email("a@b.co"), Some("Ada"), Some("L"), &none);
        assert_eq!(a, identity(&email("A@B.co"), Some("Ada"), Some("L"), &none));
        assert_ne!(a, identity(&email("a@b.co"), Some("Ad"), Some("aL"), &none));
        assert_ne!(a, identity(&email("a@b.co"), Some("Ada"), None, &none));
        let fields = BTreeMap::from([("dept".to_owned(), "x".to_owned())]);
        assert_ne!(a, identity(&email("a@b.co"), Some("Ada"), Some("L"), &fields));
    }
}
