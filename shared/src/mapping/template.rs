//! Task, note and field templates: `{name}` placeholders filled from an event.

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
