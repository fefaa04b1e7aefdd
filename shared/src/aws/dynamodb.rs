//! One table holds idempotency records, the entity map, leases and rate-budget slots, each under
//! a key built by `crate::keys`; `expiration` is the table's TTL attribute.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use time::OffsetDateTime;

use serde_json::{Value, json};

use super::describe;
use super::json::{AwsJson, AwsJsonError, Service};
use crate::domain::SourcePlatform;
use crate::http::Idempotence;
use crate::keys::{self, EntityKey};
use crate::ports::{
    ContactLink, Documents, EntityLink, EntityMap, IdempotencyRecord, IdempotencyStore, LearnerMirror, Lease,
    PortError, PutOutcome, RecordStatus, SlotSchedule, Versioned,
};

const PK: &str = "pk";

#[derive(Clone, Debug)]
pub struct DynamoTable {
    client: aws_sdk_dynamodb::Client,
    /// The idempotency records' calls (`aws::json`).
    json: AwsJson,
    table: String,
}

impl DynamoTable {
    pub fn new(client: aws_sdk_dynamodb::Client, json: AwsJson, table: impl Into<String>) -> Self {
        Self {
            client,
            json,
            table: table.into(),
        }
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn get_s(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn record_from_item(item: &HashMap<String, AttributeValue>) -> Option<IdempotencyRecord> {
    Some(IdempotencyRecord {
        key: get_s(item, PK)?,
        status: RecordStatus::parse(&get_s(item, "status")?)?,
        expiration: get_n(item, "expiration")?,
        in_progress_expiration_ms: get_n(item, "in_progress_expiration").unwrap_or(0),
        payload_hash: get_s(item, "validation").unwrap_or_default(),
        data: get_s(item, "data"),
        last_error: get_s(item, "last_error"),
        outbox: get_s(item, "outbox"),
    })
}

/// A DynamoDB JSON item's string and number attributes, as the SDK's readers take them (the
/// idempotency records hold no other kind).
fn item_from_json(item: &Value) -> HashMap<String, AttributeValue> {
    item.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| {
            let value = if let Some(text) = value.get("S").and_then(Value::as_str) {
                s(text)
            } else {
                AttributeValue::N(value.get("N").and_then(Value::as_str)?.to_owned())
            };
            Some((name.clone(), value))
        })
        .collect()
}

fn json_s(value: &str) -> Value {
    json!({ "S": value })
}

fn json_n(value: i64) -> Value {
    json!({ "N": value.to_string() })
}

fn store_error(e: &AwsJsonError) -> PortError {
    PortError::new("idempotency store", e.to_string())
}

const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

/// Every event's path (claim, complete), so signed JSON calls rather than the SDK client
/// (`aws::json`); conditional writes repeat safely, so each is retried as idempotent.
#[async_trait]
impl IdempotencyStore for DynamoTable {
    async fn put_if_claimable(
        &self,
        record: &IdempotencyRecord,
        now: OffsetDateTime,
    ) -> Result<PutOutcome, PortError> {
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        // This put's own mark: when its answer is lost and the retry meets the claim it made,
        // the claim is recognised as this caller's (not another invocation's, to wait for).
        let attempt = uuid::Uuid::new_v4().simple().to_string();
        let mut request = json!({
            "TableName": self.table,
            "Item": {
                PK: json_s(&record.key),
                "status": json_s(record.status.as_str()),
                "expiration": json_n(record.expiration),
                "in_progress_expiration": json_n(record.in_progress_expiration_ms),
                "validation": json_s(&record.payload_hash),
                "claim_attempt": json_s(&attempt),
            },
            // Same rule as `idempotency::record_is_live`, evaluated atomically by DynamoDB.
            "ConditionExpression":
                "attribute_not_exists(#pk) OR #exp < :now OR (#status = :inprogress AND #ipexp < :now_ms)",
            "ExpressionAttributeNames": {
                "#pk": PK, "#exp": "expiration", "#status": "status", "#ipexp": "in_progress_expiration",
            },
            "ExpressionAttributeValues": {
                ":now": json_n(now.unix_timestamp()),
                ":now_ms": json_n(now_ms),
                ":inprogress": json_s(RecordStatus::InProgress.as_str()),
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        });
        // An accepted delivery's record is written done, with its result and its queue message:
        // the table's stream sends the message (see `IdempotencyRecord::outbox`).
        for (name, value) in [("data", &record.data), ("outbox", &record.outbox)] {
            if let Some(value) = value {
                request["Item"][name] = json_s(value);
            }
        }
        match self
            .json
            .call(Service::DynamoDb, "PutItem", &request, Idempotence::Idempotent)
            .await
        {
            Ok(_) => Ok(PutOutcome::Written),
            Err(AwsJsonError::Service { code, body, .. })
                if code == CONDITION_FAILED && body["Item"]["claim_attempt"]["S"] == attempt.as_str() =>
            {
                Ok(PutOutcome::Written)
            }
            Err(AwsJsonError::Service { code, body, .. }) if code == CONDITION_FAILED => {
                record_from_item(&item_from_json(&body["Item"]))
                    .map(PutOutcome::Held)
                    .ok_or_else(|| {
                        PortError::new("idempotency store", "condition failed without a readable item")
                    })
            }
            Err(e) => Err(store_error(&e)),
        }
    }

    async fn complete(&self, key: &str, data: Option<&str>, expiration: i64) -> Result<(), PortError> {
        let mut request = json!({
            "TableName": self.table,
            "Key": { PK: json_s(key) },
            "UpdateExpression": "SET #status = :completed, #exp = :exp",
            "ExpressionAttributeNames": { "#status": "status", "#exp": "expiration" },
            "ExpressionAttributeValues": {
                ":completed": json_s(RecordStatus::Completed.as_str()),
                ":exp": json_n(expiration),
            },
        });
        if let Some(data) = data {
            request["UpdateExpression"] = json!("SET #status = :completed, #exp = :exp, #data = :data");
            request["ExpressionAttributeNames"]["#data"] = json!("data");
            request["ExpressionAttributeValues"][":data"] = json_s(data);
        }
        self.json
            .call(Service::DynamoDb, "UpdateItem", &request, Idempotence::Idempotent)
            .await
            .map_err(|e| store_error(&e))?;
        Ok(())
    }

    /// An in-progress expiry of 0 makes the claim abandoned, so claimable at once; the item stays
    /// (with its TTL) to tell why. A completed record is not touched.
    async fn release(&self, key: &str, why: &str) -> Result<(), PortError> {
        let request = json!({
            "TableName": self.table,
            "Key": { PK: json_s(key) },
            "UpdateExpression": "SET #ipexp = :zero, #last_error = :why",
            "ConditionExpression": "#status = :inprogress",
            "ExpressionAttributeNames": {
                "#ipexp": "in_progress_expiration", "#last_error": "last_error", "#status": "status",
            },
            "ExpressionAttributeValues": {
                ":zero": json_n(0),
                ":why": json_s(why),
                ":inprogress": json_s(RecordStatus::InProgress.as_str()),
            },
        });
        match self
            .json
            .call(Service::DynamoDb, "UpdateItem", &request, Idempotence::Idempotent)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(CONDITION_FAILED) => Ok(()),
            Err(e) => Err(store_error(&e)),
        }
    }

    async fn record(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError> {
        let request = json!({
            "TableName": self.table,
            "Key": { PK: json_s(key) },
            "ConsistentRead": true,
        });
        let answer = self
            .json
            .call(Service::DynamoDb, "GetItem", &request, Idempotence::Idempotent)
            .await
            .map_err(|e| store_error(&e))?;
        Ok(answer
            .get("Item")
            .map(item_from_json)
            .as_ref()
            .and_then(record_from_item))
    }
}

#[async_trait]
impl EntityMap for DynamoTable {
    async fn contact(
        &self,
        source: &SourcePlatform,
        source_user_id: &str,
    ) -> Result<Option<ContactLink>, PortError> {
        let item = self
            .read_item("entity map", keys::contact(source, source_user_id))
            .await?;
        Ok(item.as_ref().and_then(|item| {
            Some(ContactLink {
                source: source.clone(),
                source_user_id: source_user_id.to_owned(),
                location_id: get_s(item, "location_id")?,
                contact_id: get_s(item, "contact_id")?,
            })
        }))
    }

    async fn put_contact(&self, link: &ContactLink) -> Result<(), PortError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(&keys::contact(&link.source, &link.source_user_id)))
            .item("location_id", s(&link.location_id))
            .item("contact_id", s(&link.contact_id))
            .item("updated_at", n(now))
            .send()
            .await
            .map_err(|e| PortError::new("entity map", describe(&e)))?;
        Ok(())
    }

    async fn link(&self, key: &EntityKey) -> Result<Option<EntityLink>, PortError> {
        let item = self.read_item("entity map", keys::link(key)).await?;
        Ok(item.as_ref().and_then(|item| {
            Some(EntityLink {
                key: key.clone(),
                ghl_id: get_s(item, "ghl_id")?,
                completed: item
                    .get("completed")
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false),
            })
        }))
    }

    async fn put_link(&self, link: &EntityLink) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(&keys::link(&link.key)))
            .item("ghl_id", s(&link.ghl_id))
            .item("completed", AttributeValue::Bool(link.completed))
            .item("updated_at", n(OffsetDateTime::now_utc().unix_timestamp()))
            .send()
            .await
            .map_err(|e| PortError::new("entity map", describe(&e)))?;
        Ok(())
    }

    async fn put_link_if_absent(&self, link: &EntityLink) -> Result<bool, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(&keys::link(&link.key)))
            .item("ghl_id", s(&link.ghl_id))
            .item("completed", AttributeValue::Bool(link.completed))
            .item("updated_at", n(OffsetDateTime::now_utc().unix_timestamp()))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        written(result, "entity map")
    }

    async fn mirrors(
        &self,
        target: &str,
        contact_ids: &[&str],
    ) -> Result<std::collections::BTreeMap<String, LearnerMirror>, PortError> {
        let by_key: HashMap<String, &str> = contact_ids
            .iter()
            .map(|id| (keys::mirror(target, id), *id))
            .collect();
        let wanted: Vec<String> = by_key.keys().cloned().collect();
        let mut found = std::collections::BTreeMap::new();
        for item in self.batch_get("entity map", &wanted).await? {
            let Some(contact_id) = get_s(&item, PK).and_then(|k| by_key.get(&k).copied()) else {
                continue;
            };
            found.insert(contact_id.to_owned(), mirror_of(&versioned(&item))?);
        }
        Ok(found)
    }

    async fn mirror(&self, target: &str, contact_id: &str) -> Result<Option<LearnerMirror>, PortError> {
        let item = self
            .read_item("entity map", keys::mirror(target, contact_id))
            .await?;
        item.as_ref().map(|item| mirror_of(&versioned(item))).transpose()
    }

    async fn put_mirror(
        &self,
        target: &str,
        contact_id: &str,
        mirror: &LearnerMirror,
    ) -> Result<bool, PortError> {
        let state = serde_json::to_string(mirror)
            .map_err(|e| PortError::new("entity map", format!("mirror not serialisable: {e}")))?;
        self.put_versioned(
            "entity map",
            &keys::mirror(target, contact_id),
            &state,
            mirror.version,
            None,
        )
        .await
    }
}

impl DynamoTable {
    /// The item under `key`, read consistently (every read here follows a write it must see);
    /// `port` names the store in errors.
    async fn read_item(
        &self,
        port: &'static str,
        key: String,
    ) -> Result<Option<HashMap<String, AttributeValue>>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(&key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| PortError::new(port, describe(&e)))?;
        Ok(output.item)
    }

    /// Stores `body` under `key` as version `read + 1` if the stored version is still `read` (0:
    /// none stored): the optimistic write of mirrors and batch documents. `false` when another
    /// writer got there first.
    async fn put_versioned(
        &self,
        port: &'static str,
        key: &str,
        body: &str,
        read: u64,
        expires_at: Option<i64>,
    ) -> Result<bool, PortError> {
        let expected = i64::try_from(read).unwrap_or(i64::MAX);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(key))
            .item("state", s(body))
            .item("version", n(expected + 1))
            .item("updated_at", n(OffsetDateTime::now_utc().unix_timestamp()));
        if let Some(at) = expires_at {
            put = put.item("expiration", n(at));
        }
        put = if read == 0 {
            put.condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
        } else {
            put.condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(expected))
        };
        written(put.send().await, port)
    }

    /// `BatchGetItem` in chunks of 100 keys (its limit), retrying what DynamoDB leaves
    /// unprocessed; consistent reads, as single reads are.
    async fn batch_get(
        &self,
        port: &'static str,
        keys: &[String],
    ) -> Result<Vec<HashMap<String, AttributeValue>>, PortError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut items = Vec::new();
        for chunk in keys.chunks(100) {
            let mut unique: Vec<&String> = chunk.iter().collect();
            unique.sort();
            unique.dedup();
            let request = KeysAndAttributes::builder()
                .set_keys(Some(
                    unique
                        .into_iter()
                        .map(|k| HashMap::from([(PK.to_owned(), s(k))]))
                        .collect(),
                ))
                .consistent_read(true)
                .build()
                .map_err(|e| PortError::new(port, e.to_string()))?;
            let mut pending = Some(HashMap::from([(self.table.clone(), request)]));
            for attempt in 0..8u32 {
                let Some(request) = pending.take().filter(|p| !p.is_empty()) else {
                    break;
                };
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(5))).await;
                }
                let output = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(request))
                    .send()
                    .await
                    .map_err(|e| PortError::new(port, describe(&e)))?;
                if let Some(mut found) = output.responses {
                    items.extend(found.remove(&self.table).unwrap_or_default());
                }
                pending = output.unprocessed_keys;
            }
            if pending.is_some_and(|p| !p.is_empty()) {
                return Err(PortError::new(
                    port,
                    "DynamoDB left keys unprocessed after 8 attempts",
                ));
            }
        }
        Ok(items)
    }
}

#[async_trait]
impl Documents for DynamoTable {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, PortError> {
        let item = self.read_item("documents", key.to_owned()).await?;
        Ok(item.as_ref().map(versioned))
    }

    async fn get_many(
        &self,
        keys: &[String],
    ) -> Result<std::collections::BTreeMap<String, Versioned>, PortError> {
        let items = self.batch_get("documents", keys).await?;
        Ok(items
            .iter()
            .filter_map(|item| Some((get_s(item, PK)?, versioned(item))))
            .collect())
    }

    async fn put(
        &self,
        key: &str,
        body: &str,
        read: u64,
        expires_at: Option<i64>,
    ) -> Result<bool, PortError> {
        self.put_versioned("documents", key, body, read, expires_at).await
    }
}

/// A mirror as stored, with the version it was read at.
fn mirror_of(doc: &Versioned) -> Result<LearnerMirror, PortError> {
    let mirror: LearnerMirror = serde_json::from_str(&doc.body)
        .map_err(|e| PortError::new("entity map", format!("unreadable mirror: {e}")))?;
    Ok(LearnerMirror {
        version: doc.version,
        ..mirror
    })
}

fn versioned(item: &HashMap<String, AttributeValue>) -> Versioned {
    Versioned {
        body: get_s(item, "state").unwrap_or_default(),
        version: get_n(item, "version")
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0),
    }
}

/// A conditional put's outcome: written, or refused by its condition (`false`).
fn written<R>(
    result: Result<R, SdkError<PutItemError, HttpResponse>>,
    port: &'static str,
) -> Result<bool, PortError> {
    match result {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(service))
            if matches!(service.err(), PutItemError::ConditionalCheckFailedException(_)) =>
        {
            Ok(false)
        }
        Err(e) => Err(PortError::new(port, describe(&e))),
    }
}

fn is_condition_failure<R>(err: &SdkError<UpdateItemError, R>) -> bool {
    matches!(err, SdkError::ServiceError(s) if matches!(s.err(), UpdateItemError::ConditionalCheckFailedException(_)))
}

/// GCRA over DynamoDB without read-modify-write races: an idle schedule is restarted at `now`
/// with one conditional write; a busy one is advanced atomically (`SET next = next + spacing`),
/// and the returned value says which slot this caller got.
#[async_trait]
impl SlotSchedule for DynamoTable {
    async fn reserve(
        &self,
        key: &str,
        now_us: i64,
        spacing_us: i64,
        horizon_us: i64,
    ) -> Result<Option<i64>, PortError> {
        let pk = keys::slots(key);
        // Slots are only ever minutes ahead; a day of TTL is plenty.
        let expiration = n(now_us / 1_000_000 + 86_400);
        let restart = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(&pk))
            .update_expression("SET #next = :after, #exp = :exp")
            .condition_expression("attribute_not_exists(#next) OR #next <= :now")
            .expression_attribute_names("#next", "next_slot_us")
            .expression_attribute_names("#exp", "expiration")
            .expression_attribute_values(":after", n(now_us + spacing_us))
            .expression_attribute_values(":now", n(now_us))
            .expression_attribute_values(":exp", expiration.clone())
            .send()
            .await;
        match restart {
            Ok(_) => return Ok(Some(now_us)),
            Err(e) if is_condition_failure(&e) => {}
            Err(e) => return Err(PortError::new("rate budget", describe(&e))),
        }
        let advanced = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(&pk))
            .update_expression("SET #next = #next + :spacing, #exp = :exp")
            .condition_expression("#next <= :latest")
            .expression_attribute_names("#next", "next_slot_us")
            .expression_attribute_names("#exp", "expiration")
            .expression_attribute_values(":spacing", n(spacing_us))
            .expression_attribute_values(":latest", n(now_us + horizon_us))
            .expression_attribute_values(":exp", expiration)
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match advanced {
            Ok(output) => {
                let next = output
                    .attributes()
                    .and_then(|a| get_n(a, "next_slot_us"))
                    .ok_or_else(|| PortError::new("rate budget", "update returned no slot"))?;
                Ok(Some(next - spacing_us))
            }
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(PortError::new("rate budget", describe(&e))),
        }
    }

    async fn next_free(&self, key: &str) -> Result<Option<i64>, PortError> {
        let item = self.read_item("rate budget", keys::slots(key)).await?;
        Ok(item.as_ref().and_then(|item| get_n(item, "next_slot_us")))
    }
}

#[async_trait]
impl Lease for DynamoTable {
    async fn try_acquire(
        &self,
        name: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, PortError> {
        let now = OffsetDateTime::now_utc();
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        let until_ms = now_ms + ttl.as_millis() as i64;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(&keys::lease(name)))
            .item("owner", s(owner))
            .item("lease_until_ms", n(until_ms))
            .item("expiration", n(until_ms / 1000 + 3600))
            .condition_expression("attribute_not_exists(#pk) OR #until < :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#until", "lease_until_ms")
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        written(result, "lease")
    }

    async fn release(&self, name: &str, owner: &str) -> Result<(), PortError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(&keys::lease(name)))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone else holds it now (ours expired): nothing to give up.
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(PortError::new("lease", describe(&e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use serde_json::Value;
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    use super::*;
    use crate::http::RetryPolicy;

    /// The first put is carried out but its answer is lost (a 500 here); the retry meets the
    /// claim it made, as DynamoDB answers a repeated conditional put: the item, condition failed.
    struct LostThenHeld(std::sync::Mutex<u32>);

    impl Respond for LostThenHeld {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let mut calls = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *calls += 1;
            if *calls == 1 {
                return ResponseTemplate::new(500).set_body_json(json!({"__type": "InternalServerError"}));
            }
            let sent: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            ResponseTemplate::new(400).set_body_json(json!({
                "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                "message": "The conditional request failed",
                "Item": sent["Item"],
            }))
        }
    }

    async fn table(server: &MockServer) -> DynamoTable {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(server.uri())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "a", "b", None, None, "t",
            )))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let http = crate::http::client(Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"));
        let json = AwsJson::new(&sdk, http).with_retry(RetryPolicy {
            base_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        });
        DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), json, "t")
    }

    fn record() -> IdempotencyRecord {
        IdempotencyRecord {
            key: "event#e-1".into(),
            status: RecordStatus::InProgress,
            expiration: 2_000_000_000,
            in_progress_expiration_ms: 1_900_000_000_000,
            payload_hash: "sha256:x".into(),
            data: None,
            last_error: None,
            outbox: None,
        }
    }

    #[tokio::test]
    async fn a_claim_whose_answer_was_lost_is_this_callers_not_anothers() {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::header(
            "x-amz-target",
            "DynamoDB_20120810.PutItem",
        ))
        .respond_with(LostThenHeld(std::sync::Mutex::new(0)))
        .expect(2)
        .mount(&server)
        .await;
        let outcome = table(&server)
            .await
            .put_if_claimable(&record(), OffsetDateTime::now_utc())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome, PutOutcome::Written);
    }

    #[tokio::test]
    async fn another_callers_live_claim_is_held() {
        let server = MockServer::start().await;
        let mut theirs = serde_json::json!({
            "pk": {"S": "event#e-1"}, "status": {"S": "INPROGRESS"}, "expiration": {"N": "2000000000"},
            "in_progress_expiration": {"N": "1900000000000"}, "validation": {"S": "sha256:x"},
            "claim_attempt": {"S": "someone-else"}
        });
        theirs["status"]["S"] = Value::from(RecordStatus::InProgress.as_str());
        Mock::given(wiremock::matchers::header(
            "x-amz-target",
            "DynamoDB_20120810.PutItem",
        ))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            "Item": theirs,
        })))
        .mount(&server)
        .await;
        let outcome = table(&server)
            .await
            .put_if_claimable(&record(), OffsetDateTime::now_utc())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&outcome, PutOutcome::Held(held) if held.in_progress_expiration_ms == 1_900_000_000_000),
            "{outcome:?}"
        );
    }
}
