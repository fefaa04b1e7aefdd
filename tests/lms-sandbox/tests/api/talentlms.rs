use std::time::Duration;

use lms_sandbox::{Platform, SandboxConfig};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::common::{Client, start};

fn new_user(email: &str) -> Value {
    json!({
        "name": "Ann",
        "surname": "Lee",
        "login": email,
        "email": email,
        "password": "Sandbox-Passw0rd",
    })
}

#[tokio::test]
async fn create_find_by_email_and_update() {
    let sandbox = start(SandboxConfig::default()).await;
    let tl = Client::talentlms(&sandbox);
    let created = tl.post("/api/v2/users", new_user("ann@example.com")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["_data"]["id"].as_u64().unwrap();
    assert_eq!(created.body["_data"]["status"], "active");
    assert_eq!(created.body["_data"]["user_type"]["name"], "Learner-Type");

    let duplicate = tl.post("/api/v2/users", new_user("ANN@example.com")).await;
    assert_eq!(duplicate.status, 400);
    assert_eq!(duplicate.body["error"]["type"], "invalid_request_error");
    assert!(
        duplicate.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("email")
    );
    let incomplete = tl.post("/api/v2/users", json!({"email": "x@example.com"})).await;
    assert_eq!(incomplete.status, 400);
    assert!(incomplete.text.contains("password"), "{}", incomplete.text);

    let found = tl.get("/api/v2/users?filter[email][eq]=ann%40example.com").await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["_data"][0]["id"], id);
    assert_eq!(found.body["_meta"]["pagination"]["total_items"], 1);
    let none = tl.get("/api/v2/users?filter[email][eq]=zed%40example.com").await;
    assert_eq!(none.body["_data"], json!([]));

    let patched = tl
        .patch(
            &format!("/api/v2/users/{id}"),
            json!({"surname": "Park", "custom_field_1": "ignored"}),
        )
        .await;
    assert_eq!((patched.status, patched.text.as_str()), (204, ""));
    let user = tl.get(&format!("/api/v2/users/{id}")).await;
    assert_eq!(user.body["_data"]["surname"], "Park");
    let fields = user.body["_data"]["custom_fields"].as_array().unwrap();
    assert_eq!(fields.len(), 2);
    assert_eq!(
        fields[0]["value"],
        Value::Null,
        "a single update ignores custom fields"
    );

    let off = tl
        .patch(&format!("/api/v2/users/{id}"), json!({"status": "inactive"}))
        .await;
    assert_eq!(off.status, 204);
    assert_eq!(
        sandbox.talentlms_user_by_email("ann@example.com").unwrap().status,
        "inactive"
    );
    assert_eq!(tl.get("/api/v2/users/999").await.status, 404);
}

#[tokio::test]
async fn paging_and_last_updated_filters() {
    let sandbox = start(SandboxConfig::default()).await;
    for i in 0..5 {
        sandbox
            .seed_talentlms_user(&format!("u{i}@example.com"), "U", &i.to_string())
            .unwrap();
    }
    let old = OffsetDateTime::now_utc() - time::Duration::days(3);
    sandbox.set_talentlms_last_updated(1, old).unwrap();
    sandbox.set_talentlms_last_updated(2, old).unwrap();
    let tl = Client::talentlms(&sandbox);

    let mut ids = Vec::new();
    let mut next = Some("/api/v2/users?page[size]=2".to_owned());
    while let Some(url) = next {
        let page = tl.get(&url).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert_eq!(page.body["_meta"]["pagination"]["total_pages"], 3);
        ids.extend(
            page.body["_data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_u64().unwrap()),
        );
        next = page.body["_links"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    assert_eq!(tl.get("/api/v2/users?page[size]=101").await.status, 400);
    assert_eq!(tl.get("/api/v2/users?page[size]=100").await.status, 200);

    let since = (OffsetDateTime::now_utc() - time::Duration::days(1)).unix_timestamp();
    let since = OffsetDateTime::from_unix_timestamp(since).unwrap();
    let iso = since
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let recent = tl
        .get(&format!(
            "/api/v2/users?filter[last_updated][gte]={}",
            iso.replace(':', "%3A").replace('+', "%2B")
        ))
        .await;
    assert_eq!(recent.status, 200, "{}", recent.text);
    let recent: Vec<u64> = recent.body["_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_u64().unwrap())
        .collect();
    assert_eq!(recent, [3, 4, 5]);
    let naive = tl
        .get("/api/v2/users?filter[last_updated][lte]=2999-01-01T00:00:00")
        .await;
    assert_eq!(naive.body["_data"].as_array().unwrap().len(), 5);
    assert_eq!(
        tl.get("/api/v2/users?filter[last_updated][gte]=soon")
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn enrollments_groups_and_branches_refuse_repeats_and_keep_one_link() {
    let sandbox = start(SandboxConfig::default()).await;
    let user = sandbox.seed_talentlms_user("bo@example.com", "Bo", "K").unwrap();
    let tl = Client::talentlms(&sandbox);
    let enroll = json!({"user_id": user.id, "course_id": 101});
    let first = tl.post("/api/v2/enrollments", enroll.clone()).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["_data"]["role"], "learner");
    let again = tl
        .post(
            "/api/v2/enrollments",
            json!({"user_id": user.id.to_string(), "course_id": "101"}),
        )
        .await;
    assert_eq!(again.status, 400);
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already enrolled")
    );
    assert_eq!(sandbox.talentlms_enrollments().len(), 1);
    assert_eq!(
        tl.post(
            "/api/v2/enrollments",
            json!({"user_id": user.id, "course_id": 999})
        )
        .await
        .status,
        404
    );

    let progress = tl
        .get(&format!(
            "/api/v2/course-progress?user_id={}&course_id=101",
            user.id
        ))
        .await;
    assert_eq!(progress.body["_data"]["completion_status"], "not_attempted");
    sandbox.set_talentlms_progress(user.id, 101, 100).unwrap();
    let progress = tl
        .get(&format!(
            "/api/v2/course-progress?user_id={}&course_id=101",
            user.id
        ))
        .await;
    assert_eq!(progress.body["_data"]["completion_percentage"], 100);
    assert!(progress.body["_data"]["completed_on"].is_string());

    for (path, key, target) in [
        ("/api/v2/group-memberships", "group_id", 1),
        ("/api/v2/branch-users", "branch_id", 2),
    ] {
        let body = json!({ key: target, "user_id": user.id });
        assert_eq!(tl.post(path, body.clone()).await.status, 201);
        assert_eq!(tl.post(path, body).await.status, 400);
        let remove = format!("{path}?{key}={target}&user_id={}", user.id);
        assert_eq!(tl.delete(&remove).await.status, 204);
        assert_eq!(tl.delete(&remove).await.status, 404);
        assert_eq!(
            tl.post(path, json!({ key: 77, "user_id": user.id })).await.status,
            404
        );
    }
    tl.post(
        "/api/v2/group-memberships",
        json!({"group_id": 2, "user_id": user.id}),
    )
    .await;
    assert_eq!(sandbox.talentlms_group_members(2), [user.id]);
    assert!(sandbox.talentlms_branch_members(2).is_empty());
    let in_group = tl.get("/api/v2/users?filter[group_id][eq]=2").await;
    assert_eq!(in_group.body["_data"].as_array().unwrap().len(), 1);

    let unenroll = format!("/api/v2/enrollments?user_id={}&course_id=101", user.id);
    assert_eq!(tl.delete(&unenroll).await.status, 204);
    assert!(sandbox.talentlms_enrollments().is_empty());
}

#[tokio::test]
async fn custom_fields_through_v1_forms_and_v2_batches() {
    let sandbox = start(SandboxConfig::default()).await;
    let v1 = Client::talentlms_v1(&sandbox);
    let fields = v1.get("/api/v1/getcustomregistrationfields").await;
    assert_eq!(fields.body[0]["key"], "custom_field_1");
    let signup = v1
        .form(
            "/api/v1/usersignup",
            &[
                ("first_name", "Cy"),
                ("last_name", "D"),
                ("email", "cy@example.com"),
                ("login", "cy"),
                ("password", "Sandbox-Passw0rd"),
                ("custom_field_1", "42"),
            ],
        )
        .await;
    assert_eq!(signup.status, 200, "{}", signup.text);
    assert_eq!(
        (signup.body["id"].clone(), signup.body["custom_field_1"].clone()),
        (json!("1"), json!("42"))
    );
    let edited = v1
        .form(
            "/api/v1/edituser",
            &[
                ("user_id", "1"),
                ("custom_field_2", "Sales"),
                ("last_name", "Dee"),
            ],
        )
        .await;
    assert_eq!(edited.body["custom_field_2"], "Sales");
    assert_eq!(edited.body["last_name"], "Dee");
    let by_email = v1.get("/api/v1/users/email:cy@example.com").await;
    assert_eq!(by_email.body["login"], "cy");
    assert_eq!(v1.get("/api/v1/users/email:nobody@example.com").await.status, 404);
    let status = v1.get("/api/v1/usersetstatus/user_id:1,status:inactive").await;
    assert_eq!(status.body, json!({"user_id": "1", "status": "inactive"}));

    let v2 = Client::talentlms(&sandbox);
    let detail = v2.get("/api/v2/users/1").await;
    assert_eq!(detail.body["_data"]["custom_fields"][0]["value"], "42");
    assert_eq!(detail.body["_data"]["status"], "inactive");

    let batch = v2
        .post(
            "/api/v2/batch/users",
            json!({"users": [
                {"id": 1, "custom_field_1": "43", "status": "active"},
                {"login": "dee", "name": "Dee", "surname": "E", "email": "dee@example.com", "password": "Sandbox-Passw0rd", "custom_field_2": "Ops"},
                {"login": "dup", "name": "X", "surname": "Y", "email": "cy@example.com", "password": "Sandbox-Passw0rd"},
            ]}),
        )
        .await;
    assert_eq!(batch.status, 202, "{}", batch.text);
    let task = batch.body["_data"]["task_id"].as_str().unwrap().to_owned();
    let report = v2.get(&format!("/api/v2/tasks/{task}")).await;
    let statuses: Vec<&str> = report.body["_data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["updated", "created", "failed"]);
    let users = sandbox.talentlms_users();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].custom_fields[&1], "43");
    assert_eq!(users[0].status, "active");
    assert_eq!(users[1].custom_fields[&2], "Ops");

    // v1 wants Basic; the v2 key header does not open it, and the reverse.
    assert_eq!(v2.get("/api/v1/users").await.status, 401);
    assert_eq!(v1.get("/api/v2/users").await.status, 401);
    let stats = sandbox.stats(Platform::TalentLms);
    assert_eq!(stats.route("POST", "/api/v1/usersignup"), 1);
    assert_eq!(stats.route("GET", "/api/v1/users/{selector}"), 2);
    assert_eq!(stats.path("GET", "/api/v1/users/email:cy@example.com"), 1);
}

#[tokio::test]
async fn the_version_header_is_required_on_v2() {
    let sandbox =
        start(SandboxConfig::default().with_rate_limit(Platform::TalentLms, 5, Duration::from_secs(5))).await;
    let tl = Client::talentlms(&sandbox);
    let unversioned = tl.with_auth(crate::common::Auth::Key(
        lms_sandbox::DEFAULT_TALENTLMS_API_KEY.into(),
        None,
    ));
    let refused = unversioned.get("/api/v2/users").await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X-API-Version")
    );
    assert_eq!(
        refused.header("x-ratelimit-remaining"),
        Some("5"),
        "no budget spent"
    );
    let bad = tl.with_auth(crate::common::Auth::Key(
        lms_sandbox::DEFAULT_TALENTLMS_API_KEY.into(),
        Some("2025-13-01".into()),
    ));
    assert_eq!(bad.get("/api/v2/users").await.status, 400);
    assert_eq!(tl.get("/api/v2/users").await.status, 200);
}

#[tokio::test]
async fn the_v1_user_record_lists_each_course_s_completion() {
    let sandbox = start(SandboxConfig::default()).await;
    let user = sandbox
        .seed_talentlms_user("vi@example.com", "Vi", "Ola")
        .unwrap();
    let tl = Client::talentlms(&sandbox);
    for course in [101, 102] {
        let body = json!({"user_id": user.id, "course_id": course});
        assert_eq!(tl.post("/api/v2/enrollments", body).await.status, 201);
    }
    sandbox.set_talentlms_progress(user.id, 101, 100).unwrap();
    sandbox.set_talentlms_progress(user.id, 102, 30).unwrap();
    let record = Client::talentlms_v1(&sandbox)
        .get(&format!("/api/v1/users/id:{}", user.id))
        .await;
    assert_eq!(record.status, 200, "{}", record.text);
    let courses = record.body["courses"].as_array().unwrap();
    let done = &courses[0];
    assert_eq!(
        (
            done["id"].clone(),
            done["completion_status"].clone(),
            done["completion_percentage"].clone()
        ),
        (json!("101"), json!("completed"), json!("100"))
    );
    let completed_on = sandbox.talentlms_enrollments()[0].completed_on.unwrap();
    assert_eq!(
        done["completed_on_timestamp"],
        json!(completed_on.unix_timestamp().to_string())
    );
    // `DD/MM/YYYY, HH:MM:SS`.
    let written = done["completed_on"].as_str().unwrap();
    assert_eq!((written.len(), &written[2..3], &written[10..12]), (20, "/", ", "));
    assert!(done["enrolled_on"].as_str().is_some_and(|d| d.len() == 20));
    let started = &courses[1];
    assert_eq!(
        (
            started["completion_status"].clone(),
            started["completion_percentage"].clone(),
            started["completed_on"].clone()
        ),
        (json!("incomplete"), json!("30"), json!(""))
    );
}
