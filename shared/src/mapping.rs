//! The per-deployment mapping file (`config/mapping.toml`, built in; `MAPPING_FILE` overrides): which tags and GHL custom fields an
//! LMS event turns into. Validated at cold start; errors name the line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::domain::LearnerCreated;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default)]
    pub learner_created: LearnerCreatedRules,
    /// LMS custom field key → GHL custom field id. Unlisted LMS fields are not sent.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnerCreatedRules {
    /// The GHL contact's `source`; defaults to "<provider> (LMS sync)".
    #[serde(default)]
    pub source: Option<String>,
    /// Tags for every new learner.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Extra tags by provider slug (`skilljar`, `talentlms`, …).
    #[serde(default)]
    pub providers: BTreeMap<String, TagRule>,
    /// Extra tags by the LMS's course id.
    #[serde(default)]
    pub courses: BTreeMap<String, TagRule>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRule {
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("cannot read mapping file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("mapping file {path} is invalid: {message}")]
    Invalid { path: String, message: String },
}

/// `config/mapping.toml` as it was when the binary was built: the deployment's mapping unless
/// `MAPPING_FILE` names another file.
pub const BUNDLED: &str = include_str!("../../config/mapping.toml");

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

    /// Parses and validates; the error text carries TOML's line and column.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mapping: Mapping = toml::from_str(text).map_err(|e| e.to_string().trim().to_owned())?;
        let all_tags = mapping
            .learner_created
            .tags
            .iter()
            .chain(mapping.learner_created.providers.values().flat_map(|r| &r.tags))
            .chain(mapping.learner_created.courses.values().flat_map(|r| &r.tags));
        for tag in all_tags {
            if tag.trim().is_empty() {
                return Err("tags must not be empty strings".into());
            }
        }
        if let Some((key, _)) = mapping.custom_fields.iter().find(|(_, id)| id.trim().is_empty()) {
            return Err(format!("custom_fields.{key} needs a GHL custom field id"));
        }
        Ok(mapping)
    }

    /// Tags for a new learner: global, then provider, then course; each once, in that order.
    pub fn learner_tags(&self, learner: &LearnerCreated) -> Vec<String> {
        let rules = &self.learner_created;
        let provider = rules
            .providers
            .get(learner.source.as_str())
            .map(|r| r.tags.as_slice())
            .unwrap_or(&[]);
        let course = learner
            .course
            .as_ref()
            .and_then(|c| rules.courses.get(&c.id))
            .map(|r| r.tags.as_slice())
            .unwrap_or(&[]);
        let mut tags: Vec<String> = Vec::new();
        for tag in rules.tags.iter().chain(provider).chain(course) {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        tags
    }

    pub fn contact_source(&self, learner: &LearnerCreated) -> String {
        self.learner_created
            .source
            .clone()
            .unwrap_or_else(|| format!("{} (LMS sync)", learner.source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CourseRef, Email, SourcePlatform};

    const EXAMPLE: &str = BUNDLED;

    fn learner(source: &str, course: Option<&str>) -> LearnerCreated {
        LearnerCreated {
            source: SourcePlatform::try_from(source.to_owned())
                .unwrap_or_else(|_| SourcePlatform::skilljar()),
            source_user_id: "u1".into(),
            email: Email::try_from("a@example.com".to_owned()).unwrap_or_else(|e| panic!("{e}")),
            first_name: None,
            last_name: None,
            phone: None,
            role: None,
            course: course.map(|id| CourseRef {
                id: id.into(),
                title: None,
            }),
            occurred_at: time::OffsetDateTime::UNIX_EPOCH,
            custom_fields: Default::default(),
        }
    }

    #[test]
    fn example_file_parses_and_tags_combine_without_repeats() -> Result<(), String> {
        let mapping = Mapping::parse(EXAMPLE)?;
        let tags = mapping.learner_tags(&learner("skilljar", Some("2wzplz3bmtxpa")));
        assert_eq!(tags, ["lms-learner", "skilljar", "course-onboarding-101"]);
        assert_eq!(
            mapping.learner_tags(&learner("talentlms", None)),
            ["lms-learner", "talentlms"]
        );
        assert_eq!(mapping.contact_source(&learner("skilljar", None)), "LMS sync");
        Ok(())
    }

    #[test]
    fn errors_name_the_line() {
        let err = Mapping::parse("[learner_created]\ntags = [\"a\"]\nunknown_key = 1\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("unknown_key"), "{err}");
        let err = Mapping::parse("[learner_created]\ntags = \"a\"\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("line 2"), "{err}");
        assert!(Mapping::parse("[custom_fields]\nx = \"\"\n").is_err());
    }
}
