//! Custom objects, their fields, records and associations (`tests/contract/ghl-api/apps/
//! objects.json`, `custom-fields.json`, `associations.json`). Generic: which object and which
//! fields a learning record uses is `ghl::enrollments`.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::client::{Call, GhlClient};
use super::error::GhlError;
use super::retry::Idempotence;

/// A custom object's schema as GHL lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectSchema {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub searchable_properties: Vec<String>,
}

/// A field of a custom object (Custom Fields v2).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectField {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub field_key: Option<String>,
    #[serde(default)]
    pub data_type: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// `GET /objects/{key}?fetchProperties=true`: the schema and its fields.
#[derive(Debug, Clone, Deserialize)]
pub struct ObjectWithFields {
    pub object: ObjectSchema,
    #[serde(default)]
    pub fields: Vec<ObjectField>,
}

#[derive(Debug, Clone, Deserialize)]
struct ObjectEnvelope {
    object: ObjectSchema,
}

/// A custom-object record; `properties` by field key without the object prefix.
#[derive(Debug, Clone, Deserialize)]
pub struct ObjectRecord {
    pub id: String,
    #[serde(default)]
    pub properties: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct RecordEnvelope {
    record: ObjectRecord,
}

#[derive(Debug, Deserialize)]
struct RecordSearch {
    #[serde(default)]
    records: Vec<ObjectRecord>,
}

/// A kind of link between two objects (e.g. a custom object and contacts).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Association {
    pub id: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub first_object_key: Option<Value>,
    #[serde(default)]
    pub second_object_key: Option<Value>,
}

impl Association {
    /// Links `a` and `b`, in either order.
    pub fn joins(&self, a: &str, b: &str) -> bool {
        let first = self.first_object_key.as_ref().and_then(Value::as_str);
        let second = self.second_object_key.as_ref().and_then(Value::as_str);
        (first == Some(a) && second == Some(b)) || (first == Some(b) && second == Some(a))
    }
}

/// The contract names one association as the answer of `GET /associations/objectKey/{key}`,
/// though an object may have several: a list, bare or wrapped, is read too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AssociationList {
    Wrapped { associations: Vec<Association> },
    Bare(Vec<Association>),
    One(Association),
}

/// One link between two records.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Relation {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub association_id: Option<String>,
    #[serde(default)]
    pub first_record_id: Option<String>,
    #[serde(default)]
    pub second_record_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RelationList {
    #[serde(default)]
    relations: Vec<Relation>,
}

/// A field to create on a custom object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewObjectField {
    pub name: String,
    pub data_type: &'static str,
    /// `custom_objects.{object}.{field}`.
    pub field_key: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Value>,
}

impl GhlClient {
    /// The schema of `key` with its fields; `None` when the location has no such object.
    pub async fn object_schema(&self, key: &str) -> Result<Option<ObjectWithFields>, GhlError> {
        let location_id = self.location_id().await?;
        let path = ["objects", key];
        let call = Call::get(&path)
            .query("locationId", location_id)
            .query("fetchProperties", "true");
        match self.call::<ObjectWithFields>(call).await {
            Ok(found) => Ok(Some(found)),
            Err(GhlError::Rejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /objects/`: a custom object with its primary display property (a TEXT field).
    pub async fn create_object_schema(
        &self,
        key: &str,
        singular: &str,
        plural: &str,
        description: &str,
        primary: (&str, &str),
    ) -> Result<ObjectSchema, GhlError> {
        let location_id = self.location_id().await?;
        let body = json!({
            "labels": { "singular": singular, "plural": plural },
            "key": key,
            "description": description,
            "locationId": location_id,
            "primaryDisplayPropertyDetails": { "key": primary.0, "name": primary.1, "dataType": "TEXT" },
        });
        let answer: ObjectEnvelope = self
            .call(Call::send(
                Method::POST,
                &["objects", ""],
                body,
                Idempotence::Protected,
            ))
            .await?;
        Ok(answer.object)
    }

    /// `PUT /objects/{key}`: which properties record search matches on.
    pub async fn set_searchable_properties(&self, key: &str, properties: &[String]) -> Result<(), GhlError> {
        let location_id = self.location_id().await?;
        let body = json!({ "locationId": location_id, "searchableProperties": properties });
        let _: Value = self
            .call(Call::send(
                Method::PUT,
                &["objects", key],
                body,
                Idempotence::Idempotent,
            ))
            .await?;
        Ok(())
    }

    /// `POST /custom-fields/folder`: a folder for an object's fields (fields need one).
    pub async fn create_field_folder(&self, object_key: &str, name: &str) -> Result<String, GhlError> {
        let location_id = self.location_id().await?;
        let body = json!({ "objectKey": object_key, "name": name, "locationId": location_id });
        // Folder names are not unique: a folder made behind a lost answer is found by the
        // install's next run, not made again now.
        let answer: Value = self
            .call(Call::send(
                Method::POST,
                &["custom-fields", "folder"],
                body,
                Idempotence::NotIdempotent,
            ))
            .await?;
        answer
            .get("id")
            .or_else(|| answer.pointer("/folder/id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| GhlError::Decode {
                status: 201,
                problem: "POST /custom-fields/folder: no folder id in the answer".into(),
            })
    }

    /// `GET /custom-fields/object-key/{objectKey}`: the object's fields and their folders.
    pub async fn object_fields(&self, object_key: &str) -> Result<(Vec<ObjectField>, Vec<String>), GhlError> {
        let location_id = self.location_id().await?;
        let answer: Value = self
            .call(Call::get(&["custom-fields", "object-key", object_key]).query("locationId", location_id))
            .await?;
        let fields = answer
            .get("fields")
            .cloned()
            .map(serde_json::from_value::<Vec<ObjectField>>)
            .transpose()
            .map_err(|e| GhlError::Decode {
                status: 200,
                problem: format!("GET /custom-fields/object-key: fields: {e}"),
            })?
            .unwrap_or_default();
        let folders = answer
            .get("folders")
            .and_then(Value::as_array)
            .map(|folders| {
                folders
                    .iter()
                    .filter_map(|f| f.get("id").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok((fields, folders))
    }

    /// `POST /custom-fields/`.
    pub async fn create_object_field(
        &self,
        object_key: &str,
        folder_id: &str,
        field: &NewObjectField,
    ) -> Result<(), GhlError> {
        let location_id = self.location_id().await?;
        let mut body = serde_json::to_value(field).map_err(|e| GhlError::Decode {
            status: 0,
            problem: e.to_string(),
        })?;
        if let Some(map) = body.as_object_mut() {
            map.insert("locationId".into(), json!(location_id));
            map.insert("objectKey".into(), json!(object_key));
            map.insert("parentId".into(), json!(folder_id));
            map.insert("showInForms".into(), json!(true));
        }
        let _: Value = self
            .call(Call::send(
                Method::POST,
                &["custom-fields", ""],
                body,
                Idempotence::Protected,
            ))
            .await?;
        Ok(())
    }

    /// `POST /objects/{key}/records`. Not idempotent in GHL: pass `Protected` only when the
    /// caller's own records guard this create.
    pub async fn create_record(
        &self,
        key: &str,
        properties: &Map<String, Value>,
        idempotence: Idempotence,
    ) -> Result<ObjectRecord, GhlError> {
        let location_id = self.location_id().await?;
        let body = json!({ "locationId": location_id, "properties": properties });
        let answer: RecordEnvelope = self
            .call(Call::send(
                Method::POST,
                &["objects", key, "records"],
                body,
                idempotence,
            ))
            .await?;
        Ok(answer.record)
    }

    /// `PUT /objects/{key}/records/{id}`: the named properties replaced, the others kept.
    pub async fn update_record(
        &self,
        key: &str,
        record_id: &str,
        properties: &Map<String, Value>,
    ) -> Result<ObjectRecord, GhlError> {
        let location_id = self.location_id().await?;
        let body = json!({ "properties": properties });
        let path = ["objects", key, "records", record_id];
        let call =
            Call::send(Method::PUT, &path, body, Idempotence::Idempotent).query("locationId", location_id);
        let answer: RecordEnvelope = self.call(call).await?;
        Ok(answer.record)
    }

    /// `POST /objects/{key}/records/search` on one searchable property, exactly. Search lags
    /// writes by seconds: only for finding what an earlier attempt may have created.
    pub async fn find_records(
        &self,
        key: &str,
        property: &str,
        value: &str,
    ) -> Result<Vec<ObjectRecord>, GhlError> {
        let location_id = self.location_id().await?;
        let body = json!({
            "locationId": location_id,
            "page": 1,
            "pageLimit": 10,
            "query": format!("{property}:{value}"),
            "searchAfter": [],
        });
        let answer: RecordSearch = self
            .call(Call::send(
                Method::POST,
                &["objects", key, "records", "search"],
                body,
                Idempotence::Idempotent,
            ))
            .await?;
        // The search matches loosely on some plans: keep the exact matches only.
        Ok(answer
            .records
            .into_iter()
            .filter(|r| r.properties.get(property).and_then(Value::as_str) == Some(value))
            .collect())
    }

    /// `GET /associations/objectKey/{objectKey}`: the associations an object takes part in.
    pub async fn associations_of(&self, object_key: &str) -> Result<Vec<Association>, GhlError> {
        let location_id = self.location_id().await?;
        let answer: AssociationList = self
            .call(Call::get(&["associations", "objectKey", object_key]).query("locationId", location_id))
            .await?;
        Ok(match answer {
            AssociationList::Wrapped { associations } | AssociationList::Bare(associations) => associations,
            AssociationList::One(association) => vec![association],
        })
    }

    /// `POST /associations/`: `first` (with its label) linked to `second`.
    pub async fn create_association(
        &self,
        key: &str,
        first: (&str, &str),
        second: (&str, &str),
    ) -> Result<Association, GhlError> {
        let location_id = self.location_id().await?;
        let body = json!({
            "locationId": location_id,
            "key": key,
            "firstObjectKey": first.0,
            "firstObjectLabel": first.1,
            "secondObjectKey": second.0,
            "secondObjectLabel": second.1,
        });
        self.call(Call::send(
            Method::POST,
            &["associations", ""],
            body,
            Idempotence::Protected,
        ))
        .await
    }

    /// `POST /associations/relations`: links two records. GHL refuses a pair it already has.
    pub async fn create_relation(
        &self,
        association_id: &str,
        first_record_id: &str,
        second_record_id: &str,
    ) -> Result<(), GhlError> {
        let location_id = self.location_id().await?;
        let body = json!({
            "locationId": location_id,
            "associationId": association_id,
            "firstRecordId": first_record_id,
            "secondRecordId": second_record_id,
        });
        let created: Result<Value, GhlError> = self
            .call(Call::send(
                Method::POST,
                &["associations", "relations"],
                body,
                Idempotence::Idempotent,
            ))
            .await;
        match created {
            Ok(_) => Ok(()),
            // A retry whose first try got through, or a link made by hand meanwhile: the pair
            // is there, which is all that was asked. Checked, because a 400 may mean anything.
            Err(GhlError::Rejected { status: 400, .. })
                if self.relations_of(first_record_id).await?.iter().any(|r| {
                    r.association_id.as_deref() == Some(association_id)
                        && r.first_record_id.as_deref() == Some(first_record_id)
                        && r.second_record_id.as_deref() == Some(second_record_id)
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /associations/relations/{recordId}`: a record's links (the first 100).
    pub async fn relations_of(&self, record_id: &str) -> Result<Vec<Relation>, GhlError> {
        let location_id = self.location_id().await?;
        let path = ["associations", "relations", record_id];
        let call = Call::get(&path)
            .query("locationId", location_id)
            .query("skip", "0")
            .query("limit", "100");
        let answer: RelationList = self.call(call).await?;
        Ok(answer.relations)
    }
}
