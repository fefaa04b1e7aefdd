//! How a `LearnerCreated` (Skilljar `COURSE_ENROLLMENT` / `DOMAIN_ENROLLMENT`, or a generic
//! `learner.created`) becomes a GHL contact: upsert (names, email, phone, source, role, LMS user id
//! and mapped custom fields), the mapping's tags, remember LMS user → contactId, and the mapping's
//! initial tasks.

use super::contact::{custom_fields, remember_contact};
use super::effects::{NewEntity, ensure};
use super::learning_records;
use super::mirror::{Reported, echo_of_our_write, record_reported};
use super::templates::Values;
use super::{Context, SyncError};
use crate::domain::{FieldRef, LearnerCreated};
use crate::ghl::ContactFields;
use crate::keys::EntityKey;
use crate::learning::{EnrollmentId, Fact, Observed};
use crate::mapping::Mapping;

/// Returns the GHL contact id.
pub async fn sync(cx: &Context<'_>, learner: &LearnerCreated) -> Result<String, SyncError> {
    let reported = Reported {
        source: &learner.source,
        user_id: &learner.source_user_id,
        email: &learner.email,
        first_name: learner.first_name.as_deref(),
        last_name: learner.last_name.as_deref(),
        fields: Some(&learner.custom_fields),
        course: learner.course.iter().flat_map(|c| c.ids()).collect(),
    };
    if let Some(target) = echo_of_our_write(cx, &reported).await? {
        return Ok(format!(
            "echo of the sync's own write to {target}; nothing written"
        ));
    }
    let mapped = mapped_fields(learner, cx.mapping);
    let mut request = upsert_request(learner, cx.mapping);
    request.custom_fields = custom_fields(cx.ghl, mapped.into_iter().map(|(f, v)| (f.clone(), v))).await?;
    let contact = cx.ghl.upsert_contact(&request).await?.contact;
    crate::telemetry::metric::count(
        crate::telemetry::metric::EFFECTS_APPLIED,
        Some(("Effect", "ContactUpserted")),
    );
    let contact_id = contact.id;
    // Tags are not sent in the upsert: there `tags` replaces the contact's tags (UpsertContactDto:
    // "will overwrite all current tags"), which would drop tags users or other tools set on a
    // contact that already existed, and the upsert cannot be told to set them only when it
    // creates. So they are added with `POST /contacts/:id/tags` (which adds), and only when the
    // upsert's answer shows the contact lacks one of them: a learner seen before costs no tag call.
    let tags: Vec<String> = cx
        .mapping
        .learner_tags(learner)
        .into_iter()
        .filter(|t| !contact.tags.iter().any(|have| have.eq_ignore_ascii_case(t)))
        .collect();
    if !tags.is_empty() {
        cx.ghl.add_tags(&contact_id, &tags).await?;
    }
    remember_contact(cx, &learner.source, &learner.source_user_id, &contact_id).await?;

    let reference = learner.learner_ref();
    let values = Values {
        source: Some(&learner.source),
        learner: Some(&reference),
        course: learner.course.as_ref(),
        occurred_at: Some(learner.occurred_at),
        ..Values::default()
    };
    for name in &cx.mapping.learner_created.tasks {
        if let Some(template) = cx.mapping.task_templates.get(name.get_ref()) {
            let key = EntityKey::welcome_task(&learner.source, &learner.source_user_id, name.get_ref());
            let spec = values.task(template);
            let task = NewEntity::Task {
                spec: &spec,
                completed: false,
            };
            ensure(cx, &contact_id, &key, task).await?;
        }
    }
    // A learner announced with a course (Skilljar's COURSE_ENROLLMENT) is enrolled in it.
    if let Some(course) = &learner.course {
        let id = EnrollmentId {
            source: learner.source.clone(),
            lms_user_id: learner.source_user_id.clone(),
            course_id: course.id.clone(),
        };
        let observed = Observed {
            fact: Fact::Enrolled,
            at: learner.occurred_at,
            course_title: course.title.clone(),
        };
        if let Some(record) = learning_records::keep(cx, &contact_id, &id, &observed).await? {
            tracing::info!(record = %record, "learning record");
        }
    }
    record_reported(cx, &reported).await?;
    Ok(contact_id)
}

/// The contact's own fields; custom fields are resolved separately (they may need GHL's list).
pub fn upsert_request(learner: &LearnerCreated, mapping: &Mapping) -> ContactFields {
    ContactFields {
        first_name: learner.first_name.clone(),
        last_name: learner.last_name.clone(),
        email: Some(learner.email.as_str().to_owned()),
        phone: learner.phone.clone(),
        source: Some(mapping.contact_source(&learner.source)),
        ..ContactFields::default()
    }
}

/// Role, LMS user id and the LMS custom fields the mapping names, with their values.
pub fn mapped_fields<'a>(learner: &LearnerCreated, mapping: &'a Mapping) -> Vec<(&'a FieldRef, String)> {
    let contact = &mapping.contact;
    let role = contact.role_field.as_ref().zip(learner.role.clone());
    let user_id = contact
        .user_id_field
        .as_ref()
        .map(|f| (f, learner.source_user_id.clone()));
    let custom = learner
        .custom_fields
        .iter()
        .filter_map(|(k, v)| contact.custom_fields.get(k).map(|f| (f, v.clone())));
    role.into_iter().chain(user_id).chain(custom).collect()
}
