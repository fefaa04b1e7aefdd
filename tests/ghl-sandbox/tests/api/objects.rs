use ghl_sandbox::{ContactSeed, SandboxConfig};
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
async fn a_location_without_custom_objects_answers_401_and_keeps_its_contacts() {
    let sandbox = start(SandboxConfig::default()).await;
    sandbox.set_custom_objects(LOC, false).unwrap();
    let client = Client::new(&sandbox);
    for path in [
        format!("/objects/{KEY}?locationId={LOC}"),
        format!("/associations/objectKey/{KEY}?locationId={LOC}"),
        format!("/custom-fields/object-key/{KEY}?locationId={LOC}"),
    ] {
        let answer = client.get(&path).await;
        assert_eq!(answer.status, 401, "{path}");
        assert_eq!(
            answer.body["message"],
            "The token is not authorized for this scope."
        );
    }
    let upsert = client
        .post(
            "/contacts/upsert",
            json!({"locationId": LOC, "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(upsert.status, 200, "{}", upsert.body);
}
