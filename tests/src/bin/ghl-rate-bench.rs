//! How much of GHL's rate budget 8 concurrent workers use without a single 429: each worker has
//! its own client and `SharedRateBudget` (as separate Lambdas would), sharing one DynamoDB table
//! on moto, against the GHL sandbox enforcing a scaled limit. Prints its figures.
//!
//!   scripts/bench-rate [--workers 8] [--max 50] [--interval-ms 1000] [--seconds 20]

use std::sync::Arc;
use std::time::Duration;

use ghl_sandbox::{DEFAULT_PIT, Sandbox, SandboxConfig};
use integration_tests::{Deployment, budgeted_client};
use lms_ghl::ghl::{BudgetConfig, ContactFields, RateLimits, RetryPolicy};
use tokio::time::Instant;

fn arg(name: &str, default: u64) -> u64 {
    integration_tests::flag(name, default)
}

#[tokio::main]
async fn main() {
    let workers = arg("workers", 8);
    let max = arg("max", 50) as u32;
    let interval = Duration::from_millis(arg("interval-ms", 1000));
    let run_for = Duration::from_secs(arg("seconds", 20));

    let config = SandboxConfig {
        log_requests: false,
        ..SandboxConfig::default()
    }
    .with_rate_limits(max, interval);
    let ghl = Sandbox::start(config)
        .await
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    let deployment = Deployment::new().await;

    let started = Instant::now();
    let stop_at = started + run_for;
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            // Configured with the sandbox's scaled limits, as production is with GHL's real ones.
            let limits = RateLimits {
                max,
                interval,
                daily: 200_000,
            };
            let budget = BudgetConfig {
                limits,
                ..BudgetConfig::default()
            };
            let client = Arc::new(budgeted_client(
                &deployment,
                &ghl.url(),
                DEFAULT_PIT,
                RetryPolicy::default(),
                budget,
            ));
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u64, 0u64);
                let mut i = 0u64;
                while Instant::now() < stop_at {
                    let fields = ContactFields {
                        email: Some(format!("w{worker}-{i}@example.com")),
                        ..ContactFields::default()
                    };
                    match client.upsert_contact(&fields).await {
                        Ok(_) => ok += 1,
                        Err(_) => failed += 1,
                    }
                    i += 1;
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for task in tasks {
        let (o, f) = task.await.unwrap_or_else(|e| panic!("{e}"));
        ok += o;
        failed += f;
    }
    let elapsed = started.elapsed();
    let stats = ghl.stats();
    let capacity = f64::from(max) * elapsed.as_secs_f64() / interval.as_secs_f64();
    println!(
        "workers {workers}, budget {max} per {} ms, ran {:.1} s",
        interval.as_millis(),
        elapsed.as_secs_f64()
    );
    println!(
        "upserts ok {ok}, failed {failed}; requests reaching GHL {}",
        stats.total_requests
    );
    println!(
        "budget used {:.1} % ({} of {:.0} possible); 429 from GHL's limiter: {}; busiest window: {} of {max}",
        100.0 * ok as f64 / capacity,
        ok,
        capacity,
        stats.rate_limited,
        stats.max_attempted_in_window
    );
}
