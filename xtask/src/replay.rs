//! `xtask replay` and `xtask tampered`: the samples under `events/`, sent to their functions as
//! API Gateway would, the way an LMS (re)delivers them.

use std::path::Path;

use anyhow::{Context, Result};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;

use crate::lambda::Lambda;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Expect {
    /// 202 `accepted`: a first delivery.
    Accepted,
    /// 200 `duplicate`: a delivery seen before.
    Duplicate,
}

impl Expect {
    fn answer(self) -> (i64, &'static str) {
        match self {
            Self::Accepted => (202, "accepted"),
            Self::Duplicate => (200, "duplicate"),
        }
    }
}

/// Directories under `events/` whose samples are not webhook deliveries: daily-batch's are its
/// scheduled inputs (`BatchRequest`s), sent with `xtask batch` or `cargo lambda invoke
/// daily-batch --data-file …`, never replayed. (`scripts/run` leaves them out of its count too.)
pub const NOT_WEBHOOKS: &[&str] = &["daily-batch"];

/// One file under `events/<function>/`: its directory names the function it is for.
struct Sample {
    function: String,
    name: String,
    event: ApiGatewayV2httpRequest,
}

/// Sends every sample; false when `expect` is given and any answer differs from it.
pub async fn replay(lambda: &Lambda, expect: Option<Expect>) -> Result<bool> {
    let mut ok = true;
    for sample in samples(None)? {
        let (status, body) = send(lambda, &sample.function, &sample.name, &sample.event).await?;
        if let Some(expect) = expect {
            ok &= (status, body["status"].as_str().unwrap_or_default()) == expect.answer();
        }
    }
    Ok(ok)
}

/// Sends the first signed learner-created sample with its body changed after signing; true when
/// it is refused as `unauthorized`.
pub async fn tampered(lambda: &Lambda) -> Result<bool> {
    let mut sample = samples(Some("learner-created"))?
        .into_iter()
        .find(|s| devkit::samples::is_signed(&s.event))
        .context("no signed sample under events/learner-created")?;
    let body = sample.event.body.take().unwrap_or_default();
    sample.event.body = Some(body.replace("Katherine", "Mallory"));
    let name = format!("{} (body changed after signing)", sample.name);
    let (status, body) = send(lambda, &sample.function, &name, &sample.event).await?;
    Ok(status == 401 && body["error"] == "unauthorized")
}

/// The samples of one function or of all, by directory then file name, signed ones signed now
/// (the functions refuse signatures and GHL bodies more than 300 s old).
fn samples(function: Option<&str>) -> Result<Vec<Sample>> {
    let signers = devkit::samples::Signers::local(&crate::root(), crate::signing_secret()?)?;
    let now = time::OffsetDateTime::now_utc();
    let events = crate::root().join("events");
    let mut functions = match function {
        Some(function) => vec![function.to_owned()],
        None => sorted_entries(&events, |path| {
            path.is_dir()
                && path
                    .file_name()
                    .is_none_or(|name| !NOT_WEBHOOKS.iter().any(|n| name == *n))
        })?,
    };
    functions.sort();
    let mut samples = Vec::new();
    for function in functions {
        let dir = events.join(&function);
        for name in sorted_entries(&dir, |path| path.extension().is_some_and(|e| e == "json"))? {
            let mut event = devkit::samples::read(&dir.join(&name))?;
            devkit::samples::resign(&mut event, &signers, now)?;
            samples.push(Sample {
                function: function.clone(),
                name,
                event,
            });
        }
    }
    Ok(samples)
}

/// Names of the entries of `dir` that pass `keep`, sorted.
fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        if keep(&path)
            && let Some(name) = path.file_name().and_then(|n| n.to_str())
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Invokes the function with the event, prints its answer, returns its status and JSON body.
async fn send(
    lambda: &Lambda,
    function: &str,
    name: &str,
    event: &ApiGatewayV2httpRequest,
) -> Result<(i64, serde_json::Value)> {
    let response: ApiGatewayV2httpResponse = lambda.invoke(function, event).await?;
    let text = match &response.body {
        Some(Body::Text(text)) => text.clone(),
        Some(Body::Binary(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    };
    println!("[replay] {function}/{name}: {} {text}", response.status_code);
    // Every answer of the ingest functions is JSON; anything else fails the expectation instead.
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Ok((response.status_code, body))
}
