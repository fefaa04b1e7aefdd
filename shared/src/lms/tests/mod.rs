//! Request shapes, repeat-safety, call counts and error mapping of the LMS clients and outbound
//! destinations, against wiremock.

mod outbound;
mod skilljar;
mod talentlms;
mod trainual;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde::de::DeserializeOwned;
use wiremock::MockServer;

use super::LmsConfig;
use crate::domain::Email;
use crate::http::{RateBudget, RetryPolicy, Unlimited};
use crate::memory::MemorySecrets;
use crate::secrets::CachedSecret;

/// Retries that take milliseconds, so that tests of 429 and 5xx stay fast.
fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(50),
        reserve: Duration::ZERO,
    }
}

fn config(server: &MockServer, path: &str) -> LmsConfig {
    LmsConfig {
        base_url: Some(format!("{}{path}", server.uri())),
        retry: quick_retry(),
    }
}

fn http() -> reqwest::Client {
    crate::http::client(Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"))
}

fn secret<T: DeserializeOwned + Send + Sync>(json: &str) -> CachedSecret<T> {
    let source = Arc::new(MemorySecrets::default().with("lms/account", json));
    CachedSecret::new(source, "lms/account", Duration::from_secs(300))
}

fn unlimited() -> Arc<dyn RateBudget> {
    Arc::new(Unlimited)
}

fn email(s: &str) -> Email {
    Email::try_from(s.to_owned()).unwrap_or_else(|e| panic!("{e}"))
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// How many requests the server received, by `METHOD path`.
async fn calls(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

async fn body_of(server: &MockServer, method: &str, path: &str) -> serde_json::Value {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .find(|r| r.method.as_str() == method && r.url.path() == path)
        .and_then(|r| serde_json::from_slice(&r.body).ok())
        .unwrap_or(serde_json::Value::Null)
}
