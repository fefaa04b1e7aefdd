//! How a `LearnerCreated` becomes a GHL contact: upsert (names, email, phone, source, mapped
//! custom fields), then add the mapping's tags, then remember LMS user → contactId.

use super::{SyncError, SyncWorker};
use crate::domain::LearnerCreated;
use crate::ghl::{ContactFields, CustomFieldValue, GhlClient};
use crate::mapping::Mapping;
use crate::ports::ContactLink;

/// Returns the GHL contact id.
pub async fn sync(
    worker: &SyncWorker,
    ghl: &GhlClient,
    learner: &LearnerCreated,
) -> Result<String, SyncError> {
    let location_id = ghl.location_id().await?;
    let request = upsert_request(learner, &worker.mapping);
    let response = ghl.upsert_contact(&request).await?;
    let contact_id = response.contact.id;
    let tags = worker.mapping.learner_tags(learner);
    if !tags.is_empty() {
        ghl.add_tags(&contact_id, &tags).await?;
    }
    worker
        .entities
        .put_contact(&ContactLink {
            source: learner.source.clone(),
            source_user_id: learner.source_user_id.clone(),
            location_id,
            contact_id: contact_id.clone(),
        })
        .await?;
    Ok(contact_id)
}

pub fn upsert_request(learner: &LearnerCreated, mapping: &Mapping) -> ContactFields {
    // `role` travels like any other custom field: mapped by key, or not sent.
    let role = learner.role.as_ref().map(|r| ("role", r));
    let custom_fields = learner
        .custom_fields
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .chain(role)
        .filter_map(|(key, value)| {
            mapping.custom_fields.get(key).map(|id| CustomFieldValue {
                id: id.clone(),
                field_value: value.clone(),
            })
        })
        .collect();
    ContactFields {
        first_name: learner.first_name.clone(),
        last_name: learner.last_name.clone(),
        email: Some(learner.email.as_str().to_owned()),
        phone: learner.phone.clone(),
        source: Some(mapping.contact_source(learner)),
        custom_fields,
        ..ContactFields::default()
    }
}
