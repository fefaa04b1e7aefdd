//! Webhook deliveries as API Gateway (HTTP API, payload v2) hands them to the ingest functions:
//! built from a path, headers and a body, read from `events/`, and re-signed.

use std::path::Path;

use anyhow::{Context, Result};
use aws_lambda_events::event::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue, Method};
use lms_ghl::ingest::ghl::{self, GhlSigner};
use lms_ghl::ingest::signature::{SIGNATURE_HEADER, sign};
use secrecy::SecretString;
use time::OffsetDateTime;
use time::macros::format_description;

/// The local GHL signing key (a test key pair; its public half is in `config/local/webhooks.json`).
pub const GHL_TEST_KEY: &str = "config/local/ghl-webhook-test-key.pem";

/// What signs the samples: the generic format's HMAC secret and the GHL test key.
pub struct Signers {
    pub generic: SecretString,
    pub ghl: GhlSigner,
}

impl Signers {
    /// The generic `secret` and the GHL test key of the repository at `root`.
    pub fn local(root: &Path, generic: SecretString) -> Result<Self> {
        let path = root.join(GHL_TEST_KEY);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let ghl = GhlSigner::from_pkcs8(&text)
            .with_context(|| format!("{GHL_TEST_KEY} is not a PKCS#8 Ed25519 key"))?;
        Ok(Self { generic, ghl })
    }
}

/// The host API Gateway's default endpoint would have; the ingest functions never look at it.
pub const DOMAIN: &str = "local.execute-api.us-east-1.amazonaws.com";

/// A `POST` of `body` to `path` with `headers`, received at `at`.
pub fn post(
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    request_id: &str,
    at: OffsetDateTime,
) -> Result<ApiGatewayV2httpRequest> {
    let mut header_map = HeaderMap::new();
    for (name, value) in headers {
        header_map.append(
            HeaderName::from_bytes(name.as_bytes()).with_context(|| format!("header name {name:?}"))?,
            HeaderValue::from_str(value).with_context(|| format!("value of header {name}"))?,
        );
    }
    let user_agent = header_map
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = Method::POST;
    http.path = Some(path.to_owned());
    http.protocol = Some("HTTP/1.1".into());
    http.source_ip = Some("127.0.0.1".into());
    http.user_agent = user_agent;

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(format!("POST {path}"));
    context.account_id = Some("123456789012".into());
    context.stage = Some("$default".into());
    context.request_id = Some(request_id.to_owned());
    context.apiid = Some("local".into());
    context.domain_name = Some(DOMAIN.into());
    context.domain_prefix = Some("local".into());
    context.time = Some(
        at.format(format_description!(
            "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
        ))
        .context("formatting the request time")?,
    );
    context.time_epoch =
        i64::try_from(at.unix_timestamp_nanos() / 1_000_000).context("request time out of range")?;
    context.http = http;

    let mut event = ApiGatewayV2httpRequest::default();
    // The type always writes this Custom Authorizer v1 field (GET unless set); lambda_http reads
    // the method from the request context, but a sample that says GET at the top misleads readers.
    #[allow(deprecated)]
    {
        event.http_method = Method::POST;
    }
    event.version = Some("2.0".into());
    event.route_key = Some(format!("POST {path}"));
    event.raw_path = Some(path.to_owned());
    event.raw_query_string = Some(String::new());
    event.headers = header_map;
    event.request_context = context;
    event.body = Some(body.to_owned());
    event.is_base64_encoded = false;
    Ok(event)
}

/// A sample file from `events/`.
pub fn read(path: &Path) -> Result<ApiGatewayV2httpRequest> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not an API Gateway v2 event", path.display()))
}

/// Signs the delivery again as sent at `at`, if it is signed: committed samples are signed at a
/// fixed time, and the functions refuse signatures (generic) or bodies (GHL's `timestamp`) more
/// than 300 s old. A GHL body gets the new `timestamp` and a signature over the new bytes, as a
/// GHL retry would; its other bytes stay as they were.
pub fn resign(event: &mut ApiGatewayV2httpRequest, signers: &Signers, at: OffsetDateTime) -> Result<()> {
    if event.headers.contains_key(SIGNATURE_HEADER) {
        let body = event.body.as_deref().unwrap_or_default();
        let signature = sign(&signers.generic, at.unix_timestamp(), body.as_bytes());
        event.headers.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&signature).context("signature header value")?,
        );
    }
    if event.headers.contains_key(ghl::SIGNATURE_HEADER) {
        let body = restamp(event.body.as_deref().unwrap_or_default(), at)?;
        let signature = signers.ghl.sign(body.as_bytes());
        event.headers.insert(
            ghl::SIGNATURE_HEADER,
            HeaderValue::from_str(&signature).context("signature header value")?,
        );
        event.body = Some(body);
    }
    Ok(())
}

/// The GHL body with its `timestamp` value replaced in place (the keys keep their order).
fn restamp(body: &str, at: OffsetDateTime) -> Result<String> {
    let document: serde_json::Value = serde_json::from_str(body).context("GHL sample body is not JSON")?;
    let old = document["timestamp"]
        .as_str()
        .context("GHL sample body has no `timestamp` text")?;
    let new = at
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .context("formatting the timestamp")?;
    let key = body
        .find("\"timestamp\"")
        .context("GHL sample body has no `timestamp` key")?;
    let quoted = format!("\"{old}\"");
    let value = key
        + body[key..]
            .find(&quoted)
            .context("GHL sample body's `timestamp` is not where it was read")?;
    Ok(format!(
        "{}\"{new}\"{}",
        &body[..value],
        &body[value + quoted.len()..]
    ))
}

/// Whether the delivery is signed in the generic format.
pub fn is_signed(event: &ApiGatewayV2httpRequest) -> bool {
    event.headers.contains_key(SIGNATURE_HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restamping_changes_the_timestamp_only() -> Result<()> {
        let body = r#"{"type":"NoteCreate","timestamp":"2025-11-22T10:00:00.000Z","body":"2025-11-22T10:00:00.000Z"}"#;
        let at = OffsetDateTime::from_unix_timestamp(1_763_805_900)?;
        assert_eq!(
            restamp(body, at)?,
            r#"{"type":"NoteCreate","timestamp":"2025-11-22T10:05:00.000Z","body":"2025-11-22T10:00:00.000Z"}"#
        );
        assert!(restamp(r#"{"type":"NoteCreate"}"#, at).is_err());
        Ok(())
    }
}
