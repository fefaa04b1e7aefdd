//! The shared rate budget over moto's DynamoDB: several independent budgets (as in separate
//! Lambdas) together never admit more than GHL's limit in any window.

use std::sync::Arc;
use std::time::Duration;

use integration_tests::Deployment;
use lms_ghl::aws::DynamoTable;
use lms_ghl::ghl::{BudgetConfig, RateBudget, RateLimits, SharedRateBudget};
use tokio::time::Instant;

#[tokio::test]
async fn separate_processes_share_one_budget() {
    let deployment = Deployment::new().await;
    let limits = RateLimits {
        max: 20,
        interval: Duration::from_millis(1000),
        daily: 100_000,
    };
    let processes: Vec<Arc<SharedRateBudget>> = (0..4)
        .map(|_| {
            let table = Arc::new(DynamoTable::new(deployment.dynamodb.clone(), &deployment.table));
            Arc::new(SharedRateBudget::new(
                table,
                BudgetConfig {
                    limits,
                    ..BudgetConfig::default()
                },
            ))
        })
        .collect();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for budget in &processes {
        for _ in 0..2 {
            let budget = Arc::clone(budget);
            tasks.push(tokio::spawn(async move {
                let mut admitted = Vec::new();
                for _ in 0..8 {
                    budget
                        .acquire("loc-shared")
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    admitted.push(Instant::now());
                }
                admitted
            }));
        }
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.unwrap_or_else(|e| panic!("{e}")));
    }
    times.sort();
    assert_eq!(times.len(), 64);
    // In every 1 s window at most 20 requests were let through, by all processes together.
    let busiest = times
        .iter()
        .map(|t| {
            times
                .iter()
                .filter(|u| **u >= *t && **u < *t + limits.interval)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(busiest <= 20, "{busiest} requests admitted within one interval");
    // …and the budget was used: 64 requests at 20/s (× 0.97 safety) take a little over 3 s.
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(3100), "too fast: {elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(4500),
        "budget under-used: {elapsed:?}"
    );
}
