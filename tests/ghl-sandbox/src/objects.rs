//! Custom objects as a location holds them (`apps/objects.json`, `apps/custom-fields.json`,
//! `apps/associations.json`): schemas with their fields and folders, records, associations and
//! the relations between records.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::model::iso_ms;

/// GHL's prefix on every custom object's key.
pub const OBJECT_PREFIX: &str = "custom_objects.";

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSchema {
    pub id: String,
    /// With the prefix: `custom_objects.course_enrollments`.
    pub key: String,
    pub singular: String,
    pub plural: String,
    pub description: Option<String>,
    /// The primary display property's full field key.
    pub primary: String,
    /// Full field keys record search matches on.
    pub searchable: Vec<String>,
    pub fields: Vec<ObjectField>,
    pub folders: Vec<(String, String)>,
    pub date_added: OffsetDateTime,
    pub date_updated: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectField {
    pub id: String,
    /// `custom_objects.{object}.{name}`.
    pub field_key: String,
    pub name: String,
    pub data_type: String,
    /// Option keys, for SINGLE_OPTIONS, MULTIPLE_OPTIONS, RADIO, CHECKBOX.
    pub options: Vec<String>,
    pub parent_id: Option<String>,
}

impl ObjectField {
    /// The key a record's properties use: the field key without the object's prefix.
    pub fn short_key(&self) -> &str {
        self.field_key.rsplit('.').next().unwrap_or(&self.field_key)
    }

    /// Why `value` cannot be stored in this field, if it cannot.
    pub(crate) fn refuses(&self, value: &Value) -> Option<String> {
        let name = self.short_key();
        match self.data_type.as_str() {
            _ if value.is_null() => None,
            "NUMERICAL" | "MONETORY" if !value.is_number() => Some(format!("{name} must be a number")),
            "DATE" if !value.as_str().is_some_and(is_day) => {
                Some(format!("{name} must be a date (YYYY-MM-DD)"))
            }
            "SINGLE_OPTIONS" | "RADIO"
                if !value
                    .as_str()
                    .is_some_and(|v| self.options.iter().any(|o| o == v)) =>
            {
                Some(format!("{name} must be one of {}", self.options.join(", ")))
            }
            "TEXT" | "LARGE_TEXT" | "EMAIL" | "PHONE" if !value.is_string() => {
                Some(format!("{name} must be a string"))
            }
            _ => None,
        }
    }

    pub(crate) fn to_json(&self, object_key: &str, location_id: &str) -> Value {
        let mut field = json!({
            "id": self.id,
            "name": self.name,
            "fieldKey": self.field_key,
            "dataType": self.data_type,
            "objectKey": object_key,
            "locationId": location_id,
        });
        if let Some(map) = field.as_object_mut() {
            if let Some(parent) = &self.parent_id {
                map.insert("parentId".into(), json!(parent));
            }
            if !self.options.is_empty() {
                let options: Vec<Value> = self
                    .options
                    .iter()
                    .map(|o| json!({ "key": o, "label": o }))
                    .collect();
                map.insert("options".into(), Value::Array(options));
            }
        }
        field
    }
}

fn is_day(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

impl ObjectSchema {
    pub(crate) fn to_json(&self, location_id: &str) -> Value {
        json!({
            "id": self.id,
            "standard": false,
            "key": self.key,
            "labels": { "singular": self.singular, "plural": self.plural },
            "description": self.description,
            "locationId": location_id,
            "primaryDisplayProperty": self.primary,
            "searchableProperties": self.searchable,
            "dateAdded": iso_ms(self.date_added),
            "dateUpdated": iso_ms(self.date_updated),
            "type": "USER_DEFINED",
        })
    }

    /// The field a record property names (short or full key).
    pub(crate) fn field(&self, property: &str) -> Option<&ObjectField> {
        self.fields
            .iter()
            .find(|f| f.short_key() == property || f.field_key == property)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRecord {
    pub id: String,
    pub object_key: String,
    /// By short key.
    pub properties: Map<String, Value>,
    /// User ids (`owner` in GHL's bodies, `owners` in its webhooks).
    pub owners: Vec<String>,
    pub followers: Vec<String>,
    pub date_added: OffsetDateTime,
    pub date_updated: OffsetDateTime,
}

impl ObjectRecord {
    pub(crate) fn to_json(&self, location_id: &str) -> Value {
        json!({
            "id": self.id,
            "owner": self.owners,
            "followers": self.followers,
            "properties": self.properties,
            "locationId": location_id,
            "objectKey": self.object_key,
            "dateAdded": iso_ms(self.date_added),
            "dateUpdated": iso_ms(self.date_updated),
            "createdAt": iso_ms(self.date_added),
            "updatedAt": iso_ms(self.date_updated),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Association {
    pub id: String,
    pub key: String,
    pub first_object_key: String,
    pub first_label: String,
    pub second_object_key: String,
    pub second_label: String,
}

impl Association {
    pub(crate) fn to_json(&self, location_id: &str) -> Value {
        json!({
            "locationId": location_id,
            "id": self.id,
            "key": self.key,
            "firstObjectLabel": self.first_label,
            "firstObjectKey": self.first_object_key,
            "secondObjectLabel": self.second_label,
            "secondObjectKey": self.second_object_key,
            "associationType": "USER_DEFINED",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    pub id: String,
    pub association_id: String,
    pub first_record_id: String,
    pub second_record_id: String,
}

impl Relation {
    pub(crate) fn to_json(&self, location_id: &str) -> Value {
        json!({
            "id": self.id,
            "associationId": self.association_id,
            "firstRecordId": self.first_record_id,
            "secondRecordId": self.second_record_id,
            "locationId": location_id,
        })
    }
}

/// A location's custom objects.
#[derive(Debug, Clone, Default)]
pub(crate) struct Objects {
    /// Whether the location's plan and the token allow custom objects at all.
    pub(crate) available: bool,
    pub(crate) schemas: Vec<ObjectSchema>,
    pub(crate) records: Vec<ObjectRecord>,
    pub(crate) associations: Vec<Association>,
    pub(crate) relations: Vec<Relation>,
}

impl Objects {
    pub(crate) fn new(available: bool) -> Self {
        Self {
            available,
            ..Self::default()
        }
    }

    pub(crate) fn schema(&self, key: &str) -> Option<&ObjectSchema> {
        self.schemas.iter().find(|s| s.key == key || s.id == key)
    }

    pub(crate) fn schema_mut(&mut self, key: &str) -> Option<&mut ObjectSchema> {
        self.schemas.iter_mut().find(|s| s.key == key || s.id == key)
    }
}
