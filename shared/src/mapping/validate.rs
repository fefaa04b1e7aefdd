//! Checks serde cannot make: references between sections, non-empty names, known placeholders.

use super::Mapping;
use super::template::Placeholder;
use crate::domain::FieldRef;

impl Mapping {
    pub(super) fn validate(&self, text: &str) -> Result<(), String> {
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
            if let Some(unknown) = template.get_ref().unknown().next() {
                let known: Vec<&str> = Placeholder::ALL.iter().map(|p| p.name()).collect();
                return Err(format!(
                    "line {}: unknown placeholder {{{unknown}}}; known: {}",
                    at(template.span()),
                    known.join(", ")
                ));
            }
        }
        for (name, target) in &self.targets {
            target.validate(name, at)?;
        }
        if let Some(records) = &self.learning_records {
            validate_records(records, at)?;
        }
        Ok(())
    }
}

fn validate_records(
    records: &super::LearningRecords,
    at: impl Fn(std::ops::Range<usize>) -> usize,
) -> Result<(), String> {
    use crate::learning::RecordField;
    let key = records.object_key.get_ref();
    let short = key
        .strip_prefix(crate::ghl::enrollments::OBJECT_PREFIX)
        .unwrap_or(key);
    let lower_snake = !short.is_empty()
        && short
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !lower_snake {
        return Err(format!(
            "line {}: learning_records.object_key {key:?} must be lowercase letters, digits and '_' (after custom_objects.)",
            at(records.object_key.span())
        ));
    }
    for field in &records.fields {
        if RecordField::parse(field.get_ref()).is_none() {
            let known: Vec<&str> = RecordField::ALL.iter().map(|f| f.name()).collect();
            return Err(format!(
                "line {}: unknown learning record field {:?}; known: {}",
                at(field.span()),
                field.get_ref(),
                known.join(", ")
            ));
        }
    }
    for provider in &records.providers {
        if crate::domain::SourcePlatform::try_from(provider.get_ref().clone()).is_err() {
            return Err(format!(
                "line {}: learning_records.providers: {:?} is not a provider slug",
                at(provider.span()),
                provider.get_ref()
            ));
        }
    }
    Ok(())
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

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
            (
                "[learning_records]\n\nfields = [\"status\", \"grade\"]\n",
                "line 3: unknown learning record field \"grade\"",
            ),
            (
                "[learning_records]\nobject_key = \"Course Enrollments\"\n",
                "line 2: learning_records.object_key",
            ),
            (
                "[learning_records]\nproviders = [\"Skilljar\"]\n",
                "line 2: learning_records.providers",
            ),
        ];
        for (text, expected) in cases {
            let err = Mapping::parse(text).err().unwrap_or_default();
            assert!(err.contains(expected), "{text:?} → {err}");
        }
        assert!(Mapping::parse("[contact.custom_fields]\nx = \"\"\n").is_err());
    }

    const TARGET: &str =
        "[targets.academy]\nplatform = \"skilljar\"\nsecret_id = \"lms/sj\"\nlocation_id = \"loc1\"\n";

    #[test]
    fn targets_are_read_with_their_rules() -> Result<(), String> {
        let text = format!(
            "{TARGET}default_courses = [\"c1\"]\nqualify = {{ tag = \"lms\" }}\n[targets.academy.fields]\ndept = \"department\"\n[[targets.academy.tag_rules]]\ntag = \"vip\"\ngroup = \"g-vip\"\nremove_when_untagged = true\n[targets.notes]\nplatform = \"outbound\"\nsecret_id = \"lms/out\"\nlocation_id = \"loc1\"\n"
        );
        let mapping = Mapping::parse(&text)?;
        let names: Vec<&str> = mapping.targets_of("loc1").map(|(n, _)| n).collect();
        assert_eq!(names, ["academy", "notes"]);
        assert_eq!(mapping.targets_of("other").count(), 0);
        let (_, academy) = mapping
            .target_of_source(&crate::domain::SourcePlatform::skilljar(), "loc1")
            .ok_or("no skilljar target")?;
        assert_eq!(academy.default_courses, ["c1"]);
        assert_eq!(
            academy.tag_rules[0].get_ref().membership(),
            Some(crate::domain::Membership::Group("g-vip".into()))
        );
        Ok(())
    }

    #[test]
    fn target_errors_name_the_line() {
        let cases = [
            (
                format!("{TARGET}source = \"Skill Jar\"\n"),
                "line 2: [targets.academy] source must be a slug",
            ),
            (
                format!(
                    "{}default_courses = [\"c1\"]\n",
                    TARGET.replace("skilljar", "outbound")
                ),
                "line 2: [targets.academy] is outbound: default_courses and tag_rules",
            ),
            (format!("{TARGET}url = \"https://x\"\n"), "line 5"),
            (
                format!("{TARGET}\n[[targets.academy.tag_rules]]\ntag = \"vip\"\nrole = \"r\"\n"),
                "line 6: skilljar cannot grant a role; it grants: group",
            ),
            (
                format!(
                    "{TARGET}[[targets.academy.tag_rules]]\ntag = \"vip\"\ngroup = \"g\"\nbranch = \"b\"\n"
                ),
                "line 5: a tag rule grants exactly one of group",
            ),
            (TARGET.replace("skilljar", "moodle"), "line 2"),
            (format!("{TARGET}colour = \"blue\"\n"), "line 5"),
        ];
        for (text, expected) in cases {
            let err = Mapping::parse(&text).err().unwrap_or_default();
            assert!(err.contains(expected), "{text:?} → {err}");
        }
    }
}
