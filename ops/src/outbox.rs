//! The outbox's recovery: accepted deliveries whose queue message the Pipe could not send (its
//! DLQ holds only the stream positions of the batch) are still in their claims in the table, the
//! message as the `outbox` attribute, until the claim's TTL. `resend` finds those accepted since a
//! given time and sends them to the realtime queue again. A message that did reach the queue
//! before is harmless: the worker's claim on its event id absorbs it without a GHL call.

use aws_sdk_dynamodb::types::AttributeValue;
use lms_ghl::contract;
use lms_ghl::ports::{OutboundMessage, Queue};
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("DynamoDB Scan of {table}: {detail}")]
    Scan { table: String, detail: String },
    #[error("sending to the realtime queue: {0}")]
    Send(String),
}

/// One accepted delivery's queue message, as its claim holds it.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub event_id: String,
    pub event_type: String,
    pub received_at: OffsetDateTime,
    pub body: String,
}

/// Every claim in `table` that carries an outbox message for a delivery received at or after
/// `since`, oldest first. A full Scan of the table (it also holds the entity map and the
/// worker's claims): a recovery step, not a routine one.
pub async fn accepted_since(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    since: OffsetDateTime,
) -> Result<Vec<Accepted>, OutboxError> {
    let mut pages = dynamodb
        .scan()
        .table_name(table)
        .filter_expression("begins_with(pk, :ingest) AND attribute_exists(outbox)")
        .expression_attribute_values(":ingest", AttributeValue::S("ingest:".into()))
        .projection_expression("outbox")
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OutboxError::Scan {
            table: table.to_owned(),
            detail: aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
        })?;
        for item in page.items.unwrap_or_default() {
            let Some(body) = item.get("outbox").and_then(|v| v.as_s().ok()) else {
                continue;
            };
            // A body this build cannot read is still sent: the worker parks it with its reason.
            let (event_id, event_type, received_at) = match contract::decode(body) {
                Ok(envelope) => (
                    envelope.event_id.to_string(),
                    envelope.event.kind().to_owned(),
                    envelope.received_at,
                ),
                Err(_) => ("?".to_owned(), "unreadable".to_owned(), OffsetDateTime::now_utc()),
            };
            if received_at >= since {
                found.push(Accepted {
                    event_id,
                    event_type,
                    received_at,
                    body: body.clone(),
                });
            }
        }
    }
    found.sort_by_key(|a| a.received_at);
    Ok(found)
}

/// Sends `accepted` to `queue`, ten at a time.
pub async fn resend(queue: &dyn Queue, accepted: &[Accepted]) -> Result<(), OutboxError> {
    let messages: Vec<OutboundMessage> = accepted
        .iter()
        .map(|a| OutboundMessage {
            body: a.body.clone(),
            attributes: Default::default(),
        })
        .collect();
    queue
        .send_all(&messages)
        .await
        .map_err(|e| OutboxError::Send(e.to_string()))
}
