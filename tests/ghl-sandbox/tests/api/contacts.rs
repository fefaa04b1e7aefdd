use std::collections::HashSet;

use ghl_sandbox::{ContactSeed, SandboxConfig};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::common::{Client, LOC, start};

fn learners(n: usize) -> Vec<ContactSeed> {
    let base = OffsetDateTime::now_utc() - Duration::days(1);
    (0..n)
        .map(|i| ContactSeed {
            first_name: Some(format!("Learner{i}")),
            email: Some(format!("learner{i}@example.com")),
            // Three contacts per millisecond, so the id tie-break is exercised.
            date_added: Some(base + Duration::milliseconds((i / 3) as i64)),
            ..ContactSeed::default()
        })
        .collect()
}

#[tokio::test]
async fn get_contacts_pages_to_the_end_over_250_contacts() {
    let sandbox = start(SandboxConfig::default()).await;
    sandbox.seed_contacts(LOC, learners(250)).unwrap();
    let client = Client::new(&sandbox);

    let mut seen = Vec::new();
    let mut path = format!("/contacts/?locationId={LOC}&limit=100");
    let mut pages = 0;
    loop {
        let page = client.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        pages += 1;
        let meta = &page.body["meta"];
        assert_eq!(meta["total"], 250);
        assert_eq!(meta["currentPage"], pages);
        for c in page.body["contacts"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_owned());
        }
        if meta["startAfterId"].is_null() {
            assert!(
                meta["startAfter"].is_null() && meta["nextPageUrl"].is_null() && meta["nextPage"].is_null()
            );
            break;
        }
        path = format!(
            "/contacts/?locationId={LOC}&limit=100&startAfter={}&startAfterId={}",
            meta["startAfter"],
            meta["startAfterId"].as_str().unwrap()
        );
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = sandbox.contacts(LOC).into_iter().map(|c| c.id).collect();
    assert_eq!(seen, expected, "every contact once, in (dateAdded, id) order");

    // nextPageUrl alone (default limit 20) walks the same list.
    let mut url = format!("{}/contacts/?locationId={LOC}", sandbox.url());
    let mut via_url = Vec::new();
    loop {
        let page = client.get(url.strip_prefix(&sandbox.url()).unwrap()).await;
        via_url.extend(
            page.body["contacts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].clone()),
        );
        match page.body["meta"]["nextPageUrl"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(via_url.len(), 250);
    assert_eq!(sandbox.stats().route("GET", "/contacts/"), 3 + 13);
}

#[tokio::test]
async fn get_contacts_validates_limit_and_location() {
    let sandbox = start(SandboxConfig::default()).await;
    let client = Client::new(&sandbox);
    let too_big = client
        .get(&format!("/contacts/?locationId={LOC}&limit=101"))
        .await;
    assert_eq!(too_big.status, 422);
    assert_eq!(too_big.body["error"], "Unprocessable Entity");
    assert!(too_big.body["message"].is_array());
    let other = client.get("/contacts/?locationId=someOtherLocation").await;
    assert_eq!(other.status, 403);
}

#[tokio::test]
async fn create_refuses_a_duplicate_email_or_phone_naming_the_existing_contact() {
    let sandbox = start(SandboxConfig::default()).await;
    let client = Client::new(&sandbox);
    let created = client
        .post(
            "/contacts/",
            json!({"locationId": LOC, "firstName": "Ann", "lastName": "Lee", "email": "ann@example.com", "phone": "+1 888-888-8888"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["contact"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["contact"]["locationId"], LOC);
    assert_eq!(created.body["contact"]["phone"], "+18888888888");

    let by_email = client
        .post(
            "/contacts/",
            json!({"locationId": LOC, "email": "ANN@example.com"}),
        )
        .await;
    assert_eq!(by_email.status, 400);
    assert_eq!(
        by_email.body,
        json!({
            "statusCode": 400,
            "message": "This location does not allow duplicated contacts.",
            "meta": {"contactName": "Ann Lee", "contactId": id, "matchingField": "email"},
        })
    );
    let by_phone = client
        .post(
            "/contacts/",
            json!({"locationId": LOC, "email": "other@example.com", "phone": "+18888888888"}),
        )
        .await;
    assert_eq!(by_phone.status, 400);
    assert_eq!(by_phone.body["meta"]["matchingField"], "phone");
    assert_eq!(sandbox.contacts(LOC).len(), 1);
}

#[tokio::test]
async fn upsert_matches_by_email_and_replaces_tags() {
    let sandbox = start(SandboxConfig::default()).await;
    let seeded = sandbox
        .seed_contacts(
            LOC,
            [ContactSeed {
                tags: vec!["old".into(), "keep-me?".into()],
                ..ContactSeed::email("Ann@Example.com")
            }],
        )
        .unwrap();
    let client = Client::new(&sandbox);

    let matched = client
        .post(
            "/contacts/upsert",
            json!({"locationId": LOC, "email": "ann@example.com", "firstName": "Ann", "tags": ["New"]}),
        )
        .await;
    assert_eq!(matched.status, 200, "{}", matched.body);
    assert_eq!(matched.body["new"], false);
    assert_eq!(matched.body["contact"]["id"], seeded[0].id.as_str());
    assert_eq!(matched.body["contact"]["firstName"], "Ann");
    assert_eq!(matched.body["contact"]["tags"], json!(["new"]));
    assert!(matched.body["traceId"].as_str().is_some_and(|t| t.len() == 36));

    let fresh = client
        .post(
            "/contacts/upsert",
            json!({"locationId": LOC, "email": "bob@example.com"}),
        )
        .await;
    assert_eq!(fresh.body["new"], true);
    assert_ne!(fresh.body["contact"]["id"], seeded[0].id.as_str());
    assert_eq!(sandbox.contacts(LOC).len(), 2);
}

#[tokio::test]
async fn get_update_delete_with_custom_fields() {
    let sandbox = start(SandboxConfig::default()).await;
    let id = sandbox
        .seed_contacts(LOC, [ContactSeed::email("c@example.com")])
        .unwrap()[0]
        .id
        .clone();
    let client = Client::new(&sandbox);

    let got = client.get(&format!("/contacts/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["contact"]["email"], "c@example.com");

    let updated = client
        .put(
            &format!("/contacts/{id}"),
            json!({
                "firstName": "Cy",
                "customFields": [
                    {"key": "contact.employee_count", "field_value": 42},
                    {"id": "MgobCB14YMVKuE4Ka8p1", "field_value": "lms-7"}
                ]
            }),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["succeded"], true);
    let fields: HashSet<String> = updated.body["contact"]["customFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}={}", f["id"].as_str().unwrap(), f["value"]))
        .collect();
    assert_eq!(
        fields,
        HashSet::from([
            "6dvNaf7VhkQ9snc5vnjJ=42".into(),
            "MgobCB14YMVKuE4Ka8p1=\"lms-7\"".into()
        ])
    );

    let unknown = client
        .put(
            &format!("/contacts/{id}"),
            json!({"customFields": [{"id": "nope", "field_value": 1}]}),
        )
        .await;
    assert_eq!(unknown.status, 422);
    let not_allowed = client
        .put(&format!("/contacts/{id}"), json!({"companyName": "X"}))
        .await;
    assert_eq!(not_allowed.status, 422);
    assert_eq!(
        not_allowed.body["message"],
        json!(["property companyName should not exist"])
    );

    let deleted = client.delete(&format!("/contacts/{id}"), None).await;
    assert_eq!(deleted.body, json!({"succeded": true}));
    let gone = client.get(&format!("/contacts/{id}")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.body,
        json!({"statusCode": 404, "message": "Contact not found"})
    );
}

#[tokio::test]
async fn duplicate_lookup_and_business_list() {
    let sandbox = start(SandboxConfig::default()).await;
    let seeded = sandbox
        .seed_contacts(
            LOC,
            [
                ContactSeed {
                    phone: Some("+1 423 164 516".into()),
                    business_id: Some("biz1".into()),
                    ..ContactSeed::email("dup@example.com")
                },
                ContactSeed {
                    business_id: Some("biz1".into()),
                    ..ContactSeed::email("second@example.com")
                },
            ],
        )
        .unwrap();
    let client = Client::new(&sandbox);
    let by_email = client
        .get(&format!(
            "/contacts/search/duplicate?locationId={LOC}&email=DUP%40example.com"
        ))
        .await;
    assert_eq!(by_email.body["contact"]["id"], seeded[0].id.as_str());
    let by_number = client
        .get(&format!(
            "/contacts/search/duplicate?locationId={LOC}&number=%2B1423164516"
        ))
        .await;
    assert_eq!(by_number.body["contact"]["id"], seeded[0].id.as_str());
    let none = client
        .get(&format!(
            "/contacts/search/duplicate?locationId={LOC}&email=x%40example.com"
        ))
        .await;
    assert_eq!(none.body, json!({"contact": Value::Null}));

    let business = client
        .get(&format!("/contacts/business/biz1?locationId={LOC}&limit=1"))
        .await;
    assert_eq!(business.body["count"], 2);
    assert_eq!(business.body["contacts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn custom_field_definitions_follow_the_locations_spec() {
    let sandbox = start(SandboxConfig::default()).await;
    let client = Client::new(&sandbox);
    let answer = client.get(&format!("/locations/{LOC}/customFields")).await;
    assert_eq!(answer.status, 200);
    let fields = answer.body["customFields"].as_array().unwrap();
    assert_eq!(fields.len(), 5);
    let first = &fields[0];
    assert_eq!(first["id"], "6dvNaf7VhkQ9snc5vnjJ");
    assert_eq!(first["fieldKey"], "contact.employee_count");
    assert_eq!(first["dataType"], "NUMERICAL");
    assert_eq!(first["model"], "contact");
    assert_eq!(first["locationId"], LOC);
    let one = client
        .get(&format!("/locations/{LOC}/customFields/6dvNaf7VhkQ9snc5vnjJ"))
        .await;
    assert_eq!(one.body["customField"]["name"], "Employee Count");
}
