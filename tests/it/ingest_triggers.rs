//! `milestone-completed` and `note-added` against moto: every committed sample is accepted once,
//! queued once with the event type the worker dispatches on, answered `duplicate` when resent,
//! and no bad input reaches the queue.

use std::path::PathBuf;

use integration_tests::{
    Deployment, ROOT, api_request, read_root_file, response_json, sample_event, sign_now, skilljar_auth,
};
use lms_ghl::ingest::Trigger;
use lms_ghl::lambda::serve_ingest;

/// The samples of one function, `events/<function>/*.json`, by path from the repository root.
fn samples(function: &str) -> Vec<String> {
    let dir = PathBuf::from(ROOT).join("events").join(function);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no samples in events/{function}");
    names
        .into_iter()
        .map(|name| format!("events/{function}/{name}"))
        .collect()
}

/// The queue message type a sample must produce, read from the delivery itself.
fn expected_kind(sample: &str) -> &'static str {
    let event: serde_json::Value =
        serde_json::from_str(&read_root_file(sample)).unwrap_or_else(|e| panic!("{sample}: {e}"));
    let body: serde_json::Value = serde_json::from_str(event["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{sample} body: {e}"));
    match body["event_type"].as_str().unwrap_or_default() {
        "milestone.completed" | "milestone.started" => "MilestoneReached",
        "task.created" | "task.updated" | "task.completed" => "TaskChanged",
        "note.added" => "NoteAdded",
        skilljar if skilljar.chars().all(|c| c.is_ascii_uppercase() || c == '_') => "MilestoneReached",
        other => panic!("{sample}: unexpected event type {other:?}"),
    }
}

async fn every_sample_is_queued_once(function: &str, trigger: Trigger) {
    let deployment = Deployment::new().await;
    let ingest = deployment.ingest_for(trigger);
    let samples = samples(function);
    let mut accepted = Vec::new();
    for sample in &samples {
        let (status, first) = response_json(serve_ingest(&ingest, sample_event(sample)).await);
        assert_eq!(status, 202, "{sample}: {first}");
        let (status, again) = response_json(serve_ingest(&ingest, sample_event(sample)).await);
        assert_eq!(status, 200, "{sample}: {again}");
        assert_eq!(again["status"], "duplicate", "{sample}");
        assert_eq!(again["event_id"], first["event_id"], "{sample}");
        let event_id = first["event_id"].as_str().unwrap_or_default().to_owned();
        accepted.push((event_id, expected_kind(sample), sample.clone()));
    }
    assert_eq!(
        deployment.visible_messages(&deployment.queue_url).await,
        samples.len()
    );

    let mut records = Vec::new();
    while records.len() < samples.len() {
        let batch = deployment.receive(&deployment.queue_url).await;
        if batch.is_empty() {
            break;
        }
        records.extend(batch);
    }
    assert_eq!(records.len(), samples.len());
    for (event_id, kind, sample) in &accepted {
        let matching: Vec<_> = records
            .iter()
            .map(integration_tests::envelope)
            .filter(|envelope| envelope.event_id.as_str() == event_id)
            .collect();
        assert_eq!(matching.len(), 1, "{sample}: one message for {event_id}");
        assert_eq!(matching[0].event.kind(), *kind, "{sample}");
    }
}

#[tokio::test]
async fn every_milestone_completed_sample_is_queued_once() {
    every_sample_is_queued_once("milestone-completed", Trigger::MilestoneCompleted).await;
}

#[tokio::test]
async fn every_note_added_sample_is_queued_once() {
    every_sample_is_queued_once("note-added", Trigger::NoteAdded).await;
}

/// Trigger, route, headers, body, expected status and error code, and for 422 the field named.
type BadInput = (
    Trigger,
    &'static str,
    Vec<(&'static str, String)>,
    String,
    u16,
    &'static str,
    Option<&'static str>,
);

#[tokio::test]
async fn bad_input_to_the_new_triggers_gets_its_status_and_enqueues_nothing() {
    let deployment = Deployment::new().await;
    let completion = read_root_file("tests/fixtures/skilljar/course_completion.json");
    let quiz = read_root_file("tests/fixtures/skilljar/quiz_completion.json");
    let task = read_root_file("tests/fixtures/generic/task_created.json");
    let note = read_root_file("tests/fixtures/generic/note_added.json");
    let json = || ("content-type", "application/json".to_owned());
    let basic = || ("authorization", skilljar_auth());
    let signed = |body: &str| vec![json(), ("x-webhook-signature", sign_now(body))];
    let stale = {
        let secret = secrecy::SecretString::from(integration_tests::GENERIC_SIGNING_SECRET);
        let then = time::OffsetDateTime::now_utc().unix_timestamp() - 301;
        lms_ghl::ingest::signature::sign(&secret, then, task.as_bytes())
    };
    let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(300 * 1024));
    let long_note = note.replace(
        r#""content": "Finished"#,
        &format!(r#""content": "{}Finished"#, "x".repeat(64 * 1024 + 1)),
    );
    let no_title = task.replace(r#""title": "Send Katherine the advanced module schedule","#, "");
    let no_kind =
        read_root_file("tests/fixtures/generic/milestone_completed.json").replace(r#""kind": "quiz","#, "");
    let m = Trigger::MilestoneCompleted;
    let n = Trigger::NoteAdded;
    let milestone_skilljar = "/milestone-completed/skilljar";
    let milestone_generic = "/milestone-completed/generic";
    let note_generic = "/note-added/generic";
    let note_skilljar = "/note-added/skilljar";

    let cases: Vec<BadInput> = vec![
        (
            m,
            milestone_skilljar,
            vec![json(), ("authorization", "Basic c2tpbGxqYXI6d3Jvbmc=".into())],
            completion.clone(),
            401,
            "unauthorized",
            None,
        ),
        (
            m,
            milestone_skilljar,
            vec![json()],
            completion.clone(),
            401,
            "unauthorized",
            None,
        ),
        (
            m,
            milestone_generic,
            signed(&task),
            task.replace("high", "low"),
            401,
            "unauthorized",
            None,
        ),
        (
            m,
            milestone_generic,
            vec![json(), ("x-webhook-signature", stale)],
            task.clone(),
            401,
            "unauthorized",
            None,
        ),
        (
            m,
            milestone_generic,
            vec![json()],
            task.clone(),
            401,
            "unauthorized",
            None,
        ),
        (
            n,
            note_generic,
            signed(&note),
            note.replace("Dorothy", "Mallory"),
            401,
            "unauthorized",
            None,
        ),
        (
            m,
            milestone_skilljar,
            vec![json(), basic()],
            "{\"event_type\":".into(),
            400,
            "malformed_json",
            None,
        ),
        (
            n,
            note_generic,
            signed("{\"note\": ["),
            "{\"note\": [".into(),
            400,
            "malformed_json",
            None,
        ),
        (
            m,
            milestone_skilljar,
            vec![json(), basic()],
            huge.clone(),
            413,
            "payload_too_large",
            None,
        ),
        (
            n,
            note_generic,
            signed(&huge),
            huge,
            413,
            "payload_too_large",
            None,
        ),
        (
            m,
            milestone_skilljar,
            vec![("content-type", "text/plain".into()), basic()],
            completion.clone(),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            n,
            note_generic,
            vec![
                ("content-type", "application/x-www-form-urlencoded".into()),
                ("x-webhook-signature", sign_now(&note)),
            ],
            note.clone(),
            415,
            "unsupported_media_type",
            None,
        ),
        (
            m,
            milestone_skilljar,
            vec![json(), basic()],
            completion.replace(r#""email": "Ada.Lovelace@example.com","#, ""),
            422,
            "unprocessable",
            Some("user.email"),
        ),
        (
            m,
            milestone_skilljar,
            vec![json(), basic()],
            quiz.replace(r#""quiz": {"#, r#""exam": {"#),
            422,
            "unprocessable",
            Some("quiz"),
        ),
        (
            m,
            milestone_generic,
            signed(&no_kind),
            no_kind,
            422,
            "unprocessable",
            Some("milestone.kind"),
        ),
        (
            m,
            milestone_generic,
            signed(&no_title),
            no_title,
            422,
            "unprocessable",
            Some("task.title"),
        ),
        (
            m,
            milestone_generic,
            signed(&note),
            note.clone(),
            422,
            "unprocessable",
            Some("event_type"),
        ),
        (
            n,
            note_generic,
            signed(&long_note),
            long_note,
            422,
            "unprocessable",
            Some("note.content"),
        ),
        (
            n,
            note_skilljar,
            vec![json(), basic()],
            completion.clone(),
            422,
            "unprocessable",
            Some("event_type"),
        ),
    ];
    for (trigger, path, headers, body, expected_status, expected_error, field) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let request = api_request(path, &headers, &body);
        let (status, response) = response_json(serve_ingest(&deployment.ingest_for(trigger), request).await);
        assert_eq!(
            (status, response["error"].as_str()),
            (expected_status, Some(expected_error)),
            "{path}: {response}"
        );
        let detail = response["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{response}");
        if let Some(field) = field {
            assert!(detail.starts_with(&format!("at `{field}`:")), "{path}: {detail}");
        }
    }
    assert_eq!(deployment.visible_messages(&deployment.queue_url).await, 0);
}
