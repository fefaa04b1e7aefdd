use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn the_binary_announces_its_url_logs_requests_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lms-sandbox"))
        .args(["--port", "0", "--demo-users", "2", "--talentlms-rate-max", "7"])
        .env("LMS_SANDBOX_TRAINUAL_CREDENTIALS", "ops@example.com:secret")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("lms-sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"));
    for platform in ["skilljar", "talentlms", "trainual"] {
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert!(line.trim_start().starts_with(platform), "{line:?}");
    }

    let http = reqwest::Client::new();
    let answer = http
        .get(format!("{url}/talentlms/api/v2/users"))
        .header("X-API-Key", "tl-local-demo-key")
        .header("X-API-Version", "2025-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-ratelimit-limit"], "7");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["_meta"]["pagination"]["total_items"], 2);
    let answer = http
        .get(format!("{url}/trainual/v1/users"))
        .basic_auth("ops@example.com", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "credentials from the environment");
    let answer = http
        .get(format!("{url}/skilljar/v1/users"))
        .basic_auth("wrong", Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);

    let mut lines = Vec::new();
    for _ in 0..3 {
        line.clear();
        stdout.read_line(&mut line).unwrap();
        lines.push(line.trim().to_owned());
    }
    assert_eq!(
        lines,
        [
            "GET /talentlms/api/v2/users 200",
            "GET /trainual/v1/users 200",
            "GET /skilljar/v1/users 401"
        ]
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success());
}
