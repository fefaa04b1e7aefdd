use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn the_binary_announces_its_url_logs_requests_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ghl-sandbox"))
        .args(["--port", "0", "--rate-max", "5", "--contacts", "3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("ghl-sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"));

    let answer = reqwest::Client::new()
        .get(format!("{url}/contacts/?locationId=ve9EPM428h8vShlRW1KT"))
        .bearer_auth("pit-local-demo-token")
        .header("Version", "2021-07-28")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-ratelimit-max"], "5");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["meta"]["total"], 3);

    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "GET /contacts/ 200");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success());
}
