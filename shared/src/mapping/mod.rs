//! The per-deployment mapping (`config/mapping.toml`, built in; `MAPPING_FILE` overrides): what
//! an LMS event becomes in GHL — contact fields, tags, task and note templates, milestone rules.
//! Validated at cold start; every error names its line.

mod model;
mod targets;
mod template;
mod validate;

use std::path::Path;

pub use model::{
    ContactRules, KindMatch, LearnerCreatedRules, LearningRecords, Mapping, MilestoneRule, NoteAddedRules,
    NoteTemplate, ProviderRules, TagRule, TaskTemplate,
};
pub use targets::{OnDelete, Platform, Qualify, ReconcileFilter, TagGrant, Target};
pub use template::{Placeholder, Template};

/// `config/mapping.toml` as it was when the binary was built.
pub const BUNDLED: &str = include_str!("../../../config/mapping.toml");

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("cannot read mapping file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("mapping file {path} is invalid: {message}")]
    Invalid { path: String, message: String },
}

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
    fn the_bundled_learning_records_example_is_valid_once_uncommented() -> Result<(), String> {
        let start = BUNDLED
            .find("# [learning_records]")
            .ok_or("no learning records example")?;
        let uncommented: String = BUNDLED[start..]
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| !l.starts_with(' '))
            .map(|l| format!("{l}\n"))
            .collect();
        let mapping = Mapping::parse(&format!("{}{uncommented}", &BUNDLED[..start]))?;
        let records = mapping.learning_records.ok_or("not parsed")?;
        assert_eq!(records.object().key, "custom_objects.course_enrollments");
        assert_eq!(
            records.object().fields.len(),
            crate::learning::RecordField::ALL.len()
        );
        assert_eq!(records.debounce_seconds, 300);
        Ok(())
    }

    #[test]
    fn the_bundled_file_documents_every_placeholder() {
        for placeholder in Placeholder::ALL {
            let written = format!("{{{}}}", placeholder.name());
            assert!(
                BUNDLED.contains(&written),
                "{written} is missing from config/mapping.toml"
            );
        }
    }
}
