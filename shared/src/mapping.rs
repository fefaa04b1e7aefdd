//! The per-deployment mapping (`config/mapping.toml`, built in; `MAPPING_FILE` overrides): what
//! an LMS event becomes in GHL — contact fields, tags, task and note templates, milestone rules.
//! Validated at cold start; every error names its line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::domain::{FieldRef, LearnerCreated, MilestoneKind, MilestoneReached, SourcePlatform};

/// `config/mapping.toml` as it was when the binary was built.
pub const BUNDLED: &str = include_str!("../../config/mapping.toml");

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
    pub update_fields: BTreeMap<String, Spanned<String>>,
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
    pub title: Spanned<String>,
    #[serde(default)]
    pub body: Option<Spanned<String>>,
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
    pub title: Option<Spanned<String>>,
    pub body: Spanned<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("cannot read mapping file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("mapping file {path} is invalid: {message}")]
    Invalid { path: String, message: String },
}

/// Placeholders a template may use; anything else is refused at load time.
pub const PLACEHOLDERS: &[&str] = &[
    "source",
    "learner.id",
    "learner.email",
    "learner.first_name",
    "learner.last_name",
    "learner.name",
    "course.id",
    "course.title",
    "milestone.kind",
    "milestone.id",
    "milestone.title",
    "milestone.score",
    "occurred_at",
    "occurred_date",
    "note.title",
    "note.content",
    "note.author",
    "task.title",
];

impl Mapping {
    pub fn bundled() -> Result<Self, MappingError> {
        Self::parse(BUNDLED).map_err(|message| MappingError::Invalid {
            path: "config/mapping.toml (bundled)".into(),
            message,
        })
    }

    pub fn load(path: &Path) -> Result<Self, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| MappingError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses and validates; errors carry the line (and column) of the problem.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mapping: Mapping = toml::from_str(text).map_err(|e| e.to_string().trim().to_owned())?;
        mapping.validate(text)?;
        Ok(mapping)
    }

    fn validate(&self, text: &str) -> Result<(), String> {
        let at = |span: std::ops::Range<usize>| line_of(text, span.start);
        let tags = self
            .contact
            .tags
            .iter()
            .chain(self.providers.values().flat_map(|p| &p.tags))
            .chain(self.courses.values().flat_map(|c| &c.tags))
            .chain(self.milestones.iter().flat_map(|m| &m.tags));
        if tags.into_iter().any(|t| t.trim().is_empty()) {
            return Err("tags must not be empty strings".into());
        }
        let fields = self
            .contact
            .custom_fields
            .iter()
            .chain(&self.note_added.context_fields)
            .map(|(k, f)| (k.as_str(), f))
            .chain(self.contact.role_field.iter().map(|f| ("role_field", f)))
            .chain(self.contact.user_id_field.iter().map(|f| ("user_id_field", f)));
        for (name, field) in fields {
            let empty = match field {
                FieldRef::Key(k) => k.trim().is_empty(),
                FieldRef::Id { id } => id.trim().is_empty(),
            };
            if empty {
                return Err(format!(
                    "{name}: a GHL custom field key or {{ id = \"…\" }} is required"
                ));
            }
        }
        let task_refs = self.learner_created.tasks.iter().chain(
            self.milestones
                .iter()
                .flat_map(|m| m.on_start.iter().chain(m.task.iter())),
        );
        for reference in task_refs {
            if !self.task_templates.contains_key(reference.get_ref()) {
                return Err(format!(
                    "line {}: no [task_templates.{}]",
                    at(reference.span()),
                    reference.get_ref()
                ));
            }
        }
        let note_refs = self
            .milestones
            .iter()
            .filter_map(|m| m.note.as_ref())
            .chain(self.note_added.template.iter());
        for reference in note_refs {
            if !self.note_templates.contains_key(reference.get_ref()) {
                return Err(format!(
                    "line {}: no [note_templates.{}]",
                    at(reference.span()),
                    reference.get_ref()
                ));
            }
        }
        let templates = self
            .task_templates
            .values()
            .flat_map(|t| std::iter::once(&t.title).chain(t.body.iter()))
            .chain(
                self.note_templates
                    .values()
                    .flat_map(|n| n.title.iter().chain(std::iter::once(&n.body))),
            )
            .chain(self.milestones.iter().flat_map(|m| m.update_fields.values()));
        for template in templates {
            if let Some(unknown) = placeholders(template.get_ref()).find(|p| !PLACEHOLDERS.contains(p)) {
                return Err(format!(
                    "line {}: unknown placeholder {{{unknown}}}; known: {}",
                    at(template.span()),
                    PLACEHOLDERS.join(", ")
                ));
            }
        }
        Ok(())
    }

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

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

/// The `{name}` placeholders of a template.
pub fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

/// Fills a template's placeholders; unknown or empty values render as "".
pub fn render(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        match rest[start + 1..].find('}') {
            Some(end) => {
                let name = &rest[start + 1..start + 1 + end];
                out.push_str(&value(name).unwrap_or_default());
                rest = &rest[start + end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_example_is_valid() -> Result<(), String> {
        let mapping = Mapping::parse(BUNDLED)?;
        assert!(!mapping.milestones.is_empty());
        assert!(!mapping.task_templates.is_empty());
        assert_eq!(
            mapping.custom_field_keys(),
            ["department", "last_course", "lms_role", "lms_user_id"]
        );
        Ok(())
    }

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

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("[contact]\ntags = [\"a\"]\nunknown_key = 1\n", "line 3"),
            ("[contact]\ntags = \"a\"\n", "line 2"),
            (
                "[learner_created]\n\ntasks = [\"nope\"]\n",
                "line 3: no [task_templates.nope]",
            ),
            (
                "[[milestones]]\nkind = \"course\"\nnote = \"missing\"\n",
                "line 3: no [note_templates.missing]",
            ),
            (
                "[task_templates.t]\ntitle = \"Hi {learner.nickname}\"\n",
                "line 2: unknown placeholder {learner.nickname}",
            ),
            ("[[milestones]]\nkind = \"module\"\n", "line 2"),
        ];
        for (text, expected) in cases {
            let err = Mapping::parse(text).err().unwrap_or_default();
            assert!(err.contains(expected), "{text:?} → {err}");
        }
        assert!(Mapping::parse("[contact.custom_fields]\nx = \"\"\n").is_err());
    }

    #[test]
    fn templates_render_known_values_and_blank_unknown_ones() {
        let value = |name: &str| match name {
            "learner.first_name" => Some("Ada".to_owned()),
            _ => None,
        };
        assert_eq!(
            render("Call {learner.first_name} about {course.title}.", value),
            "Call Ada about ."
        );
        assert_eq!(render("no placeholders", value), "no placeholders");
        assert_eq!(render("dangling {brace", value), "dangling {brace");
        let names: Vec<_> = placeholders("{a} and {b.c}").collect();
        assert_eq!(names, ["a", "b.c"]);
    }
}
