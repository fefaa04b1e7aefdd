//! Integration tests: the real services over moto server (SQS, DynamoDB, Secrets Manager through
//! the AWS SDK) and GHL's official contract served by Prism, or wiremock where a test needs GHL to
//! misbehave on purpose; the LMS clients against the LMS sandbox. Run through `scripts/test`.

mod batch_queues;
mod daily_batch;
mod entity_map;
mod ghl_contract;
mod ghl_events;
mod ghl_to_lms;
mod ingest;
mod ingest_triggers;
mod learning_records;
mod lms_clients;
mod oauth;
mod observability;
mod ops_cli;
mod pipeline;
mod rate_budget;
mod sandbox;
mod two_way;
mod worker;
mod worker_flows;
