//! Inbound webhooks: verify, normalise, dedupe, enqueue.
//!
//! Floors, bottom up: [`error`] (what can go wrong, and its one HTTP mapping) and `parse` (reading
//! bodies and fields the same way for everyone); `provider` (what a provider is: authenticate a
//! raw delivery, normalise it into a canonical event); the providers, one file each
//! ([`skilljar`], [`generic`] with its [`signature`], [`ghl`] for GHL's own webhooks); and
//! `service`, the one pipeline every ingest function runs, which routes to a provider by the
//! function's trigger and the last segment of the path.

pub mod error;
pub mod generic;
pub mod ghl;
mod parse;
mod provider;
mod service;
pub mod signature;
pub mod skilljar;

pub use error::{IngestError, IngestResponse, MAX_BODY_BYTES, RetryAnswer};
pub use provider::{Delivery, Normalised, Parsed, Provider, Trigger, WebhookSecrets};
pub use service::{IngestRequest, IngestService, correlation_id};

#[cfg(test)]
mod tests;
