//! The GHL client's behaviour against the project's GHL sandbox: paging to the end, OAuth
//! rotation with single-use refresh tokens, and 429 storms under a shared budget.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use ghl_sandbox::{ContactSeed, DEFAULT_LOCATION_ID, DEFAULT_PIT, FaultConfig, Sandbox, SandboxConfig};
use integration_tests::{
    Deployment, budgeted_client, now, oauth_credentials, oauth_deployment, oauth_secret,
};
use lms_ghl::ghl::{BudgetConfig, ContactFields, GhlClient, GhlConfig, RetryPolicy, SearchQuery, Unlimited};

async fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        log_requests: false,
        ..config
    })
    .await
    .unwrap_or_else(|e| panic!("sandbox: {e}"))
}

#[tokio::test]
async fn list_and_search_page_to_the_end() -> Result<(), lms_ghl::ghl::GhlError> {
    let ghl = sandbox(SandboxConfig::default()).await;
    let seeds = (0..250).map(|i| ContactSeed::email(&format!("learner{i:03}@example.com")));
    ghl.seed_contacts(DEFAULT_LOCATION_ID, seeds)
        .unwrap_or_else(|e| panic!("{e}"));
    let client = integration_tests::client_with_token(&ghl.url(), DEFAULT_PIT);

    let pages: Vec<_> = client.list_contacts(100).try_collect().await?;
    let ids: HashSet<_> = pages
        .iter()
        .flat_map(|p| p.contacts.iter().map(|c| c.id.clone()))
        .collect();
    assert_eq!((pages.len(), ids.len()), (3, 250));

    let query = SearchQuery::default();
    let pages: Vec<_> = client.search_contacts(&query, 100).try_collect().await?;
    let ids: HashSet<_> = pages
        .iter()
        .flat_map(|p| p.contacts.iter().map(|c| c.id.clone()))
        .collect();
    assert_eq!(ids.len(), 250);
    Ok(())
}

#[tokio::test]
async fn twenty_concurrent_callers_share_one_single_use_refresh() {
    let config = SandboxConfig::default().with_oauth_client("client-1", "client-secret");
    let mut config = config;
    if let Some(location) = config.first_location_mut() {
        location.id = integration_tests::LOCATION_ID.to_owned();
        location
            .refresh_tokens
            .push(ghl_sandbox::GrantSeed::new("client-1", "refresh-1"));
    }
    let ghl = sandbox(config).await;
    let deployment = oauth_deployment(&oauth_secret("expired-access", "refresh-1", now() - 60)).await;

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let credentials = Arc::new(oauth_credentials(&deployment, &ghl.url()));
            let config = GhlConfig {
                base_url: ghl.url(),
                ..GhlConfig::default()
            };
            let client =
                GhlClient::new(&config, credentials, Arc::new(Unlimited)).unwrap_or_else(|e| panic!("{e}"));
            tokio::spawn(async move { client.list_contacts(10).try_collect::<Vec<_>>().await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("a caller failed: {e}"));
    }
    let stats = ghl.stats();
    assert_eq!(stats.token_success, 1, "exactly one token request");
    assert_eq!(stats.token_invalid_grant, 0, "no refresh token used twice");
    assert!(
        !ghl.refresh_token_is_valid("refresh-1"),
        "the old refresh token is spent"
    );
}

#[tokio::test]
async fn a_429_storm_slows_the_client_down_without_exceeding_the_budget() {
    let max = 20;
    let interval = Duration::from_millis(1000);
    let faults = FaultConfig {
        rate_429: 0.3,
        ..FaultConfig::default()
    };
    let ghl = sandbox(
        SandboxConfig::default()
            .with_rate_limits(max, interval)
            .with_faults(faults),
    )
    .await;
    let deployment = Deployment::new().await;
    // Enough retries that a 30 % storm cannot exhaust them (0.3⁹ ≈ 2·10⁻⁵ per call).
    let retry = RetryPolicy {
        max_retries: 8,
        max_delay: Duration::from_secs(2),
        ..RetryPolicy::default()
    };

    let started = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|worker| {
            // The budget starts from GHL's production defaults and learns the sandbox's from headers.
            let client = budgeted_client(
                &deployment,
                &ghl.url(),
                DEFAULT_PIT,
                retry.clone(),
                BudgetConfig::default(),
            );
            tokio::spawn(async move {
                for i in 0..12 {
                    let fields = ContactFields {
                        email: Some(format!("storm-{worker}-{i}@example.com")),
                        ..ContactFields::default()
                    };
                    client.upsert_contact(&fields).await?;
                }
                Ok::<_, lms_ghl::ghl::GhlError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("a worker gave up: {e}"));
    }
    let elapsed = started.elapsed();
    let stats = ghl.stats();
    assert_eq!(
        ghl.contacts(DEFAULT_LOCATION_ID).len(),
        48,
        "every upsert landed once"
    );
    assert!(stats.injected_429 > 0, "the storm happened");
    assert!(
        stats.max_attempted_in_window <= max as u64,
        "{} requests reached GHL within one {interval:?} window (limit {max})",
        stats.max_attempted_in_window
    );
    assert_eq!(stats.rate_limited, 0, "GHL's own limiter never had to refuse");
    assert!(
        elapsed >= Duration::from_secs(2),
        "48 upserts plus retries at ≤ 20/s cannot take {elapsed:?}"
    );
}

#[tokio::test]
async fn an_inactive_location_is_a_permanent_error_naming_it() {
    let mut config = SandboxConfig::default().with_oauth_client("client-1", "client-secret");
    if let Some(location) = config.first_location_mut() {
        location.id = integration_tests::LOCATION_ID.to_owned();
        location
            .refresh_tokens
            .push(ghl_sandbox::GrantSeed::new("client-1", "refresh-1"));
    }
    let ghl = sandbox(config).await;
    ghl.set_location_active(integration_tests::LOCATION_ID, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let deployment = oauth_deployment(&oauth_secret("expired-access", "refresh-1", now() - 60)).await;
    let credentials = oauth_credentials(&deployment, &ghl.url());
    let err = lms_ghl::ghl::Credentials::location_auth(&credentials).await.err();
    let err = err.unwrap_or_else(|| panic!("an inactive location must refuse"));
    assert!(
        matches!(err, lms_ghl::ghl::GhlError::LocationInactive { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains(integration_tests::LOCATION_ID), "{err}");
}

#[tokio::test]
async fn dropped_connections_repeat_only_requests_that_are_safe_to_repeat() {
    let ghl = sandbox(SandboxConfig::default()).await;
    let contact = ghl
        .seed_contacts(DEFAULT_LOCATION_ID, [ContactSeed::email("drop@example.com")])
        .unwrap_or_else(|e| panic!("{e}"))
        .remove(0);
    let retry = RetryPolicy {
        base_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let config = GhlConfig {
        base_url: ghl.url(),
        retry,
        ..GhlConfig::default()
    };
    let auth = lms_ghl::ghl::LocationAuth {
        location_id: DEFAULT_LOCATION_ID.to_owned(),
        token: secrecy::SecretString::from(DEFAULT_PIT),
    };
    let client = GhlClient::new(
        &config,
        Arc::new(integration_tests::StaticCredentials(auth)),
        Arc::new(Unlimited),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let task = lms_ghl::ghl::NewTask {
        title: "Call the learner".into(),
        body: None,
        due_date: "2026-12-01T09:00:00Z".into(),
        completed: false,
        assigned_to: None,
    };
    ghl.set_faults(FaultConfig {
        rate_drop: 1.0,
        ..FaultConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));

    // A plain create may have reached GHL before the connection dropped: one attempt only.
    let plain = client
        .create_task(&contact.id, &task, lms_ghl::ghl::Idempotence::NotIdempotent)
        .await;
    assert!(plain.is_err());
    assert_eq!(ghl.stats().injected_drops, 1);
    // A create guarded by the caller's idempotency record is retried (1 + 4 attempts).
    let guarded = client
        .create_task(&contact.id, &task, lms_ghl::ghl::Idempotence::Protected)
        .await;
    assert!(guarded.is_err());
    assert_eq!(ghl.stats().injected_drops, 6);

    ghl.set_faults(FaultConfig::default())
        .unwrap_or_else(|e| panic!("{e}"));
    client
        .create_task(&contact.id, &task, lms_ghl::ghl::Idempotence::NotIdempotent)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ghl.tasks(DEFAULT_LOCATION_ID, &contact.id).len(),
        1,
        "faults never change state"
    );
}

#[tokio::test]
async fn a_duplicate_create_becomes_use_this_contact() -> Result<(), lms_ghl::ghl::GhlError> {
    let ghl = sandbox(SandboxConfig::default()).await;
    let existing = ghl
        .seed_contacts(DEFAULT_LOCATION_ID, [ContactSeed::email("taken@example.com")])
        .unwrap_or_else(|e| panic!("{e}"))
        .remove(0);
    let client = integration_tests::client_with_token(&ghl.url(), DEFAULT_PIT);
    let fields = ContactFields {
        email: Some("Taken@Example.com".into()),
        ..ContactFields::default()
    };
    let created = client
        .create_contact(&fields, lms_ghl::ghl::Idempotence::NotIdempotent)
        .await?;
    assert_eq!(created, lms_ghl::ghl::Created::Existing(existing.id));
    let fresh = ContactFields {
        email: Some("new@example.com".into()),
        ..ContactFields::default()
    };
    assert!(matches!(
        client
            .create_contact(&fresh, lms_ghl::ghl::Idempotence::NotIdempotent)
            .await?,
        lms_ghl::ghl::Created::New(_)
    ));
    assert_eq!(ghl.contacts(DEFAULT_LOCATION_ID).len(), 2);
    Ok(())
}
