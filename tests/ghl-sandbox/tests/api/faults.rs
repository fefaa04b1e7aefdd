use std::time::{Duration, Instant};

use ghl_sandbox::{FaultConfig, Latency, SandboxConfig};
use reqwest::Method;
use serde_json::json;

use crate::common::{Client, LOC, start};

fn config(faults: FaultConfig) -> SandboxConfig {
    let mut config = SandboxConfig::default()
        .with_rate_limits(1_000_000, Duration::from_secs(1))
        .with_faults(faults);
    config.seed = 42;
    config
}

/// Outcome of each request: status, or 0 for a dropped connection.
async fn run(n: usize) -> (Vec<u16>, ghl_sandbox::Stats, usize) {
    let sandbox = start(config(FaultConfig {
        rate_429: 0.1,
        rate_5xx: 0.1,
        rate_drop: 0.05,
        latency: Latency::None,
        ..FaultConfig::default()
    }))
    .await;
    let client = Client::new(&sandbox);
    let mut outcomes = Vec::with_capacity(n);
    for i in 0..n {
        let body = json!({"locationId": LOC, "email": format!("f{i}@example.com")});
        let outcome = match client.try_send(Method::POST, "/contacts/", Some(body)).await {
            Ok(answer) => answer.status,
            Err(_) => 0,
        };
        outcomes.push(outcome);
    }
    let contacts = sandbox.contacts(LOC).len();
    (outcomes, sandbox.stats(), contacts)
}

#[tokio::test]
async fn fault_rates_are_roughly_honoured_and_repeat_with_the_seed() {
    let n = 600;
    let (outcomes, stats, contacts) = run(n).await;
    let count = |pred: &dyn Fn(u16) -> bool| outcomes.iter().filter(|s| pred(**s)).count();
    let (too_many, server, dropped, created) = (
        count(&|s| s == 429),
        count(&|s| s >= 500),
        count(&|s| s == 0),
        count(&|s| s == 201),
    );
    let near = |seen: usize, rate: f64| {
        let expected = rate * n as f64;
        (seen as f64 - expected).abs() <= expected * 0.4
    };
    assert!(near(too_many, 0.1), "429s: {too_many}");
    assert!(near(server, 0.1), "5xx: {server}");
    assert!(near(dropped, 0.05), "drops: {dropped}");
    assert_eq!(created + too_many + server + dropped, n, "{outcomes:?}");
    assert_eq!(
        (stats.injected_429, stats.injected_5xx, stats.injected_drops),
        (too_many as u64, server as u64, dropped as u64)
    );
    assert_eq!(stats.rate_limited, 0);
    assert_eq!(contacts, created, "faults do not touch state");

    let (again, _, _) = run(n).await;
    assert_eq!(outcomes, again, "same seed, same faults");
}

#[tokio::test]
async fn a_dropped_connection_gets_no_answer() {
    let sandbox = start(config(FaultConfig {
        rate_drop: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let client = Client::new(&sandbox);
    let error = client
        .try_send(Method::GET, &format!("/contacts/?locationId={LOC}"), None)
        .await
        .err()
        .expect("no answer");
    assert!(!error.is_timeout(), "{error:?}");
    sandbox.set_faults(FaultConfig::default()).unwrap();
    assert_eq!(
        client.get(&format!("/contacts/?locationId={LOC}")).await.status,
        200
    );
    assert_eq!(sandbox.stats().injected_drops, 1);
}

/// The request is carried out, but its answer never arrives: a client that repeats a create
/// after this makes a second one.
#[tokio::test]
async fn a_lost_answer_comes_after_the_work_is_done() {
    let sandbox = start(config(FaultConfig {
        rate_lost_answer: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let client = Client::new(&sandbox);
    let body = json!({"locationId": LOC, "email": "lost@example.com"});
    let answer = client.try_send(Method::POST, "/contacts/", Some(body)).await;
    assert!(answer.is_err(), "no answer");
    assert_eq!(sandbox.stats().injected_lost_answers, 1);
    assert_eq!(sandbox.contacts(LOC).len(), 1, "but the contact was created");
}

#[tokio::test]
async fn latency_is_added() {
    let sandbox = start(config(FaultConfig {
        latency: Latency::Fixed(Duration::from_millis(120)),
        ..FaultConfig::default()
    }))
    .await;
    let client = Client::new(&sandbox);
    let started = Instant::now();
    assert_eq!(
        client.get(&format!("/contacts/?locationId={LOC}")).await.status,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(120));
}

#[tokio::test]
async fn token_endpoint_faults_are_separate() {
    let mut config = config(FaultConfig::default()).with_oauth_client("c", "s");
    config.token_faults.rate_5xx = 1.0;
    let sandbox = start(config).await;
    let answer = crate::common::token_request(
        &sandbox,
        &[
            ("client_id", "c"),
            ("client_secret", "s"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ],
    )
    .await;
    assert!(answer.status >= 500);
    assert_eq!(sandbox.stats().token_requests, 0, "the handler never ran");
    assert_eq!(
        Client::new(&sandbox)
            .get(&format!("/contacts/?locationId={LOC}"))
            .await
            .status,
        200
    );
}
