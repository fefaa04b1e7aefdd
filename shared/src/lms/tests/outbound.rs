use std::collections::BTreeMap;

use secrecy::SecretString;
use serde_json::json;
use time::macros::datetime;
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{calls, email, http, quick_retry, secret, unlimited};
use crate::domain::{GhlChange, GhlChangeKind, GhlContactFacts};
use crate::ingest::signature;
use crate::lms::LmsError;
use crate::lms::outbound::{OutboundConfig, OutboundDestination, OutboundDocument, SCHEMA_VERSION};

const SIGNING: &str = "whsec_outbound";

fn destination(server: &MockServer) -> OutboundDestination {
    let json = format!(
        r#"{{"url":"{}/hooks/catch/123/abc","signingSecret":"{SIGNING}"}}"#,
        server.uri()
    );
    OutboundDestination::new(
        "talknotes",
        &OutboundConfig { retry: quick_retry() },
        http(),
        secret(&json),
        unlimited(),
    )
}

fn note_created() -> GhlChange {
    GhlChange {
        location_id: "loc-1".into(),
        contact_id: Some("c-42".into()),
        change: GhlChangeKind::NoteCreated {
            note_id: "n-7".into(),
        },
        contact: Some(GhlContactFacts {
            email: Some(email("ada@example.com")),
            first_name: Some("Ada".into()),
            tags: vec!["learner".into()],
            custom_fields: BTreeMap::from([("cf1".to_owned(), "x".to_owned())]),
            ..GhlContactFacts::default()
        }),
        occurred_at: datetime!(2026-11-20 10:00:00 UTC),
    }
}

#[test]
fn a_change_becomes_the_documented_shape() {
    let document = OutboundDocument::from_change("evt-1", &note_created());
    assert_eq!(
        serde_json::to_value(&document).unwrap_or_default(),
        json!({
            "version": SCHEMA_VERSION,
            "id": "evt-1",
            "type": "note.created",
            "occurred_at": "2026-11-20T10:00:00Z",
            "location_id": "loc-1",
            "contact": {
                "id": "c-42", "email": "ada@example.com", "first_name": "Ada",
                "tags": ["learner"], "custom_fields": {"cf1": "x"}
            },
            "object": {"type": "note", "id": "n-7"}
        })
    );
    let contact_only = GhlChange {
        change: GhlChangeKind::ContactUpdated,
        contact: None,
        ..note_created()
    };
    let value =
        serde_json::to_value(OutboundDocument::from_change("evt-2", &contact_only)).unwrap_or_default();
    assert_eq!(value["type"], "contact.updated");
    assert_eq!(value["contact"], json!({"id": "c-42"}));
    assert!(value.get("object").is_none());
}

#[tokio::test]
async fn deliveries_are_signed_like_inbound_webhooks_and_verify() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/catch/123/abc"))
        .and(header("content-type", "application/json"))
        .and(header("x-webhook-id", "evt-1"))
        .and(header_exists(signature::SIGNATURE_HEADER))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    destination(&server)
        .deliver(&OutboundDocument::from_change("evt-1", &note_created()))
        .await?;
    let requests = server.received_requests().await.unwrap_or_default();
    let request = &requests[0];
    let header = request
        .headers
        .get(signature::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let secrets = [SecretString::from(SIGNING.to_owned())];
    assert_eq!(signature::verify(header, &request.body, &secrets, now), Ok(()));
    let received: OutboundDocument = serde_json::from_slice(&request.body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(received, OutboundDocument::from_change("evt-1", &note_created()));
    Ok(())
}

#[tokio::test]
async fn failures_are_retried_each_attempt_signed_and_409_means_delivered() -> Result<(), LmsError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(409))
        .mount(&server)
        .await;
    destination(&server)
        .deliver(&OutboundDocument::from_change("evt-1", &note_created()))
        .await?;
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 3);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let secrets = [SecretString::from(SIGNING.to_owned())];
    for request in &requests {
        let header = request
            .headers
            .get(signature::SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok());
        assert_eq!(signature::verify(header, &request.body, &secrets, now), Ok(()));
    }
    Ok(())
}

#[tokio::test]
async fn a_refusal_is_permanent_and_never_shows_the_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad document"))
        .mount(&server)
        .await;
    let err = destination(&server)
        .deliver(&OutboundDocument::from_change("evt-1", &note_created()))
        .await
        .err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        matches!(&err, Some(LmsError::Rejected { status: 400, .. })),
        "{err:?}"
    );
    assert!(err.is_some_and(|e| !e.is_retryable()));
    assert_eq!(text, "outbound: 400 destination talknotes: bad document");
    assert_eq!(calls(&server).await.len(), 1);
}

#[tokio::test]
async fn an_unreachable_destination_is_retryable_and_unnamed_by_url() {
    // A port nothing listens on: the connection is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    drop(listener);
    let json = format!(r#"{{"url":"http://127.0.0.1:{port}/secret-hook-token","signingSecret":"s"}}"#);
    let destination = OutboundDestination::new(
        "talknotes",
        &OutboundConfig { retry: quick_retry() },
        http(),
        secret(&json),
        unlimited(),
    );
    let err = destination
        .deliver(&OutboundDocument::from_change("evt-1", &note_created()))
        .await
        .err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(matches!(&err, Some(LmsError::Transport { .. })), "{err:?}");
    assert!(err.is_some_and(|e| e.is_retryable()));
    assert!(!text.contains("secret-hook-token"), "{text}");

    let bad = OutboundDestination::new(
        "talknotes",
        &OutboundConfig::default(),
        http(),
        secret(r#"{"url":"ftp://files.example.com/secret-path","signingSecret":"s"}"#),
        unlimited(),
    )
    .deliver(&OutboundDocument::from_change("evt-1", &note_created()))
    .await
    .err();
    let text = bad.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(matches!(&bad, Some(LmsError::Credentials { .. })), "{bad:?}");
    assert!(!text.contains("secret-path"), "{text}");
}
