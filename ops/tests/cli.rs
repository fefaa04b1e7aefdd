//! The `lms-sync-ops` binary as an operator or a script runs it: help, exit codes, the functions'
//! environment variables, and a listing against moto (`AWS_ENDPOINT_URL`, set by scripts/test).

use std::process::{Command, Output};

fn ops(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lms-sync-ops"));
    command
        .args(args)
        .env_remove("DEAD_LETTER_QUEUE_URL")
        .env_remove("QUEUE_URL");
    for (name, value) in env {
        command.env(name, value);
    }
    command
        .output()
        .unwrap_or_else(|e| panic!("running lms-sync-ops: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_the_commands_and_wrong_usage_exits_2() {
    let help = ops(&["--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
    for command in ["dlq", "outbox", "webhook", "schema"] {
        assert!(text(&help.stdout).contains(command), "{}", text(&help.stdout));
    }
    let redrive = ops(&["dlq", "redrive", "--help"], &[]);
    assert!(text(&redrive.stdout).contains("--dry-run"));
    assert_eq!(ops(&["dlq", "frobnicate"], &[]).status.code(), Some(2));
    let resend = ops(&["outbox", "resend", "--help"], &[]);
    assert!(text(&resend.stdout).contains("--since-minutes"));
    // The window is required: a resend of everything is never the default.
    assert_eq!(ops(&["outbox", "resend"], &[]).status.code(), Some(2));
}

#[test]
fn a_missing_setting_is_named_and_exits_1() {
    let out = ops(&["dlq", "list"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("DEAD_LETTER_QUEUE_URL is not set"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn dlq_list_reads_the_queue_the_environment_names() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .unwrap_or_else(|_| panic!("AWS_ENDPOINT_URL (moto) is not set: run the tests through scripts/test"));
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let name = format!("ops-cli-{}", std::process::id());
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .queue_url
        .unwrap_or_default();
    sqs.send_message()
        .queue_url(&url)
        .message_body("not a queue message")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let out = ops(
        &["dlq", "list"],
        &[("DEAD_LETTER_QUEUE_URL", &url), ("AWS_ENDPOINT_URL", &endpoint)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains("redrive_policy"), "{stdout}");
    assert!(text(&out.stderr).contains("1 of 1 parked message(s)"));
}

#[test]
fn batch_names_a_wrong_job_and_a_missing_setting() {
    let wrong = ops(&["batch", "plan", "--job", "sweep", "--target", "academy"], &[]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(text(&wrong.stderr).contains("--job sweep: expected reconcile or poll"));
    let unset = ops(
        &["batch", "plan", "--job", "reconcile", "--target", "academy"],
        &[("TABLE_NAME", "")],
    );
    assert_eq!(unset.status.code(), Some(1));
    assert!(
        text(&unset.stderr).contains("is required"),
        "{}",
        text(&unset.stderr)
    );
}

#[tokio::test]
async fn batch_status_lists_every_job_of_the_mapping() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .unwrap_or_else(|_| panic!("AWS_ENDPOINT_URL (moto) is not set: run the tests through scripts/test"));
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let table = format!("ops-cli-{}", std::process::id());
    aws_sdk_dynamodb::Client::new(&sdk)
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let mapping = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/local/mapping.toml");
    let out = ops(
        &["batch", "status"],
        &[
            ("TABLE_NAME", &table),
            ("MAPPING_FILE", mapping),
            ("AWS_ENDPOINT_URL", &endpoint),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for job in [
        "poll:academy",
        "reconcile:academy",
        "poll:talent",
        "reconcile:handbook",
    ] {
        assert!(stdout.contains(&format!("  {job:<24} never run")), "{stdout}");
    }
}
