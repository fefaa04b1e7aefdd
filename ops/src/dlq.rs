//! Parked messages: list them with why they are there, and move chosen ones back to the queue
//! they came from. A redriven message is applied once: the worker's claim on its event id absorbs
//! one that had in fact been applied before it was parked.

use std::time::Duration;

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("SQS {action}: {detail}")]
    Sqs { action: &'static str, detail: String },
}

fn sqs_error(action: &'static str, e: impl std::error::Error) -> DlqError {
    DlqError::Sqs {
        action,
        detail: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
    }
}

/// One message on a dead-letter queue.
#[derive(Debug, Clone)]
pub struct Parked {
    pub message_id: String,
    pub body: String,
    /// The worker's reason (`error_reason`), absent for one the redrive policy moved.
    pub reason: Option<String>,
    pub detail: Option<String>,
    /// The canonical event's kind (`LearnerCreated`, …), when the body is a queue message.
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    /// When it was first sent to the dead-letter queue.
    pub parked_at: Option<OffsetDateTime>,
    pub receive_count: u32,
    attributes: Vec<(String, String)>,
}

/// Which parked messages an operation concerns; empty matches all.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub reason: Option<String>,
    pub event_type: Option<String>,
    /// Only messages parked at least this long ago.
    pub older_than: Option<Duration>,
}

impl Filter {
    pub fn matches(&self, parked: &Parked, now: OffsetDateTime) -> bool {
        let reason = match (&self.reason, &parked.reason) {
            (None, _) => true,
            (Some(want), Some(got)) => want == got,
            // "redrive_policy" selects the messages the queue moved after their receives.
            (Some(want), None) => want == "redrive_policy",
        };
        let event_type = self
            .event_type
            .as_ref()
            .is_none_or(|want| parked.event_type.as_ref() == Some(want));
        let old_enough = match (self.older_than, parked.parked_at) {
            (None, _) => true,
            (Some(age), Some(at)) => now - at >= age,
            (Some(_), None) => false,
        };
        reason && event_type && old_enough
    }
}

fn parked(message: aws_sdk_sqs::types::Message) -> Parked {
    let body = message.body.unwrap_or_default();
    let attributes: Vec<(String, String)> = message
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(name, value)| value.string_value.map(|v| (name, v)))
        .collect();
    let attribute = |name: &str| attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let system = message.attributes.unwrap_or_default();
    let envelope = lms_ghl::contract::decode(&body).ok();
    Parked {
        message_id: message.message_id.unwrap_or_default(),
        reason: attribute("error_reason"),
        detail: attribute("error_detail"),
        event_type: envelope.as_ref().map(|e| e.event.kind().to_owned()),
        event_id: envelope
            .as_ref()
            .map(|e| e.event_id.to_string())
            .or_else(|| attribute("event_id")),
        parked_at: system
            .get(&MessageSystemAttributeName::SentTimestamp)
            .and_then(|ms| ms.parse::<i128>().ok())
            .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok()),
        receive_count: system
            .get(&MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        body,
        attributes,
    }
}

/// Receives up to ten messages, hidden for `hide_for` (zero: a peek).
async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    hide_for: Duration,
) -> Result<Vec<(Parked, String)>, DlqError> {
    let output = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(i32::try_from(hide_for.as_secs()).unwrap_or(i32::MAX))
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| sqs_error("ReceiveMessage", e))?;
    Ok(output
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let receipt = m.receipt_handle.clone().unwrap_or_default();
            (parked(m), receipt)
        })
        .collect())
}

/// Every message on the queue, each once, without taking them off (each is hidden for a few
/// seconds while the listing lasts, so that the next receives return the others).
pub async fn list(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<Vec<Parked>, DlqError> {
    let mut all: Vec<Parked> = Vec::new();
    let mut receipts = Vec::new();
    loop {
        let batch = receive(sqs, queue_url, Duration::from_secs(30)).await?;
        let fresh: Vec<_> = batch
            .into_iter()
            .filter(|(p, _)| all.iter().all(|seen| seen.message_id != p.message_id))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for (parked, receipt) in fresh {
            all.push(parked);
            receipts.push(receipt);
        }
    }
    // Visible again at once: a listing changes nothing.
    release(sqs, queue_url, receipts).await?;
    Ok(all)
}

/// Makes received messages visible again at once (instead of after the visibility timeout).
async fn release(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    receipts: impl IntoIterator<Item = String>,
) -> Result<(), DlqError> {
    for receipt in receipts {
        sqs.change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| sqs_error("ChangeMessageVisibility", e))?;
    }
    Ok(())
}

/// What a redrive did (or, dry, would do).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Redriven {
    pub moved: Vec<String>,
    pub left: usize,
}

/// Moves the parked messages `filter` selects back to `target_url` (their body, and their
/// attributes less the worker's `error_*`), then deletes each from the dead-letter queue; the
/// others stay. `dry_run` moves nothing and says what would move. `progress` is told after each.
pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    dlq_url: &str,
    target_url: &str,
    filter: &Filter,
    dry_run: bool,
    progress: &(dyn Fn(&Parked) + Sync),
) -> Result<Redriven, DlqError> {
    let now = OffsetDateTime::now_utc();
    let mut report = Redriven::default();
    let chosen: Vec<Parked> = list(sqs, dlq_url)
        .await?
        .into_iter()
        .filter(|p| {
            let chosen = filter.matches(p, now);
            report.left += usize::from(!chosen);
            chosen
        })
        .collect();
    if dry_run {
        report.moved = chosen.iter().map(|p| p.message_id.clone()).collect();
        return Ok(report);
    }
    let wanted: std::collections::BTreeSet<&str> = chosen.iter().map(|p| p.message_id.as_str()).collect();
    // Receive them again (hidden meanwhile), send, then delete: a crash between the two leaves
    // a copy on both queues, which the worker's claim absorbs; never none.
    let mut passed_over = Vec::new();
    let mut attempts = 0;
    while report.moved.len() < wanted.len() && attempts < 100 {
        attempts += 1;
        let batch = receive(sqs, dlq_url, Duration::from_secs(60)).await?;
        if batch.is_empty() {
            break;
        }
        for (parked, receipt) in batch {
            if !wanted.contains(parked.message_id.as_str()) || report.moved.contains(&parked.message_id) {
                passed_over.push(receipt);
                continue;
            }
            let mut send = sqs
                .send_message()
                .queue_url(target_url)
                .message_body(&parked.body);
            for (name, value) in parked.attributes.iter().filter(|(n, _)| !n.starts_with("error_")) {
                let attribute = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(value)
                    .build()
                    .map_err(|e| sqs_error("SendMessage", e))?;
                send = send.message_attributes(name, attribute);
            }
            send.send().await.map_err(|e| sqs_error("SendMessage", e))?;
            sqs.delete_message()
                .queue_url(dlq_url)
                .receipt_handle(receipt)
                .send()
                .await
                .map_err(|e| sqs_error("DeleteMessage", e))?;
            progress(&parked);
            report.moved.push(parked.message_id);
        }
    }
    // The ones left parked are visible again at once.
    release(sqs, dlq_url, passed_over).await?;
    Ok(report)
}
