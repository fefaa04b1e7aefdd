//! Settings from the environment, read once per cold start. Every variable is listed in the
//! README; a missing required one stops the function with its name.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {problem}")]
    Invalid { name: &'static str, problem: String },
}

/// Reads a variable through a lookup function, so tests need not touch the process environment.
pub struct Env<F: Fn(&str) -> Option<String>>(pub F);

impl Env<fn(&str) -> Option<String>> {
    pub fn process() -> Self {
        Env(|name| std::env::var(name).ok())
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    pub fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn seconds(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        match self.optional(name) {
            None => Ok(Duration::from_secs(default)),
            Some(v) => v
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|e| ConfigError::Invalid {
                    name,
                    problem: e.to_string(),
                }),
        }
    }
}

/// What both kinds of function share.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    /// `TABLE_NAME`: idempotency records and the entity map.
    pub table_name: String,
    /// `IDEMPOTENCY_TTL_SECS` (default 7 days): how long a completed delivery is remembered.
    pub idempotency_ttl: Duration,
    /// `SECRET_CACHE_TTL_SECS` (default 300): how long a secret is cached before a re-read.
    pub secret_cache_ttl: Duration,
}

impl CommonSettings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            idempotency_ttl: env.seconds("IDEMPOTENCY_TTL_SECS", 7 * 24 * 3600)?,
            secret_cache_ttl: env.seconds("SECRET_CACHE_TTL_SECS", 300)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub common: CommonSettings,
    /// `WEBHOOK_SECRET_ID`: the webhook credentials document.
    pub webhook_secret_id: String,
}

impl IngestSettings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            common: CommonSettings::from_env(env)?,
            webhook_secret_id: env.required("WEBHOOK_SECRET_ID")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub common: CommonSettings,
    /// `DEAD_LETTER_QUEUE_URL`: where permanently failing messages are parked.
    pub dead_letter_queue_url: String,
    /// `GHL_SECRET_ID`: one GHL secret (a location's PIT or OAuth tokens), or several separated
    /// by commas for a deployment that feeds several locations; the first is the default.
    pub ghl_secret_ids: Vec<String>,
    /// `GHL_BASE_URL` (default `https://services.leadconnectorhq.com`).
    pub ghl_base_url: String,
    /// `GHL_TIMEOUT_SECS` (default 30).
    pub ghl_timeout: Duration,
    /// `MAPPING_FILE` (optional): a mapping file read at cold start instead of the built-in
    /// `config/mapping.toml`.
    pub mapping_file: Option<PathBuf>,
    /// `SKILLJAR_BASE_URL`, `TALENTLMS_BASE_URL`, `TRAINUAL_BASE_URL` (optional, by platform):
    /// another host for an LMS API, e.g. the local LMS sandbox; each platform's own by default.
    pub lms_base_urls: std::collections::BTreeMap<&'static str, String>,
    /// `BUDGET_PRIORITY` (`realtime`, default, or `background`): a worker reading the batch
    /// queue yields the shared GHL and LMS budgets to realtime traffic that is waiting.
    pub background: bool,
    /// `DEADLINE_FALLBACK_SECS` (default 120): how long an invocation is taken to last when the
    /// runtime reports no usable deadline. Lambda always reports one; `cargo lambda watch` does
    /// not, so `scripts/run` sets it to keep the local claim lifetime below the local queue's
    /// visibility timeout, as the template keeps them.
    pub deadline_fallback: Duration,
}

impl WorkerSettings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            common: CommonSettings::from_env(env)?,
            dead_letter_queue_url: env.required("DEAD_LETTER_QUEUE_URL")?,
            ghl_secret_ids: env
                .required("GHL_SECRET_ID")?
                .split(',')
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty())
                .collect(),
            ghl_base_url: env
                .optional("GHL_BASE_URL")
                .unwrap_or_else(|| "https://services.leadconnectorhq.com".to_owned()),
            ghl_timeout: env.seconds("GHL_TIMEOUT_SECS", 30)?,
            mapping_file: env.optional("MAPPING_FILE").map(PathBuf::from),
            lms_base_urls: [
                ("skilljar", "SKILLJAR_BASE_URL"),
                ("talentlms", "TALENTLMS_BASE_URL"),
                ("trainual", "TRAINUAL_BASE_URL"),
            ]
            .into_iter()
            .filter_map(|(platform, name)| env.optional(name).map(|url| (platform, url)))
            .collect(),
            deadline_fallback: env
                .seconds("DEADLINE_FALLBACK_SECS", crate::worker::CLAIM_FALLBACK.as_secs())?,
            background: match env.optional("BUDGET_PRIORITY").as_deref() {
                None | Some("realtime") => false,
                Some("background") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "BUDGET_PRIORITY",
                        problem: format!("{other:?} is neither realtime nor background"),
                    });
                }
            },
        })
    }
}

/// The daily batch: the worker's GHL, mapping and LMS settings (it parks nothing, so no
/// dead-letter queue), and its two queues.
#[derive(Debug, Clone)]
pub struct BatchSettings {
    pub api: WorkerSettings,
    /// `BATCH_QUEUE_URL`: where the changes go (the worker reads it with a lower concurrency).
    pub batch_queue_url: String,
    /// `CONTINUATION_QUEUE_URL`: where a run that outlasts its invocation hands itself on.
    pub continuation_queue_url: String,
}

impl BatchSettings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let api = WorkerSettings::from_env(&Env(|name: &str| match name {
            "DEAD_LETTER_QUEUE_URL" => Some("-".to_owned()),
            // Always background: the batch must never crowd out the webhooks.
            "BUDGET_PRIORITY" => Some("background".to_owned()),
            other => (env.0)(other),
        }))?;
        Ok(Self {
            api,
            batch_queue_url: env.required("BATCH_QUEUE_URL")?,
            continuation_queue_url: env.required("CONTINUATION_QUEUE_URL")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_invalid_variables_are_named() {
        let env = Env(|name: &str| match name {
            "TABLE_NAME" => Some("t".to_owned()),
            "IDEMPOTENCY_TTL_SECS" => Some("soon".to_owned()),
            _ => None,
        });
        let err = IngestSettings::from_env(&env)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("IDEMPOTENCY_TTL_SECS"), "{err}");
        let env = Env(|name: &str| (name == "TABLE_NAME").then(|| "t".to_owned()));
        let err = IngestSettings::from_env(&env)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(err, "environment variable WEBHOOK_SECRET_ID is required");
    }
}
