//! `learner-created` against moto: dedupe in DynamoDB, enqueue on SQS, and nothing enqueued for
//! any kind of bad input.

use integration_tests::{
    Deployment, api_request, read_root_file, response_json, sample_event, sign_now, skilljar_auth,
};
use lms_ghl::lambda::serve_ingest;

#[tokio::test]
async fn duplicate_delivery_is_acknowledged_and_not_enqueued_again() {
    let deployment = Deployment::new().await;
    let ingest = deployment.ingest();
    let sample = "events/learner-created/skilljar-course-enrollment.json";

    let (status, first) = response_json(serve_ingest(&ingest, sample_event(sample)).await);
    assert_eq!(status, 202, "{first}");
    let (status, second) = response_json(serve_ingest(&ingest, sample_event(sample)).await);
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["status"], "duplicate");
    assert_eq!(second["event_id"], first["event_id"]);
    assert_eq!(deployment.visible_messages(&deployment.queue_url).await, 1);
}

#[tokio::test]
async fn generic_signed_delivery_is_enqueued() {
    let deployment = Deployment::new().await;
    let body = read_root_file("tests/fixtures/generic/learner_created.json");
    let signature = sign_now(&body);
    let request = api_request(
        "/learner-created/generic",
        &[
            ("content-type", "application/json"),
            ("x-webhook-signature", &signature),
            ("x-correlation-id", "corr-42"),
        ],
        &body,
    );
    let (status, response) = response_json(serve_ingest(&deployment.ingest(), request).await);
    assert_eq!(status, 202, "{response}");
    assert_eq!(response["correlation_id"], "corr-42");
    let records = deployment.receive(&deployment.queue_url).await;
    assert_eq!(records.len(), 1);
    let envelope: lms_ghl::contract::Envelope =
        serde_json::from_str(records[0].body.as_deref().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(envelope.correlation_id, "corr-42");
    let lms_ghl::domain::SyncEvent::LearnerCreated(learner) = envelope.event else {
        panic!("not a LearnerCreated")
    };
    assert_eq!(learner.email.as_str(), "katherine.johnson@example.com");
}

/// Route, headers, body, expected status and error code.
type BadInput<'a> = (&'a str, Vec<(&'a str, &'a str)>, String, u16, &'a str);

#[tokio::test]
async fn bad_input_gets_a_precise_error_and_enqueues_nothing() {
    let deployment = Deployment::new().await;
    let ingest = deployment.ingest();
    let generic = read_root_file("tests/fixtures/generic/learner_created.json");
    let skilljar = read_root_file("tests/fixtures/skilljar/course_enrollment.json");
    let auth = skilljar_auth();
    let json = ("content-type", "application/json");
    let stale = {
        let secret = secrecy::SecretString::from(integration_tests::GENERIC_SIGNING_SECRET);
        let then = time::OffsetDateTime::now_utc().unix_timestamp() - 301;
        lms_ghl::ingest::signature::sign(&secret, then, generic.as_bytes())
    };
    let tampered_body = generic.replace("Katherine", "Mallory");
    let good_signature = sign_now(&generic);
    let no_email = skilljar.replace(r#""email": "Ada.Lovelace@example.com","#, "");
    let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(300 * 1024));

    let cases: Vec<BadInput> = vec![
        (
            "/learner-created/generic",
            vec![json, ("x-webhook-signature", &good_signature)],
            tampered_body,
            401,
            "unauthorized",
        ),
        (
            "/learner-created/generic",
            vec![json, ("x-webhook-signature", &stale)],
            generic.clone(),
            401,
            "unauthorized",
        ),
        (
            "/learner-created/generic",
            vec![json],
            generic.clone(),
            401,
            "unauthorized",
        ),
        (
            "/learner-created/skilljar",
            vec![json, ("authorization", "Basic c2tpbGxqYXI6d3Jvbmc=")],
            skilljar.clone(),
            401,
            "unauthorized",
        ),
        (
            "/learner-created/skilljar",
            vec![json, ("authorization", &auth)],
            "{\"event_type\":".into(),
            400,
            "malformed_json",
        ),
        (
            "/learner-created/skilljar",
            vec![json, ("authorization", &auth)],
            huge,
            413,
            "payload_too_large",
        ),
        (
            "/learner-created/skilljar",
            vec![
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", &auth),
            ],
            skilljar.clone(),
            415,
            "unsupported_media_type",
        ),
        (
            "/learner-created/skilljar",
            vec![json, ("authorization", &auth)],
            no_email,
            422,
            "unprocessable",
        ),
    ];
    for (path, headers, body, expected_status, expected_error) in cases {
        let (status, response) =
            response_json(serve_ingest(&ingest, api_request(path, &headers, &body)).await);
        assert_eq!(
            (status, response["error"].as_str()),
            (expected_status, Some(expected_error)),
            "{path}: {response}"
        );
        assert!(
            response["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{response}"
        );
    }
    assert_eq!(deployment.visible_messages(&deployment.queue_url).await, 0);
}

#[tokio::test]
async fn missing_secret_is_a_retryable_503_without_detail_leak() {
    let mut deployment = Deployment::new().await;
    deployment.webhook_secret_id = "lms-sync/does-not-exist".into();
    let sample = "events/learner-created/skilljar-course-enrollment.json";
    let (status, body) = response_json(serve_ingest(&deployment.ingest(), sample_event(sample)).await);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable");
    assert!(
        !body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("does-not-exist"),
        "{body}"
    );
    assert_eq!(deployment.visible_messages(&deployment.queue_url).await, 0);
}
