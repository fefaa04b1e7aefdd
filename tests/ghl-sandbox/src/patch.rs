//! Contact writes (`CreateContactDto`, `UpdateContactDto`, `UpsertContactDto`): validated into a
//! patch first, applied only once every check has passed, so a refused write changes nothing.

use serde_json::Value;

use crate::body::{self, Object};
use crate::config::CustomFieldDef;
use crate::error::{ApiError, Problems};
use crate::model::Contact;
use crate::store::phone_key;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteKind {
    Create,
    Update,
    Upsert,
}

/// String fields every DTO shares, with the `Contact` slot each fills.
const SHARED_TEXT: [&str; 15] = [
    "firstName",
    "lastName",
    "name",
    "email",
    "phone",
    "address1",
    "city",
    "state",
    "postalCode",
    "website",
    "timezone",
    "source",
    "dateOfBirth",
    "country",
    "assignedTo",
];
/// In `CreateContactDto` and `UpsertContactDto` but not in `UpdateContactDto`.
const CREATE_ONLY_TEXT: [&str; 2] = ["gender", "companyName"];
const OTHER_FIELDS: [&str; 5] = ["dnd", "dndSettings", "inboundDndSettings", "tags", "customFields"];

fn allowed(kind: WriteKind) -> Vec<&'static str> {
    let mut keys: Vec<&str> = SHARED_TEXT.iter().chain(OTHER_FIELDS.iter()).copied().collect();
    if kind != WriteKind::Update {
        keys.extend(CREATE_ONLY_TEXT);
        keys.push("locationId");
    }
    if kind == WriteKind::Upsert {
        keys.push("createNewIfDuplicateAllowed");
    }
    keys
}

fn text_slot<'a>(contact: &'a mut Contact, key: &str) -> Option<&'a mut Option<String>> {
    Some(match key {
        "firstName" => &mut contact.first_name,
        "lastName" => &mut contact.last_name,
        "name" => &mut contact.name,
        "email" => &mut contact.email,
        "phone" => &mut contact.phone,
        "address1" => &mut contact.address1,
        "city" => &mut contact.city,
        "state" => &mut contact.state,
        "postalCode" => &mut contact.postal_code,
        "website" => &mut contact.website,
        "timezone" => &mut contact.timezone,
        "source" => &mut contact.source,
        "dateOfBirth" => &mut contact.date_of_birth,
        "country" => &mut contact.country,
        "assignedTo" => &mut contact.assigned_to,
        "gender" => &mut contact.gender,
        "companyName" => &mut contact.company_name,
        _ => return None,
    })
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ContactPatch {
    pub(crate) location_id: Option<String>,
    /// `None` clears the field.
    text: Vec<(&'static str, Option<String>)>,
    dnd: Option<bool>,
    dnd_settings: Option<Option<Value>>,
    inbound_dnd_settings: Option<Option<Value>>,
    tags: Option<Vec<String>>,
    /// Resolved field id → value; `None` clears it.
    custom_fields: Vec<(String, Option<Value>)>,
}

impl ContactPatch {
    pub(crate) fn parse(body: &Object, kind: WriteKind, defs: &[CustomFieldDef]) -> Result<Self, ApiError> {
        let mut problems = Problems::default();
        body::reject_unknown(body, &allowed(kind), &mut problems);
        let mut patch = Self::default();
        if kind != WriteKind::Update {
            patch.location_id = body::required_string(body, "locationId", &mut problems);
        }
        let text_keys = SHARED_TEXT.iter().chain(if kind == WriteKind::Update {
            &[][..]
        } else {
            &CREATE_ONLY_TEXT[..]
        });
        for &key in text_keys {
            if let Some(value) = body::string(body, key, &mut problems) {
                let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
                let value = match key {
                    "email" => value.map(|v| v.to_lowercase()),
                    "phone" => value.map(|v| phone_key(&v)),
                    _ => value,
                };
                if key == "email"
                    && let Some(email) = &value
                    && !looks_like_email(email)
                {
                    problems.push("email must be an email");
                }
                patch.text.push((key, value));
            }
        }
        patch.dnd = body::boolean(body, "dnd", &mut problems);
        patch.dnd_settings = object_field(body, "dndSettings", &mut problems);
        patch.inbound_dnd_settings = object_field(body, "inboundDndSettings", &mut problems);
        patch.tags = body::string_array(body, "tags", &mut problems).map(body::normalise_tags);
        if kind == WriteKind::Upsert {
            body::boolean(body, "createNewIfDuplicateAllowed", &mut problems);
        }
        if let Some(raw) = body.get("customFields") {
            patch.custom_fields = custom_fields(raw, defs, &mut problems);
        }
        problems.into_result()?;
        Ok(patch)
    }

    /// The email this write sets, if it sets one.
    pub(crate) fn email(&self) -> Option<&str> {
        self.text_value("email")
    }

    pub(crate) fn phone(&self) -> Option<&str> {
        self.text_value("phone")
    }

    fn text_value(&self, key: &str) -> Option<&str> {
        self.text
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.as_deref())
    }

    pub(crate) fn apply(&self, contact: &mut Contact) {
        for (key, value) in &self.text {
            if let Some(slot) = text_slot(contact, key) {
                slot.clone_from(value);
            }
        }
        if let Some(dnd) = self.dnd {
            contact.dnd = dnd;
        }
        if let Some(settings) = &self.dnd_settings {
            contact.dnd_settings.clone_from(settings);
        }
        if let Some(settings) = &self.inbound_dnd_settings {
            contact.inbound_dnd_settings.clone_from(settings);
        }
        // The DTOs document `tags` as overwriting all current tags.
        if let Some(tags) = &self.tags {
            contact.tags.clone_from(tags);
        }
        for (id, value) in &self.custom_fields {
            match value {
                Some(value) => contact.custom_fields.insert(id.clone(), value.clone()),
                None => contact.custom_fields.remove(id),
            };
        }
    }
}

fn looks_like_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        }
        None => false,
    }
}

fn object_field(body: &Object, key: &str, problems: &mut Problems) -> Option<Option<Value>> {
    match body.get(key)? {
        Value::Null => Some(None),
        v @ Value::Object(_) => Some(Some(v.clone())),
        _ => {
            problems.push(format!("{key} must be an object"));
            None
        }
    }
}

/// `[{id | key, field_value}]` (also the older `value`), each resolved to a known field id.
fn custom_fields(
    raw: &Value,
    defs: &[CustomFieldDef],
    problems: &mut Problems,
) -> Vec<(String, Option<Value>)> {
    let Value::Array(items) = raw else {
        problems.push("customFields must be an array");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(field) = item else {
            problems.push(format!("customFields.{i} must be an object"));
            continue;
        };
        let id = field.get("id").and_then(Value::as_str);
        let key = field.get("key").and_then(Value::as_str);
        let def = match (id, key) {
            (Some(id), _) => defs
                .iter()
                .find(|d| d.id == id)
                .ok_or(format!("customFields.{i}: unknown custom field id '{id}'")),
            (None, Some(key)) => {
                let bare = key.trim_start_matches("contact.");
                defs.iter()
                    .find(|d| d.key == bare)
                    .ok_or(format!("customFields.{i}: unknown custom field key '{key}'"))
            }
            (None, None) => Err(format!("customFields.{i}: id or key is required")),
        };
        match def {
            Ok(def) => {
                let value = field.get("field_value").or_else(|| field.get("value")).cloned();
                let value = value.filter(|v| !v.is_null() && v.as_str() != Some(""));
                out.push((def.id.clone(), value));
            }
            Err(problem) => problems.push(problem),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defs() -> Vec<CustomFieldDef> {
        vec![CustomFieldDef::new(
            "cf1",
            "Employees",
            "employee_count",
            "NUMERICAL",
        )]
    }

    fn parse(body: Value, kind: WriteKind) -> Result<ContactPatch, ApiError> {
        let Value::Object(map) = body else { unreachable!() };
        ContactPatch::parse(&map, kind, &defs())
    }

    #[test]
    fn update_refuses_properties_only_create_allows() {
        let err = parse(json!({"companyName": "X", "locationId": "l"}), WriteKind::Update).unwrap_err();
        let ApiError::Unprocessable(messages) = err else {
            panic!("{err:?}")
        };
        assert!(messages.contains(&"property companyName should not exist".to_string()));
        assert!(messages.contains(&"property locationId should not exist".to_string()));
    }

    #[test]
    fn custom_fields_resolve_by_id_or_key_and_unknown_ones_are_refused() {
        let ok = parse(
            json!({"locationId": "l", "customFields": [{"key": "contact.employee_count", "field_value": 5}]}),
            WriteKind::Create,
        )
        .unwrap();
        assert_eq!(ok.custom_fields, vec![("cf1".to_string(), Some(json!(5)))]);
        let err = parse(
            json!({"locationId": "l", "customFields": [{"id": "nope", "field_value": 1}]}),
            WriteKind::Create,
        );
        assert!(matches!(err, Err(ApiError::Unprocessable(_))));
    }

    #[test]
    fn email_is_validated_and_lower_cased() {
        assert!(
            parse(
                json!({"locationId": "l", "email": "not-an-email"}),
                WriteKind::Create
            )
            .is_err()
        );
        let patch = parse(
            json!({"locationId": "l", "email": " Ann@Example.COM "}),
            WriteKind::Create,
        )
        .unwrap();
        assert_eq!(patch.email(), Some("ann@example.com"));
    }
}
