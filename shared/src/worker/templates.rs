//! Filling the mapping's task and note templates from an event.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::effects::TaskSpec;
use crate::domain::{CourseRef, LearnerRef, SourcePlatform};
use crate::ghl::NoteFields;
use crate::mapping::{NoteTemplate, TaskTemplate, render};

/// The values an event offers to templates (see `mapping::PLACEHOLDERS`).
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
    pub fn get(&self, name: &str) -> Option<String> {
        let learner = self.learner;
        let text = |v: Option<&str>| v.map(str::to_owned);
        match name {
            "source" => self.source.map(ToString::to_string),
            "learner.id" => learner.map(|l| l.source_user_id.clone()),
            "learner.email" => learner.map(|l| l.email.as_str().to_owned()),
            "learner.first_name" => learner.and_then(|l| l.first_name.clone()),
            "learner.last_name" => learner.and_then(|l| l.last_name.clone()),
            "learner.name" => learner.map(|l| {
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
            "course.id" => self.course.map(|c| c.id.clone()),
            "course.title" => self.course.and_then(|c| c.title.clone()),
            "milestone.kind" => self.milestone.map(|m| m.0.to_owned()),
            "milestone.id" => self.milestone.map(|m| m.1.to_owned()),
            "milestone.title" => self.milestone.map(|m| m.2.unwrap_or(m.1).to_owned()),
            "milestone.score" => self.milestone.and_then(|m| text(m.3)),
            "note.title" => self.note.and_then(|n| text(n.0)),
            "note.content" => self.note.map(|n| n.1.to_owned()),
            "note.author" => self.note.and_then(|n| text(n.2)),
            "task.title" => text(self.task_title),
            "occurred_at" => self.occurred_at.and_then(|t| t.format(&Rfc3339).ok()),
            "occurred_date" => self.occurred_at.map(|t| t.date().to_string()),
            _ => None,
        }
    }

    /// A task from a template, due `due_in_days` after the event (stable across redeliveries).
    pub fn task(&self, template: &TaskTemplate) -> TaskSpec {
        let at = self.occurred_at.unwrap_or(OffsetDateTime::UNIX_EPOCH);
        TaskSpec {
            title: render(template.title.get_ref(), |n| self.get(n)),
            body: template
                .body
                .as_ref()
                .map(|b| render(b.get_ref(), |n| self.get(n)))
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
                .map(|t| render(t.get_ref(), |n| self.get(n)))
                .filter(|t| !t.is_empty()),
            body: Some(render(template.body.get_ref(), |n| self.get(n))),
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
