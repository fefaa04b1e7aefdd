//! LMS ⇄ GoHighLevel sync: the library behind every Lambda function.
//!
//! - [`domain`]: canonical events, free of AWS, HTTP and vendor formats.
//! - [`ingest`]: webhook verification, normalisation per provider, dedupe, enqueue.
//! - [`contract`]: the versioned queue message between ingest and the worker.
//! - [`keys`]: every key the store holds.
//! - [`learning`]: learning records (one learner's enrollment in one course), merged in any order.
//! - [`worker`]: queued events → GHL calls, exactly once.
//! - [`ghl`]: the GoHighLevel API v2 client; [`lms`]: the LMS clients beside it; [`http`]: the
//!   client setup, retry policy and rate budget they share.
//! - [`ports`] and their adapters: [`aws`] (SQS, DynamoDB, Secrets Manager) and [`memory`].

pub mod app;
pub mod aws;
pub mod batch;
pub mod clock;
pub mod config;
pub mod contract;
pub mod domain;
pub mod ghl;
pub mod http;
pub mod idempotency;
pub mod ingest;
mod json_error;
pub mod keys;
pub mod lambda;
pub mod learning;
pub mod lms;
pub mod mapping;
pub mod memory;
pub mod ports;
pub mod secrets;
pub mod telemetry;
pub mod worker;

pub use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
