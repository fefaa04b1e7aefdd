//! The shared rate budget over moto's DynamoDB: reservations made concurrently through separate
//! table clients (as separate Lambdas would) get distinct slots at least one spacing apart, and
//! budgets built on them never go faster than the limit. (End-to-end pacing against a limiter is
//! tested against the GHL sandbox in `sandbox.rs` and measured by `scripts/bench-rate`.)

use std::sync::Arc;
use std::time::Duration;

use integration_tests::Deployment;
use lms_ghl::ghl::{BudgetConfig, RateBudget, RateLimits, SharedRateBudget};
use lms_ghl::ports::SlotSchedule;
use tokio::time::Instant;

fn epoch_us() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64
}

#[tokio::test]
async fn concurrent_reservations_get_distinct_evenly_spaced_slots() {
    let deployment = Deployment::new().await;
    let spacing = 50_000;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let table = deployment.table();
        tasks.push(tokio::spawn(async move {
            let mut slots = Vec::new();
            for _ in 0..8 {
                let slot = table
                    .reserve("ghl#loc-slots", epoch_us(), spacing, 60_000_000)
                    .await;
                slots.push(
                    slot.unwrap_or_else(|e| panic!("{e}"))
                        .unwrap_or_else(|| panic!("horizon full")),
                );
            }
            slots
        }));
    }
    let mut slots = Vec::new();
    for task in tasks {
        slots.extend(task.await.unwrap_or_else(|e| panic!("{e}")));
    }
    slots.sort_unstable();
    assert_eq!(slots.len(), 64);
    for pair in slots.windows(2) {
        assert!(
            pair[1] - pair[0] >= spacing,
            "slots {} µs apart",
            pair[1] - pair[0]
        );
    }
}

#[tokio::test]
async fn a_booked_horizon_refuses_further_reservations() {
    let deployment = Deployment::new().await;
    let table = deployment.table();
    let now = epoch_us();
    let mut granted = 0;
    for _ in 0..5 {
        if table
            .reserve("ghl#loc-horizon", now, 1_000_000, 2_000_000)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_some()
        {
            granted += 1;
        }
    }
    // Slots at now, +1 s and +2 s fit a 2 s horizon; the 4th and 5th do not.
    assert_eq!(granted, 3);
}

#[tokio::test]
async fn budgets_in_separate_processes_never_exceed_the_shared_rate() {
    let deployment = Deployment::new().await;
    let limits = RateLimits {
        max: 20,
        interval: Duration::from_millis(1000),
        daily: 100_000,
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let table = Arc::new(deployment.table());
        let budget = Arc::new(SharedRateBudget::new(
            table,
            BudgetConfig {
                limits,
                ..BudgetConfig::default()
            },
        ));
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                budget
                    .acquire("loc-shared", None)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap_or_else(|e| panic!("{e}"));
    }
    // 40 requests at ≤ 20/s (× 0.97): the 40th slot is ≥ 39 spacings after the first.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(39 * 1000 / 20),
        "40 slots in {elapsed:?}"
    );
}
