//! Turns serde errors into messages that name *where* a document is wrong without quoting what
//! it holds: bodies carry learners' personal data, secrets carry tokens.

/// The kind of a serde_json failure in a few words, never quoting the document.
pub fn kind(err: &serde_json::Error) -> &'static str {
    match err.classify() {
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Eof => "unexpected end of input",
        serde_json::error::Category::Data => "unexpected shape",
        serde_json::error::Category::Io => "unreadable",
    }
}

/// `field` is the JSON path (`user.email`), or `.` for the document itself.
pub fn describe(err: serde_path_to_error::Error<serde_json::Error>) -> (String, String) {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let problem = match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!(
                "not valid JSON (line {}, column {})",
                inner.line(),
                inner.column()
            )
        }
        serde_json::error::Category::Data => describe_data_error(&inner.to_string()),
        serde_json::error::Category::Io => "unreadable".to_owned(),
    };
    (path, problem)
}

fn describe_data_error(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("missing field ") {
        let field = rest.split_whitespace().next().unwrap_or_default();
        format!("missing field {field}")
    } else if let Some(rest) = message.strip_prefix("unknown field ") {
        let field = rest.split(',').next().unwrap_or_default();
        format!("unknown field {field}")
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        // "unknown variant `x`, expected one of `a`, `b`": the expectation names only our values.
        match rest.split_once("expected ") {
            Some((_, expected)) => {
                let expected = expected.split(" at line").next().unwrap_or(expected);
                format!("unknown value, expected {expected}")
            }
            None => "unknown value".to_owned(),
        }
    } else if message.starts_with("data did not match any variant of untagged enum") {
        "wrong type".to_owned()
    } else if let Some(rest) = message.strip_prefix("invalid type: ") {
        // "invalid type: string \"x\", expected a sequence": keep the kind and the expectation.
        let found = rest.split_whitespace().next().unwrap_or("value");
        let expected = rest
            .rsplit_once("expected ")
            .map(|(_, e)| e)
            .unwrap_or("another type");
        let expected = expected.split(" at line").next().unwrap_or(expected);
        format!("wrong type: found {found}, expected {expected}")
    } else {
        "invalid value".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_name_the_failure() {
        let kind_of = |text: &str| serde_json::from_str::<Vec<u8>>(text).err().map(|e| kind(&e));
        assert_eq!(kind_of("[1,"), Some("unexpected end of input"));
        assert_eq!(kind_of("[1 2]"), Some("syntax error"));
        assert_eq!(kind_of("{\"a\":1}"), Some("unexpected shape"));
    }
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        user: User,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct User {
        email: String,
        tags: Vec<String>,
    }

    fn parse(text: &str) -> (String, String) {
        let mut de = serde_json::Deserializer::from_str(text);
        match serde_path_to_error::deserialize::<_, Doc>(&mut de) {
            Ok(doc) => panic!("parsed {doc:?}"),
            Err(err) => describe(err),
        }
    }

    #[test]
    fn names_the_path_and_hides_the_value() {
        let (path, problem) = parse(r#"{"user":{"email":"ada@example.com","tags":"secret-tag"}}"#);
        assert_eq!(path, "user.tags");
        assert_eq!(problem, "wrong type: found string, expected a sequence");
        let (path, problem) = parse(r#"{"user":{"tags":[]}}"#);
        assert_eq!(
            (path.as_str(), problem.as_str()),
            ("user", "missing field `email`")
        );
        let (_, problem) = parse(r#"{"user": {"#);
        assert!(problem.starts_with("not valid JSON (line 1"), "{problem}");
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Typed {
        kind: Kind,
        value: Loose,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Course,
        Lesson,
    }

    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Loose {
        Text(String),
        Number(f64),
    }

    fn parse_typed(text: &str) -> (String, String) {
        let mut de = serde_json::Deserializer::from_str(text);
        match serde_path_to_error::deserialize::<_, Typed>(&mut de) {
            Ok(doc) => panic!("parsed {doc:?}"),
            Err(err) => describe(err),
        }
    }

    #[test]
    fn enums_say_what_they_expect_and_hide_the_value() {
        let (path, problem) = parse_typed(r#"{"kind":"private-value","value":1}"#);
        assert_eq!(path, "kind");
        assert_eq!(problem, "unknown value, expected `course` or `lesson`");
        let (path, problem) = parse_typed(r#"{"kind":"course","value":{"private":"value"}}"#);
        assert_eq!((path.as_str(), problem.as_str()), ("value", "wrong type"));
    }
}
