use std::time::Duration;

use ghl_sandbox::SandboxConfig;
use serde_json::json;

use crate::common::{Client, LOC, start};

const HEADERS: [&str; 5] = [
    "x-ratelimit-max",
    "x-ratelimit-remaining",
    "x-ratelimit-interval-milliseconds",
    "x-ratelimit-limit-daily",
    "x-ratelimit-daily-remaining",
];

#[tokio::test]
async fn over_the_limit_answers_429_with_headers() {
    // A full second, so 25 quick requests land in one window even on a loaded machine.
    let sandbox = start(SandboxConfig::default().with_rate_limits(20, Duration::from_millis(1000))).await;
    let client = Client::new(&sandbox);
    let path = format!("/contacts/?locationId={LOC}");
    let mut statuses = Vec::new();
    for i in 0..25 {
        let answer = client.get(&path).await;
        for header in HEADERS {
            assert!(answer.header(header).is_some(), "{header} missing on answer {i}");
        }
        assert!(answer.header("retry-after").is_none());
        if i < 20 {
            assert_eq!(
                answer.header("x-ratelimit-remaining"),
                Some((19 - i).to_string().as_str())
            );
        }
        statuses.push(answer.status);
        if answer.status == 429 {
            assert_eq!(
                answer.body,
                json!({"statusCode": 429, "message": "Too Many Requests"})
            );
            assert_eq!(answer.header("x-ratelimit-remaining"), Some("0"));
            assert_eq!(answer.header("x-ratelimit-max"), Some("20"));
            assert_eq!(answer.header("x-ratelimit-interval-milliseconds"), Some("1000"));
            assert_eq!(answer.header("x-ratelimit-limit-daily"), Some("200000"));
            assert_eq!(answer.header("x-ratelimit-daily-remaining"), Some("199980"));
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 20);
    assert!(statuses[20..].iter().all(|s| *s == 429));

    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(client.get(&path).await.status, 200, "the window slid on");

    let stats = sandbox.stats();
    assert_eq!(stats.rate_limited, 5);
    assert_eq!(stats.max_admitted_in_window, 20);
    assert_eq!(stats.max_attempted_in_window, 25);
    assert_eq!(stats.windows_by_location[LOC], (20, 25));
}

#[tokio::test]
async fn a_paced_client_stays_inside_the_window() {
    let sandbox = start(SandboxConfig::default().with_rate_limits(20, Duration::from_millis(500))).await;
    let client = Client::new(&sandbox);
    for _ in 0..30 {
        assert_eq!(
            client.get(&format!("/contacts/?locationId={LOC}")).await.status,
            200
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let stats = sandbox.stats();
    assert_eq!(stats.rate_limited, 0);
    assert!(stats.max_attempted_in_window <= 20, "{stats:?}");
}

#[tokio::test]
async fn the_daily_limit_is_enforced() {
    let mut config = SandboxConfig::default();
    config.rate_limits.daily_limit = 3;
    let sandbox = start(config).await;
    let client = Client::new(&sandbox);
    let path = format!("/contacts/?locationId={LOC}");
    for remaining in ["2", "1", "0"] {
        let ok = client.get(&path).await;
        assert_eq!(ok.status, 200);
        assert_eq!(ok.header("x-ratelimit-daily-remaining"), Some(remaining));
    }
    let refused = client.get(&path).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("x-ratelimit-daily-remaining"), Some("0"));
}
