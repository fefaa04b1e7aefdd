//! What every API call the sync makes shares, whichever API it goes to (GHL, an LMS, an outbound
//! destination): the HTTP client setup, the retry policy and the rate budget. Each API's client
//! keeps only what is its own: paths, authentication, body shapes and how its errors read.

pub mod client;
pub mod rate;
pub mod retry;

pub use client::{BaseUrlError, base_url, client};
pub use rate::{
    BudgetConfig, BudgetError, BudgetScope, CallCounter, Counted, RateBudget, RateHeaders, RateLimits,
    SharedRateBudget, Unlimited,
};
pub use retry::{Attempts, Failure, Idempotence, RetryClass, RetryPolicy};
