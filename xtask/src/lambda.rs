//! Invoking a function under `cargo lambda watch` through the Lambda Invoke API it emulates.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub struct Lambda {
    base_url: String,
    http: reqwest::Client,
}

impl Lambda {
    pub fn from_env() -> Result<Self> {
        let base_url = std::env::var("LAMBDA_URL").unwrap_or_else(|_| "http://127.0.0.1:9000".to_owned());
        let http = reqwest::Client::builder()
            // The first invocation after a change waits for `cargo lambda watch` to rebuild.
            .timeout(Duration::from_secs(300))
            .build()
            .context("building the HTTP client")?;
        Ok(Self { base_url, http })
    }

    /// The function's answer to `payload`; an error when it cannot be reached, reports a function
    /// error, or answers something other than `R`.
    pub async fn invoke<P: Serialize, R: DeserializeOwned>(&self, function: &str, payload: &P) -> Result<R> {
        self.invoke_within(function, payload, None).await
    }

    /// The same, failing with [`Unanswered`] when the function takes longer than `within` (instead
    /// of the client's 300 s, which covers a first build).
    pub async fn invoke_within<P: Serialize, R: DeserializeOwned>(
        &self,
        function: &str,
        payload: &P,
        within: Option<Duration>,
    ) -> Result<R> {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.base_url);
        let mut request = self.http.post(&url).json(payload);
        if let Some(within) = within {
            request = request.timeout(within);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return Err(Unanswered { within }.into()),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("{function} is not reachable at {url}")));
            }
        };
        let status = response.status();
        // Lambda reports a function error as 200 with this header; the emulator may use a status.
        let function_error = response.headers().contains_key("x-amz-function-error");
        let body = response
            .bytes()
            .await
            .with_context(|| format!("reading {function}'s answer"))?;
        if !status.is_success() || function_error {
            bail!("{function} failed ({status}): {}", excerpt(&body));
        }
        serde_json::from_slice(&body)
            .with_context(|| format!("{function} answered something unexpected: {}", excerpt(&body)))
    }
}

/// A function that took the request and never answered: under `cargo lambda watch`, usually a
/// function process that died (its invocation is never finished).
#[derive(Debug)]
pub struct Unanswered {
    pub within: Option<Duration>,
}

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.within {
            Some(within) => write!(f, "no answer within {} s", within.as_secs()),
            None => write!(f, "no answer"),
        }
    }
}

impl std::error::Error for Unanswered {}

/// The start of an answer, for an error message that stays one line.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].replace('\n', " ")
}
