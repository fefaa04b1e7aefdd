//! The "Course enrollment" custom object in GHL's terms: its fields and their data types, the
//! association to contacts, installing it (idempotent, with a dry run), finding out at first use
//! whether a location has it, and a learning record as record properties.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use tokio::sync::RwLock;

use super::client::GhlClient;
use super::error::GhlError;
use super::objects::NewObjectField;
use crate::learning::{Enrollment, EnrollmentId, EnrollmentStatus, RecordField, UNIQUE_KEY_FIELD};

/// GHL prefixes every custom object's key with this.
pub const OBJECT_PREFIX: &str = "custom_objects.";

/// The association's own key, and the labels each side shows.
const ASSOCIATION_KEY: &str = "lms_course_enrollment_contact";
const RECORD_LABEL: &str = "Course enrollment";
const CONTACT_LABEL: &str = "Learner";
const FOLDER_NAME: &str = "LMS sync";

/// The object key as GHL names it (`custom_objects.course_enrollments`), from the mapping's value
/// with or without the prefix.
pub fn full_key(key: &str) -> String {
    if key.starts_with(OBJECT_PREFIX) {
        key.to_owned()
    } else {
        format!("{OBJECT_PREFIX}{key}")
    }
}

fn short_key(key: &str) -> &str {
    key.strip_prefix(OBJECT_PREFIX).unwrap_or(key)
}

/// The GHL data type each field is created with.
fn data_type(field: RecordField) -> &'static str {
    match field {
        RecordField::Status => "SINGLE_OPTIONS",
        RecordField::ProgressPercent | RecordField::Score => "NUMERICAL",
        RecordField::EnrolledAt | RecordField::CompletedAt | RecordField::LastActivityAt => "DATE",
        _ => "TEXT",
    }
}

fn label(field: RecordField) -> &'static str {
    match field {
        RecordField::CourseId => "Course ID",
        RecordField::CourseTitle => "Course",
        RecordField::Lms => "LMS",
        RecordField::LmsUserId => "LMS user ID",
        RecordField::Status => "Status",
        RecordField::ProgressPercent => "Progress (%)",
        RecordField::Score => "Score",
        RecordField::EnrolledAt => "Enrolled at",
        RecordField::CompletedAt => "Completed at",
        RecordField::LastActivityAt => "Last activity at",
        RecordField::CertificateUrl => "Certificate URL",
    }
}

/// The object a deployment keeps learning records in, and the fields it fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentObject {
    /// With the `custom_objects.` prefix.
    pub key: String,
    pub fields: BTreeSet<RecordField>,
}

impl EnrollmentObject {
    pub fn new(key: &str, fields: impl IntoIterator<Item = RecordField>) -> Self {
        Self {
            key: full_key(key),
            fields: fields.into_iter().collect(),
        }
    }

    /// `custom_objects.{object}.{field}`, as fields are created and listed.
    fn field_key(&self, name: &str) -> String {
        format!("{}.{name}", self.key)
    }

    fn new_field(&self, field: RecordField) -> NewObjectField {
        let options = if field == RecordField::Status {
            EnrollmentStatus::ALL
                .iter()
                .map(|s| json!({ "key": s.as_str(), "label": status_label(*s) }))
                .collect()
        } else {
            Vec::new()
        };
        NewObjectField {
            name: label(field).to_owned(),
            data_type: data_type(field),
            field_key: self.field_key(field.name()),
            options,
        }
    }

    /// The record's properties for `enrollment`: the unique key and the chosen fields. Absent
    /// values are left out, so an update never blanks what a person typed into GHL.
    pub fn properties(&self, id: &EnrollmentId, enrollment: &Enrollment) -> Map<String, Value> {
        let mut properties = Map::new();
        properties.insert(UNIQUE_KEY_FIELD.into(), json!(id.unique_key()));
        for field in &self.fields {
            let value = match field {
                RecordField::CourseId => Some(json!(id.course_id)),
                RecordField::CourseTitle => enrollment.course_title.as_ref().map(|t| json!(t)),
                RecordField::Lms => Some(json!(id.source.as_str())),
                RecordField::LmsUserId => Some(json!(id.lms_user_id)),
                RecordField::Status => Some(json!(enrollment.status.as_str())),
                RecordField::ProgressPercent => enrollment.progress_percent.map(|p| json!(p)),
                RecordField::Score => enrollment.score.map(|s| json!(s)),
                RecordField::EnrolledAt => enrollment.enrolled_at.map(date),
                RecordField::CompletedAt => enrollment.completed_at.map(date),
                RecordField::LastActivityAt => Some(date(enrollment.last_activity_at)),
                RecordField::CertificateUrl => enrollment.certificate_url.as_ref().map(|u| json!(u)),
            };
            if let Some(value) = value {
                properties.insert(field.name().into(), value);
            }
        }
        properties
    }
}

fn status_label(status: EnrollmentStatus) -> &'static str {
    match status {
        EnrollmentStatus::Enrolled => "Enrolled",
        EnrollmentStatus::InProgress => "In progress",
        EnrollmentStatus::Completed => "Completed",
        EnrollmentStatus::Expired => "Expired",
    }
}

/// GHL's DATE fields take a calendar day.
fn date(at: OffsetDateTime) -> Value {
    let d = at.date();
    json!(format!(
        "{:04}-{:02}-{:02}",
        d.year(),
        u8::from(d.month()),
        d.day()
    ))
}

/// Whether a location can take learning records, found out once per cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Installed; records are linked to contacts through this association.
    Ready { association_id: String },
    /// Not usable here, and why; the rest of the sync goes on without records.
    Off(String),
}

/// What one location's client has found out, by object key, and when. `Ready` holds for the
/// process; `Off` is asked again after [`OFF_RECHECK`], so an install made after a cold start is
/// taken up within minutes rather than at the next cold start.
#[derive(Default)]
pub(crate) struct ReadinessCache {
    by_key: RwLock<HashMap<String, (Readiness, tokio::time::Instant)>>,
}

/// How long an `Off` answer is trusted (two reads per location each time it runs out).
pub const OFF_RECHECK: std::time::Duration = std::time::Duration::from_secs(300);

/// One step of an install, done or (in a dry run) to be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallStep {
    CreateObject(String),
    CreateFolder(String),
    CreateField(String),
    MakeSearchable(String),
    CreateAssociation(String),
}

impl std::fmt::Display for InstallStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InstallStep::CreateObject(k) => write!(f, "create custom object {k}"),
            InstallStep::CreateFolder(n) => write!(f, "create field folder {n:?}"),
            InstallStep::CreateField(k) => write!(f, "create field {k}"),
            InstallStep::MakeSearchable(k) => write!(f, "make {k} searchable"),
            InstallStep::CreateAssociation(k) => write!(f, "create association {k} (record ↔ contact)"),
        }
    }
}

/// A location without custom objects (its plan, or a token without the scope) answers 401 or
/// 403 to every objects call.
fn unavailable(e: &GhlError) -> bool {
    matches!(
        e,
        GhlError::Unauthorized { .. } | GhlError::Rejected { status: 403, .. }
    )
}

const NO_CUSTOM_OBJECTS: &str =
    "the location has no custom objects (its plan, or the token lacks the objects scopes)";

impl GhlClient {
    /// Creates what is missing of `object` in this client's location: the object, a field
    /// folder, the fields, the unique key's search, the association to contacts. Each step
    /// checks first, so running it again changes nothing; `dry_run` only lists the steps.
    pub async fn install_enrollment_object(
        &self,
        object: &EnrollmentObject,
        dry_run: bool,
    ) -> Result<Vec<InstallStep>, GhlError> {
        let mut steps = Vec::new();
        let unique = object.field_key(UNIQUE_KEY_FIELD);
        let schema = self.object_schema(&object.key).await?;
        let (mut existing, searchable) = match &schema {
            Some(found) => (
                found
                    .fields
                    .iter()
                    .filter_map(|f| f.field_key.clone())
                    .collect::<BTreeSet<_>>(),
                found.object.searchable_properties.clone(),
            ),
            None => (BTreeSet::new(), Vec::new()),
        };
        if schema.is_none() {
            steps.push(InstallStep::CreateObject(object.key.clone()));
            if !dry_run {
                self.create_object_schema(
                    short_key(&object.key),
                    RECORD_LABEL,
                    "Course enrollments",
                    "One learner's enrollment in one course, kept by the LMS sync",
                    (&unique, "Enrollment"),
                )
                .await?;
                existing.insert(unique.clone());
            }
        }
        let wanted: Vec<RecordField> = object.fields.iter().copied().collect();
        let missing: Vec<RecordField> = wanted
            .into_iter()
            .filter(|f| !existing.contains(&object.field_key(f.name())))
            .collect();
        if !missing.is_empty() {
            let folders = if schema.is_some() && !dry_run {
                self.object_fields(&object.key).await?.1
            } else {
                Vec::new()
            };
            let folder = match folders.into_iter().next() {
                Some(id) => Some(id),
                None => {
                    steps.push(InstallStep::CreateFolder(FOLDER_NAME.into()));
                    if dry_run {
                        None
                    } else {
                        Some(self.create_field_folder(&object.key, FOLDER_NAME).await?)
                    }
                }
            };
            for field in missing {
                let new = object.new_field(field);
                steps.push(InstallStep::CreateField(new.field_key.clone()));
                if let Some(folder) = &folder {
                    self.create_object_field(&object.key, folder, &new).await?;
                }
            }
        }
        if !searchable.iter().any(|p| *p == unique || p == UNIQUE_KEY_FIELD) {
            steps.push(InstallStep::MakeSearchable(unique.clone()));
            if !dry_run {
                self.set_searchable_properties(&object.key, std::slice::from_ref(&unique))
                    .await?;
            }
        }
        let linked = if schema.is_some() {
            self.associations_of(&object.key)
                .await?
                .iter()
                .any(|a| a.joins(&object.key, "contact"))
        } else {
            false
        };
        if !linked {
            steps.push(InstallStep::CreateAssociation(ASSOCIATION_KEY.into()));
            if !dry_run {
                self.create_association(
                    ASSOCIATION_KEY,
                    (&object.key, RECORD_LABEL),
                    ("contact", CONTACT_LABEL),
                )
                .await?;
            }
        }
        Ok(steps)
    }

    /// Whether this location can take records of `object`: installed with every field the
    /// mapping fills and linked to contacts. Asked once per cold start (two calls), and again
    /// every [`OFF_RECHECK`] while the answer is `Off`; a location without custom objects is
    /// `Off`, not an error.
    pub async fn enrollment_readiness(&self, object: &EnrollmentObject) -> Result<Readiness, GhlError> {
        let cache = &self.readiness_cache().by_key;
        if let Some((known, at)) = cache.read().await.get(&object.key) {
            let fresh = matches!(known, Readiness::Ready { .. }) || at.elapsed() < OFF_RECHECK;
            if fresh {
                return Ok(known.clone());
            }
        }
        let readiness = self.find_readiness(object).await?;
        cache.write().await.insert(
            object.key.clone(),
            (readiness.clone(), tokio::time::Instant::now()),
        );
        Ok(readiness)
    }

    async fn find_readiness(&self, object: &EnrollmentObject) -> Result<Readiness, GhlError> {
        let schema = match self.object_schema(&object.key).await {
            Ok(Some(schema)) => schema,
            Ok(None) => {
                return Ok(Readiness::Off(format!(
                    "custom object {} is not installed (lms-sync-ops schema install)",
                    object.key
                )));
            }
            Err(e) if unavailable(&e) => return Ok(Readiness::Off(NO_CUSTOM_OBJECTS.into())),
            Err(e) => return Err(e),
        };
        let present: BTreeSet<&str> = schema
            .fields
            .iter()
            .filter_map(|f| f.field_key.as_deref())
            .collect();
        let missing: Vec<String> = std::iter::once(UNIQUE_KEY_FIELD)
            .chain(object.fields.iter().map(|f| f.name()))
            .map(|name| object.field_key(name))
            .filter(|key| !present.contains(key.as_str()))
            .collect();
        if !missing.is_empty() {
            return Ok(Readiness::Off(format!(
                "custom object {} lacks fields {} (lms-sync-ops schema install)",
                object.key,
                missing.join(", ")
            )));
        }
        let association = match self.associations_of(&object.key).await {
            Ok(list) => list.into_iter().find(|a| a.joins(&object.key, "contact")),
            Err(e) if unavailable(&e) => return Ok(Readiness::Off(NO_CUSTOM_OBJECTS.into())),
            Err(e) => return Err(e),
        };
        Ok(match association {
            Some(a) => Readiness::Ready { association_id: a.id },
            None => Readiness::Off(format!(
                "custom object {} is not associated with contacts (lms-sync-ops schema install)",
                object.key
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::domain::SourcePlatform;
    use crate::learning::{Fact, Observed};

    #[test]
    fn properties_hold_the_key_and_the_chosen_fields_only() {
        let object = EnrollmentObject::new(
            "course_enrollments",
            [RecordField::Status, RecordField::Score, RecordField::CompletedAt],
        );
        assert_eq!(object.key, "custom_objects.course_enrollments");
        let id = EnrollmentId {
            source: SourcePlatform::skilljar(),
            lms_user_id: "u1".into(),
            course_id: "c1".into(),
        };
        let e = Enrollment::new(&Observed {
            fact: Fact::Enrolled,
            at: datetime!(2026-11-02 23:30 UTC),
            course_title: None,
        });
        let p = object.properties(&id, &e);
        assert_eq!(
            Value::Object(p),
            json!({ "enrollment_key": "skilljar:u1:c1", "status": "enrolled" }),
            "no score and no completion yet: left out, not blanked"
        );
        let done = e.merge(&Observed {
            fact: Fact::Completed {
                score: Some(88.0),
                certificate_url: None,
            },
            at: datetime!(2026-11-04 08:00 UTC),
            course_title: None,
        });
        assert_eq!(
            Value::Object(object.properties(&id, &done)),
            json!({ "enrollment_key": "skilljar:u1:c1", "status": "completed", "score": 88.0, "completed_at": "2026-11-04" })
        );
    }
}
