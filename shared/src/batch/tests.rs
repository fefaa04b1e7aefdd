use serde_json::json;

use super::*;

fn mapping(extra: &str) -> Mapping {
    Mapping::parse(&format!(
        "[targets.academy]\nplatform = \"skilljar\"\nsecret_id = \"s\"\nlocation_id = \"l\"\nqualify = {{ tag = \"enroll\" }}\n{extra}"
    ))
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_reconcile_searches_the_qualifying_tag_unless_the_target_names_its_own_filters() {
    let plain = contact_query(&mapping("").targets["academy"]);
    assert_eq!(
        plain.filters,
        [json!({"field": "tags", "operator": "eq", "value": ["enroll"]})]
    );
    assert_eq!(plain.sort, [json!({"field": "dateAdded", "direction": "asc"})]);

    let own = mapping("[targets.academy.reconcile]\ntag = \"students\"\nbusiness_id = \"biz-1\"\n");
    let own = contact_query(&own.targets["academy"]);
    assert_eq!(
        own.filters,
        [
            json!({"field": "tags", "operator": "eq", "value": ["students"]}),
            json!({"field": "businessId", "operator": "eq", "value": "biz-1"}),
        ]
    );
}

#[test]
fn an_unknown_reconcile_key_is_refused_with_its_line() {
    let err = Mapping::parse(
        "[targets.academy]\nplatform = \"skilljar\"\nsecret_id = \"s\"\nlocation_id = \"l\"\n[targets.academy.reconcile]\ntags = \"x\"\n",
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("tags"), "{err}");
}

#[test]
fn requests_read_as_eventbridge_sends_them_and_name_what_is_wrong() {
    let request: BatchRequest =
        serde_json::from_value(json!({"job": "poll", "target": "talent"})).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(request.job_name(), "poll:talent");
    assert_eq!(request.mode, Mode::Run);
    let planned: BatchRequest = serde_json::from_value(
        json!({"job": "reconcile", "target": "academy", "mode": "plan", "since": "2026-11-01T00:00:00Z"}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(planned.mode, Mode::Plan);
    assert!(planned.since.is_some());
    let wrong = serde_json::from_value::<BatchRequest>(json!({"job": "sync", "target": "x"}))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(wrong.contains("sync"), "{wrong}");
    let extra = serde_json::from_value::<BatchRequest>(json!({"job": "poll", "target": "x", "dry": true}))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(extra.contains("dry"), "{extra}");
}

#[test]
fn a_run_starts_where_its_job_begins_and_reports_its_cursor() {
    assert_eq!(Phase::first(JobKind::Poll), Phase::LmsLearners { page: None });
    assert_eq!(
        Phase::first(JobKind::Reconcile),
        Phase::GhlContacts { search_after: None }
    );
    let resumed = Phase::GhlContacts {
        search_after: Some(vec![json!(1700000000000_i64), json!("c1")]),
    };
    assert_eq!(resumed.cursor().as_deref(), Some("ghl:[1700000000000,\"c1\"]"));
    assert_eq!(Phase::Done.cursor(), None);
    // The state survives a round trip through its stored form.
    let text = serde_json::to_string(&resumed).unwrap_or_default();
    assert_eq!(serde_json::from_str::<Phase>(&text).ok(), Some(resumed));
}

#[test]
fn a_summary_keeps_the_latest_twenty_errors() {
    let mut summary = RunSummary::new(
        "r".into(),
        "poll:t".into(),
        "t".into(),
        Mode::Run,
        time::OffsetDateTime::UNIX_EPOCH,
    );
    for i in 0..50 {
        summary.record_error(format!("error {i}"));
    }
    assert_eq!(summary.errors.len(), 20);
    assert_eq!(summary.errors.first().map(String::as_str), Some("error 30"));
    assert_eq!(summary.errors.last().map(String::as_str), Some("error 49"));
}
