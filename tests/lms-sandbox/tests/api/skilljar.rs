use lms_sandbox::{DEFAULT_SKILLJAR_DOMAIN as DOMAIN, Platform, SandboxConfig, SkilljarProgress};
use serde_json::{Value, json};

use crate::common::{Client, start};

const COURSE: &str = "3x5sl8stqd2r";
const GROUP: &str = "4ekqyk3w1qp2";

fn users_path() -> String {
    format!("/domains/{DOMAIN}/users")
}

fn enrollments_path() -> String {
    format!("/domains/{DOMAIN}/published-courses/{COURSE}/enrollments")
}

#[tokio::test]
async fn create_is_repeat_safe_on_the_email_and_find_by_email_pages() {
    let sandbox = start(SandboxConfig::default()).await;
    let sj = Client::skilljar(&sandbox);
    let body = json!({"user": {"email": "Ann@Example.com", "first_name": "Ann", "last_name": "Lee"}});
    let created = sj.post(&users_path(), body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let user = &created.body["user"];
    let id = user["id"].as_str().unwrap().to_owned();
    assert!(id.chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
    assert_eq!(user["full_name"], "Ann Lee");
    assert_eq!(created.body["active"], true);
    assert_eq!(created.body["signup_fields"], json!([]));

    // Same email, other case and other names: the existing user and details come back.
    let again = sj
        .post(
            &users_path(),
            json!({"user": {"email": "ann@example.com", "first_name": "Other"}}),
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body["user"]["id"], id.as_str());
    assert_eq!(again.body["user"]["first_name"], "Ann");
    assert_eq!(sandbox.skilljar_users().len(), 1);
    assert_eq!(sandbox.skilljar_domain_users(DOMAIN).len(), 1);

    // The default listing is cursor-paged; `page` switches to numbered pages with a count.
    let found = sj.get("/users?email=ann%40example.com").await;
    assert_eq!(found.status, 200);
    assert!(found.body.get("count").is_none());
    assert_eq!(found.body["results"][0]["user"]["id"], id.as_str());
    assert_eq!(found.body["results"][0]["registration_count"], 0);
    let numbered = sj.get("/users?email=ann%40example.com&page=1").await;
    assert_eq!(numbered.body["count"], 1);
    let none = sj.get("/users?email=nobody%40example.com&page=1").await;
    assert_eq!(
        (none.body["count"].clone(), none.body["results"].clone()),
        (json!(0), json!([]))
    );

    let one = sj.get(&format!("/users/{id}")).await;
    assert_eq!(one.body["user"]["email"], "Ann@Example.com");
    assert_eq!(sj.get("/users/nope123").await.status, 404);
}

#[tokio::test]
async fn numbered_and_cursor_pages_walk_every_user_once() {
    let sandbox = start(SandboxConfig::default()).await;
    for i in 0..7 {
        sandbox
            .seed_skilljar_user(DOMAIN, &format!("u{i}@example.com"), "U", &i.to_string())
            .unwrap();
    }
    let sj = Client::skilljar(&sandbox);
    let mut seen = Vec::new();
    let mut next = Some("/users?page=1&page_size=3".to_owned());
    while let Some(url) = next {
        let page = sj.get(&url).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert_eq!(page.body["count"], 7);
        for item in page.body["results"].as_array().unwrap() {
            seen.push(item["user"]["email"].as_str().unwrap().to_owned());
        }
        next = page.body["next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 7);
    let last = sj.get("/users?page=3&page_size=3").await;
    let previous = last.body["previous"].as_str().unwrap();
    assert!(previous.ends_with("page_size=3&page=2"), "{previous}");
    let invalid = sj.get("/users?page=4&page_size=3").await;
    assert_eq!(
        (invalid.status, invalid.body.clone()),
        (404, json!({"detail": "Invalid page."}))
    );

    let mut by_cursor = Vec::new();
    let mut next = Some("/users?page_size=2".to_owned());
    while let Some(url) = next {
        let page = sj.get(&url).await;
        for item in page.body["results"].as_array().unwrap() {
            by_cursor.push(item["user"]["email"].as_str().unwrap().to_owned());
        }
        next = page.body["next"].as_str().map(str::to_owned);
    }
    assert_eq!(by_cursor, seen);
    assert_eq!(sj.get("/users?cursor=bm9wZQ%3D%3D").await.status, 404);
}

#[tokio::test]
async fn names_update_and_deactivation_through_the_domain_membership() {
    let sandbox = start(SandboxConfig::default()).await;
    let user = sandbox
        .seed_skilljar_user(DOMAIN, "bo@example.com", "Bo", "Old")
        .unwrap();
    let sb = sandbox
        .seed_skilljar_user(DOMAIN, "taken@example.com", "T", "T")
        .unwrap();
    assert_ne!(user.id, sb.id);
    let sj = Client::skilljar(&sandbox);
    let path = format!("/users/{}", user.id);
    let patched = sj.patch(&path, json!({"last_name": "New"})).await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(
        (
            patched.body["first_name"].clone(),
            patched.body["last_name"].clone()
        ),
        (json!("Bo"), json!("New"))
    );
    let put = sj.put(&path, json!({"first_name": "Bob"})).await;
    assert_eq!(put.body["last_name"], "New", "PUT is a partial update too");
    let clash = sj.put(&path, json!({"email": "TAKEN@example.com"})).await;
    assert_eq!(clash.status, 400);
    assert!(clash.body["email"].is_array(), "{}", clash.text);
    let long = sj.patch(&path, json!({"first_name": "x".repeat(51)})).await;
    assert_eq!(long.status, 400);

    let membership = format!("/domains/{DOMAIN}/users/{}", user.id);
    let off = sj.patch(&membership, json!({"active": false})).await;
    assert_eq!((off.status, off.body["active"].clone()), (200, json!(false)));
    let stored = sandbox.skilljar_user_by_email("bo@example.com").unwrap();
    assert!(stored.inactive_at.is_some());
    let overview = sj.get(&path).await;
    assert!(overview.body["inactive_at"].is_string());
    let inactive = sj.get("/users?is_inactive=true&page=1").await;
    assert_eq!(inactive.body["count"], 1);
    let listed = sj
        .get(&format!(
            "/domains/{DOMAIN}/users?user__email=bo%40example.com&active=false"
        ))
        .await;
    assert_eq!(listed.body["count"], 1);
    sj.put(&membership, json!({"active": true})).await;
    assert!(
        sandbox
            .skilljar_user_by_email("bo@example.com")
            .unwrap()
            .inactive_at
            .is_none()
    );
    assert_eq!(sj.get(&format!("/domains/{DOMAIN}/users/nope")).await.status, 404);
}

#[tokio::test]
async fn enrollment_is_repeat_safe_needs_the_domain_and_shows_progress() {
    let sandbox = start(SandboxConfig::default()).await;
    let user = sandbox
        .seed_skilljar_user(DOMAIN, "cy@example.com", "Cy", "D")
        .unwrap();
    let sj = Client::skilljar(&sandbox);
    let body = json!({"user": {"id": user.id}});
    let first = sj.post(&enrollments_path(), body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["user"]["email"], "cy@example.com");
    assert_eq!(first.body["active"], true);
    let again = sj.post(&enrollments_path(), body).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(sandbox.skilljar_enrollments().len(), 1);

    let unknown = sj
        .post(&enrollments_path(), json!({"user": {"id": "nobody"}}))
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    let missing = sj.post(&enrollments_path(), json!({})).await;
    assert_eq!(missing.body, json!({"user": ["This field is required."]}));
    let other_course = format!("/domains/{DOMAIN}/published-courses/zzz/enrollments");
    assert_eq!(
        sj.post(&other_course, json!({"user": {"id": user.id}}))
            .await
            .status,
        404
    );

    // A user known to Skilljar but not a member of the domain cannot be enrolled in it.
    let mut config = SandboxConfig::default();
    config.skilljar.domains.push(lms_sandbox::SkilljarDomain {
        name: "other.example.com".into(),
        published_courses: vec![],
    });
    let sandbox2 = start(config).await;
    let stranger = sandbox2
        .seed_skilljar_user("other.example.com", "st@example.com", "S", "T")
        .unwrap();
    let refused = Client::skilljar(&sandbox2)
        .post(&enrollments_path(), json!({"user": {"id": stranger.id}}))
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.body["user"].is_array(), "{}", refused.text);

    let listed = sj.get(&enrollments_path()).await;
    assert_eq!(listed.body["count"], 1);

    let courses = sj.get(&format!("/users/{}/published-courses", user.id)).await;
    assert_eq!(courses.status, 200);
    let course = &courses.body[0];
    assert_eq!(course["published_course_id"], COURSE);
    assert_eq!(course["course"]["title"], "Onboarding 101");
    assert_eq!(course["course_progress"]["completed_at"], Value::Null);
    assert_eq!(course["all_enrollments"].as_array().unwrap().len(), 1);

    let done = SkilljarProgress {
        completed_lesson_count: 5,
        completed_at: Some(time::OffsetDateTime::now_utc()),
        score: Some(92),
        max_score: Some(100),
        success_status: Some("PASSED".into()),
    };
    sandbox.set_skilljar_progress(&user.id, COURSE, done).unwrap();
    let courses = sj.get(&format!("/users/{}/published-courses", user.id)).await;
    let progress = &courses.body[0]["course_progress"];
    assert!(progress["completed_at"].is_string());
    assert_eq!(
        (progress["score"].clone(), progress["success_status"].clone()),
        (json!(92), json!("PASSED"))
    );
    let overview = sj.get(&format!("/users/{}", user.id)).await;
    assert_eq!(
        (
            overview.body["registration_count"].clone(),
            overview.body["completion_count"].clone()
        ),
        (json!(1), json!(1))
    );
}

#[tokio::test]
async fn group_membership_add_list_remove() {
    let sandbox = start(SandboxConfig::default()).await;
    let user = sandbox
        .seed_skilljar_user(DOMAIN, "di@example.com", "Di", "E")
        .unwrap();
    let sj = Client::skilljar(&sandbox);
    let path = format!("/groups/{GROUP}/users");
    let added = sj.post(&path, json!({"user": {"id": user.id}})).await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(added.body["user"]["id"], user.id.as_str());
    assert!(added.body["created_at"].is_string());
    let again = sj.post(&path, json!({"user": {"id": user.id}})).await;
    assert_eq!(
        again.status, 400,
        "a second add is refused, the membership stays single"
    );
    assert_eq!(sandbox.skilljar_group_members(GROUP).len(), 1);

    let listed = sj.get(&path).await;
    assert_eq!(listed.body["count"], 1);
    let member = format!("{path}/{}", user.id);
    assert_eq!(sj.get(&member).await.status, 200);
    assert_eq!(sj.delete(&member).await.status, 204);
    assert_eq!(sj.delete(&member).await.status, 404);
    assert!(sandbox.skilljar_group_members(GROUP).is_empty());
    assert_eq!(sj.get("/groups/nogroup/users").await.status, 404);

    let stats = sandbox.stats(Platform::Skilljar);
    assert_eq!(stats.route("POST", "/groups/{group_id}/users"), 2);
    assert_eq!(stats.route("DELETE", "/groups/{group_id}/users/{user_id}"), 2);
    assert_eq!(
        stats.path("DELETE", &format!("/groups/{GROUP}/users/{}", user.id)),
        2
    );
}

#[tokio::test]
async fn bodies_are_validated_like_drf() {
    let sandbox = start(SandboxConfig::default()).await;
    let sj = Client::skilljar(&sandbox);
    let bad = sj
        .post(
            &users_path(),
            json!({"user": {"email": "not-an-email"}, "active": "maybe"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body,
        json!({"user": {"email": ["Enter a valid email address."]}, "active": ["Must be a valid boolean."]})
    );
    let missing = sj.post(&users_path(), json!({"user": {"first_name": "x"}})).await;
    assert_eq!(
        missing.body,
        json!({"user": {"email": ["This field is required."]}})
    );
    let malformed = sj
        .send(
            reqwest::Method::POST,
            &users_path(),
            Some(crate::common::Body::Form(vec![])),
        )
        .await;
    assert_eq!(malformed.status, 400, "an empty form lacks the user");
    assert_eq!(
        sj.post("/domains/nodomain.example.com/users", json!({}))
            .await
            .status,
        404
    );
    assert!(sandbox.skilljar_users().is_empty());
}

#[tokio::test]
async fn enrollments_and_domain_membership_can_be_seeded_at_a_time() {
    let sandbox = start(SandboxConfig::default()).await;
    let user = sandbox
        .seed_skilljar_user(DOMAIN, "ed@example.com", "Ed", "F")
        .unwrap();
    let joined = time::macros::datetime!(2026-01-02 03:04:05 UTC);
    sandbox
        .set_skilljar_domain_enrolled_at(DOMAIN, &user.id, joined)
        .unwrap();
    let enrolled_at = time::macros::datetime!(2026-02-03 04:05:06 UTC);
    let enrollment = sandbox
        .seed_skilljar_enrollment(DOMAIN, &user.id, COURSE, enrolled_at)
        .unwrap();
    let again = sandbox
        .seed_skilljar_enrollment(DOMAIN, &user.id, COURSE, enrolled_at)
        .unwrap();
    assert_eq!(enrollment, again, "the same time: the same enrollment");
    assert_eq!(sandbox.skilljar_enrollments().len(), 1);
    assert!(
        sandbox
            .seed_skilljar_enrollment(DOMAIN, &user.id, "nosuchcourse", enrolled_at)
            .is_err()
    );
    assert!(
        sandbox
            .seed_skilljar_enrollment(DOMAIN, "nosuchuser", COURSE, enrolled_at)
            .is_err()
    );
    assert!(
        sandbox
            .set_skilljar_domain_enrolled_at(DOMAIN, "nosuchuser", joined)
            .is_err()
    );
    assert_eq!(sandbox.stats(Platform::Skilljar).total_requests, 0, "no HTTP");

    let sj = Client::skilljar(&sandbox);
    let listed = sj.get(&users_path()).await;
    assert_eq!(
        listed.body["results"][0]["enrolled_at"],
        "2026-01-02T03:04:05.000000Z"
    );
    let courses = sj.get(&format!("/users/{}/published-courses", user.id)).await;
    let course = &courses.body[0];
    assert_eq!(course["enrolled_at"], "2026-02-03T04:05:06.000000Z");
    assert_eq!(course["enrollment_id"], enrollment.id.as_str());
    assert_eq!(
        course["course_progress"]["latest_activity"], "2026-02-03T04:05:06.000000Z",
        "enrolled, nothing since"
    );
    let done = SkilljarProgress {
        completed_at: Some(time::macros::datetime!(2026-03-04 05:06:07 UTC)),
        ..SkilljarProgress::default()
    };
    sandbox.set_skilljar_progress(&user.id, COURSE, done).unwrap();
    let courses = sj.get(&format!("/users/{}/published-courses", user.id)).await;
    assert_eq!(
        courses.body[0]["course_progress"]["latest_activity"], "2026-03-04T05:06:07.000000Z",
        "the completion is the latest activity"
    );
}
