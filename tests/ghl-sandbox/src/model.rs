//! The records the sandbox keeps and their JSON views, field names as in contacts.json.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::config::CustomFieldDef;

/// A contact as stored. Read it through `Sandbox::contacts` / `Sandbox::contact`.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: String,
    pub location_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Only when written explicitly; the JSON `name` falls back to first + last.
    pub name: Option<String>,
    pub email: Option<String>,
    /// Normalised to `+` and digits, as GHL stores E.164.
    pub phone: Option<String>,
    pub gender: Option<String>,
    pub address1: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub website: Option<String>,
    pub timezone: Option<String>,
    pub country: Option<String>,
    pub company_name: Option<String>,
    pub source: Option<String>,
    pub assigned_to: Option<String>,
    pub date_of_birth: Option<String>,
    pub business_id: Option<String>,
    pub dnd: bool,
    pub dnd_settings: Option<Value>,
    pub inbound_dnd_settings: Option<Value>,
    /// Lower-cased and de-duplicated, in insertion order.
    pub tags: Vec<String>,
    /// Custom field id → value.
    pub custom_fields: BTreeMap<String, Value>,
    pub followers: Vec<String>,
    /// Millisecond precision, because list cursors (`startAfter`) are in milliseconds.
    pub date_added: OffsetDateTime,
    pub date_updated: OffsetDateTime,
}

impl Contact {
    pub(crate) fn new(id: String, location_id: String, now: OffsetDateTime) -> Self {
        Self {
            id,
            location_id,
            first_name: None,
            last_name: None,
            name: None,
            email: None,
            phone: None,
            gender: None,
            address1: None,
            city: None,
            state: None,
            postal_code: None,
            website: None,
            timezone: None,
            country: None,
            company_name: None,
            source: None,
            assigned_to: None,
            date_of_birth: None,
            business_id: None,
            dnd: false,
            dnd_settings: None,
            inbound_dnd_settings: None,
            tags: Vec::new(),
            custom_fields: BTreeMap::new(),
            followers: Vec::new(),
            date_added: now,
            date_updated: now,
        }
    }

    pub fn date_added_ms(&self) -> i64 {
        epoch_ms(self.date_added)
    }

    pub fn display_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// One view for every contact answer: the union of `GetContectByIdSchema` and
    /// `CreateContactSchema`, absent fields omitted as GHL does.
    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("locationId".into(), json!(self.location_id));
        let name = self.display_name();
        if !name.is_empty() {
            m.insert("name".into(), json!(name));
            m.insert("fullNameLowerCase".into(), json!(name.to_lowercase()));
        }
        let text = [
            ("firstName", &self.first_name),
            ("lastName", &self.last_name),
            ("email", &self.email),
            ("phone", &self.phone),
            ("gender", &self.gender),
            ("address1", &self.address1),
            ("city", &self.city),
            ("state", &self.state),
            ("postalCode", &self.postal_code),
            ("website", &self.website),
            ("timezone", &self.timezone),
            ("country", &self.country),
            ("companyName", &self.company_name),
            ("source", &self.source),
            ("assignedTo", &self.assigned_to),
            ("dateOfBirth", &self.date_of_birth),
            ("businessId", &self.business_id),
        ];
        for (key, value) in text {
            if let Some(value) = value {
                m.insert(key.into(), json!(value));
            }
        }
        for (key, value) in [
            ("firstNameLowerCase", &self.first_name),
            ("lastNameLowerCase", &self.last_name),
            ("emailLowerCase", &self.email),
        ] {
            if let Some(value) = value {
                m.insert(key.into(), json!(value.to_lowercase()));
            }
        }
        m.insert("dnd".into(), json!(self.dnd));
        if let Some(settings) = &self.dnd_settings {
            m.insert("dndSettings".into(), settings.clone());
        }
        if let Some(settings) = &self.inbound_dnd_settings {
            m.insert("inboundDndSettings".into(), settings.clone());
        }
        m.insert("type".into(), json!("lead"));
        m.insert("deleted".into(), json!(false));
        m.insert("tags".into(), json!(self.tags));
        let custom: Vec<Value> = self
            .custom_fields
            .iter()
            .map(|(id, value)| json!({"id": id, "value": value}))
            .collect();
        m.insert("customFields".into(), Value::Array(custom));
        m.insert("followers".into(), json!(self.followers));
        m.insert("dateAdded".into(), json!(iso_ms(self.date_added)));
        m.insert("dateUpdated".into(), json!(iso_ms(self.date_updated)));
        Value::Object(m)
    }
}

/// `TaskSchema`.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    pub contact_id: String,
    pub title: String,
    pub body: Option<String>,
    pub assigned_to: Option<String>,
    pub due_date: OffsetDateTime,
    pub completed: bool,
}

impl Task {
    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("title".into(), json!(self.title));
        if let Some(body) = &self.body {
            m.insert("body".into(), json!(body));
        }
        if let Some(assigned) = &self.assigned_to {
            m.insert("assignedTo".into(), json!(assigned));
        }
        m.insert("dueDate".into(), json!(iso_ms(self.due_date)));
        m.insert("completed".into(), json!(self.completed));
        m.insert("contactId".into(), json!(self.contact_id));
        Value::Object(m)
    }
}

/// `GetNoteSchema`.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub id: String,
    pub contact_id: String,
    pub body: String,
    pub user_id: Option<String>,
    pub title: Option<String>,
    pub color: Option<String>,
    pub pinned: bool,
    pub date_added: OffsetDateTime,
}

impl Note {
    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("body".into(), json!(self.body));
        for (key, value) in [
            ("userId", &self.user_id),
            ("title", &self.title),
            ("color", &self.color),
        ] {
            if let Some(value) = value {
                m.insert(key.into(), json!(value));
            }
        }
        m.insert("pinned".into(), json!(self.pinned));
        m.insert("dateAdded".into(), json!(iso_ms(self.date_added)));
        m.insert("contactId".into(), json!(self.contact_id));
        Value::Object(m)
    }
}

/// `CustomFieldSchema` from locations.json.
pub(crate) fn custom_field_json(def: &CustomFieldDef, location_id: &str, position: usize) -> Value {
    json!({
        "id": def.id,
        "name": def.name,
        "fieldKey": format!("contact.{}", def.key),
        "placeholder": "",
        "dataType": def.data_type,
        "position": position * 50,
        "picklistOptions": def.picklist_options,
        "picklistImageOptions": [],
        "isAllowedCustomOption": false,
        "isMultiFileAllowed": false,
        "maxFileLimit": 0,
        "locationId": location_id,
        "model": "contact",
    })
}

pub(crate) fn epoch_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Truncates to whole milliseconds so a timestamp survives a round trip through a ms cursor.
pub(crate) fn truncate_ms(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.unix_timestamp_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos.rem_euclid(1_000_000)).unwrap_or(t)
}

/// GHL's timestamp format: `2021-07-02T05:18:26.704Z`.
pub(crate) fn iso_ms(t: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

pub(crate) fn parse_iso(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// Now, at the millisecond precision every stored timestamp has.
pub(crate) fn now_ms() -> OffsetDateTime {
    truncate_ms(OffsetDateTime::now_utc())
}
