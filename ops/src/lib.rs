//! What the operator's CLI (`lms-sync-ops`) does, as a library so that the integration tests run
//! it against moto and the sandboxes. Configured by the functions' own environment variables.

pub mod batch;
pub mod config;
pub mod dlq;
pub mod oauth;
pub mod outbox;
pub mod replay;
pub mod skilljar;
pub mod status;
pub mod webhook;
