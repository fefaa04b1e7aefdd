//! Task, note and field templates: `{name}` placeholders filled from an event. A template is split
//! into its parts once, at load, so that validation and rendering read it the same way.

use serde::Deserialize;

/// Declares `Placeholder` and its names in one list. The worker resolves placeholders with an
/// exhaustive `match`, so a placeholder added here does not compile until it has a value.
macro_rules! placeholders {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        /// A value a template may name as `{name}`; anything else is refused at load time.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Placeholder {
            $($(#[$doc])* $variant,)+
        }

        impl Placeholder {
            /// Every placeholder, in the order error messages list them.
            pub const ALL: &'static [Placeholder] = &[$(Placeholder::$variant),+];

            /// What a template writes between the braces.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Placeholder::$variant => $name,)+
                }
            }
        }
    };
}

placeholders! {
    Source => "source",
    LearnerId => "learner.id",
    LearnerEmail => "learner.email",
    LearnerFirstName => "learner.first_name",
    LearnerLastName => "learner.last_name",
    /// First and last name, or the email when the LMS sent neither.
    LearnerName => "learner.name",
    CourseId => "course.id",
    CourseTitle => "course.title",
    MilestoneKind => "milestone.kind",
    MilestoneId => "milestone.id",
    /// The title, or the id when the LMS sent none.
    MilestoneTitle => "milestone.title",
    MilestoneScore => "milestone.score",
    /// RFC 3339.
    OccurredAt => "occurred_at",
    OccurredDate => "occurred_date",
    NoteTitle => "note.title",
    NoteContent => "note.content",
    NoteAuthor => "note.author",
    TaskTitle => "task.title",
}

impl Placeholder {
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.name() == name)
    }
}

/// A template's text as literal runs and `{name}`s. An unknown name is kept (rather than refused
/// by serde) so that validation can report it with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Placeholder),
    Unknown(String),
}

impl Template {
    /// A `{` without a closing `}` is text.
    pub fn parse(text: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some((before, after)) = rest.split_once('{') {
            let Some((name, next)) = after.split_once('}') else {
                break;
            };
            if !before.is_empty() {
                parts.push(Part::Text(before.to_owned()));
            }
            parts.push(match Placeholder::from_name(name) {
                Some(placeholder) => Part::Value(placeholder),
                None => Part::Unknown(name.to_owned()),
            });
            rest = next;
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Template { parts }
    }

    /// The `{name}`s no placeholder has.
    pub fn unknown(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Unknown(name) => Some(name.as_str()),
            Part::Text(_) | Part::Value(_) => None,
        })
    }

    /// Fills the placeholders; unknown names and missing values render as "".
    pub fn render(&self, value: impl Fn(Placeholder) -> Option<String>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Value(placeholder) => out.push_str(&value(*placeholder).unwrap_or_default()),
                Part::Unknown(_) => {}
            }
        }
        out
    }
}

impl From<String> for Template {
    fn from(text: String) -> Self {
        Template::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_known_values_and_blank_unknown_ones() {
        let value = |placeholder: Placeholder| match placeholder {
            Placeholder::LearnerFirstName => Some("Ada".to_owned()),
            _ => None,
        };
        let render = |text: &str| Template::parse(text).render(value);
        assert_eq!(
            render("Call {learner.first_name} about {course.title}."),
            "Call Ada about ."
        );
        assert_eq!(render("no placeholders"), "no placeholders");
        assert_eq!(render("dangling {brace"), "dangling {brace");
        assert_eq!(render("{learner.nickname}!"), "!");
        let template = Template::parse("{a} and {b.c}");
        let names: Vec<_> = template.unknown().collect();
        assert_eq!(names, ["a", "b.c"]);
    }

    #[test]
    fn every_placeholder_is_found_by_its_name() {
        for &placeholder in Placeholder::ALL {
            assert_eq!(Placeholder::from_name(placeholder.name()), Some(placeholder));
            let template = Template::parse(&format!("<{{{}}}>", placeholder.name()));
            assert_eq!(template.unknown().count(), 0);
            assert_eq!(template.render(|_| Some("v".into())), "<v>");
        }
    }
}
