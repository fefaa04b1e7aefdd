//! The mapping file's shape, and the lookups the worker makes in it.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::targets::Target;
use super::template::Template;
use crate::domain::{FieldRef, LearnerCreated, MilestoneKind, MilestoneReached, SourcePlatform};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default)]
    pub contact: ContactRules,
    /// By provider slug (`skilljar`, or a generic sender's `source`).
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderRules>,
    /// By the LMS's course id.
    #[serde(default)]
    pub courses: BTreeMap<String, TagRule>,
    #[serde(default)]
    pub learner_created: LearnerCreatedRules,
    /// First matching rule wins.
    #[serde(default)]
    pub milestones: Vec<MilestoneRule>,
    #[serde(default)]
    pub note_added: NoteAddedRules,
    #[serde(default)]
    pub task_templates: BTreeMap<String, TaskTemplate>,
    #[serde(default)]
    pub note_templates: BTreeMap<String, NoteTemplate>,
    /// GHL → LMS: the LMS accounts each location feeds, by a name of the operator's choosing.
    #[serde(default)]
    pub targets: BTreeMap<String, Target>,
    /// Each enrollment kept as a GHL custom-object record on the contact (off when absent).
    #[serde(default)]
    pub learning_records: Option<LearningRecords>,
}

/// `[learning_records]`: which senders' enrollments become records, in which object, filling
/// which fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearningRecords {
    /// The custom object's key, with or without GHL's `custom_objects.` prefix.
    #[serde(default = "default_object_key")]
    pub object_key: Spanned<String>,
    /// Provider slugs whose enrollments are kept; every provider when empty.
    #[serde(default)]
    pub providers: Vec<Spanned<String>>,
    /// Field names to fill (`status`, `score`, …); all of them when empty.
    #[serde(default)]
    pub fields: Vec<Spanned<String>>,
    /// Progress inside a course (lessons, quizzes) reaches GHL at most once per this many
    /// seconds per record; status changes always go at once.
    #[serde(default = "default_debounce")]
    pub debounce_seconds: u64,
}

fn default_object_key() -> Spanned<String> {
    Spanned::new(0..0, "custom_objects.course_enrollments".to_owned())
}

fn default_debounce() -> u64 {
    300
}

impl LearningRecords {
    /// Whether `source`'s enrollments are kept.
    pub fn keeps(&self, source: &SourcePlatform) -> bool {
        self.providers.is_empty() || self.providers.iter().any(|p| p.get_ref() == source.as_str())
    }

    /// The object with the fields to fill (validated: every name is known).
    pub fn object(&self) -> crate::ghl::enrollments::EnrollmentObject {
        use crate::learning::RecordField;
        let fields: Vec<RecordField> = if self.fields.is_empty() {
            RecordField::ALL.to_vec()
        } else {
            self.fields
                .iter()
                .filter_map(|f| RecordField::parse(f.get_ref()))
                .collect()
        };
        crate::ghl::enrollments::EnrollmentObject::new(self.object_key.get_ref(), fields)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactRules {
    /// The contact's `source`; default "<provider> (LMS sync)".
    #[serde(default)]
    pub source: Option<String>,
    /// Tags for every learner.
    #[serde(default)]
    pub tags: Vec<String>,
    /// GHL custom field for the learner's role.
    #[serde(default)]
    pub role_field: Option<FieldRef>,
    /// GHL custom field for the LMS user id.
    #[serde(default)]
    pub user_id_field: Option<FieldRef>,
    /// LMS custom field key → GHL custom field.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, FieldRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderRules {
    #[serde(default)]
    pub tags: Vec<String>,
    /// The GHL location this LMS account feeds; must be the credentials' location.
    #[serde(default)]
    pub location_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRule {
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnerCreatedRules {
    /// Task templates created for every new learner.
    #[serde(default)]
    pub tasks: Vec<Spanned<String>>,
}

/// Which milestone kind a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KindMatch {
    Any,
    Course,
    Lesson,
    Quiz,
    Path,
    Custom,
}

impl KindMatch {
    fn matches(self, kind: MilestoneKind) -> bool {
        matches!(
            (self, kind),
            (KindMatch::Any, _)
                | (KindMatch::Course, MilestoneKind::Course)
                | (KindMatch::Lesson, MilestoneKind::Lesson)
                | (KindMatch::Quiz, MilestoneKind::Quiz)
                | (KindMatch::Path, MilestoneKind::Path)
                | (KindMatch::Custom, MilestoneKind::Custom)
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MilestoneRule {
    pub kind: KindMatch,
    /// A specific milestone id; any id when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Task template opened when the milestone starts (a `*_ENROLLMENT` / `milestone.started`).
    #[serde(default)]
    pub on_start: Option<Spanned<String>>,
    /// Task template completed when the milestone completes (created completed if it never started).
    #[serde(default)]
    pub task: Option<Spanned<String>>,
    /// Tags added on completion.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Note template added on completion.
    #[serde(default)]
    pub note: Option<Spanned<String>>,
    /// GHL custom field → template, written to the contact on completion.
    #[serde(default)]
    pub update_fields: BTreeMap<String, Spanned<Template>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteAddedRules {
    /// Note template wrapping the sender's note; the note is sent as is without one.
    #[serde(default)]
    pub template: Option<Spanned<String>>,
    /// Note context key → GHL custom field, written to the contact (`PUT /contacts/:id`).
    #[serde(default)]
    pub context_fields: BTreeMap<String, FieldRef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskTemplate {
    pub title: Spanned<Template>,
    #[serde(default)]
    pub body: Option<Spanned<Template>>,
    /// Due this many days after the event (default 7).
    #[serde(default = "default_due_days")]
    pub due_in_days: i64,
    /// GHL user id.
    #[serde(default)]
    pub assignee: Option<String>,
}

fn default_due_days() -> i64 {
    7
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteTemplate {
    #[serde(default)]
    pub title: Option<Spanned<Template>>,
    pub body: Spanned<Template>,
}

impl Mapping {
    /// Tags for a learner of `source` (optionally in `course`): contact, provider, course; each once.
    pub fn learner_tags(&self, learner: &LearnerCreated) -> Vec<String> {
        self.tags_for(
            &learner.source,
            learner.course.as_ref().map(|c| c.id.as_str()),
            &[],
        )
    }

    pub fn tags_for(
        &self,
        source: &SourcePlatform,
        course_id: Option<&str>,
        extra: &[String],
    ) -> Vec<String> {
        let provider = self
            .providers
            .get(source.as_str())
            .map(|p| p.tags.as_slice())
            .unwrap_or(&[]);
        let course = course_id
            .and_then(|id| self.courses.get(id))
            .map(|c| c.tags.as_slice())
            .unwrap_or(&[]);
        let mut tags: Vec<String> = Vec::new();
        for tag in self
            .contact
            .tags
            .iter()
            .chain(provider)
            .chain(course)
            .chain(extra)
        {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        tags
    }

    /// The targets a GHL location feeds, by name.
    pub fn targets_of(&self, location_id: &str) -> impl Iterator<Item = (&str, &Target)> {
        self.targets
            .iter()
            .filter(move |(_, t)| t.location_id == location_id)
            .map(|(name, t)| (name.as_str(), t))
    }

    /// The target an LMS account's own events come from, in a location: the account our GHL → LMS
    /// writes went to, whose webhooks about them must not come back as new writes.
    pub fn target_of_source(&self, source: &SourcePlatform, location_id: &str) -> Option<(&str, &Target)> {
        self.targets_of(location_id)
            .find(|(_, t)| t.source() == source.as_str())
    }

    /// The GHL location the provider's events go to; `None` means the default location.
    pub fn location_of(&self, source: &SourcePlatform) -> Option<&str> {
        self.providers
            .get(source.as_str())
            .and_then(|p| p.location_id.as_deref())
    }

    pub fn contact_source(&self, source: &SourcePlatform) -> String {
        self.contact
            .source
            .clone()
            .unwrap_or_else(|| format!("{source} (LMS sync)"))
    }

    /// The first rule matching a milestone.
    pub fn milestone_rule(&self, milestone: &MilestoneReached) -> Option<&MilestoneRule> {
        self.milestones.iter().find(|rule| {
            rule.kind.matches(milestone.kind)
                && rule.id.as_ref().is_none_or(|id| *id == milestone.milestone_id)
        })
    }

    /// Every GHL custom field key the mapping names (for the location check).
    pub fn custom_field_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .contact
            .custom_fields
            .values()
            .chain(&self.contact.role_field)
            .chain(&self.contact.user_id_field)
            .chain(self.note_added.context_fields.values())
            .chain(self.targets.values().flat_map(|t| {
                let qualify = match &t.qualify {
                    Some(super::targets::Qualify::Field { field, .. }) => Some(field),
                    _ => None,
                };
                t.fields.values().chain(qualify)
            }))
            .filter_map(|f| match f {
                FieldRef::Key(k) => Some(k.clone()),
                FieldRef::Id { .. } => None,
            })
            .chain(
                self.milestones
                    .iter()
                    .flat_map(|m| m.update_fields.keys().cloned()),
            )
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_combine_without_repeats() -> Result<(), String> {
        let mapping = Mapping::parse(
            "[contact]\ntags = [\"a\", \"b\"]\n[providers.skilljar]\ntags = [\"b\", \"sj\"]\n[courses.c1]\ntags = [\"c1\"]\n",
        )?;
        assert_eq!(
            mapping.tags_for(&SourcePlatform::skilljar(), Some("c1"), &["x".into()]),
            ["a", "b", "sj", "c1", "x"]
        );
        Ok(())
    }
}
