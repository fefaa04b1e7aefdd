use ghl_sandbox::{ContactSeed, SandboxConfig};
use serde_json::json;

use crate::common::{Client, LOC, start};

#[tokio::test]
async fn tasks_follow_the_spec_shapes() {
    let sandbox = start(SandboxConfig::default()).await;
    let id = sandbox
        .seed_contacts(LOC, [ContactSeed::email("t@example.com")])
        .unwrap()[0]
        .id
        .clone();
    let client = Client::new(&sandbox);
    let base = format!("/contacts/{id}/tasks");

    let missing = client.post(&base, json!({"title": "Call"})).await;
    assert_eq!(missing.status, 422);
    let messages = missing.body["message"].as_array().unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.as_str().unwrap().starts_with("dueDate"))
    );
    assert!(
        messages
            .iter()
            .any(|m| m.as_str().unwrap().starts_with("completed"))
    );

    let created = client
        .post(
            &base,
            json!({"title": "Call", "dueDate": "2030-10-25T11:00:00Z", "completed": false, "body": "b"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let task = &created.body["task"];
    assert_eq!(task["dueDate"], "2030-10-25T11:00:00.000Z");
    assert_eq!(task["contactId"], id.as_str());
    let task_id = task["id"].as_str().unwrap().to_owned();

    let done = client
        .put(&format!("{base}/{task_id}/completed"), json!({"completed": true}))
        .await;
    assert_eq!(done.body["task"]["completed"], true);
    let renamed = client
        .put(&format!("{base}/{task_id}"), json!({"title": "Email"}))
        .await;
    assert_eq!(renamed.body["task"]["title"], "Email");
    assert_eq!(
        client.get(&format!("{base}/{task_id}")).await.body["task"]["title"],
        "Email"
    );
    assert_eq!(client.get(&base).await.body["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(
        client.delete(&format!("{base}/{task_id}"), None).await.body,
        json!({"succeded": true})
    );
    assert!(sandbox.tasks(LOC, &id).is_empty());
}

#[tokio::test]
async fn notes_tags_and_appointments() {
    let sandbox = start(SandboxConfig::default()).await;
    let id = sandbox
        .seed_contacts(
            LOC,
            [ContactSeed {
                tags: vec!["existing".into()],
                ..ContactSeed::email("n@example.com")
            }],
        )
        .unwrap()[0]
        .id
        .clone();
    let client = Client::new(&sandbox);

    let note = client
        .post(&format!("/contacts/{id}/notes"), json!({"body": "hello"}))
        .await;
    assert_eq!(note.status, 201);
    let note_id = note.body["note"]["id"].as_str().unwrap().to_owned();
    assert_eq!(note.body["note"]["contactId"], id.as_str());
    let edited = client
        .put(
            &format!("/contacts/{id}/notes/{note_id}"),
            json!({"body": "edited"}),
        )
        .await;
    assert_eq!(edited.body["note"]["body"], "edited");
    assert_eq!(
        client.get(&format!("/contacts/{id}/notes")).await.body["notes"][0]["body"],
        "edited"
    );
    let removed = client
        .delete(&format!("/contacts/{id}/notes/{note_id}"), None)
        .await;
    assert_eq!(removed.body, json!({"succeded": true}));
    assert_eq!(
        client
            .get(&format!("/contacts/{id}/notes/{note_id}"))
            .await
            .status,
        404
    );

    let added = client
        .post(
            &format!("/contacts/{id}/tags"),
            json!({"tags": ["LMS-Learner", "x"]}),
        )
        .await;
    assert_eq!(added.status, 201);
    assert_eq!(added.body, json!({"tags": ["existing", "lms-learner", "x"]}));
    let left = client
        .delete(&format!("/contacts/{id}/tags"), Some(json!({"tags": ["x"]})))
        .await;
    assert_eq!(left.body, json!({"tags": ["existing", "lms-learner"]}));

    assert_eq!(
        client.get(&format!("/contacts/{id}/appointments")).await.body,
        json!({"events": []})
    );
    sandbox
        .seed_appointment(
            LOC,
            &id,
            json!({"id": "ev1", "title": "Demo", "status": "booked"}),
        )
        .unwrap();
    assert_eq!(
        client.get(&format!("/contacts/{id}/appointments")).await.body["events"][0]["id"],
        "ev1"
    );
}
