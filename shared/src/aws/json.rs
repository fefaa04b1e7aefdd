//! DynamoDB's and SQS's JSON protocol (`application/x-amz-json-1.0`, an `X-Amz-Target` naming the
//! operation), SigV4-signed by `aws-sigv4` and sent through the project's one HTTP client with its
//! one retry policy. The idempotency records and the queue's sends take this path instead of the
//! SDK's clients: it is every webhook's and every event's path, and the SDK's per-call machinery
//! (config bags, interceptors, endpoint rules) cost about 0.25 ms of CPU a call there, more than
//! the rest of a delivery together (docs/benchmarks.md, "Ingest as Lambda runs it"). Everything
//! called less often stays on the SDK.
//!
//! Region, endpoint (`AWS_ENDPOINT_URL`, moto locally) and credentials come from the same
//! `SdkConfig` the SDK clients are built from; the credentials are cached until five minutes
//! before they expire (Lambda's never do within a process).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::sign::v4;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::http::{Failure, Idempotence, RetryClass, RetryPolicy};

/// An AWS service spoken to in its JSON protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    DynamoDb,
    /// DynamoDB Streams: read only by the local stand-in for the outbox's Pipe (`devkit::outbox`).
    DynamoDbStreams,
    Sqs,
}

impl Service {
    /// SigV4's service name.
    fn signing_name(self) -> &'static str {
        match self {
            Service::DynamoDb | Service::DynamoDbStreams => "dynamodb",
            Service::Sqs => "sqs",
        }
    }

    /// The endpoint's labels before the region.
    fn endpoint_prefix(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::DynamoDbStreams => "streams.dynamodb",
            Service::Sqs => "sqs",
        }
    }

    fn target_prefix(self) -> &'static str {
        match self {
            Service::DynamoDb => "DynamoDB_20120810",
            Service::DynamoDbStreams => "DynamoDBStreams_20120810",
            Service::Sqs => "AmazonSQS",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AwsJsonError {
    /// AWS answered with an error: `code` is the exception's name (`ConditionalCheckFailedException`).
    #[error("{operation} answered {status} {code}: {message}")]
    Service {
        operation: &'static str,
        status: u16,
        code: String,
        message: String,
        /// The whole error body: some errors carry data (the item a failed condition met).
        body: Value,
    },
    /// The request never reached AWS.
    #[error("{operation}: could not connect: {detail}")]
    Connect { operation: &'static str, detail: String },
    /// AWS may have acted: a timeout, a broken connection, an unreadable answer.
    #[error("{operation}: {detail}")]
    Transport { operation: &'static str, detail: String },
    /// No credentials, or none usable for signing: the text names the problem, never a key.
    #[error("{operation}: {detail}")]
    Credentials { operation: &'static str, detail: String },
}

impl AwsJsonError {
    /// The exception's name, if AWS answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsJsonError::Service { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Error codes AWS uses for "slow down" (the SDK's standard retry list for these services).
const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

impl RetryClass for AwsJsonError {
    fn failure(&self) -> Failure {
        match self {
            AwsJsonError::Service { status, code, .. } => {
                if *status == 429 || THROTTLING.contains(&code.as_str()) {
                    Failure::Throttled
                } else if *status >= 500 {
                    Failure::MaybeActed
                } else {
                    Failure::Final
                }
            }
            AwsJsonError::Connect { .. } => Failure::NotSent,
            AwsJsonError::Transport { .. } => Failure::MaybeActed,
            AwsJsonError::Credentials { .. } => Failure::Final,
        }
    }
}

/// One process's signed JSON calls to DynamoDB and SQS; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct AwsJson {
    http: reqwest::Client,
    region: String,
    /// `AWS_ENDPOINT_URL` when set (every service behind one URL), else each service's own.
    endpoint: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
    cached: Arc<Mutex<Option<Session>>>,
    retry: RetryPolicy,
}

/// Credentials in use and the SigV4 keys derived from them (one per service and day): deriving
/// one takes four HMACs, so it is done once a day, not once a call.
struct Session {
    credentials: Credentials,
    keys: Vec<(Service, String, SigningKey)>,
}

/// A SigV4 signing key: `kSigning` for one secret, day, region and service.
#[derive(Clone)]
pub(crate) struct SigningKey(Vec<u8>);

impl SigningKey {
    pub(crate) fn derive(
        credentials: &Credentials,
        time: SystemTime,
        region: &str,
        service: Service,
    ) -> Self {
        let key = v4::generate_signing_key(
            credentials.secret_access_key(),
            time,
            region,
            service.signing_name(),
        );
        Self(key.as_ref().to_vec())
    }
}

impl std::fmt::Debug for AwsJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsJson")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Time to live left on cached credentials below which they are fetched again.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(300);

impl AwsJson {
    /// From the configuration the SDK clients are built from (`aws::sdk_config`), over the
    /// process's one HTTP client (`http::client`; its timeout bounds each attempt).
    pub fn new(sdk: &aws_config::SdkConfig, http: reqwest::Client) -> Self {
        Self {
            http,
            region: sdk.region().map(|r| r.as_ref().to_owned()).unwrap_or_default(),
            endpoint: sdk.endpoint_url().map(|u| u.trim_end_matches('/').to_owned()),
            credentials: sdk.credentials_provider(),
            cached: Arc::new(Mutex::new(None)),
            retry: RetryPolicy::default(),
        }
    }

    /// The same client with another retry policy (tests shorten the waits).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Calls `operation` with `body`, retried by the one retry policy as `idempotence` allows;
    /// the answer's JSON, or the last attempt's error.
    pub async fn call(
        &self,
        service: Service,
        operation: &'static str,
        body: &Value,
        idempotence: Idempotence,
    ) -> Result<Value, AwsJsonError> {
        let bytes = serde_json::to_vec(body).map_err(|e| AwsJsonError::Transport {
            operation,
            detail: format!("request unwritable: {e}"),
        })?;
        // Shared by the attempts without a copy each.
        let bytes = bytes::Bytes::from(bytes);
        let target = format!("{}.{operation}", service.target_prefix());
        let mut attempts = self.retry.attempts(None);
        loop {
            let error = match self.attempt(service, operation, &target, &bytes).await {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            match attempts.next_wait(&error, idempotence) {
                Some(delay) => {
                    tracing::warn!(operation, error = %error, delay_ms = delay.as_millis() as u64, "AWS call failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(error),
            }
        }
    }

    async fn attempt(
        &self,
        service: Service,
        operation: &'static str,
        target: &str,
        body: &bytes::Bytes,
    ) -> Result<Value, AwsJsonError> {
        let url = match &self.endpoint {
            Some(endpoint) => format!("{endpoint}/"),
            None => format!(
                "https://{}.{}.{}/",
                service.endpoint_prefix(),
                self.region,
                dns_suffix(&self.region)
            ),
        };
        let time = SystemTime::now();
        let (credentials, key) = self.signing(operation, service, time).await?;
        let headers = signed_headers(
            &SigningInput {
                credentials: &credentials,
                region: &self.region,
                service,
                url: &url,
                target,
                body,
                time,
            },
            &key,
        )
        .map_err(|detail| AwsJsonError::Credentials { operation, detail })?;
        let mut request = self.http.post(&url).body(body.clone());
        // `host` is signed but left to the HTTP client to send, from the same URL.
        for (name, value) in headers.iter().filter(|(name, _)| *name != "host") {
            request = request.header(*name, value);
        }
        let response = request.send().await.map_err(|e| transport(operation, &e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| transport(operation, &e))?;
        let answer: Value = if bytes.is_empty() {
            Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_slice(&bytes).map_err(|e| AwsJsonError::Transport {
                operation,
                detail: format!("answered {status} with unreadable JSON: {e}"),
            })?
        };
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        // `__type` is `namespace#Code` (or the code alone); SQS's query-compatible errors say
        // the same in `x-amzn-query-error`, but the JSON name is what its documentation lists.
        let code = answer
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| format!("HTTP {status}"));
        let message = answer
            .get("message")
            .or_else(|| answer.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .to_owned();
        Err(AwsJsonError::Service {
            operation,
            status,
            code,
            message,
            body: answer,
        })
    }

    /// The credentials to sign with and their key for `service` on `time`'s day, fetched or
    /// derived only when the cached ones will not do.
    async fn signing(
        &self,
        operation: &'static str,
        service: Service,
        time: SystemTime,
    ) -> Result<(Credentials, SigningKey), AwsJsonError> {
        let day = amz_date(time)[..8].to_owned();
        let fresh = |c: &Credentials| c.expiry().is_none_or(|expiry| expiry > time + CREDENTIALS_MARGIN);
        if let Ok(mut cached) = self.cached.lock()
            && let Some(session) = cached.as_mut().filter(|s| fresh(&s.credentials))
        {
            return Ok(session.key(service, &day, &self.region, time));
        }
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| AwsJsonError::Credentials {
                operation,
                detail: "no AWS credentials configured".to_owned(),
            })?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| AwsJsonError::Credentials {
                operation,
                detail: format!("AWS credentials unavailable: {}", super::describe(&e)),
            })?;
        let mut session = Session {
            credentials,
            keys: Vec::new(),
        };
        let signing = session.key(service, &day, &self.region, time);
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(session);
        }
        Ok(signing)
    }
}

impl Session {
    fn key(
        &mut self,
        service: Service,
        day: &str,
        region: &str,
        time: SystemTime,
    ) -> (Credentials, SigningKey) {
        let key = match self.keys.iter().find(|(s, d, _)| *s == service && d == day) {
            Some((_, _, key)) => key.clone(),
            None => {
                let key = SigningKey::derive(&self.credentials, time, region, service);
                // Yesterday's keys are of no more use.
                self.keys.retain(|(_, d, _)| d == day);
                self.keys.push((service, day.to_owned(), key.clone()));
                key
            }
        };
        (self.credentials.clone(), key)
    }
}

fn transport(operation: &'static str, err: &reqwest::Error) -> AwsJsonError {
    let detail = super::describe(err);
    if err.is_connect() {
        AwsJsonError::Connect { operation, detail }
    } else {
        AwsJsonError::Transport { operation, detail }
    }
}

/// The partitions' DNS suffixes for the two services' regional endpoints.
fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

pub(crate) struct SigningInput<'a> {
    pub credentials: &'a Credentials,
    pub region: &'a str,
    pub service: Service,
    pub url: &'a str,
    pub target: &'a str,
    pub body: &'a [u8],
    pub time: SystemTime,
}

/// SigV4's `X-Amz-Date` form of `time`: `20260102T030405Z`.
fn amz_date(at: SystemTime) -> String {
    let t = time::OffsetDateTime::from(at);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The request's headers, the SigV4 ones (`authorization`, `x-amz-date`, and
/// `x-amz-security-token` for temporary credentials) included.
///
/// SigV4 is written out here for this module's one request shape (`POST /`, a JSON body, the same
/// five or six headers, none of them needing normalisation) instead of going through
/// `aws_sigv4::http_request::sign`: that signer parses the URL, builds and sorts a canonical
/// header map and derives the key on every call, about a tenth of a webhook's CPU
/// (docs/benchmarks.md, "Signing"). The key derivation and the signature's HMAC are still
/// `aws-sigv4`'s; the tests check the result against the specification written out independently
/// and against `aws_sigv4`'s own signer.
pub(crate) fn signed_headers(
    input: &SigningInput<'_>,
    key: &SigningKey,
) -> Result<Vec<(&'static str, String)>, String> {
    let host = input
        .url
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .filter(|host| !host.is_empty())
        .ok_or_else(|| format!("not an absolute URL: {}", input.url))?;
    let path = input
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    if path != "/" {
        return Err(format!("only the endpoint's root is signed here, not {path}"));
    }
    let date = amz_date(input.time);
    let token = input.credentials.session_token();
    let scope = format!(
        "{}/{}/{}/aws4_request",
        &date[..8],
        input.region,
        input.service.signing_name()
    );
    // Canonical headers in name order, as SigV4 requires.
    let mut canonical = String::with_capacity(512);
    canonical.push_str("POST\n/\n\n");
    canonical.push_str("content-type:");
    canonical.push_str(JSON_1_0);
    canonical.push_str("\nhost:");
    canonical.push_str(host);
    canonical.push_str("\nx-amz-date:");
    canonical.push_str(&date);
    if let Some(token) = token {
        canonical.push_str("\nx-amz-security-token:");
        canonical.push_str(token);
    }
    canonical.push_str("\nx-amz-target:");
    canonical.push_str(input.target);
    let signed = if token.is_some() {
        "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
    } else {
        "content-type;host;x-amz-date;x-amz-target"
    };
    canonical.push_str("\n\n");
    canonical.push_str(signed);
    canonical.push('\n');
    canonical.push_str(&hex::encode(Sha256::digest(input.body)));
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let signature = v4::calculate_signature(&key.0, string_to_sign.as_bytes());
    let mut headers = vec![
        ("host", host.to_owned()),
        ("content-type", JSON_1_0.to_owned()),
        ("x-amz-target", input.target.to_owned()),
        (
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                input.credentials.access_key_id()
            ),
        ),
        ("x-amz-date", date),
    ];
    if let Some(token) = token {
        headers.push(("x-amz-security-token", token.to_owned()));
    }
    Ok(headers)
}

const JSON_1_0: &str = "application/x-amz-json-1.0";

#[cfg(test)]
mod tests;
