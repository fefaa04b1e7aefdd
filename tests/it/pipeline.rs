//! Webhook → queue → worker → GHL (Prism on the official spec), end to end.

use integration_tests::{Deployment, prism_url, prism_violations, response_json, sample_event, sync_all};
use lms_ghl::lambda::serve_ingest;

/// Prism serves only the contacts spec: custom fields by id, no key lookups.
const PRISM_MAPPING: &str = "tests/fixtures/mapping-ids-only.toml";

#[tokio::test]
async fn skilljar_enrollment_becomes_a_ghl_contact() {
    let deployment = Deployment::new().await;
    let ingest = deployment.ingest();

    let request = sample_event("events/learner-created/skilljar-course-enrollment.json");
    let (status, body) = response_json(serve_ingest(&ingest, request).await);
    assert_eq!(status, 202, "{body}");
    let event_id = body["event_id"].as_str().unwrap_or_default().to_owned();

    let records = deployment.receive(&deployment.queue_url).await;
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0]
            .message_attributes
            .get("event_id")
            .and_then(|a| a.string_value.as_deref()),
        Some(event_id.as_str())
    );

    sync_all(
        &deployment.worker_with_mapping(&prism_url(), PRISM_MAPPING).await,
        records,
    )
    .await;

    let link = deployment.skilljar_contact("3gh6zcs5x2bz").await;
    let link = link.unwrap_or_else(|| panic!("no entity map entry for the learner"));
    assert_eq!(link.location_id, integration_tests::LOCATION_ID);
    assert!(!link.contact_id.is_empty());

    let violations = prism_violations();
    assert!(
        violations.is_empty(),
        "Prism saw requests that break GHL's contract:\n{}",
        violations.join("\n")
    );
}

#[tokio::test]
async fn every_sample_event_is_accepted_and_synced() {
    let deployment = Deployment::new().await;
    let ingest = deployment.ingest();
    let mut samples: Vec<_> =
        std::fs::read_dir(format!("{}/events/learner-created", integration_tests::ROOT))
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
    samples.sort();
    assert!(
        samples.len() >= 3,
        "expected Skilljar and generic samples, found {samples:?}"
    );
    for sample in &samples {
        let path = sample
            .strip_prefix(integration_tests::ROOT)
            .unwrap_or(sample)
            .to_string_lossy();
        let path = path.trim_start_matches('/');
        let (status, body) = response_json(serve_ingest(&ingest, sample_event(path)).await);
        assert_eq!(status, 202, "{path}: {body}");
    }
    let records = deployment.receive(&deployment.queue_url).await;
    assert_eq!(records.len(), samples.len());

    sync_all(
        &deployment.worker_with_mapping(&prism_url(), PRISM_MAPPING).await,
        records,
    )
    .await;
    assert!(prism_violations().is_empty(), "{:?}", prism_violations());
}
