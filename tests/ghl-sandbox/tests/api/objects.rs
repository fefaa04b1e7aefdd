use std::time::Duration;

use ghl_sandbox::{ContactSeed, FaultConfig, SandboxConfig};
use serde_json::{Value, json};

use crate::common::{Client, LOC, start};

const KEY: &str = "custom_objects.course_enrollments";

/// The object, a folder, a status field with options, a score field, the association.
async fn install(client: &Client) -> String {
    let created = client
        .post(
            "/objects/",
            json!({
                "labels": {"singular": "Course enrollment", "plural": "Course enrollments"},
                "key": "course_enrollments",
                "locationId": LOC,
                "primaryDisplayPropertyDetails": {"key": format!("{KEY}.enrollment_key"), "name": "Enrollment", "dataType": "TEXT"},
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["object"]["key"], KEY);
    let folder = client
        .post(
            "/custom-fields/folder",
            json!({"objectKey": KEY, "name": "LMS sync", "locationId": LOC}),
        )
        .await;
    assert_eq!(folder.status, 201, "{}", folder.body);
    let folder = folder.body["id"].as_str().unwrap().to_owned();
    for (name, data_type, options) in [
        (
            "status",
            "SINGLE_OPTIONS",
            json!([{"key": "enrolled", "label": "Enrolled"}, {"key": "completed", "label": "Completed"}]),
        ),
        ("score", "NUMERICAL", json!([])),
        ("completed_at", "DATE", json!([])),
    ] {
        let field = client
            .post(
                "/custom-fields/",
                json!({"locationId": LOC, "name": name, "dataType": data_type, "fieldKey": format!("{KEY}.{name}"),
                       "objectKey": KEY, "parentId": folder, "showInForms": true, "options": options}),
            )
            .await;
        assert_eq!(field.status, 201, "{}", field.body);
    }
    let association = client
        .post(
            "/associations/",
            json!({"locationId": LOC, "key": "enrollment_contact", "firstObjectKey": KEY, "firstObjectLabel": "Course enrollment",
                   "secondObjectKey": "contact", "secondObjectLabel": "Learner"}),
        )
        .await;
    assert_eq!(association.status, 201, "{}", association.body);
    association.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_object_is_installed_with_fields_and_its_association_once() {
    let sandbox = start(SandboxConfig::default()).await;
    let client = Client::new(&sandbox);
    let association = install(&client).await;

    let schema = client
        .get(&format!("/objects/{KEY}?locationId={LOC}&fetchProperties=true"))
        .await;
    assert_eq!(schema.status, 200);
    let keys: Vec<&str> = schema.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fieldKey"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            format!("{KEY}.enrollment_key"),
            format!("{KEY}.status"),
            format!("{KEY}.score"),
            format!("{KEY}.completed_at")
        ]
    );
    let by_object = client
        .get(&format!("/associations/objectKey/{KEY}?locationId={LOC}"))
        .await;
    assert_eq!(by_object.body[0]["id"], association.as_str());

    // Each piece exists once: repeats are refused, naming what exists.
    let again = client
        .post(
            "/objects/",
            json!({"labels": {"singular": "x", "plural": "xs"}, "key": KEY, "locationId": LOC,
                   "primaryDisplayPropertyDetails": {"key": "name", "name": "Name", "dataType": "TEXT"}}),
        )
        .await;
    assert_eq!(again.status, 400, "{}", again.body);
    let field = client
        .post(
            "/custom-fields/",
            json!({"locationId": LOC, "name": "Score", "dataType": "NUMERICAL", "fieldKey": format!("{KEY}.score"),
                   "objectKey": KEY, "parentId": "nope", "showInForms": true}),
        )
        .await;
    assert_eq!(field.status, 400, "{}", field.body);
    assert_eq!(sandbox.object_schemas(LOC).len(), 1);
    assert_eq!(sandbox.stats().route("POST", "/custom-fields/"), 4);
}

#[tokio::test]
async fn records_are_validated_found_by_a_searchable_property_and_linked_once() {
    let sandbox = start(SandboxConfig::default()).await;
    let contact = sandbox
        .seed_contacts(LOC, [ContactSeed::email("ada@example.com")])
        .unwrap()[0]
        .id
        .clone();
    let client = Client::new(&sandbox);
    let association = install(&client).await;
    let records = format!("/objects/{KEY}/records");

    for (properties, problem) in [
        (json!({"grade": "A"}), "grade is not a field"),
        (json!({"status": "lost"}), "status must be one of"),
        (json!({"score": "high"}), "score must be a number"),
        (
            json!({"completed_at": "24/11/2026"}),
            "completed_at must be a date",
        ),
    ] {
        let refused = client
            .post(&records, json!({"locationId": LOC, "properties": properties}))
            .await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(
            refused.body["message"].as_str().unwrap().contains(problem),
            "{}",
            refused.body
        );
    }
    let created = client
        .post(
            &records,
            json!({"locationId": LOC, "properties": {"enrollment_key": "skilljar:u1:c1", "status": "enrolled"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["record"]["id"].as_str().unwrap().to_owned();
    let updated = client
        .put(
            &format!("{records}/{id}?locationId={LOC}"),
            json!({"properties": {"status": "completed", "score": 91.5, "completed_at": "2026-11-24"}}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(
        updated.body["record"]["properties"],
        json!({"enrollment_key": "skilljar:u1:c1", "status": "completed", "score": 91.5, "completed_at": "2026-11-24"})
    );

    let search = |query: &str| json!({"locationId": LOC, "page": 1, "pageLimit": 10, "query": query, "searchAfter": []});
    let found = client
        .post(
            &format!("{records}/search"),
            search("enrollment_key:skilljar:u1:c1"),
        )
        .await;
    assert_eq!(found.body["total"], 1, "{}", found.body);
    let none = client
        .post(
            &format!("{records}/search"),
            search("enrollment_key:skilljar:u1:c2"),
        )
        .await;
    assert_eq!(none.body["total"], 0);
    let bad = client
        .post(
            &format!("{records}/search"),
            json!({"locationId": LOC, "query": "x"}),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);

    let link = json!({"locationId": LOC, "associationId": association, "firstRecordId": id, "secondRecordId": contact});
    assert_eq!(
        client.post("/associations/relations", link.clone()).await.status,
        201
    );
    let twice = client.post("/associations/relations", link).await;
    assert_eq!(twice.status, 400);
    assert!(twice.body["message"].as_str().unwrap().contains("already exists"));
    let relations = client
        .get(&format!(
            "/associations/relations/{id}?locationId={LOC}&skip=0&limit=10"
        ))
        .await;
    assert_eq!(relations.body["total"], 1);
    assert_eq!(relations.body["relations"][0]["secondRecordId"], contact.as_str());
    assert_eq!(sandbox.relations(LOC).len(), 1);
    let kept = sandbox.records(LOC, KEY);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].properties["status"], Value::from("completed"));
}

#[tokio::test]
async fn records_are_read_owned_deleted_and_schemas_updated() {
    let sandbox = start(SandboxConfig::default()).await;
    let client = Client::new(&sandbox);
    install(&client).await;
    let records = format!("/objects/{KEY}/records");

    let unknown = client
        .get(&format!("/objects/custom_objects.nope?locationId={LOC}"))
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["statusCode"], 404);
    assert!(
        unknown.body["message"]
            .as_str()
            .unwrap()
            .contains("custom_objects.nope")
    );

    // Full field keys are accepted as well as short ones; owner and followers are kept.
    let created = client
        .post(
            &records,
            json!({"locationId": LOC, "properties": {format!("{KEY}.enrollment_key"): "k1", "score": 40},
                   "owner": ["user-1"], "followers": ["user-2", "user-3"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let record = &created.body["record"];
    assert_eq!(record["properties"], json!({"enrollment_key": "k1", "score": 40}));
    assert_eq!(record["owner"], json!(["user-1"]));
    assert_eq!(record["followers"], json!(["user-2", "user-3"]));
    let id = record["id"].as_str().unwrap().to_owned();
    let two_owners = client
        .post(
            &records,
            json!({"locationId": LOC, "properties": {"enrollment_key": "k2"}, "owner": ["a", "b"]}),
        )
        .await;
    assert_eq!(two_owners.status, 400, "{}", two_owners.body);

    let read = client.get(&format!("{records}/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["record"]["properties"]["enrollment_key"], "k1");
    assert!(read.body["record"]["dateAdded"].is_string());

    // A score becomes searchable; labels and description change.
    let search =
        json!({"locationId": LOC, "page": 1, "pageLimit": 10, "query": "score:40", "searchAfter": []});
    let before = client.post(&format!("{records}/search"), search.clone()).await;
    assert_eq!(before.body["total"], 0, "score is not searchable yet");
    let updated = client
        .put(
            &format!("/objects/{KEY}"),
            json!({"locationId": LOC, "searchableProperties": [format!("{KEY}.enrollment_key"), format!("{KEY}.score")],
                   "labels": {"singular": "Enrollment", "plural": "Enrollments"}, "description": "LMS"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["object"]["labels"]["singular"], "Enrollment");
    assert_eq!(updated.body["object"]["description"], "LMS");
    let after = client.post(&format!("{records}/search"), search).await;
    assert_eq!(after.body["total"], 1, "{}", after.body);
    assert_eq!(after.body["records"][0]["id"], id.as_str());
    let schema = &sandbox.object_schemas(LOC)[0];
    assert_eq!(schema.singular, "Enrollment");
    assert_eq!(schema.searchable.len(), 2);
    let not_a_field = client
        .put(
            &format!("/objects/{KEY}"),
            json!({"locationId": LOC, "searchableProperties": [format!("{KEY}.grade")]}),
        )
        .await;
    assert_eq!(not_a_field.status, 400, "{}", not_a_field.body);

    let fields = client
        .get(&format!("/custom-fields/object-key/{KEY}?locationId={LOC}"))
        .await;
    assert_eq!(fields.body["fields"].as_array().unwrap().len(), 4);
    assert_eq!(fields.body["folders"][0]["name"], "LMS sync");

    let deleted = client.delete(&format!("{records}/{id}"), None).await;
    assert_eq!(deleted.body, json!({"id": id, "success": true}));
    assert_eq!(client.get(&format!("{records}/{id}")).await.status, 404);
    assert!(sandbox.records(LOC, KEY).is_empty());
}

#[tokio::test]
async fn a_relation_is_deleted_and_unknown_ends_are_refused() {
    let sandbox = start(SandboxConfig::default()).await;
    let contact = sandbox
        .seed_contacts(LOC, [ContactSeed::email("ada@example.com")])
        .unwrap()[0]
        .id
        .clone();
    let client = Client::new(&sandbox);
    let association = install(&client).await;
    let created = client
        .post(
            &format!("/objects/{KEY}/records"),
            json!({"locationId": LOC, "properties": {"enrollment_key": "k1"}}),
        )
        .await;
    let record = created.body["record"]["id"].as_str().unwrap().to_owned();
    let link = |first: &str, second: &str| json!({"locationId": LOC, "associationId": association, "firstRecordId": first, "secondRecordId": second});
    let no_contact = client
        .post("/associations/relations", link(&record, "no-such-contact"))
        .await;
    assert_eq!(no_contact.status, 400, "{}", no_contact.body);
    let no_record = client
        .post("/associations/relations", link("no-such-record", &contact))
        .await;
    assert_eq!(no_record.status, 400, "{}", no_record.body);

    let linked = client
        .post("/associations/relations", link(&record, &contact))
        .await;
    assert_eq!(linked.status, 201, "{}", linked.body);
    let relation = linked.body["id"].as_str().unwrap().to_owned();
    assert_eq!(sandbox.relations(LOC)[0].id, relation);
    let by_key = client
        .get(&format!("/associations/key/enrollment_contact?locationId={LOC}"))
        .await;
    assert_eq!(by_key.body["id"], association.as_str());
    let all = client
        .get(&format!("/associations/?locationId={LOC}&skip=0&limit=10"))
        .await;
    assert_eq!(all.body["total"], 1);
    assert_eq!(sandbox.associations(LOC).len(), 1);

    let gone = client
        .delete(
            &format!("/associations/relations/{relation}?locationId={LOC}"),
            None,
        )
        .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert!(sandbox.relations(LOC).is_empty());
    let again = client
        .delete(
            &format!("/associations/relations/{relation}?locationId={LOC}"),
            None,
        )
        .await;
    assert_eq!(again.status, 404);
    // Deleted, the pair may be linked again.
    let relinked = client
        .post("/associations/relations", link(&record, &contact))
        .await;
    assert_eq!(relinked.status, 201, "{}", relinked.body);
}

#[tokio::test]
async fn a_location_without_custom_objects_answers_401_and_keeps_its_contacts() {
    let mut config = SandboxConfig::default();
    config.locations[0].custom_objects = false;
    let sandbox = start(config).await;
    let client = Client::new(&sandbox);
    let no_scope = json!({"statusCode": 401, "message": "The token is not authorized for this scope."});
    let gets = [
        format!("/objects/?locationId={LOC}"),
        format!("/objects/{KEY}?locationId={LOC}&fetchProperties=true"),
        format!("/objects/{KEY}/records/abc"),
        format!("/associations/?locationId={LOC}&skip=0&limit=10"),
        format!("/associations/objectKey/{KEY}?locationId={LOC}"),
        format!("/associations/key/enrollment_contact?locationId={LOC}"),
        format!("/associations/relations/abc?locationId={LOC}&skip=0&limit=10"),
        format!("/custom-fields/object-key/{KEY}?locationId={LOC}"),
    ];
    for path in &gets {
        let answer = client.get(path).await;
        assert_eq!(answer.status, 401, "{path}");
        assert_eq!(answer.body, no_scope, "{path}");
        // The token is good: the request spent budget and says so.
        assert!(answer.header("x-ratelimit-remaining").is_some(), "{path}");
    }
    // Writes too, even ones whose body GHL would otherwise refuse: the scope is checked first.
    let posts = [
        "/objects/",
        "/custom-fields/folder",
        "/custom-fields/",
        "/associations/",
        "/associations/relations",
    ];
    for path in posts.iter().map(|p| p.to_string()).chain([
        format!("/objects/{KEY}/records"),
        format!("/objects/{KEY}/records/search"),
    ]) {
        let answer = client.post(&path, json!({"locationId": LOC})).await;
        assert_eq!((answer.status, &answer.body), (401, &no_scope), "{path}");
    }
    let put = client
        .put(&format!("/objects/{KEY}/records/abc?locationId={LOC}"), json!({}))
        .await;
    assert_eq!(put.status, 401);
    let delete = client
        .delete(&format!("/associations/relations/abc?locationId={LOC}"), None)
        .await;
    assert_eq!(delete.status, 401);
    assert_eq!(sandbox.stats().route("POST", "/custom-fields/"), 1);

    let upsert = client
        .post(
            "/contacts/upsert",
            json!({"locationId": LOC, "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(upsert.status, 200, "{}", upsert.body);

    // Switched on at runtime (the plan was upgraded), the same token may install.
    sandbox.set_custom_objects(LOC, true).unwrap();
    assert_eq!(client.get(&gets[0]).await.status, 200);
    sandbox.set_custom_objects(LOC, false).unwrap();
    assert_eq!(client.get(&gets[0]).await.status, 401);
}

#[tokio::test]
async fn custom_object_calls_spend_the_locations_budget_and_are_counted() {
    // A full second, so the quick requests land in one window even on a loaded machine.
    let sandbox = start(SandboxConfig::default().with_rate_limits(4, Duration::from_millis(1000))).await;
    let client = Client::new(&sandbox);
    let search = json!({"locationId": LOC, "page": 1, "pageLimit": 10, "query": "", "searchAfter": []});
    let mut statuses = Vec::new();
    statuses.push(client.get(&format!("/objects/?locationId={LOC}")).await.status);
    statuses.push(
        client
            .get(&format!("/associations/?locationId={LOC}&skip=0&limit=10"))
            .await
            .status,
    );
    statuses.push(
        client
            .get(&format!("/custom-fields/object-key/{KEY}?locationId={LOC}"))
            .await
            .status,
    );
    for _ in 0..3 {
        let answer = client
            .post(&format!("/objects/{KEY}/records/search"), search.clone())
            .await;
        if answer.status == 429 {
            assert_eq!(
                answer.body,
                json!({"statusCode": 429, "message": "Too Many Requests"})
            );
            assert_eq!(answer.header("x-ratelimit-remaining"), Some("0"));
        }
        statuses.push(answer.status);
    }
    assert_eq!(
        statuses,
        [200, 200, 404, 404, 429, 429],
        "the fourth call used the last of the budget"
    );
    let stats = sandbox.stats();
    assert_eq!(stats.rate_limited, 2);
    assert_eq!(stats.max_admitted_in_window, 4);
    assert_eq!(stats.max_attempted_in_window, 6);
    assert_eq!(stats.route("GET", "/objects/"), 1);
    assert_eq!(stats.route("GET", "/associations/"), 1);
    assert_eq!(stats.route("GET", "/custom-fields/object-key/{objectKey}"), 1);
    assert_eq!(stats.route("POST", "/objects/{key}/records/search"), 3);
}

#[tokio::test]
async fn injected_faults_reach_custom_object_calls_and_change_nothing() {
    let sandbox = start(SandboxConfig::default()).await;
    let client = Client::new(&sandbox);
    install(&client).await;
    sandbox
        .set_faults(FaultConfig {
            rate_5xx: 1.0,
            ..FaultConfig::default()
        })
        .unwrap();
    let refused = client
        .post(
            &format!("/objects/{KEY}/records"),
            json!({"locationId": LOC, "properties": {"enrollment_key": "k1"}}),
        )
        .await;
    assert!([500, 502, 503].contains(&refused.status), "{}", refused.body);
    assert_eq!(refused.body["statusCode"], refused.status);
    assert!(sandbox.records(LOC, KEY).is_empty());
    assert_eq!(sandbox.stats().injected_5xx, 1);
    assert_eq!(sandbox.stats().route("POST", "/objects/{key}/records"), 1);

    sandbox.set_faults(FaultConfig::default()).unwrap();
    let created = client
        .post(
            &format!("/objects/{KEY}/records"),
            json!({"locationId": LOC, "properties": {"enrollment_key": "k1"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(sandbox.records(LOC, KEY).len(), 1);
}
