use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::*;

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|e| panic!("{e}"));
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// SigV4 written out from AWS's specification, independently of `aws-sigv4`: the signature a
/// request with these headers (name → value, all signed) must carry.
fn expected_authorization(
    headers: &[(&str, &str)],
    body: &[u8],
    date: &str,
    region: &str,
    service: &str,
) -> String {
    let mut sorted: Vec<(String, &str)> = headers.iter().map(|(n, v)| (n.to_lowercase(), *v)).collect();
    sorted.sort();
    let canonical_headers: String = sorted
        .iter()
        .map(|(n, v)| format!("{n}:{}\n", v.trim()))
        .collect();
    let signed: Vec<&str> = sorted.iter().map(|(n, _)| n.as_str()).collect();
    let signed = signed.join(";");
    let canonical = format!(
        "POST\n/\n\n{canonical_headers}\n{signed}\n{}",
        hex::encode(Sha256::digest(body))
    );
    let day = &date[..8];
    let scope = format!("{day}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = hmac(format!("AWS4{SECRET_KEY}").as_bytes(), day);
    let key = hmac(&key, region);
    let key = hmac(&key, service);
    let key = hmac(&key, "aws4_request");
    format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={signed}, Signature={}",
        hex::encode(hmac(&key, &to_sign))
    )
}

fn input<'a>(credentials: &'a Credentials, body: &'a [u8]) -> SigningInput<'a> {
    SigningInput {
        credentials,
        region: "eu-west-2",
        service: Service::DynamoDb,
        url: "https://dynamodb.eu-west-2.amazonaws.com/",
        target: "DynamoDB_20120810.PutItem",
        body,
        // 2026-01-02T03:04:05Z
        time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_323_045),
    }
}

fn signed(credentials: &Credentials, body: &[u8]) -> Vec<(&'static str, String)> {
    let input = input(credentials, body);
    let key = SigningKey::derive(credentials, input.time, input.region, input.service);
    signed_headers(&input, &key).unwrap_or_else(|e| panic!("{e}"))
}

/// The same request signed by `aws_sigv4`'s generic signer: the second witness.
fn signed_by_aws_sigv4(input: &SigningInput<'_>) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let identity = input.credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(input.region)
        .name(input.service.signing_name())
        .time(input.time)
        .settings(SigningSettings::default())
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
        .into();
    let headers = [
        ("host", "dynamodb.eu-west-2.amazonaws.com"),
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", input.target),
    ];
    let request = SignableRequest::new(
        "POST",
        input.url,
        headers.into_iter(),
        SignableBody::Bytes(input.body),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (instructions, _) = sign(request, &params)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_parts();
    let (signing, _) = instructions.into_parts();
    headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .chain(
            signing
                .into_iter()
                .map(|h| (h.name().to_owned(), h.value().to_owned())),
        )
        .collect()
}

#[test]
fn the_signature_is_the_one_aws_sigv4_s_signer_gives() {
    for token in [None, Some("session-token".to_owned())] {
        let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, token, None, "test");
        let body = br#"{"QueueUrl":"q","MessageBody":"m\u00e9"}"#;
        let mut ours: Vec<(String, String)> = signed(&credentials, body)
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect();
        let mut theirs = signed_by_aws_sigv4(&input(&credentials, body));
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs);
    }
}

#[test]
fn only_the_endpoint_root_is_signed() {
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test");
    let mut input = input(&credentials, b"{}");
    let key = SigningKey::derive(&credentials, input.time, input.region, input.service);
    input.url = "https://dynamodb.eu-west-2.amazonaws.com/other";
    assert!(signed_headers(&input, &key).is_err_and(|e| e.contains("/other")));
    input.url = "dynamodb.eu-west-2.amazonaws.com/";
    assert!(signed_headers(&input, &key).is_err_and(|e| e.contains("not an absolute URL")));
}

fn value<'a>(headers: &'a [(&'static str, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

#[test]
fn requests_carry_the_signature_the_sigv4_specification_gives() {
    let body = br#"{"TableName":"t","Item":{"pk":{"S":"k"}}}"#;
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test");
    let headers = signed(&credentials, body);
    assert_eq!(value(&headers, "x-amz-date"), "20260102T030405Z");
    let expected = expected_authorization(
        &[
            ("host", "dynamodb.eu-west-2.amazonaws.com"),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "DynamoDB_20120810.PutItem"),
            ("x-amz-date", "20260102T030405Z"),
        ],
        body,
        "20260102T030405Z",
        "eu-west-2",
        "dynamodb",
    );
    assert_eq!(value(&headers, "authorization"), expected);
}

#[test]
fn temporary_credentials_sign_their_session_token_too() {
    let body = b"{}";
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, Some("session-token".into()), None, "test");
    let headers = signed(&credentials, body);
    assert_eq!(value(&headers, "x-amz-security-token"), "session-token");
    let expected = expected_authorization(
        &[
            ("host", "dynamodb.eu-west-2.amazonaws.com"),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "DynamoDB_20120810.PutItem"),
            ("x-amz-date", "20260102T030405Z"),
            ("x-amz-security-token", "session-token"),
        ],
        body,
        "20260102T030405Z",
        "eu-west-2",
        "dynamodb",
    );
    assert_eq!(value(&headers, "authorization"), expected);
}

fn http() -> reqwest::Client {
    crate::http::client(Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"))
}

fn client(endpoint: &str) -> AwsJson {
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "test",
        )))
        .build();
    AwsJson::new(&sdk, http()).with_retry(RetryPolicy {
        base_delay: Duration::from_millis(1),
        ..RetryPolicy::default()
    })
}

#[tokio::test]
async fn a_call_is_signed_as_sent_and_its_answer_read() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("x-amz-target", "AmazonSQS.SendMessage"))
        .and(header("content-type", "application/x-amz-json-1.0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"MessageId": "m-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let body = json!({"QueueUrl": "q", "MessageBody": "hello"});
    let answer = client(&server.uri())
        .call(Service::Sqs, "SendMessage", &body, Idempotence::Protected)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer["MessageId"], "m-1");

    // What arrived is what was signed: the same host, headers and body bytes.
    let received: Vec<Request> = server.received_requests().await.unwrap_or_default();
    let request = &received[0];
    let get = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header arrived"))
            .to_owned()
    };
    let host = server.uri().trim_start_matches("http://").to_owned();
    let date = get("x-amz-date");
    let expected = expected_authorization(
        &[
            ("host", &host),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "AmazonSQS.SendMessage"),
            ("x-amz-date", &date),
        ],
        &request.body,
        &date,
        "us-east-1",
        "sqs",
    );
    assert_eq!(get("authorization"), expected);
    assert_eq!(get("host"), host);
}

#[tokio::test]
async fn throttling_is_retried_and_a_refusal_is_not() {
    let server = MockServer::start().await;
    Mock::given(header("x-amz-target", "DynamoDB_20120810.UpdateItem"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "slow down"
        })))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(header("x-amz-target", "DynamoDB_20120810.UpdateItem"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(header("x-amz-target", "DynamoDB_20120810.PutItem"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            "message": "The conditional request failed",
            "Item": {"pk": {"S": "k"}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let aws = client(&server.uri());
    aws.call(
        Service::DynamoDb,
        "UpdateItem",
        &json!({}),
        Idempotence::Idempotent,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let refused = aws
        .call(Service::DynamoDb, "PutItem", &json!({}), Idempotence::Idempotent)
        .await;
    match refused {
        Err(AwsJsonError::Service {
            status, code, body, ..
        }) => {
            assert_eq!((status, code.as_str()), (400, "ConditionalCheckFailedException"));
            assert_eq!(body["Item"]["pk"]["S"], "k");
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_create_whose_answer_may_be_lost_is_not_repeated_unless_protected() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"__type": "ServiceUnavailable"})))
        .mount(&server)
        .await;
    let aws = client(&server.uri());
    let once = aws
        .call(
            Service::Sqs,
            "SendMessage",
            &json!({}),
            Idempotence::NotIdempotent,
        )
        .await;
    assert!(
        matches!(once, Err(AwsJsonError::Service { status: 503, .. })),
        "{once:?}"
    );
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
    let _ = aws
        .call(Service::Sqs, "SendMessage", &json!({}), Idempotence::Protected)
        .await;
    // The first attempt and the policy's four retries.
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(6));
}

#[tokio::test]
async fn no_credentials_is_a_named_error_without_a_request() {
    let server = MockServer::start().await;
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(server.uri())
        .build();
    let aws = AwsJson::new(&sdk, http());
    let err = aws
        .call(Service::DynamoDb, "GetItem", &json!({}), Idempotence::Idempotent)
        .await
        .err()
        .map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("GetItem: no AWS credentials configured"));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(0));
}

#[test]
fn a_signing_key_is_derived_once_a_day_per_service() {
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test");
    let mut session = Session {
        credentials: credentials.clone(),
        keys: Vec::new(),
    };
    let day = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_323_045);
    let next_day = day + Duration::from_secs(86_400);
    let (_, first) = session.key(Service::DynamoDb, "20260102", "eu-west-2", day);
    let (_, again) = session.key(Service::DynamoDb, "20260102", "eu-west-2", day);
    let (_, sqs) = session.key(Service::Sqs, "20260102", "eu-west-2", day);
    assert_eq!(first.0, again.0);
    assert_ne!(first.0, sqs.0);
    assert_eq!(session.keys.len(), 2);
    let (_, tomorrow) = session.key(Service::DynamoDb, "20260103", "eu-west-2", next_day);
    assert_eq!(
        tomorrow.0,
        SigningKey::derive(&credentials, next_day, "eu-west-2", Service::DynamoDb).0
    );
    // Yesterday's keys are dropped when the first of today's is derived.
    assert_eq!(session.keys.len(), 1);
}
