//! What an operator sees of one event: its log lines (JSON, as the functions write them) carry its
//! correlation id from the webhook through SQS to the worker's GHL calls, the metrics come out in
//! CloudWatch Embedded Metric Format under the documented names (docs/operations.md), and no
//! secret value reaches either.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use ghl_sandbox::{DEFAULT_LOCATION_ID, SandboxConfig};
use integration_tests::{Deployment, api_request, response_json, sign_now, sync_all};
use serde_json::Value;

/// Log lines written to memory instead of stdout.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect()
}

/// The EMF documents' metric names with their dimension values (besides `Stage`).
fn metrics_in(docs: &[Value]) -> Vec<(String, Vec<(String, String)>)> {
    let mut found = Vec::new();
    for doc in docs {
        let spec = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Namespace"], "LmsGhlSync", "{doc}");
        let dimensions: Vec<String> = spec["Dimensions"][0]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str().map(str::to_owned))
            .collect();
        assert_eq!(dimensions.first().map(String::as_str), Some("Stage"), "{doc}");
        let values: Vec<(String, String)> = dimensions[1..]
            .iter()
            .map(|d| (d.clone(), doc[d].as_str().unwrap_or_default().to_owned()))
            .collect();
        for metric in spec["Metrics"].as_array().into_iter().flatten() {
            let name = metric["Name"].as_str().unwrap_or_default().to_owned();
            assert!(doc.get(&name).is_some(), "{name} has no value in {doc}");
            found.push((name, values.clone()));
        }
    }
    found
}

#[tokio::test]
async fn an_events_logs_carry_its_correlation_id_and_its_metrics_come_out_as_emf_without_secrets() {
    let deployment = Deployment::new().await;
    let ghl = deployment.ghl_sandbox(SandboxConfig::default()).await;
    let metrics = lms_ghl::telemetry::metrics().unwrap_or_else(|e| panic!("{e}"));
    // What other tests of this process recorded is not this test's.
    metrics.flush(std::io::sink()).unwrap_or_else(|e| panic!("{e}"));

    // The functions' log format (telemetry::init), at debug so that every GHL call logs a line.
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("debug,hyper=off,hyper_util=off,reqwest=off,aws=off,h2=off,rustls=off")
        .with_target(false)
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let body = serde_json::json!({
        "event_id": "obs-evt-1",
        "event_type": "learner.created",
        "source": "talentlms",
        "occurred_at": "2026-11-23T10:00:00Z",
        "learner": {"id": "obs-1", "email": "grace.hopper@example.com", "first_name": "Grace", "last_name": "Hopper"}
    })
    .to_string();
    // A delivery whose signature does not match: refused, counted by reason.
    let tampered = api_request(
        "/learner-created/generic",
        &[
            ("content-type", "application/json"),
            ("x-webhook-signature", &sign_now("{}")),
            ("x-correlation-id", "corr-tampered"),
        ],
        &body,
    );
    let (status, _) = response_json(lms_ghl::lambda::serve_ingest(&deployment.ingest(), tampered).await);
    assert_eq!(status, 401);
    let correlation_id = "corr-observability-1";
    let request = api_request(
        "/learner-created/generic",
        &[
            ("content-type", "application/json"),
            ("x-webhook-signature", &sign_now(&body)),
            ("x-correlation-id", correlation_id),
        ],
        &body,
    );
    let (status, answer) = response_json(lms_ghl::lambda::serve_ingest(&deployment.ingest(), request).await);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["correlation_id"], correlation_id);

    // Through the outbox and SQS: the message's envelope carries the id too.
    let records = deployment.receive(&deployment.queue_url).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        integration_tests::envelope(&records[0]).correlation_id,
        correlation_id
    );
    let worker = deployment.worker(&ghl.url()).await;
    sync_all(&worker, records).await;
    assert_eq!(ghl.contacts(DEFAULT_LOCATION_ID).len(), 1);

    let mut emf = Vec::new();
    metrics.flush(&mut emf).unwrap_or_else(|e| panic!("{e}"));
    let emf = String::from_utf8_lossy(&emf).into_owned();
    let log_text = logs.text();

    // Every line inside the event's spans (the ingest's delivery, the worker's event) names it.
    let lines = json_lines(&log_text);
    let in_event: Vec<&Value> = lines
        .iter()
        .filter(|l| matches!(l["span"]["name"].as_str(), Some("delivery" | "event")))
        .collect();
    let ghl_calls = in_event
        .iter()
        .filter(|l| l["fields"]["message"] == "GHL call")
        .count();
    assert!(ghl_calls >= 1, "no GHL call logged inside the event: {log_text}");
    // Each line names its own delivery: ours, or the refused one's.
    for line in &in_event {
        let id = line["span"]["correlation_id"].as_str().unwrap_or_default();
        assert!(id == correlation_id || id == "corr-tampered", "{line}");
        if line["fields"]["message"] == "GHL call" {
            assert_eq!(id, correlation_id, "{line}");
        }
    }
    assert!(
        in_event
            .iter()
            .any(|l| l["span"]["correlation_id"] == "corr-tampered" && l["fields"]["error"] == "unauthorized"),
        "the refused delivery's line: {log_text}"
    );
    assert!(
        in_event.iter().any(|l| l["span"]["name"] == "delivery"),
        "the ingest's lines: {log_text}"
    );

    let found = metrics_in(&json_lines(&emf));
    let has = |name: &str, dimension: Option<(&str, &str)>| {
        found.iter().any(|(n, dims)| {
            n == name
                && match dimension {
                    None => dims.is_empty(),
                    Some((k, v)) => dims.iter().any(|(dk, dv)| dk == k && dv == v),
                }
        })
    };
    for (name, dimension) in [
        ("EventsAccepted", None),
        ("EventsAccepted", Some(("Trigger", "learner-created/generic"))),
        ("EventsRejected", Some(("Reason", "unauthorized"))),
        ("EventsSynced", Some(("EventType", "LearnerCreated"))),
        ("GhlCalls", Some(("Location", DEFAULT_LOCATION_ID))),
        ("GhlResponses", Some(("Endpoint", "POST /contacts/upsert"))),
        ("EffectsApplied", Some(("Effect", "ContactUpserted"))),
        ("GhlBudgetWaitMs", None),
        ("EndToEndLatencyMs", None),
    ] {
        assert!(
            has(name, dimension),
            "no {name} {dimension:?} in the EMF lines: {emf}"
        );
    }

    // No secret value: the webhook credentials, the GHL token.
    let webhooks: Value = serde_json::from_str(integration_tests::WEBHOOK_SECRETS).unwrap_or_default();
    let secrets = [
        deployment.ghl_token.as_str(),
        integration_tests::GENERIC_SIGNING_SECRET,
        webhooks["skilljar"]["basicAuth"]["password"]
            .as_str()
            .unwrap_or("local-demo-password"),
    ];
    for secret in secrets {
        assert!(!log_text.contains(secret), "{secret:?} reached a log line");
        assert!(!emf.contains(secret), "{secret:?} reached a metric");
    }
}
