//! What the integration tests (`tests/src/lib.rs`) and the dev tooling (`xtask`) both need, kept
//! in one place so that a change to the key schema, the queue wiring or the signature format is
//! one edit: provisioning a deployment's AWS resources, relaying the outbox as the Pipe does, turning received queue messages into the
//! records Lambda's SQS event source hands the worker, and reading and re-signing the sample API
//! Gateway events under `events/`.
//!
//! Everything returns errors instead of panicking: the tests turn them into panics, the xtask
//! reports them.

pub mod outbox;
pub mod provision;
pub mod samples;
pub mod sqs;

pub use provision::{Provisioned, Resources};
