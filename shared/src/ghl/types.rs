//! Request and response bodies, named as in GHL's spec (`tests/contract/ghl-api/apps/*.json`).
//! Responses parse tolerantly: only what we use is required, unknown fields are ignored, and what
//! callers may want beyond that stays available as raw JSON (`extra`).

use serde::{Deserialize, Serialize};

/// A custom field write: by GHL id, or by field key (resolved to an id before sending, because the
/// spec's `TextField` requires `id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomFieldValue {
    pub id: String,
    pub field_value: String,
}

/// A custom field read back from a contact: `{id, value}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CustomFieldReading {
    pub id: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

/// Contact fields for create (`CreateContactDto`), update (`UpdateContactDto`) and upsert
/// (`UpsertContactDto`). `location_id` is required for create and upsert and must be absent on
/// update; the client sets it. `tags` replaces all tags on upsert/update: prefer `add_tags`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomFieldValue>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WithLocation<'a> {
    pub location_id: &'a str,
    #[serde(flatten)]
    pub fields: &'a ContactFields,
}

/// A contact as GHL returns it (`GetContectByIdSchema`, sic).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: String,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub date_added: Option<String>,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default)]
    pub custom_fields: Vec<CustomFieldReading>,
    #[serde(default)]
    pub business_id: Option<String>,
    /// `searchAfter` cursor of this row in a search answer.
    #[serde(default)]
    pub search_after: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ContactEnvelope {
    pub contact: Contact,
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
    /// The contact's tags after the write, when GHL says (upsert answers carry the whole contact).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `PUT`/`DELETE` answers: `{succeded: true}` (sic), sometimes with the contact.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Succeeded {
    #[serde(default)]
    pub succeded: Option<bool>,
    #[serde(default)]
    pub contact: Option<Contact>,
}

impl Succeeded {
    /// GHL says `succeded: false` with a 200 status on some refusals.
    pub fn check(&self) -> Result<(), super::GhlError> {
        match self.succeded {
            Some(false) => Err(super::GhlError::Rejected {
                status: 200,
                message: "GHL answered succeded: false".into(),
                existing_contact_id: None,
            }),
            _ => Ok(()),
        }
    }
}

/// One page of `GET /contacts/`; `meta` carries the cursor when GHL sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct ContactPage {
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub meta: Option<PageMeta>,
    #[serde(default)]
    pub count: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub start_after_id: Option<String>,
    #[serde(default)]
    pub start_after: Option<i64>,
    #[serde(default)]
    pub next_page_url: Option<String>,
}

/// `POST /contacts/search` (`SearchBodyV2DTO`): page-number or `searchAfter` paging.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchPage {
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub total: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DuplicateAnswer {
    #[serde(default)]
    pub contact: Option<Contact>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BusinessContacts {
    #[serde(default)]
    pub contacts: Vec<Contact>,
}

/// `CreateTaskParams` / `UpdateTaskBody`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
}

/// `CreateTaskParams`: title, due date and completed are required by the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTask {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub due_date: String,
    pub completed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub due_date: Option<String>,
    #[serde(default)]
    pub completed: bool,
    #[serde(default)]
    pub assigned_to: Option<String>,
    #[serde(default)]
    pub contact_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TaskEnvelope {
    pub task: Task,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TaskList {
    #[serde(default)]
    pub tasks: Vec<Task>,
}

/// `NotesDTO` (create: `body` required) / `UpdateNoteDTO`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub id: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub date_added: Option<String>,
    #[serde(default)]
    pub contact_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NoteEnvelope {
    pub note: Note,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NoteList {
    #[serde(default)]
    pub notes: Vec<Note>,
}

/// An appointment on a contact (`GetEventSchema`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Appointment {
    pub id: String,
    #[serde(default)]
    pub calendar_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AppointmentList {
    #[serde(default)]
    pub events: Vec<Appointment>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TagsBody<'a> {
    pub tags: &'a [String],
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TagsAnswer {
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A location's custom field definition (`locations.json`, `CustomFieldSchema`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomFieldDefinition {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `contact.<key>`.
    #[serde(default)]
    pub field_key: Option<String>,
    #[serde(default)]
    pub data_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CustomFieldList {
    #[serde(default)]
    pub custom_fields: Vec<CustomFieldDefinition>,
}

/// `POST /oauth/token` answer (`GetAccessCodeSuccessfulResponseDto`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAnswer {
    #[serde(rename = "access_token")]
    pub access_token: secrecy::SecretString,
    #[serde(rename = "refresh_token", default)]
    pub refresh_token: Option<secrecy::SecretString>,
    #[serde(rename = "expires_in", default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub user_type: Option<String>,
}
