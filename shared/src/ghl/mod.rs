//! GoHighLevel API v2: the client, its typed errors and the request/response shapes, checked
//! against GHL's official OpenAPI contract (`tests/contract/ghl-api/`).

mod client;
mod error;
mod types;

pub use client::{API_VERSION, Credentials, GhlClient, GhlConfig, LocationAuth, PrivateIntegrationToken};
pub use error::GhlError;
pub use types::{ContactSummary, CustomFieldValue, UpsertContact, UpsertContactResponse};
