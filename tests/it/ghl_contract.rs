//! Every GHL client method against Prism serving GHL's official spec: each request must pass
//! Prism's validation (zero violations), and each example answer must parse.

use futures_util::TryStreamExt;
use integration_tests::{prism_locations_url, prism_oauth_url, prism_url, prism_violations, static_client};
use lms_ghl::domain::FieldRef;
use lms_ghl::ghl::{
    ContactFields, GhlClient, Idempotence, NewTask, NoteFields, OAuthTokens, SearchQuery, TaskFields,
    TokenEndpoint, http_client,
};
use secrecy::SecretString;

fn assert_no_violations() {
    let violations = prism_violations();
    assert!(
        violations.is_empty(),
        "requests broke GHL's contract:\n{}",
        violations.join("\n")
    );
}

fn contact() -> ContactFields {
    ContactFields {
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        email: Some("ada@example.com".into()),
        phone: Some("+1 555 0100".into()),
        source: Some("LMS sync".into()),
        custom_fields: vec![lms_ghl::ghl::CustomFieldValue {
            id: "fld1".into(),
            field_value: "42".into(),
        }],
        ..ContactFields::default()
    }
}

#[tokio::test]
async fn every_contacts_endpoint_conforms() -> Result<(), lms_ghl::ghl::GhlError> {
    let ghl: GhlClient = static_client(&prism_url());
    let id = "sx6wyHhbFdRXh302LLNR";

    assert!(!ghl.get_contact(id).await?.id.is_empty());
    assert!(
        !ghl.create_contact(&contact(), Idempotence::NotIdempotent)
            .await?
            .id()
            .is_empty()
    );
    ghl.update_contact(
        id,
        &ContactFields {
            first_name: Some("Augusta".into()),
            ..ContactFields::default()
        },
    )
    .await?;
    ghl.delete_contact(id).await?;
    assert!(!ghl.upsert_contact(&contact()).await?.contact.id.is_empty());
    ghl.contacts_of_business("biz-1").await?;

    let pages: Vec<_> = ghl.list_contacts(20).try_collect().await?;
    assert!(!pages.is_empty());
    let query = SearchQuery {
        query: Some("ada".into()),
        filters: vec![serde_json::json!({"field": "email", "operator": "eq", "value": "ada@example.com"})],
        ..SearchQuery::default()
    };
    let found: Vec<_> = ghl.search_contacts(&query, 100).try_collect().await?;
    assert!(!found.is_empty());
    ghl.search_page(&query, 2, 50).await?;
    // The daily reconcile's search: its filters (tag, business) and sort, first page and a
    // resumed one.
    let mapping = lms_ghl::mapping::Mapping::parse(
        "[targets.academy]\nplatform = \"skilljar\"\nsecret_id = \"s\"\nlocation_id = \"l\"\nqualify = { tag = \"enroll\" }\n[targets.academy.reconcile]\nbusiness_id = \"biz-1\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let reconcile = lms_ghl::batch::contact_query(&mapping.targets["academy"]);
    assert_eq!(reconcile.filters.len(), 2);
    ghl.search_after(&reconcile, None, 100).await?;
    ghl.search_after(
        &reconcile,
        Some(vec![1_700_000_000_000_i64.into(), "sx6wyHhbFdRXh302LLNR".into()]),
        100,
    )
    .await?;
    ghl.find_duplicate(Some("ada@example.com"), None).await?;
    ghl.find_duplicate(None, Some("+15550100")).await?;

    ghl.add_tags(id, &["lms-learner".to_owned()]).await?;
    ghl.remove_tags(id, &["lms-learner".to_owned()]).await?;
    ghl.appointments(id).await?;
    assert_no_violations();
    Ok(())
}

#[tokio::test]
async fn every_task_and_note_endpoint_conforms() -> Result<(), lms_ghl::ghl::GhlError> {
    let ghl = static_client(&prism_url());
    let (contact, task, note) = ("sx6wyHhbFdRXh302LLNR", "task-1", "note-1");

    ghl.list_tasks(contact).await?;
    ghl.get_task(contact, task).await?;
    let new = NewTask {
        title: "Finish Onboarding 101".into(),
        body: Some("Due in a week".into()),
        due_date: "2026-12-01T09:00:00Z".into(),
        completed: false,
        assigned_to: None,
    };
    ghl.create_task(contact, &new, Idempotence::Protected).await?;
    ghl.update_task(
        contact,
        task,
        &TaskFields {
            title: Some("Renamed".into()),
            ..TaskFields::default()
        },
    )
    .await?;
    ghl.set_task_completed(contact, task, true).await?;
    ghl.delete_task(contact, task).await?;

    ghl.list_notes(contact).await?;
    ghl.get_note(contact, note).await?;
    let body = NoteFields {
        body: Some("Completed Onboarding 101".into()),
        ..NoteFields::default()
    };
    ghl.create_note(contact, &body, Idempotence::Protected).await?;
    ghl.update_note(contact, note, &body).await?;
    ghl.delete_note(contact, note).await?;
    assert_no_violations();
    Ok(())
}

#[tokio::test]
async fn custom_fields_resolve_through_the_locations_api() -> Result<(), lms_ghl::ghl::GhlError> {
    let ghl = static_client(&prism_locations_url());
    let definitions = ghl.custom_fields().await?;
    let first = definitions
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("Prism's example has custom fields"));
    let key = first.field_key.clone().unwrap_or_default();
    let resolved = ghl
        .resolve_custom_fields(&[
            (FieldRef::Key(key.clone()), "42".into()),
            (FieldRef::Id { id: "x".into() }, "y".into()),
        ])
        .await?;
    assert_eq!(resolved[0].id, first.id);
    assert_eq!(resolved[1].id, "x");
    let unknown = ghl
        .resolve_custom_fields(&[(FieldRef::Key("no_such_field".into()), "1".into())])
        .await;
    assert!(
        matches!(unknown, Err(lms_ghl::ghl::GhlError::UnknownCustomField { .. })),
        "{unknown:?}"
    );
    assert_eq!(
        ghl.missing_custom_field_keys(&[&key, "no_such_field"]).await?,
        ["no_such_field"]
    );
    assert_no_violations();
    Ok(())
}

#[tokio::test]
async fn oauth_token_endpoint_conforms() -> Result<(), lms_ghl::ghl::GhlError> {
    let endpoint = TokenEndpoint::new(
        http_client(std::time::Duration::from_secs(10))?,
        &prism_oauth_url(),
    )?;
    let tokens: OAuthTokens = serde_json::from_value(serde_json::json!({
        "locationId": integration_tests::LOCATION_ID,
        "clientId": "client-1",
        "clientSecret": "client-secret",
        "accessToken": "old-access",
        "refreshToken": "old-refresh",
        "expiresAt": 0
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let refreshed = endpoint.refresh(&tokens).await?;
    assert!(refreshed.expires_in.is_some());
    let code = SecretString::from("auth-code-1");
    let secret = SecretString::from("client-secret");
    endpoint
        .exchange_code(
            "client-1",
            &secret,
            &code,
            Some("https://example.com/oauth/callback"),
            integration_tests::LOCATION_ID,
        )
        .await?;
    assert_no_violations();
    Ok(())
}
