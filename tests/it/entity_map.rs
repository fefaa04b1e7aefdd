//! The entity map's mirror records on DynamoDB (moto): optimistic versions, so that two
//! invocations applying changes to one learner never overwrite each other's record unseen.

use integration_tests::Deployment;
use lms_ghl::domain::Membership;
use lms_ghl::ports::{EntityMap, LearnerMirror};

#[tokio::test]
async fn mirrors_are_written_once_per_version() {
    let deployment = Deployment::new().await;
    let table = deployment.table();
    assert_eq!(
        table
            .mirror("academy", "c1")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );

    let first = LearnerMirror {
        lms_user_id: "u1".into(),
        identity: "h1".into(),
        courses: ["course-1".to_owned()].into(),
        memberships: [Membership::Group("g".into())].into(),
        active: true,
        as_of_ms: 1_763_805_392_000,
        version: 0,
    };
    assert!(
        table
            .put_mirror("academy", "c1", &first)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    // A second writer that also read "nothing stored" loses.
    assert!(
        !table
            .put_mirror("academy", "c1", &first)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );

    let stored = table
        .mirror("academy", "c1")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no mirror"));
    assert_eq!(stored.version, 1);
    assert_eq!(
        LearnerMirror {
            version: 0,
            ..stored.clone()
        },
        first
    );

    let next = LearnerMirror {
        active: false,
        ..stored.clone()
    };
    assert!(
        table
            .put_mirror("academy", "c1", &next)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    // Written from a stale read (version 1 again): refused.
    assert!(
        !table
            .put_mirror("academy", "c1", &stored)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let last = table
        .mirror("academy", "c1")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(last.map(|m| (m.version, m.active)), Some((2, false)));
    // Another target's mirror of the same contact is its own record.
    assert_eq!(
        table
            .mirror("other", "c1")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );
}

/// The intent to create a task or note is written only where nothing is recorded: a second
/// invocation that looked before the first recorded its task finds it, rather than overwriting it
/// with an intent and creating another.
#[tokio::test]
async fn an_intent_never_overwrites_what_another_invocation_recorded() {
    use lms_ghl::domain::{MilestoneKind, SourcePlatform};
    use lms_ghl::keys::EntityKey;
    use lms_ghl::ports::EntityLink;

    let deployment = Deployment::new().await;
    let table = deployment.table();
    let key = EntityKey::milestone_task(&SourcePlatform::skilljar(), "u1", MilestoneKind::Course, "c1");
    assert!(
        table
            .put_link_if_absent(&EntityLink::pending(&key))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    let created = EntityLink {
        key: key.clone(),
        ghl_id: "task-1".into(),
        completed: false,
    };
    table.put_link(&created).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !table
            .put_link_if_absent(&EntityLink::pending(&key))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    );
    assert_eq!(
        table.link(&key).await.unwrap_or_else(|e| panic!("{e}")),
        Some(created)
    );
}
