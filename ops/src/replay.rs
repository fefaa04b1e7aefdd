//! `replay FILE…`: an event sample (`events/<function>/*.json`, an API Gateway request) or a
//! captured webhook body, posted to a deployed or local endpoint with the credentials its route
//! needs, from the deployment's own webhook secret: a generic route is signed now, a Skilljar
//! route gets its Basic credentials, a GHL route the workflow header when one is configured (GHL
//! signs its own deliveries; we cannot).

use std::path::Path;

use base64::Engine;
use lms_ghl::ingest::signature::{SIGNATURE_HEADER, sign};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{file}: {problem}")]
    File { file: String, problem: String },
    #[error("route {route}: {problem}")]
    Credentials { route: String, problem: String },
    #[error("posting to {url}: {detail}")]
    Http { url: String, detail: String },
}

/// One delivery to replay: its route (`learner-created/generic`) and exact body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub route: String,
    pub body: String,
}

/// Reads a sample (its route from its `rawPath`) or a bare body (its route from `route`).
pub fn read(path: &Path, route: Option<&str>) -> Result<Delivery, ReplayError> {
    let file = path.display().to_string();
    let problem = |problem: String| ReplayError::File {
        file: file.clone(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| problem(format!("not JSON: {e}")))?;
    let sample_path = json.get("rawPath").and_then(Value::as_str);
    match (sample_path, json.get("body").and_then(Value::as_str)) {
        (Some(raw_path), Some(body)) => {
            let route = route.map(str::to_owned).unwrap_or_else(|| {
                raw_path
                    .trim_start_matches('/')
                    .trim_start_matches("lambda-url/")
                    .to_owned()
            });
            Ok(Delivery {
                route,
                body: body.to_owned(),
            })
        }
        _ => Ok(Delivery {
            route: route
                .ok_or_else(|| problem("a bare body needs --route (e.g. learner-created/generic)".into()))?
                .trim_matches('/')
                .to_owned(),
            body: text,
        }),
    }
}

/// The headers `delivery`'s route needs, from the webhook secret document, at `now`.
pub fn headers(
    delivery: &Delivery,
    webhook_secret: &SecretString,
    now: i64,
) -> Result<Vec<(String, String)>, ReplayError> {
    let problem = |problem: &str| ReplayError::Credentials {
        route: delivery.route.clone(),
        problem: problem.to_owned(),
    };
    // A parse error would quote the secret: say only what is missing.
    let secret: Value = serde_json::from_str(webhook_secret.expose_secret())
        .map_err(|_| problem("the webhook secret is not JSON"))?;
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    let provider = delivery.route.rsplit('/').next().unwrap_or_default();
    match provider {
        "generic" => {
            let key = secret["generic"]["signingSecrets"][0]
                .as_str()
                .ok_or_else(|| problem("no generic.signingSecrets[0] in the webhook secret"))?;
            let key = SecretString::from(key.to_owned());
            headers.push((
                SIGNATURE_HEADER.to_owned(),
                sign(&key, now, delivery.body.as_bytes()),
            ));
        }
        "skilljar" => {
            let auth = &secret["skilljar"]["basicAuth"];
            let (Some(user), Some(password)) = (auth["username"].as_str(), auth["password"].as_str()) else {
                return Err(problem("no skilljar.basicAuth in the webhook secret"));
            };
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            headers.push(("authorization".to_owned(), format!("Basic {token}")));
        }
        "ghl" => {
            let header = &secret["ghl"]["workflowHeader"];
            let (Some(name), Some(value)) = (header["name"].as_str(), header["value"].as_str()) else {
                return Err(problem(
                    "GHL signs its own deliveries; without ghl.workflowHeader in the webhook secret there is nothing to sign with",
                ));
            };
            headers.push((name.to_owned(), value.to_owned()));
        }
        _ => {
            return Err(problem(
                "unknown provider (the last path segment: generic, skilljar, ghl)",
            ));
        }
    }
    Ok(headers)
}

/// Posts the delivery to `base_url`/`route`; the answer's status and body.
pub async fn send(
    http: &reqwest::Client,
    base_url: &str,
    delivery: &Delivery,
    headers: &[(String, String)],
) -> Result<(u16, String), ReplayError> {
    let url = format!("{}/{}", base_url.trim_end_matches('/'), delivery.route);
    let mut request = http.post(&url).body(delivery.body.clone());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let failed = |e: reqwest::Error| ReplayError::Http {
        url: url.clone(),
        detail: e.without_url().to_string(),
    };
    let response = request.send().await.map_err(failed)?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(failed)?;
    Ok((status, text))
}
