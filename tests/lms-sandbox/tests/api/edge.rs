//! What every platform does before a handler runs: credentials, rate limits, injected faults.

use std::time::{Duration, Instant};

use lms_sandbox::{FaultConfig, Latency, Platform, SandboxConfig};
use reqwest::Method;
use serde_json::json;

use crate::common::{Auth, Client, start};

fn clients(sandbox: &lms_sandbox::Sandbox) -> [(Platform, Client, &'static str); 3] {
    [
        (Platform::Skilljar, Client::skilljar(sandbox), "/users?page=1"),
        (Platform::TalentLms, Client::talentlms(sandbox), "/api/v2/users"),
        (Platform::Trainual, Client::trainual(sandbox), "/users"),
    ]
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_refused_per_platform() {
    let sandbox = start(SandboxConfig::default()).await;
    let sj = Client::skilljar(&sandbox);
    let missing = sj.with_auth(Auth::None).get("/users").await;
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.body,
        json!({"detail": "Authentication credentials were not provided."})
    );
    assert_eq!(missing.header("www-authenticate"), Some("Basic realm=\"api\""));
    let with_password = sj
        .with_auth(Auth::Basic(
            lms_sandbox::DEFAULT_SKILLJAR_API_KEY.into(),
            "x".into(),
        ))
        .get("/users")
        .await;
    assert_eq!(with_password.status, 401, "the password must be empty");
    assert_eq!(
        with_password.body,
        json!({"detail": "Invalid username/password."})
    );

    let tl = Client::talentlms(&sandbox);
    let wrong = tl
        .with_auth(Auth::Key("nope".into(), Some("2025-01-01".into())))
        .get("/api/v2/users")
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["error"]["type"], "invalid_request_error");
    assert!(
        wrong.header("x-ratelimit-limit").is_none(),
        "an unknown caller has no budget"
    );
    let v1 = Client::talentlms_v1(&sandbox).with_auth(Auth::Basic("nope".into(), String::new()));
    assert_eq!(v1.get("/api/v1/users").await.status, 401);

    let tr = Client::trainual(&sandbox);
    let bad = tr
        .with_auth(Auth::Basic(
            lms_sandbox::DEFAULT_TRAINUAL_USERNAME.into(),
            "wrong".into(),
        ))
        .get("/users")
        .await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.body, json!({"error": "Invalid email or password."}));

    // Refused requests change nothing and are counted.
    let created = tr
        .with_auth(Auth::None)
        .post("/users", json!({"user": {"email": "a@example.com", "name": "A"}}))
        .await;
    assert_eq!(created.status, 401);
    assert!(sandbox.trainual_users().is_empty());
    assert_eq!(sandbox.stats(Platform::Skilljar).unauthorized, 2);
    assert_eq!(sandbox.stats(Platform::TalentLms).unauthorized, 2);
    assert_eq!(sandbox.stats(Platform::Trainual).unauthorized, 2);
}

#[tokio::test]
async fn over_the_limit_answers_429_with_each_platforms_headers() {
    // A full second, so the quick requests land in one window even on a loaded machine.
    let mut config = SandboxConfig::default();
    for platform in Platform::ALL {
        config = config.with_rate_limit(platform, 3, Duration::from_secs(1));
    }
    let sandbox = start(config).await;
    for (platform, client, path) in clients(&sandbox) {
        let mut statuses = Vec::new();
        for i in 0..5 {
            let answer = client.get(path).await;
            statuses.push(answer.status);
            if platform == Platform::TalentLms {
                assert_eq!(answer.header("x-ratelimit-limit"), Some("3"));
                let remaining = if i < 3 { 2 - i } else { 0 };
                assert_eq!(
                    answer.header("x-ratelimit-remaining"),
                    Some(remaining.to_string().as_str())
                );
            } else {
                assert!(
                    answer.header("x-ratelimit-limit").is_none(),
                    "{platform} documents no rate headers"
                );
            }
            if answer.status == 429 {
                let retry: u64 = answer.header("retry-after").unwrap().parse().unwrap();
                assert_eq!(retry, 1, "{platform}: Retry-After");
                match platform {
                    Platform::Skilljar => {
                        assert_eq!(
                            answer.body,
                            json!({"detail": "Request was throttled. Expected available in 1 second."})
                        )
                    }
                    Platform::TalentLms => {
                        assert_eq!(answer.body["error"]["message"], "API rate limit exceeded");
                        assert!(answer.header("x-ratelimit-reset").is_some());
                    }
                    Platform::Trainual => assert_eq!(answer.text, "Retry later\n"),
                }
            } else {
                assert!(answer.header("retry-after").is_none());
            }
        }
        assert_eq!(statuses, [200, 200, 200, 429, 429], "{platform}");
        let stats = sandbox.stats(platform);
        assert_eq!(stats.rate_limited, 2);
        assert_eq!(
            (stats.max_admitted_in_window, stats.max_attempted_in_window),
            (3, 5)
        );
    }
    tokio::time::sleep(Duration::from_millis(1050)).await;
    for (platform, client, path) in clients(&sandbox) {
        assert_eq!(
            client.get(path).await.status,
            200,
            "{platform}: the window slid on"
        );
    }
}

#[tokio::test]
async fn the_hourly_limit_counts_with_the_window() {
    let mut config = SandboxConfig::default();
    config.talentlms.rate_limit.long = Some(lms_sandbox::LongWindow {
        limit: 2,
        window: Duration::from_secs(3_600),
    });
    let sandbox = start(config).await;
    let tl = Client::talentlms(&sandbox);
    assert_eq!(
        tl.get("/api/v2/users").await.header("x-ratelimit-remaining"),
        Some("1")
    );
    assert_eq!(
        tl.get("/api/v2/users").await.header("x-ratelimit-remaining"),
        Some("0")
    );
    let refused = tl.get("/api/v2/users").await;
    assert_eq!(refused.status, 429);
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 3_000, "until the hour ends: {retry}");
}

#[tokio::test]
async fn injected_server_errors_per_platform_leave_state_alone() {
    let mut config = SandboxConfig::default();
    for platform in Platform::ALL {
        config = config.with_faults(
            platform,
            FaultConfig {
                rate_5xx: 1.0,
                ..FaultConfig::default()
            },
        );
    }
    let sandbox = start(config).await;
    let sj = Client::skilljar(&sandbox);
    let answer = sj
        .post(
            &format!("/domains/{}/users", lms_sandbox::DEFAULT_SKILLJAR_DOMAIN),
            json!({"user": {"email": "a@example.com"}}),
        )
        .await;
    assert!([500, 502, 503].contains(&answer.status), "{}", answer.status);
    assert!(answer.header("content-type").unwrap().starts_with("text/html"));
    assert!(sandbox.skilljar_users().is_empty());

    let tl = Client::talentlms(&sandbox);
    let answer = tl.post("/api/v2/users", json!({"email": "a@example.com"})).await;
    assert!(answer.status >= 500);
    assert_eq!(answer.body["error"]["type"], "api_error");
    assert!(
        answer.header("x-ratelimit-limit").is_some(),
        "a known caller still sees its budget"
    );

    let tr = Client::trainual(&sandbox);
    let answer = tr.get("/users").await;
    assert!(answer.status >= 500);
    assert_eq!(answer.body["status"], answer.status);

    // Faults hit callers without credentials too, before the credentials are looked at.
    assert!(tr.with_auth(Auth::None).get("/users").await.status >= 500);
    for platform in Platform::ALL {
        let stats = sandbox.stats(platform);
        assert!(stats.injected_5xx >= 1);
        assert_eq!(stats.unauthorized, 0);
        assert_eq!(
            stats.max_attempted_in_window, 0,
            "faulted requests spend no budget"
        );
    }

    sandbox
        .set_faults(Platform::Trainual, FaultConfig::default())
        .unwrap();
    assert_eq!(tr.get("/users").await.status, 200);
    assert!(
        sj.get("/users").await.status >= 500,
        "other platforms keep their faults"
    );
}

/// Outcome of each request: status, or 0 for a dropped connection.
async fn outcomes(seed: u64) -> Vec<u16> {
    let config = SandboxConfig {
        seed,
        ..SandboxConfig::default()
    };
    let faults = FaultConfig {
        rate_429: 0.2,
        rate_5xx: 0.2,
        rate_drop: 0.1,
        latency: Latency::None,
        ..FaultConfig::default()
    };
    let config = config.with_faults(Platform::Skilljar, faults);
    let sandbox = start(config).await;
    let sj = Client::skilljar(&sandbox);
    let tr = Client::trainual(&sandbox);
    let mut out = Vec::new();
    for i in 0..60 {
        // Traffic to another platform must not shift Skilljar's dice.
        if i % 3 == 0 {
            assert_eq!(tr.get("/users").await.status, 200);
        }
        out.push(match sj.try_send(Method::GET, "/users", None).await {
            Ok(answer) => answer.status,
            Err(_) => 0,
        });
    }
    let stats = sandbox.stats(Platform::Skilljar);
    let count = |s: u16| out.iter().filter(|o| **o == s).count() as u64;
    assert_eq!(stats.injected_drops, count(0));
    assert_eq!(stats.injected_429, count(429));
    out
}

#[tokio::test]
async fn faults_repeat_with_the_seed_and_drops_get_no_answer() {
    let first = outcomes(7).await;
    assert!(
        first.contains(&0) && first.contains(&429) && first.contains(&200),
        "{first:?}"
    );
    assert!(first.iter().any(|s| *s >= 500));
    assert_eq!(first, outcomes(7).await);
    assert_ne!(first, outcomes(8).await);
}

#[tokio::test]
async fn latency_is_added_per_platform() {
    let config = SandboxConfig::default().with_faults(
        Platform::TalentLms,
        FaultConfig {
            latency: Latency::Fixed(Duration::from_millis(150)),
            ..FaultConfig::default()
        },
    );
    let sandbox = start(config).await;
    let started = Instant::now();
    assert_eq!(Client::talentlms(&sandbox).get("/api/v2/users").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(Client::trainual(&sandbox).get("/users").await.status, 200);
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn requests_are_counted_per_platform_by_route_and_path() {
    let sandbox = start(SandboxConfig::default()).await;
    let user = sandbox.seed_talentlms_user("x@example.com", "X", "Y").unwrap();
    let tl = Client::talentlms(&sandbox);
    tl.get(&format!("/api/v2/users/{}", user.id)).await;
    tl.get(&format!("/api/v2/users/{}", user.id)).await;
    tl.get("/api/v2/users/424242").await;
    tl.get("/api/v2/nowhere").await;
    Client::skilljar(&sandbox).get("/users").await;
    let stats = sandbox.stats(Platform::TalentLms);
    assert_eq!(stats.route("GET", "/api/v2/users/{id}"), 3);
    assert_eq!(stats.path("GET", &format!("/api/v2/users/{}", user.id)), 2);
    assert_eq!(
        (stats.routed(), stats.total_requests),
        (3, 4),
        "an unknown path counts in the total only"
    );
    assert_eq!(sandbox.stats(Platform::Skilljar).route("GET", "/users"), 1);
    assert_eq!(sandbox.stats(Platform::Trainual).total_requests, 0);
    sandbox.reset_stats();
    assert_eq!(sandbox.stats(Platform::TalentLms).total_requests, 0);
}

#[tokio::test]
async fn paths_outside_the_platforms_are_404() {
    let sandbox = start(SandboxConfig::default()).await;
    let answer = reqwest::get(format!("{}/moodle/v1/users", sandbox.url()))
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    let invalid = lms_sandbox::Sandbox::start(SandboxConfig::default().with_rate_limit(
        Platform::Trainual,
        0,
        Duration::from_secs(1),
    ))
    .await;
    assert!(invalid.is_err());
}
