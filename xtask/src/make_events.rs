//! `xtask make-events`: regenerates `events/<function>/*.json`, the sample deliveries that
//! `scripts/run` replays, the integration tests send, and `cargo lambda invoke --data-file` takes.
//! Each is a fixture from `tests/fixtures/` as API Gateway (HTTP API, payload v2) delivers it,
//! authenticated with the local demo credentials of `config/local/webhooks.json` (and GHL's
//! signed ones with the local test key, `config/local/ghl-webhook-test-key.pem`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use base64::Engine;
use lms_ghl::ingest::ghl::{self, Ghl};
use lms_ghl::ingest::signature;
use secrecy::ExposeSecret;
use time::OffsetDateTime;

/// When the samples were "received", and when generic ones are signed: fixed, so that
/// regenerating changes nothing unless a fixture or a credential did. Replays re-sign. GHL's
/// fixtures carry it as their `timestamp` (2025-11-22T10:00:00.000Z).
const TIMESTAMP: i64 = 1_763_805_600;

/// Function (= directory under `events/`) → the fixtures it is sent, as (provider, fixture).
/// Skilljar's COURSE_ENROLLMENT goes to both learner-created and milestone-completed: Ada's
/// enrollment and her completions are one story across the two functions.
const SAMPLES: &[(&str, &[(&str, &str)])] = &[
    (
        "learner-created",
        &[
            ("skilljar", "course_enrollment"),
            ("skilljar", "domain_enrollment"),
            ("generic", "learner_created"),
        ],
    ),
    (
        "milestone-completed",
        &[
            ("skilljar", "course_enrollment"),
            ("skilljar", "path_enrollment"),
            ("skilljar", "lesson_completion"),
            ("skilljar", "quiz_completion"),
            ("skilljar", "course_completion"),
            ("skilljar", "path_completion"),
            ("generic", "milestone_completed"),
            ("generic", "task_created"),
            ("generic", "task_completed"),
        ],
    ),
    ("note-added", &[("generic", "note_added")]),
    (
        "ghl-events",
        &[
            ("ghl", "contact_create"),
            ("ghl", "contact_update"),
            ("ghl", "contact_delete"),
            ("ghl", "contact_tag_update"),
            ("ghl", "contact_dnd_update"),
            ("ghl", "note_create"),
            ("ghl", "note_update"),
            ("ghl", "task_create"),
            ("ghl", "task_complete"),
            ("ghl", "task_delete"),
            ("ghl", "record_update"),
            ("ghl", "appointment_create"),
            ("ghl", WORKFLOW_FIXTURE),
        ],
    ),
];

/// The GHL fixture that an agency workflow's "Webhook" action sends (the others are a marketplace
/// app's signed deliveries).
const WORKFLOW_FIXTURE: &str = "workflow_contact_tag_update";

pub fn run() -> Result<()> {
    for (file, text) in render()? {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
        println!("{}", file.strip_prefix(crate::root()).unwrap_or(&file).display());
    }
    Ok(())
}

/// Every sample file's path and content.
fn render() -> Result<Vec<(PathBuf, String)>> {
    let (_, secrets) = crate::webhook_secrets()?;
    let basic = secrets
        .auth::<lms_ghl::ingest::skilljar::Skilljar>(crate::WEBHOOK_SECRETS)?
        .basic_auth
        .context("config/local/webhooks.json has no skilljar.basicAuth")?;
    let skilljar_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            basic.username,
            basic.password.expose_secret()
        ))
    );
    let signing_secret = crate::signing_secret()?;
    let ghl_signer = devkit::samples::Signers::local(&crate::root(), signing_secret.clone())?.ghl;
    let workflow_header = secrets
        .auth::<Ghl>(crate::WEBHOOK_SECRETS)?
        .workflow_header
        .context("config/local/webhooks.json has no ghl.workflowHeader")?;
    let at = OffsetDateTime::from_unix_timestamp(TIMESTAMP).context("sample timestamp")?;

    let mut files = Vec::new();
    for (function, fixtures) in SAMPLES {
        for (provider, fixture) in *fixtures {
            let fixture_path = format!("tests/fixtures/{provider}/{fixture}.json");
            let body = compact(&crate::read_root_file(&fixture_path)?).context(fixture_path)?;
            let (user_agent, auth) = match *provider {
                "skilljar" => ("skilljar", ("authorization", skilljar_auth.clone())),
                "ghl" if *fixture == WORKFLOW_FIXTURE => (
                    "highlevel-workflow",
                    (
                        workflow_header.name.as_str(),
                        workflow_header.value.expose_secret().to_owned(),
                    ),
                ),
                "ghl" => (
                    "highlevel",
                    (ghl::SIGNATURE_HEADER, ghl_signer.sign(body.as_bytes())),
                ),
                _ => {
                    let signature = signature::sign(&signing_secret, TIMESTAMP, body.as_bytes());
                    ("zapier", (signature::SIGNATURE_HEADER, signature))
                }
            };
            let headers = [
                ("accept", "*/*"),
                ("content-type", "application/json"),
                ("host", devkit::samples::DOMAIN),
                ("user-agent", user_agent),
                ("x-forwarded-proto", "https"),
                (auth.0, auth.1.as_str()),
            ];
            let name = format!("{provider}-{}", fixture.replace('_', "-"));
            let request_id = format!("sample-{function}-{name}");
            let path = format!("/{function}/{provider}");
            let event = devkit::samples::post(&path, &headers, &body, &request_id, at)?;
            let mut json = serde_json::to_value(&event).context("serialising the event")?;
            drop_nulls(&mut json);
            let text = serde_json::to_string_pretty(&json).context("serialising the event")? + "\n";
            let file = crate::root()
                .join("events")
                .join(function)
                .join(format!("{name}.json"));
            files.push((file, text));
        }
    }
    Ok(files)
}

/// The fixture on one line, as senders post it, with its keys in their order: a round trip
/// through `serde_json::Value` would sort them (the workspace does not enable `preserve_order`,
/// and enabling it here would change the library's maps too).
fn compact(json: &str) -> Result<String> {
    serde_json::from_str::<serde::de::IgnoredAny>(json).context("not JSON")?;
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    Ok(out)
}

/// The event types write every optional field, including those of Custom Authorizer payloads
/// that an HTTP API event never has; leaving them out keeps the samples as API Gateway sends them.
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture or credential changed without `cargo xtask make-events`: the replays and the
    /// integration tests would send stale samples.
    #[test]
    fn committed_samples_are_up_to_date() -> Result<()> {
        for (file, text) in render()? {
            let committed = std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
            assert!(
                committed == text,
                "{} is stale: run `cargo xtask make-events`",
                file.display()
            );
        }
        Ok(())
    }

    #[test]
    fn compact_keeps_key_order_and_string_contents() -> Result<()> {
        let pretty = "{\n  \"b\": \"x  y\\\" }\",\n  \"a\": [1, {\"c\": null}]\n}\n";
        assert_eq!(compact(pretty)?, r#"{"b":"x  y\" }","a":[1,{"c":null}]}"#);
        assert!(compact("{\"a\":").is_err());
        Ok(())
    }
}
