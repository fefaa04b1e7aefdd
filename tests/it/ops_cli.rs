//! The operator's CLI (`ops/`) against moto and the GHL sandbox: parked messages listed with
//! their reasons, redriven selectively (a dry run moves nothing), each applied once.

use std::sync::atomic::{AtomicUsize, Ordering};

use ghl_sandbox::{DEFAULT_LOCATION_ID, Sandbox, SandboxConfig};
use integration_tests::{Deployment, sync_all};
use lms_ghl::domain::{Email, LearnerCreated, SourcePlatform, SyncEvent};
use lms_ghl::ports::{OutboundMessage, Queue};
use ops::dlq::{self, Filter};

fn learner(n: u32) -> SyncEvent {
    SyncEvent::LearnerCreated(LearnerCreated {
        source: SourcePlatform::skilljar(),
        source_user_id: format!("ops-user-{n}"),
        email: Email::try_from(format!("ops.learner{n}@example.com")).unwrap_or_else(|e| panic!("{e}")),
        first_name: Some("Ops".into()),
        last_name: Some(format!("Learner{n}")),
        phone: None,
        role: None,
        course: None,
        occurred_at: time::OffsetDateTime::now_utc(),
        custom_fields: Default::default(),
    })
}

/// Parks three learners' messages as the worker would: two for one reason, one for another.
async fn park_three(deployment: &Deployment) {
    let dlq = lms_ghl::aws::SqsQueue::new(deployment.json(), &deployment.dlq_url);
    for (n, reason) in [(1, "ghl_rejected"), (2, "ghl_rejected"), (3, "no_location")] {
        let records = deployment.queue_event(&format!("ops-{n}"), learner(n)).await;
        for record in records {
            // Off the realtime queue, onto the dead-letter queue.
            deployment
                .sqs
                .delete_message()
                .queue_url(&deployment.queue_url)
                .receipt_handle(record.receipt_handle.clone().unwrap_or_default())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let message = OutboundMessage {
                body: record.body.clone().unwrap_or_default(),
                attributes: [
                    ("error_reason".to_owned(), reason.to_owned()),
                    ("error_detail".to_owned(), format!("test: {reason}")),
                    ("correlation_id".to_owned(), format!("corr-ops-{n}")),
                ]
                .into(),
            };
            dlq.send(&message).await.unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[tokio::test]
async fn parked_messages_are_listed_with_reasons_and_a_redrive_applies_the_chosen_ones_once() {
    let deployment = Deployment::new().await;
    let ghl = deployment.ghl_sandbox(SandboxConfig::default()).await;
    park_three(&deployment).await;

    let listed = dlq::list(&deployment.sqs, &deployment.dlq_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|p| p.event_type.as_deref() == Some("LearnerCreated"))
    );
    let mut reasons: Vec<_> = listed.iter().filter_map(|p| p.reason.clone()).collect();
    reasons.sort();
    assert_eq!(reasons, ["ghl_rejected", "ghl_rejected", "no_location"]);
    // A listing hides nothing: all three are there again.
    assert_eq!(
        dlq::list(&deployment.sqs, &deployment.dlq_url)
            .await
            .map(|l| l.len())
            .unwrap_or(0),
        3
    );

    let filter = Filter {
        reason: Some("ghl_rejected".into()),
        ..Filter::default()
    };
    let nothing = |_: &dlq::Parked| {};
    let dry = dlq::redrive(
        &deployment.sqs,
        &deployment.dlq_url,
        &deployment.queue_url,
        &filter,
        true,
        &nothing,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((dry.moved.len(), dry.left), (2, 1));
    assert_eq!(
        deployment.visible_messages(&deployment.queue_url).await,
        0,
        "a dry run moves nothing"
    );
    assert_eq!(deployment.visible_messages(&deployment.dlq_url).await, 3);

    let told = AtomicUsize::new(0);
    let report = dlq::redrive(
        &deployment.sqs,
        &deployment.dlq_url,
        &deployment.queue_url,
        &filter,
        false,
        &|_| {
            told.fetch_add(1, Ordering::Relaxed);
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.moved.len(), report.left), (2, 1));
    assert_eq!(told.load(Ordering::Relaxed), 2, "progress after each message");
    let left = dlq::list(&deployment.sqs, &deployment.dlq_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].reason.as_deref(), Some("no_location"));

    // Back on the queue without the worker's error attributes, and applied once each.
    let records = deployment.receive(&deployment.queue_url).await;
    assert_eq!(records.len(), 2);
    for record in &records {
        assert!(record.message_attributes.keys().all(|k| !k.starts_with("error_")));
        assert!(record.message_attributes.contains_key("correlation_id"));
    }
    let worker = deployment.worker(&ghl.url()).await;
    sync_all(&worker, records).await;
    let mut emails: Vec<String> = ghl
        .contacts(DEFAULT_LOCATION_ID)
        .into_iter()
        .filter_map(|c| c.email)
        .collect();
    emails.sort();
    assert_eq!(emails, ["ops.learner1@example.com", "ops.learner2@example.com"]);

    // Nothing more matches: a second redrive moves nothing.
    let again = dlq::redrive(
        &deployment.sqs,
        &deployment.dlq_url,
        &deployment.queue_url,
        &filter,
        false,
        &nothing,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((again.moved.len(), again.left), (0, 1));
}

#[tokio::test]
async fn webhook_sign_prints_a_header_the_ingest_accepts() {
    let deployment = Deployment::new().await;
    let secrets = lms_ghl::aws::SecretsManager::new(aws_sdk_secretsmanager::Client::new(&deployment.sdk));
    let body = r#"{"event_id":"ops-sign-1","event_type":"learner.created","source":"talentlms","occurred_at":"2026-11-23T10:00:00Z","learner":{"id":"ops-sign","email":"sign@example.com"}}"#;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let header =
        ops::webhook::signature_header(&secrets, &deployment.webhook_secret_id, body.as_bytes(), now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    let (name, value) = header.split_once(": ").unwrap_or_else(|| panic!("{header}"));
    assert_eq!(name, "x-webhook-signature");
    assert!(!header.contains(integration_tests::GENERIC_SIGNING_SECRET));
    let request = integration_tests::api_request(
        "/learner-created/generic",
        &[("content-type", "application/json"), (name, value)],
        body,
    );
    let (status, answer) =
        integration_tests::response_json(lms_ghl::lambda::serve_ingest(&deployment.ingest(), request).await);
    assert_eq!(status, 202, "{answer}");

    let missing = ops::webhook::signature_header(&secrets, "no-such-secret", body.as_bytes(), now).await;
    assert!(
        missing.is_err_and(|e| e.to_string().starts_with("webhook secret no-such-secret:")),
        "a missing secret is named"
    );
}

#[tokio::test]
async fn status_shows_queue_depths_parked_messages_and_the_last_batch_runs() {
    use lms_ghl::batch::{JobKind, Mode, Phase, RunState, RunSummary};
    use lms_ghl::ports::Documents;

    let deployment = Deployment::new().await;
    park_three(&deployment).await;
    // One more event waiting on the realtime queue.
    let waiting = deployment.queue_event("ops-status", learner(9)).await;
    for record in &waiting {
        deployment
            .sqs
            .change_message_visibility()
            .queue_url(&deployment.queue_url)
            .receipt_handle(record.receipt_handle.clone().unwrap_or_default())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let table = deployment.table();
    let mut summary = RunSummary::new(
        "run-1".into(),
        "reconcile:academy".into(),
        "academy".into(),
        Mode::Run,
        time::OffsetDateTime::now_utc(),
    );
    summary.changes.insert("lms_to_ghl:learner".into(), 4);
    summary.finished_at = Some(time::OffsetDateTime::now_utc());
    summary.invocations = 2;
    let run = RunState {
        run_id: "run-1".into(),
        since: None,
        phase: Phase::first(JobKind::Reconcile),
        summary,
    };
    let body = serde_json::to_string(&run).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        table
            .put(&lms_ghl::keys::batch_run("reconcile:academy"), &body, 0, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );

    let mapping = lms_ghl::mapping::Mapping::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/local/mapping.toml"
    )))
    .unwrap_or_else(|e| panic!("{e}"));
    let queues = [
        ("QUEUE_URL".to_owned(), deployment.queue_url.clone()),
        ("DEAD_LETTER_QUEUE_URL".to_owned(), deployment.dlq_url.clone()),
    ];
    // Twenty GHL requests booked on the location's shared budget, as busy workers would.
    let location = integration_tests::LOCATION_ID;
    let now_us = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64;
    for _ in 0..20 {
        lms_ghl::ports::SlotSchedule::reserve(
            &table,
            &lms_ghl::keys::ghl_location_schedule(location),
            now_us,
            100_000,
            10_000_000,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let status = ops::status::read(&deployment.sqs, &queues, &table, &mapping)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.queues[0].visible, 1, "{status}");
    let budget = status
        .budgets
        .iter()
        .find(|b| b.location_id == location)
        .unwrap_or_else(|| panic!("no budget line for {location}: {status}"));
    assert!((15..=20).contains(&budget.booked_ahead), "{status}");
    assert_eq!(status.parked(), 3, "{status}");
    let text = status.to_string();
    assert!(text.contains("<- parked: lms-sync-ops dlq list"), "{text}");
    assert!(
        text.contains("reconcile:academy") && text.contains("4 change(s), 0 error(s), 2 invocation(s)"),
        "{text}"
    );
    assert!(
        text.contains("poll:talent") && text.contains("never run"),
        "{text}"
    );
}

#[tokio::test]
async fn replay_sends_samples_and_bodies_with_the_credentials_their_routes_need() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let deployment = Deployment::new().await;
    let endpoint = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&endpoint)
        .await;
    let root = std::path::PathBuf::from(integration_tests::ROOT);
    let secret = secrecy::SecretString::from(integration_tests::WEBHOOK_SECRETS);
    let http = lms_ghl::http::client(std::time::Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"));
    let bare = std::env::temp_dir().join(format!("ops-replay-{}.json", std::process::id()));
    std::fs::write(
        &bare,
        r#"{"event_id":"ops-replay-1","event_type":"learner.created","source":"talentlms","occurred_at":"2026-11-23T10:00:00Z","learner":{"id":"ops-replay","email":"replay@example.com"}}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let files = [
        (
            root.join("events/learner-created/generic-learner-created.json"),
            None,
        ),
        (
            root.join("events/learner-created/skilljar-course-enrollment.json"),
            None,
        ),
        (bare.clone(), Some("/learner-created/generic/")),
    ];
    let mut routes = Vec::new();
    for (file, route) in &files {
        let delivery = ops::replay::read(file, *route).unwrap_or_else(|e| panic!("{e}"));
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let headers = ops::replay::headers(&delivery, &secret, now).unwrap_or_else(|e| panic!("{e}"));
        let (status, _) = ops::replay::send(&http, &format!("{}/base", endpoint.uri()), &delivery, &headers)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, 202);
        routes.push(delivery.route);
    }
    let _ = std::fs::remove_file(&bare);
    assert_eq!(
        routes,
        [
            "learner-created/generic",
            "learner-created/skilljar",
            "learner-created/generic"
        ]
    );

    // What arrived is what the functions accept: each handed to its ingest as API Gateway would.
    let received = endpoint.received_requests().await.unwrap_or_default();
    assert_eq!(received.len(), 3);
    for (request, route) in received.iter().zip(&routes) {
        assert_eq!(request.url.path(), format!("/base/{route}"));
        let trigger = lms_ghl::ingest::Trigger::LearnerCreated;
        let (status, answer) = integration_tests::response_json(
            lms_ghl::lambda::serve_ingest(
                &deployment.ingest_for(trigger),
                integration_tests::captured_request(&format!("/{route}"), request),
            )
            .await,
        );
        assert_eq!(status, 202, "{route}: {answer}");
    }

    // A GHL route without a workflow header configured cannot be signed: said, not sent.
    let ghl = ops::replay::Delivery {
        route: "ghl-events/ghl".into(),
        body: "{}".into(),
    };
    let unsigned = secrecy::SecretString::from(r#"{"ghl":{"publicKeys":[]}}"#);
    let refused = ops::replay::headers(&ghl, &unsigned, 0);
    assert!(refused.is_err_and(|e| e.to_string().contains("GHL signs its own deliveries")));
}

#[tokio::test]
async fn oauth_install_stores_a_pair_the_worker_then_uses_and_status_shows_it() {
    let deployment = Deployment::new().await;
    let ghl = Sandbox::start(SandboxConfig::default().with_oauth_client("client-1", "client-secret"))
        .await
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    ghl.add_authorization_code(DEFAULT_LOCATION_ID, "client-1", "code-1")
        .unwrap_or_else(|e| panic!("{e}"));
    let secrets = lms_ghl::aws::SecretsManager::new(aws_sdk_secretsmanager::Client::new(&deployment.sdk));
    let before = ops::oauth::status(&secrets, &deployment.ghl_secret_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        before,
        ops::oauth::TokenStatus::PrivateIntegrationToken { .. }
    ));

    let http = lms_ghl::http::client(std::time::Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"));
    let endpoint = lms_ghl::ghl::TokenEndpoint::new(http, &ghl.url()).unwrap_or_else(|e| panic!("{e}"));
    let client_secret = secrecy::SecretString::from("client-secret");
    let code = secrecy::SecretString::from("code-1");
    let install = ops::oauth::Install {
        secret_id: &deployment.ghl_secret_id,
        location_id: DEFAULT_LOCATION_ID,
        client_id: "client-1",
        client_secret: &client_secret,
        code: &code,
        redirect_uri: None,
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let installed = ops::oauth::install(&secrets, &endpoint, &install, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(installed.location_id, DEFAULT_LOCATION_ID);
    assert!(installed.expires_at > now);
    match ops::oauth::status(&secrets, &deployment.ghl_secret_id).await {
        Ok(ops::oauth::TokenStatus::OAuth {
            location_id,
            expires_at,
        }) => {
            assert_eq!(
                (location_id.as_str(), expires_at),
                (DEFAULT_LOCATION_ID, installed.expires_at)
            );
        }
        other => panic!("expected OAuth, got {other:?}"),
    }
    // A used code is refused, and the secret keeps the pair.
    let again = ops::oauth::install(&secrets, &endpoint, &install, now).await;
    assert!(again.is_err(), "a code works once");

    // The worker reads the stored pair: the event's contact reaches GHL with the OAuth token.
    let worker = deployment.worker(&ghl.url()).await;
    let records = deployment.queue_event("ops-oauth", learner(7)).await;
    sync_all(&worker, records).await;
    let emails: Vec<String> = ghl
        .contacts(DEFAULT_LOCATION_ID)
        .into_iter()
        .filter_map(|c| c.email)
        .collect();
    assert_eq!(emails, ["ops.learner7@example.com"]);
}

#[tokio::test]
async fn config_check_names_the_custom_fields_a_location_lacks() {
    let deployment = Deployment::new().await;
    let mut config = SandboxConfig::default();
    // The location lacks the mapping's `department` field.
    config.locations[0]
        .custom_fields
        .retain(|f| f.key != "department");
    let ghl = deployment.ghl_sandbox(config).await;
    let settings = deployment.worker_settings(
        &ghl.url(),
        "config/mapping.toml",
        vec![deployment.ghl_secret_id.clone()],
    );
    let findings = lms_ghl::app::check_config(&settings, &deployment.sdk)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = ops::config::describe(&findings);
    assert_eq!(ops::config::problems(&findings), 1, "{text}");
    assert!(
        text.contains(&format!(
            "PROBLEM    location {DEFAULT_LOCATION_ID} lacks the custom field(s) the mapping names: department"
        )),
        "{text}"
    );
    assert!(text.starts_with("ok         mapping: "), "{text}");

    // With the field there, nothing to report.
    let complete = deployment.ghl_sandbox(SandboxConfig::default()).await;
    let settings = deployment.worker_settings(
        &complete.url(),
        "config/mapping.toml",
        vec![deployment.ghl_secret_id.clone()],
    );
    let findings = lms_ghl::app::check_config(&settings, &deployment.sdk)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ops::config::problems(&findings),
        0,
        "{}",
        ops::config::describe(&findings)
    );
}

#[tokio::test]
async fn status_lists_the_stacks_recent_error_lines_newest_first() {
    let deployment = Deployment::new().await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&deployment.sdk);
    let stack = format!("ops-{}", uuid::Uuid::new_v4().simple());
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let lines = [
        (
            "sync-worker",
            now_ms - 2_000,
            r#"{"level":"ERROR","fields":{"message":"permanent failure; parking message on the dead-letter queue"},"span":{"correlation_id":"corr-1","name":"event"}}"#,
        ),
        (
            "sync-worker",
            now_ms - 1_000,
            r#"{"level":"INFO","fields":{"message":"ERROR in a learner's name is not an error"}}"#,
        ),
        (
            "learner-created",
            now_ms - 500,
            r#"{"level":"ERROR","fields":{"message":"delivery identity reused with different content"},"span":{"correlation_id":"corr-2","name":"delivery"}}"#,
        ),
    ];
    for (function, at, message) in lines {
        let group = format!("/aws/lambda/{stack}-{function}");
        let _ = logs.create_log_group().log_group_name(&group).send().await;
        let _ = logs
            .create_log_stream()
            .log_group_name(&group)
            .log_stream_name("s")
            .send()
            .await;
        logs.put_log_events()
            .log_group_name(&group)
            .log_stream_name("s")
            .log_events(
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(at)
                    .message(message)
                    .build()
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    }
    let errors = ops::status::recent_errors(&logs, &stack, now_ms - 60_000, 10)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seen: Vec<(&str, &str, Option<&str>)> = errors
        .iter()
        .map(|e| {
            (
                e.function.as_str(),
                e.message.as_str(),
                e.correlation_id.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "learner-created",
                "delivery identity reused with different content",
                Some("corr-2")
            ),
            (
                "sync-worker",
                "permanent failure; parking message on the dead-letter queue",
                Some("corr-1")
            ),
        ]
    );
}

#[tokio::test]
async fn outbox_resend_sends_accepted_deliveries_again_and_the_worker_applies_each_once() {
    use integration_tests::{response_json, sample_event};
    let deployment = Deployment::new().await;
    let ghl = deployment.ghl_sandbox(SandboxConfig::default()).await;
    let started = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    for sample in [
        "events/learner-created/skilljar-course-enrollment.json",
        "events/learner-created/generic-learner-created.json",
    ] {
        let (status, body) =
            response_json(lms_ghl::lambda::serve_ingest(&deployment.ingest(), sample_event(sample)).await);
        assert_eq!(status, 202, "{sample}: {body}");
    }

    // As if the Pipe had failed: the messages are in their claims, found by when they came in.
    let accepted = ops::outbox::accepted_since(&deployment.dynamodb, &deployment.table, started)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(accepted.len(), 2, "{accepted:?}");
    assert!(accepted.iter().all(|a| a.event_type == "LearnerCreated"));
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(1);
    let none = ops::outbox::accepted_since(&deployment.dynamodb, &deployment.table, later)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(none.is_empty(), "{none:?}");
    let queue = lms_ghl::aws::SqsQueue::new(deployment.json(), &deployment.queue_url);
    ops::outbox::resend(&queue, &accepted)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // The Pipe catches up too (the relay, in `receive`): each event on the queue twice, applied once.
    let mut records = Vec::new();
    loop {
        let batch = deployment.receive(&deployment.queue_url).await;
        if batch.is_empty() {
            break;
        }
        records.extend(batch);
    }
    assert_eq!(records.len(), 4);
    let worker = deployment.worker(&ghl.url()).await;
    sync_all(&worker, records).await;
    assert_eq!(ghl.contacts(DEFAULT_LOCATION_ID).len(), 2);
}
