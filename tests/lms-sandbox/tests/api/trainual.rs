use lms_sandbox::{Platform, SandboxConfig};
use serde_json::json;

use crate::common::{Body, Client, start};

#[tokio::test]
async fn invite_find_by_email_update_and_archive() {
    let sandbox = start(SandboxConfig::default()).await;
    let tr = Client::trainual(&sandbox);
    let created = tr
        .post(
            "/users",
            json!({"user": {"email": "ann@example.com", "name": "Ann Lee"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(
        (
            created.body["first_name"].clone(),
            created.body["last_name"].clone()
        ),
        (json!("Ann"), json!("Lee"))
    );
    assert_eq!(
        (
            created.body["status"].clone(),
            created.body["completion_percentage"].clone()
        ),
        (json!("active"), json!(0))
    );

    let again = tr
        .post(
            "/users",
            json!({"user": {"email": "ANN@example.com", "name": "Ann"}}),
        )
        .await;
    assert_eq!(again.status, 422);
    assert_eq!(
        again.body,
        json!({"errors": {"email": ["has already been taken"]}})
    );
    // A flat body and a form body are read as well.
    let flat = tr
        .post(
            "/users",
            json!({"email": "bo@example.com", "first_name": "Bo", "last_name": "K"}),
        )
        .await;
    assert_eq!((flat.status, flat.body["name"].clone()), (201, json!("Bo K")));
    let form = tr
        .send(
            reqwest::Method::POST,
            "/users",
            Some(Body::Form(vec![
                ("user[email]".into(), "cy@example.com".into()),
                ("user[name]".into(), "Cy".into()),
            ])),
        )
        .await;
    assert_eq!(form.status, 201, "{}", form.text);

    let found = tr.get("/users?email=ann%40example.com").await;
    assert_eq!(found.body.as_array().unwrap().len(), 1);
    assert_eq!(found.body[0]["id"], id);
    assert_eq!(tr.get("/users?email=nobody%40example.com").await.body, json!([]));
    let page = tr.get("/users?per_page=2&page=2").await;
    assert_eq!(page.body.as_array().unwrap().len(), 1);

    let updated = tr
        .patch(
            &format!("/users/{id}"),
            json!({"user": {"last_name": "Park", "title": "Buyer"}}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(
        (updated.body["name"].clone(), updated.body["title"].clone()),
        (json!("Ann Park"), json!("Buyer"))
    );
    let clash = tr
        .put(
            &format!("/users/{id}"),
            json!({"user": {"email": "bo@example.com"}}),
        )
        .await;
    assert_eq!(clash.status, 422);

    let archived = tr.put(&format!("/users/{id}/archive"), json!({})).await;
    assert_eq!(
        (archived.status, archived.body["status"].clone()),
        (200, json!("archived"))
    );
    let twice = tr.post(&format!("/users/{id}/deactivate"), json!({})).await;
    assert_eq!(
        (twice.status, twice.body["status"].clone()),
        (200, json!("archived"))
    );
    assert_eq!(
        sandbox.trainual_user_by_email("ann@example.com").unwrap().status,
        "archived"
    );
    assert_eq!(
        tr.get("/users?status=archived")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let back = tr.put(&format!("/users/{id}/unarchive"), json!({})).await;
    assert_eq!(back.body["archived_at"], serde_json::Value::Null);
    assert_eq!(tr.get("/users/999").await.status, 404);

    let unknown_role = tr
        .post(
            "/users",
            json!({"user": {"email": "ed@example.com", "name": "Ed", "role_ids": [99]}}),
        )
        .await;
    assert_eq!(unknown_role.status, 422);
    assert!(
        sandbox.trainual_user_by_email("ed@example.com").is_none(),
        "no user behind a 422"
    );
}

#[tokio::test]
async fn roles_and_subjects_assign_and_unassign_repeat_safely() {
    let sandbox = start(SandboxConfig::default()).await;
    let user = sandbox.seed_trainual_user("di@example.com", "Di E").unwrap();
    let tr = Client::trainual(&sandbox);
    let roles = format!("/users/{}/assign_roles", user.id);
    let first = tr.post(&roles, json!({"role_ids": [1, "2"]})).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let again = tr.post(&roles, json!({"role_ids": [1]})).await;
    assert_eq!(again.body["roles"].as_array().unwrap().len(), 2);
    let unknown = tr.post(&roles, json!({"role_ids": [99]})).await;
    assert_eq!(unknown.status, 422);
    let removed = tr
        .post(
            &format!("/users/{}/unassign_roles", user.id),
            json!({"role_ids": [2, 2]}),
        )
        .await;
    assert_eq!(removed.body["roles"], json!([{"id": 1, "name": "Customer"}]));
    let removed_again = tr.delete(&format!("/users/{}/roles/2", user.id)).await;
    assert_eq!(removed_again.status, 200);

    let subjects = format!("/users/{}/assign_subjects", user.id);
    tr.post(&subjects, json!({"subject_ids": [11, 12]})).await;
    tr.put(&subjects, json!({"subject_ids": [11]})).await;
    sandbox.set_trainual_completion(user.id, 11, 100).unwrap();
    let shown = tr.get(&format!("/users/{}", user.id)).await;
    assert_eq!(shown.body["completion_percentage"], 50);
    assert_eq!(
        shown.body["subjects"][0],
        json!({"id": 11, "title": "Welcome", "completion_percentage": 100})
    );
    tr.post(&format!("/users/{}/subjects", user.id), json!({"subject_id": 12}))
        .await;
    let dropped = tr
        .post(
            &format!("/users/{}/unassign_subjects", user.id),
            json!({"subject_ids": [12]}),
        )
        .await;
    assert_eq!(dropped.body["completion_percentage"], 100);

    let stored = sandbox.trainual_user_by_email("di@example.com").unwrap();
    assert_eq!(stored.role_ids.into_iter().collect::<Vec<_>>(), [1]);
    assert_eq!(stored.subjects.keys().copied().collect::<Vec<_>>(), [11]);
    assert_eq!(tr.get("/roles").await.body.as_array().unwrap().len(), 2);
    assert_eq!(tr.get("/subjects").await.body[1]["title"], "Product Basics");
    let stats = sandbox.stats(Platform::Trainual);
    assert_eq!(stats.route("POST", "/users/{id}/assign_roles"), 3);
    assert_eq!(stats.path("POST", &format!("/users/{}/assign_roles", user.id)), 3);
}

#[tokio::test]
async fn updated_at_can_be_set_and_progress_leaves_it_as_it_is() {
    let sandbox = start(SandboxConfig::default()).await;
    let user = sandbox.seed_trainual_user("fi@example.com", "Fi G").unwrap();
    let tr = Client::trainual(&sandbox);
    tr.post(
        &format!("/users/{}/assign_subjects", user.id),
        json!({"subject_ids": [11]}),
    )
    .await;
    let at = time::macros::datetime!(2026-01-02 03:04:05.678 UTC);
    sandbox.set_trainual_updated_at(user.id, at).unwrap();
    sandbox.set_trainual_completion(user.id, 11, 100).unwrap();
    let shown = tr.get(&format!("/users/{}", user.id)).await;
    assert_eq!(shown.body["updated_at"], "2026-01-02T03:04:05.678Z");
    assert_eq!(shown.body["subjects"][0]["completion_percentage"], 100);
    assert!(sandbox.set_trainual_updated_at(999, at).is_err());
}
