//! How a change in GHL (a `GhlChange` from the `ghl-events` function) reaches the LMS targets its
//! location feeds.

use super::{Context, SyncError};
use crate::domain::GhlChange;

/// Returns a summary of what was done. The mapping names the LMS targets each location feeds; a
/// location that feeds none has nothing to do.
pub async fn sync(cx: &Context<'_>, change: &GhlChange) -> Result<String, SyncError> {
    let _ = cx;
    Ok(format!(
        "location {} feeds no LMS target; {:?} not applied",
        change.location_id, change.change
    ))
}
