//! The local stand-in for the outbox's EventBridge Pipe (`OutboxPipe` in infra/template.yaml):
//! reads the table's stream and sends each accepted delivery's message to the realtime queue.
//! Ingest writes a delivery's claim and its queue message in one put (`IdempotencyRecord::outbox`);
//! in AWS the Pipe moves it on, here `Relay::pump` does (the tests, `xtask forward`, the chaos run).
//!
//! It applies the Pipe's filter and input template as the template writes them
//! ([`FILTER_PATTERN`], [`INPUT_TEMPLATE`]; a test keeps the two in step), and advances past a
//! stream record only once its message is sent, so a failed send is tried again by the next pump.

use anyhow::{Context, Result};
use lms_ghl::aws::{AwsJson, Service, SqsQueue};
use lms_ghl::http::Idempotence;
use lms_ghl::ports::{OutboundMessage, Queue};
use serde_json::{Value, json};

/// The Pipe's filter: a write (not a TTL delete) whose new image carries an outbox message.
pub const FILTER_PATTERN: &str =
    r#"{"eventName":["INSERT","MODIFY"],"dynamodb":{"NewImage":{"outbox":{"S":[{"exists":true}]}}}}"#;
/// The Pipe's input template: the queue message is the outbox attribute's text as it is.
pub const INPUT_TEMPLATE: &str = "<$.dynamodb.NewImage.outbox.S>";

/// The message a stream record carries through the Pipe, or `None` where its filter drops it.
pub fn message(record: &Value) -> Option<&str> {
    let written = matches!(record["eventName"].as_str(), Some("INSERT" | "MODIFY"));
    written
        .then(|| record["dynamodb"]["NewImage"]["outbox"]["S"].as_str())
        .flatten()
}

/// Where the relay is in each shard of the table's stream.
struct Shard {
    id: String,
    /// `None` once the shard is closed and read to its end.
    iterator: Option<String>,
}

pub struct Relay {
    json: AwsJson,
    table: String,
    queue: SqsQueue,
    stream_arn: Option<String>,
    shards: Vec<Shard>,
}

impl Relay {
    pub fn new(json: AwsJson, table: &str, queue_url: &str) -> Self {
        Self {
            queue: SqsQueue::new(json.clone(), queue_url),
            json,
            table: table.to_owned(),
            stream_arn: None,
            shards: Vec::new(),
        }
    }

    /// Sends the messages written since the last pump; how many.
    pub async fn pump(&mut self) -> Result<usize> {
        self.find_shards().await?;
        let mut sent = 0;
        for index in 0..self.shards.len() {
            // Read to the shard's current end: GetRecords answers empty once caught up.
            while let Some(iterator) = self.shards[index].iterator.clone() {
                let answer = self
                    .streams("GetRecords", json!({ "ShardIterator": iterator, "Limit": 1000 }))
                    .await?;
                let records = answer["Records"].as_array().cloned().unwrap_or_default();
                let messages: Vec<OutboundMessage> = records
                    .iter()
                    .filter_map(message)
                    .map(|body| OutboundMessage {
                        body: body.to_owned(),
                        attributes: Default::default(),
                    })
                    .collect();
                self.queue
                    .send_all(&messages)
                    .await
                    .context("sending outbox messages to the queue")?;
                sent += messages.len();
                self.shards[index].iterator = answer["NextShardIterator"].as_str().map(str::to_owned);
                if records.is_empty() {
                    break;
                }
            }
        }
        Ok(sent)
    }

    /// Pumps every `every` until the process ends; a failed pump is reported and tried again.
    pub async fn run(mut self, every: std::time::Duration) {
        loop {
            if let Err(e) = self.pump().await {
                eprintln!("[outbox] relay: {e:#}");
            }
            tokio::time::sleep(every).await;
        }
    }

    /// The table's stream and any shard not yet followed (read from its start).
    async fn find_shards(&mut self) -> Result<()> {
        let arn = match &self.stream_arn {
            Some(arn) => arn.clone(),
            None => {
                let table = self
                    .json
                    .call(
                        Service::DynamoDb,
                        "DescribeTable",
                        &json!({ "TableName": self.table }),
                        Idempotence::Idempotent,
                    )
                    .await
                    .with_context(|| format!("describing table {}", self.table))?;
                let arn = table["Table"]["LatestStreamArn"]
                    .as_str()
                    .with_context(|| format!("table {} has no stream: provision it with devkit", self.table))?
                    .to_owned();
                self.stream_arn = Some(arn.clone());
                arn
            }
        };
        let stream = self
            .streams("DescribeStream", json!({ "StreamArn": arn }))
            .await?;
        for shard in stream["StreamDescription"]["Shards"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(id) = shard["ShardId"].as_str() else {
                continue;
            };
            if self.shards.iter().any(|s| s.id == id) {
                continue;
            }
            let iterator = self
                .streams(
                    "GetShardIterator",
                    json!({ "StreamArn": arn, "ShardId": id, "ShardIteratorType": "TRIM_HORIZON" }),
                )
                .await?;
            self.shards.push(Shard {
                id: id.to_owned(),
                iterator: iterator["ShardIterator"].as_str().map(str::to_owned),
            });
        }
        Ok(())
    }

    async fn streams(&self, operation: &'static str, body: Value) -> Result<Value> {
        self.json
            .call(
                Service::DynamoDbStreams,
                operation,
                &body,
                Idempotence::Idempotent,
            )
            .await
            .with_context(|| format!("DynamoDB Streams {operation} on table {}", self.table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_keeps_written_outbox_records_only() {
        let record =
            |event: &str, image: Value| json!({ "eventName": event, "dynamodb": { "NewImage": image } });
        let outbox = json!({ "pk": {"S": "ingest:x"}, "outbox": {"S": "{\"v\":2}"} });
        assert_eq!(message(&record("INSERT", outbox.clone())), Some("{\"v\":2}"));
        assert_eq!(message(&record("MODIFY", outbox.clone())), Some("{\"v\":2}"));
        // A TTL delete, and the worker's own claims and the entity map, which share the table.
        assert_eq!(message(&record("REMOVE", outbox)), None);
        assert_eq!(
            message(&record("INSERT", json!({ "pk": {"S": "sync:evt"} }))),
            None
        );
    }

    #[test]
    fn the_template_s_pipe_filters_and_shapes_as_the_relay_does() {
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml"))
                .unwrap_or_else(|e| panic!("reading the template: {e}"));
        let squeezed: String = template.split_whitespace().collect();
        for expected in [FILTER_PATTERN, INPUT_TEMPLATE] {
            let expected: String = expected.split_whitespace().collect();
            assert!(
                squeezed.contains(&expected),
                "infra/template.yaml lacks {expected}"
            );
        }
    }
}
