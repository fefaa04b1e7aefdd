//! Finding or creating the GHL contact an event is about, and writing mapped custom fields.

use super::{Context, SyncError};
use crate::domain::{FieldRef, LearnerRef, SourcePlatform};
use crate::ghl::{ContactFields, CustomFieldValue, GhlClient};
use crate::ports::ContactLink;

/// The learner's contact id: from the entity map, or by upserting on their email (an event may
/// arrive before the learner's own `LearnerCreated`).
pub(crate) async fn ensure_contact(
    cx: &Context<'_>,
    source: &SourcePlatform,
    learner: &LearnerRef,
) -> Result<String, SyncError> {
    Ok(ensure_contact_writing(cx, source, learner, Vec::new()).await?.0)
}

/// As [`ensure_contact`], and writes `fields` into the upsert when the contact has to be upserted
/// anyway (one call instead of two). Returns the contact id and the fields still to be written
/// (all of them when the contact came from the entity map, none when the upsert carried them).
pub(crate) async fn ensure_contact_writing(
    cx: &Context<'_>,
    source: &SourcePlatform,
    learner: &LearnerRef,
    fields: Vec<CustomFieldValue>,
) -> Result<(String, Vec<CustomFieldValue>), SyncError> {
    if let Some(link) = cx.entities.contact(source, &learner.source_user_id).await? {
        return Ok((link.contact_id, fields));
    }
    let user_id = cx
        .mapping
        .contact
        .user_id_field
        .iter()
        .map(|f| (f.clone(), learner.source_user_id.clone()));
    let mut custom_fields = custom_fields(cx.ghl, user_id).await?;
    // Custom fields in an upsert are written one by one (unlike `tags`, which would replace).
    custom_fields.extend(fields);
    let request = ContactFields {
        first_name: learner.first_name.clone(),
        last_name: learner.last_name.clone(),
        email: Some(learner.email.as_str().to_owned()),
        source: Some(cx.mapping.contact_source(source)),
        custom_fields,
        ..ContactFields::default()
    };
    let contact_id = cx.ghl.upsert_contact(&request).await?.contact.id;
    crate::telemetry::metric::count(
        crate::telemetry::metric::EFFECTS_APPLIED,
        Some(("Effect", "ContactUpserted")),
    );
    remember_contact(cx, source, &learner.source_user_id, &contact_id).await?;
    Ok((contact_id, Vec::new()))
}

/// Writes custom fields to a known contact (one `PUT /contacts/:id`); nothing when there are none.
pub(crate) async fn write_fields(
    cx: &Context<'_>,
    contact_id: &str,
    fields: Vec<CustomFieldValue>,
) -> Result<(), SyncError> {
    if fields.is_empty() {
        return Ok(());
    }
    let update = ContactFields {
        custom_fields: fields,
        ..ContactFields::default()
    };
    cx.ghl.update_contact(contact_id, &update).await?;
    Ok(())
}

pub(crate) async fn remember_contact(
    cx: &Context<'_>,
    source: &SourcePlatform,
    source_user_id: &str,
    contact_id: &str,
) -> Result<(), SyncError> {
    let link = ContactLink {
        source: source.clone(),
        source_user_id: source_user_id.to_owned(),
        location_id: cx.ghl.location_id().await?,
        contact_id: contact_id.to_owned(),
    };
    cx.entities.put_contact(&link).await?;
    Ok(())
}

/// Resolves mapped fields (by key or id) to the id-based writes GHL accepts.
pub(crate) async fn custom_fields(
    ghl: &GhlClient,
    values: impl IntoIterator<Item = (FieldRef, String)>,
) -> Result<Vec<CustomFieldValue>, SyncError> {
    let refs: Vec<(FieldRef, String)> = values.into_iter().collect();
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    Ok(ghl.resolve_custom_fields(&refs).await?)
}
