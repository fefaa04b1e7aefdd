//! Custom fields: writes may name a field by key; GHL wants ids. Keys are resolved through
//! `GET /locations/{locationId}/customFields`, fetched once per location per cold start.

use std::collections::HashMap;

use tokio::sync::RwLock;

use super::client::{Call, GhlClient};
use super::error::GhlError;
use super::types::{CustomFieldDefinition, CustomFieldList, CustomFieldValue};
use crate::domain::FieldRef;

#[derive(Default)]
pub(crate) struct CustomFieldCache {
    by_location: RwLock<HashMap<String, Vec<CustomFieldDefinition>>>,
}

impl GhlClient {
    /// The location's contact custom fields (cached for the life of this client).
    pub async fn custom_fields(&self) -> Result<Vec<CustomFieldDefinition>, GhlError> {
        let location_id = self.location_id().await?;
        if let Some(fields) = self
            .custom_field_cache()
            .by_location
            .read()
            .await
            .get(&location_id)
        {
            return Ok(fields.clone());
        }
        let path = ["locations", location_id.as_str(), "customFields"];
        let list: CustomFieldList = self.call(Call::get(&path).query("model", "contact")).await?;
        let mut cache = self.custom_field_cache().by_location.write().await;
        cache.insert(location_id, list.custom_fields.clone());
        Ok(list.custom_fields)
    }

    /// Turns `(field, value)` pairs into the id-based writes GHL accepts; an unknown key is an
    /// error that names it.
    pub async fn resolve_custom_fields(
        &self,
        values: &[(FieldRef, String)],
    ) -> Result<Vec<CustomFieldValue>, GhlError> {
        if values.iter().all(|(r, _)| matches!(r, FieldRef::Id { .. })) {
            return Ok(values.iter().filter_map(|(r, v)| id_write(r, v)).collect());
        }
        let definitions = self.custom_fields().await?;
        let location_id = self.location_id().await?;
        values
            .iter()
            .map(|(field, value)| match field {
                FieldRef::Id { id } => Ok(CustomFieldValue {
                    id: id.clone(),
                    field_value: value.clone(),
                }),
                FieldRef::Key(key) => definitions
                    .iter()
                    .find(|d| key_matches(d.field_key.as_deref(), key))
                    .map(|d| CustomFieldValue {
                        id: d.id.clone(),
                        field_value: value.clone(),
                    })
                    .ok_or_else(|| GhlError::UnknownCustomField {
                        key: key.clone(),
                        location_id: location_id.clone(),
                    }),
            })
            .collect()
    }

    /// The id of a field named by key or by id.
    pub async fn custom_field_id(&self, field: &FieldRef) -> Result<String, GhlError> {
        let resolved = self
            .resolve_custom_fields(&[(field.clone(), String::new())])
            .await?;
        resolved
            .into_iter()
            .next()
            .map(|v| v.id)
            .ok_or_else(|| GhlError::Decode {
                status: 200,
                problem: "custom field resolution returned nothing".into(),
            })
    }

    /// Which of `keys` the location lacks (for the mapping check).
    pub async fn missing_custom_field_keys(&self, keys: &[&str]) -> Result<Vec<String>, GhlError> {
        let definitions = self.custom_fields().await?;
        Ok(keys
            .iter()
            .filter(|k| !definitions.iter().any(|d| key_matches(d.field_key.as_deref(), k)))
            .map(|k| (*k).to_owned())
            .collect())
    }
}

fn id_write(field: &FieldRef, value: &str) -> Option<CustomFieldValue> {
    match field {
        FieldRef::Id { id } => Some(CustomFieldValue {
            id: id.clone(),
            field_value: value.to_owned(),
        }),
        FieldRef::Key(_) => None,
    }
}

/// GHL's `fieldKey` is `contact.<key>`; accept the key with or without the prefix.
fn key_matches(field_key: Option<&str>, key: &str) -> bool {
    field_key.is_some_and(|fk| fk == key || fk.strip_prefix("contact.") == Some(key))
}

#[cfg(test)]
mod tests {
    use super::key_matches;

    #[test]
    fn keys_match_with_or_without_prefix() {
        assert!(key_matches(Some("contact.employee_count"), "employee_count"));
        assert!(key_matches(
            Some("contact.employee_count"),
            "contact.employee_count"
        ));
        assert!(!key_matches(Some("contact.employee_count_2"), "employee_count"));
        assert!(!key_matches(None, "x"));
    }
}
