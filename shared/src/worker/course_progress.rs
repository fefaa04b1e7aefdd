//! How a `CourseProgressed` (the daily batch's reading of an LMS's course progress) repairs the
//! learner's learning record: the facts it gives are merged like any event's, and whatever GHL
//! lacks is written at once (a debounced write still pending goes too). A record already in step
//! costs no GHL call; the contact comes from the entity map when the sync knows the learner.

use super::contact::ensure_contact;
use super::learning_records::{self, Write};
use super::{Context, SyncError};
use crate::domain::CourseProgressed;
use crate::learning::Observed;

pub async fn sync(cx: &Context<'_>, p: &CourseProgressed) -> Result<String, SyncError> {
    if cx
        .mapping
        .learning_records
        .as_ref()
        .is_none_or(|r| !r.keeps(&p.source))
    {
        return Ok("learning records are off for this sender".into());
    }
    let contact_id = ensure_contact(cx, &p.source, &p.learner).await?;
    let (id, facts) = Observed::from_progress(p);
    let done = learning_records::keep_all(cx, &contact_id, &id, &facts, Write::Now).await?;
    Ok(format!(
        "contact {contact_id}; {}",
        done.unwrap_or_else(|| "no learning record kept".into())
    ))
}
