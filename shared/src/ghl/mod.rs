//! GoHighLevel API v2: the client, its typed errors, auth, the shared rate budget, the retry
//! policy and the request/response shapes, checked against GHL's official OpenAPI contract
//! (`tests/contract/ghl-api/`).

mod activities;
pub mod auth;
mod client;
mod clients;
mod contacts;
mod custom_fields;
pub mod enrollments;
mod error;
pub mod objects;
pub mod rate;
pub mod retry;
mod types;

pub use auth::{OAuthCredentials, OAuthSettings, OAuthTokens, PrivateIntegrationToken, TokenEndpoint};
pub use client::{API_VERSION, Credentials, GhlClient, GhlConfig, LocationAuth, http_client};
pub use clients::GhlClients;
pub use contacts::Created;
pub use error::GhlError;
pub use rate::{BudgetConfig, RateBudget, RateHeaders, RateLimits, SharedRateBudget, Unlimited};
pub use retry::{Failure, Idempotence, RetryClass, RetryPolicy};
pub use types::*;
