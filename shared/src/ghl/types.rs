//! Request and response bodies, named as in GHL's spec. Responses are parsed tolerantly: only the
//! fields we use are required, unknown ones are ignored.

use serde::{Deserialize, Serialize};

/// `POST /contacts/upsert` (`UpsertContactDto`). Tags are deliberately absent: the upsert's
/// `tags` field replaces all of a contact's tags, so tags are added with `POST …/tags` instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertContact {
    pub location_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomFieldValue>,
}

/// A custom field write (`TextField` in the spec): by GHL field id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomFieldValue {
    pub id: String,
    pub field_value: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UpsertContactResponse {
    #[serde(default)]
    pub new: bool,
    pub contact: ContactSummary,
    #[serde(default, rename = "traceId")]
    pub trace_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContactSummary {
    pub id: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TagsBody<'a> {
    pub tags: &'a [String],
}
