//! How an enrollment, progress or completion becomes the learner's learning record in GHL: one
//! custom-object record per learner and course, linked to the contact once, never going back.
//!
//! What the sync knows of each enrollment is kept beside the entity map (a versioned document per
//! record): the merged state, what GHL holds, the record's id and whether it is linked. So:
//! - a duplicate or older event changes nothing and costs no GHL call;
//! - the record is found by its id, never by search-after-write (search lags); the one search is
//!   for a create an earlier attempt may have made and not recorded (its intent is there);
//! - progress inside a course (a lesson storm) is written at most once per debounce window; the
//!   state in between is kept, and goes with the next write (or the daily reconcile's);
//! - two invocations on one enrollment meet at the document's version, and the later redoes.

use serde::{Deserialize, Serialize};
use tracing::info;

use super::{Context, SyncError};
use crate::ghl::Idempotence;
use crate::ghl::enrollments::Readiness;
use crate::keys;
use crate::learning::{Enrollment, EnrollmentId, Observed, UNIQUE_KEY_FIELD};
use crate::ports::{Documents, PortError};
use crate::telemetry::metric;

/// What the sync keeps about one record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    /// Everything observed, merged.
    pub state: Enrollment,
    /// What GHL was last given; absent before the first write (or after adopting a record whose
    /// content is unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<Enrollment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// The record is linked to the contact.
    #[serde(default)]
    pub associated: bool,
    /// A create under way (or abandoned): which event, and until when its claim holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creating: Option<Creating>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Creating {
    pub event_id: String,
    pub until_ms: i64,
}

fn corrupt(key: &str, e: serde_json::Error) -> SyncError {
    SyncError::Port(PortError::new(
        "documents",
        format!("{key}: unreadable learning record state: {e}"),
    ))
}

async fn save(documents: &dyn Documents, key: &str, kept: &Kept, read: u64) -> Result<u64, SyncError> {
    let body = serde_json::to_string(kept).map_err(|e| corrupt(key, e))?;
    if documents.put(key, &body, read, None).await? {
        Ok(read + 1)
    } else {
        Err(SyncError::Concurrent(format!("learning record {key}")))
    }
}

/// Keeps the record of `id` up to date with `observed`, for the learner whose contact is
/// `contact_id`. `None` when the mapping keeps no records for this sender; otherwise what was done.
pub(crate) async fn keep(
    cx: &Context<'_>,
    contact_id: &str,
    id: &EnrollmentId,
    observed: &Observed,
) -> Result<Option<String>, SyncError> {
    keep_all(
        cx,
        contact_id,
        id,
        std::slice::from_ref(observed),
        Write::Debounced,
    )
    .await
}

/// Whether progress may wait for the debounce window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Debounced,
    /// Whatever GHL lacks goes now (the daily reconcile).
    Now,
}

/// As [`keep`], for several facts at once.
pub(crate) async fn keep_all(
    cx: &Context<'_>,
    contact_id: &str,
    id: &EnrollmentId,
    observed: &[Observed],
    write: Write,
) -> Result<Option<String>, SyncError> {
    let Some(config) = cx
        .mapping
        .learning_records
        .as_ref()
        .filter(|c| c.keeps(&id.source))
    else {
        return Ok(None);
    };
    let Some(documents) = cx.documents else {
        return Ok(None);
    };
    let object = config.object();
    let association_id = match cx.ghl.enrollment_readiness(&object).await? {
        Readiness::Ready { association_id } => association_id,
        Readiness::Off(why) => {
            info!(why = %why, "learning records off in this location");
            return Ok(Some(format!("learning record off: {why}")));
        }
    };
    let location_id = cx.ghl.location_id().await?;
    let key = keys::learning_record(&location_id, id);
    let Some(fresh) = Enrollment::of(observed) else {
        return Ok(None);
    };
    let (mut kept, mut version) = match documents.get(&key).await? {
        Some(stored) => {
            let mut kept: Kept = serde_json::from_str(&stored.body).map_err(|e| corrupt(&key, e))?;
            kept.state = observed.iter().fold(kept.state, |r, o| r.merge(o));
            (kept, stored.version)
        }
        None => (
            Kept {
                state: fresh,
                written: None,
                record_id: None,
                associated: false,
                creating: None,
            },
            0,
        ),
    };
    let before = serde_json::to_string(&kept).ok();

    if kept.record_id.is_none()
        && let Some(creating) = &kept.creating
    {
        if creating.event_id != cx.attempt.event_id.as_str() && creating.until_ms > cx.attempt.now_ms {
            // Another event is creating it right now: try again once it is done.
            return Err(SyncError::Concurrent(format!("learning record {key}")));
        }
        // An attempt died after its intent: the record may exist without its id here.
        let unique = id.unique_key();
        let found = cx
            .ghl
            .find_records(&object.key, UNIQUE_KEY_FIELD, &unique)
            .await?;
        if let Some(record) = found.into_iter().next() {
            kept.record_id = Some(record.id);
            kept.creating = None;
        }
    }

    let record_id = match kept.record_id.clone() {
        Some(record_id) => record_id,
        None => {
            // Say what is about to be created, then create and link it straight away: a record
            // made this moment has no links yet.
            kept.creating = Some(Creating {
                event_id: cx.attempt.event_id.to_string(),
                until_ms: cx.attempt.until_ms,
            });
            version = save(documents, &key, &kept, version).await?;
            let properties = object.properties(id, &kept.state);
            // Not repeated when GHL may have acted (a lost answer): the intent covers a create
            // across attempts, by the search above, but a second POST in this attempt would make a
            // second record (the chaos run found one).
            let record = cx
                .ghl
                .create_record(&object.key, &properties, Idempotence::NotIdempotent)
                .await?;
            metric::count(metric::EFFECTS_APPLIED, Some(("Effect", "LearningRecordCreated")));
            kept.record_id = Some(record.id.clone());
            kept.creating = None;
            kept.written = Some(kept.state.clone());
            // Recorded before linking, so that a crash in between never creates a second record.
            version = save(documents, &key, &kept, version).await?;
            cx.ghl
                .create_relation(&association_id, &record.id, contact_id)
                .await?;
            kept.associated = true;
            save(documents, &key, &kept, version).await?;
            return Ok(Some(format!(
                "learning record {} created ({})",
                record.id,
                kept.state.status.as_str()
            )));
        }
    };

    let mut done = Vec::new();
    if !kept.associated {
        // Adopted after a crash, or a crash between create and link: the link may exist already,
        // which `create_relation` checks only if GHL refuses the pair.
        cx.ghl
            .create_relation(&association_id, &record_id, contact_id)
            .await?;
        kept.associated = true;
        done.push("linked");
    }
    let window = time::Duration::seconds(i64::try_from(config.debounce_seconds).unwrap_or(i64::MAX));
    let properties = object.properties(id, &kept.state);
    let due = match &kept.written {
        None => true,
        Some(written) if *written == kept.state => false,
        // What GHL shows would not change (its dates are days): nothing to write.
        Some(written) if object.properties(id, written) == properties => {
            kept.written = Some(kept.state.clone());
            false
        }
        Some(written) if write == Write::Debounced && written.only_progress_differs(&kept.state) => {
            kept.state.last_activity_at - written.last_activity_at >= window
        }
        Some(_) => true,
    };
    if due {
        cx.ghl.update_record(&object.key, &record_id, &properties).await?;
        metric::count(metric::EFFECTS_APPLIED, Some(("Effect", "LearningRecordUpdated")));
        kept.written = Some(kept.state.clone());
        done.push("updated");
    } else if kept.written.as_ref() != Some(&kept.state) {
        done.push("progress kept for the next write (debounced)");
    }
    if serde_json::to_string(&kept).ok() != before {
        save(documents, &key, &kept, version).await?;
    }
    if done.is_empty() {
        done.push("unchanged");
    }
    Ok(Some(format!(
        "learning record {record_id} {} ({})",
        done.join(", "),
        kept.state.status.as_str()
    )))
}

/// A learning record changed in GHL (`RecordUpdate`). What the sync wrote comes back as such a
/// change too: a status equal to the one last written is our own echo and does nothing. A
/// person's "expired" ends the learner's enrollment in the LMS the record came from, where that
/// platform's API can, and is kept as a fact so that the sync's next write does not undo it.
/// Other changes by hand are left to the person (the next write from an LMS event may replace
/// them).
pub(crate) async fn changed_in_ghl(
    cx: &Context<'_>,
    change: &crate::domain::GhlChange,
    properties: &std::collections::BTreeMap<String, String>,
) -> Result<String, SyncError> {
    use crate::learning::{EnrollmentStatus, Fact};

    let Some(config) = cx.mapping.learning_records.as_ref() else {
        return Ok("learning records are off".into());
    };
    let Some(documents) = cx.documents else {
        return Ok("learning records are off".into());
    };
    let Some(id) = properties
        .get(UNIQUE_KEY_FIELD)
        .and_then(|key| EnrollmentId::from_unique_key(key))
    else {
        return Ok("not a learning record of this sync (no enrollment key)".into());
    };
    if !config.keeps(&id.source) {
        return Ok(format!("learning records of {} are not kept", id.source));
    }
    let Some(status) = properties.get("status").and_then(|s| EnrollmentStatus::parse(s)) else {
        return Ok("no status in the change; nothing to do".into());
    };
    let key = keys::learning_record(&change.location_id, &id);
    let Some(stored) = documents.get(&key).await? else {
        return Ok(format!("record {} is not one the sync keeps", id.unique_key()));
    };
    let mut kept: Kept = serde_json::from_str(&stored.body).map_err(|e| corrupt(&key, e))?;
    if kept.written.as_ref().map(|w| w.status) == Some(status) {
        return Ok(format!("status {} is the sync's own write", status.as_str()));
    }
    if status != EnrollmentStatus::Expired {
        return Ok(format!(
            "status set to {} in GHL; only \"expired\" is taken to the LMS",
            status.as_str()
        ));
    }
    let expired = kept.state.merge(&Observed {
        fact: Fact::Expired,
        at: change.occurred_at,
        course_title: None,
    });
    if expired.status != EnrollmentStatus::Expired {
        return Ok("expiry older than the learner's last activity; left as it is".into());
    }
    // The LMS first: should it fail, the redelivery finds the record not yet expired here and
    // tries again (ending an enrollment twice is not an error).
    let done = match cx.mapping.target_of_source(&id.source, &change.location_id) {
        Some((name, _)) => match cx.lms.get(name) {
            Some(account) => match account.unenroll(&id.lms_user_id, &id.course_id).await {
                Ok(()) => format!("enrollment ended in {name}"),
                Err(crate::lms::LmsError::Unsupported { platform, what }) => {
                    format!("{platform} cannot {what} through its API; kept as expired here only")
                }
                Err(e) => return Err(e.into()),
            },
            None => format!("target {name} has no LMS account (an outbound destination)"),
        },
        None => format!(
            "no target for {} in this location; kept as expired here only",
            id.source
        ),
    };
    kept.state = expired;
    let mut written = kept.written.clone().unwrap_or_else(|| kept.state.clone());
    written.status = EnrollmentStatus::Expired;
    kept.written = Some(written);
    save(documents, &key, &kept, stored.version).await?;
    metric::count(metric::EFFECTS_APPLIED, Some(("Effect", "LearningRecordExpired")));
    Ok(done)
}
