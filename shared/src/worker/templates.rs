//! Filling the mapping's task and note templates from an event.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::effects::TaskSpec;
use crate::domain::{CourseRef, LearnerRef, SourcePlatform};
use crate::ghl::NoteFields;
use crate::mapping::{NoteTemplate, Placeholder, TaskTemplate};

/// The values an event offers to templates.
#[derive(Debug, Default)]
pub(crate) struct Values<'a> {
    pub source: Option<&'a SourcePlatform>,
    pub learner: Option<&'a LearnerRef>,
    pub course: Option<&'a CourseRef>,
    pub milestone: Option<(&'a str, &'a str, Option<&'a str>, Option<&'a str>)>,
    pub note: Option<(Option<&'a str>, &'a str, Option<&'a str>)>,
    pub task_title: Option<&'a str>,
    pub occurred_at: Option<OffsetDateTime>,
}

impl Values<'_> {
    pub fn get(&self, placeholder: Placeholder) -> Option<String> {
        let learner = self.learner;
        let text = |v: Option<&str>| v.map(str::to_owned);
        match placeholder {
            Placeholder::Source => self.source.map(ToString::to_string),
            Placeholder::LearnerId => learner.map(|l| l.source_user_id.clone()),
            Placeholder::LearnerEmail => learner.map(|l| l.email.as_str().to_owned()),
            Placeholder::LearnerFirstName => learner.and_then(|l| l.first_name.clone()),
            Placeholder::LearnerLastName => learner.and_then(|l| l.last_name.clone()),
            Placeholder::LearnerName => learner.map(|l| {
                let name = [l.first_name.as_deref(), l.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                if name.is_empty() {
                    l.email.as_str().to_owned()
                } else {
                    name
                }
            }),
            Placeholder::CourseId => self.course.map(|c| c.id.clone()),
            Placeholder::CourseTitle => self.course.and_then(|c| c.title.clone()),
            Placeholder::MilestoneKind => self.milestone.map(|m| m.0.to_owned()),
            Placeholder::MilestoneId => self.milestone.map(|m| m.1.to_owned()),
            Placeholder::MilestoneTitle => self.milestone.map(|m| m.2.unwrap_or(m.1).to_owned()),
            Placeholder::MilestoneScore => self.milestone.and_then(|m| text(m.3)),
            Placeholder::NoteTitle => self.note.and_then(|n| text(n.0)),
            Placeholder::NoteContent => self.note.map(|n| n.1.to_owned()),
            Placeholder::NoteAuthor => self.note.and_then(|n| text(n.2)),
            Placeholder::TaskTitle => text(self.task_title),
            Placeholder::OccurredAt => self.occurred_at.and_then(|t| t.format(&Rfc3339).ok()),
            Placeholder::OccurredDate => self.occurred_at.map(|t| t.date().to_string()),
        }
    }

    /// A task from a template, due `due_in_days` after the event (stable across redeliveries).
    pub fn task(&self, template: &TaskTemplate) -> TaskSpec {
        let at = self.occurred_at.unwrap_or(OffsetDateTime::UNIX_EPOCH);
        TaskSpec {
            title: template.title.get_ref().render(|p| self.get(p)),
            body: template
                .body
                .as_ref()
                .map(|b| b.get_ref().render(|p| self.get(p)))
                .unwrap_or_default(),
            due_date: due(at, template.due_in_days),
            assignee: template.assignee.clone(),
        }
    }

    pub fn note(&self, template: &NoteTemplate) -> NoteFields {
        NoteFields {
            title: template
                .title
                .as_ref()
                .map(|t| t.get_ref().render(|p| self.get(p)))
                .filter(|t| !t.is_empty()),
            body: Some(template.body.get_ref().render(|p| self.get(p))),
            user_id: None,
        }
    }
}

pub(crate) fn due(at: OffsetDateTime, days: i64) -> String {
    (at + Duration::days(days))
        .replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}
