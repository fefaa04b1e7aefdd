//! `skilljar subscribe | unsubscribe`: Skilljar's webhook subscriptions for our endpoints, through
//! its webhooks API (`/v1/webhooks`), with the Basic credentials the ingest checks (the webhook
//! secret's `skilljar.basicAuth`). Subscribing again changes nothing; unsubscribing removes only
//! the subscriptions that point at our API.

use lms_ghl::lms::{LmsError, SkilljarClient};
use secrecy::SecretString;

/// Which of Skilljar's event types each of our routes takes (the ingest's Skilljar provider; the
/// README's table): an enrollment goes to both, creating the learner and starting the course.
pub const ROUTES: &[(&str, &[&str])] = &[
    (
        "learner-created/skilljar",
        &["COURSE_ENROLLMENT", "DOMAIN_ENROLLMENT"],
    ),
    (
        "milestone-completed/skilljar",
        &[
            "COURSE_ENROLLMENT",
            "COURSE_COMPLETION",
            "LESSON_COMPLETION",
            "QUIZ_COMPLETION",
            "PATH_ENROLLMENT",
            "PATH_COMPLETION",
        ],
    ),
];

/// What a subscribe or unsubscribe did: `(target URL, event type)` pairs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub created: Vec<(String, String)>,
    pub kept: Vec<(String, String)>,
    pub deleted: Vec<(String, String)>,
}

fn target(api_url: &str, route: &str) -> String {
    format!("{}/{route}", api_url.trim_end_matches('/'))
}

/// Subscribes each route to its event types at `api_url` (the stack's `ApiUrl`), skipping those
/// subscribed already.
pub async fn subscribe(
    client: &SkilljarClient,
    api_url: &str,
    basic_auth: (&str, &SecretString),
) -> Result<Changes, LmsError> {
    let existing = client.webhooks().await?;
    let mut changes = Changes::default();
    for (route, event_types) in ROUTES {
        let url = target(api_url, route);
        for event_type in *event_types {
            let pair = (url.clone(), (*event_type).to_owned());
            if existing
                .iter()
                .any(|w| w.active && w.target_url == url && w.event_type.as_deref() == Some(event_type))
            {
                changes.kept.push(pair);
                continue;
            }
            client.create_webhook(&url, event_type, basic_auth).await?;
            changes.created.push(pair);
        }
    }
    Ok(changes)
}

/// Deletes every subscription whose target is under `api_url`; others' stay.
pub async fn unsubscribe(client: &SkilljarClient, api_url: &str) -> Result<Changes, LmsError> {
    let prefix = format!("{}/", api_url.trim_end_matches('/'));
    let mut changes = Changes::default();
    for hook in client.webhooks().await? {
        if hook.target_url.starts_with(&prefix) {
            client.delete_webhook(&hook.id).await?;
            changes
                .deleted
                .push((hook.target_url, hook.event_type.unwrap_or_else(|| "all".into())));
        }
    }
    Ok(changes)
}

/// The Basic credentials the ingest expects from Skilljar, from the webhook secret document.
pub fn basic_auth(webhook_secret: &SecretString) -> Result<(String, SecretString), LmsError> {
    use secrecy::ExposeSecret;
    let missing = || LmsError::Rejected {
        platform: "skilljar",
        status: 0,
        message: "the webhook secret has no skilljar.basicAuth username and password".into(),
    };
    let doc: serde_json::Value =
        serde_json::from_str(webhook_secret.expose_secret()).map_err(|_| missing())?;
    let auth = &doc["skilljar"]["basicAuth"];
    match (auth["username"].as_str(), auth["password"].as_str()) {
        (Some(user), Some(password)) => Ok((user.to_owned(), SecretString::from(password.to_owned()))),
        _ => Err(missing()),
    }
}
