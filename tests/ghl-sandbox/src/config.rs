//! What a sandbox starts with: locations and their credentials, OAuth clients, rate limits,
//! faults. Everything has a default so a test only names what it cares about.

use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use crate::webhooks::WebhookConfig;

/// The location id of `SandboxConfig::default()`; GHL's own docs use it in examples.
pub const DEFAULT_LOCATION_ID: &str = "ve9EPM428h8vShlRW1KT";
/// The Private Integration Token of `SandboxConfig::default()`.
pub const DEFAULT_PIT: &str = "pit-local-demo-token";

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Port on 127.0.0.1; `None` or `Some(0)` lets the OS pick one.
    pub port: Option<u16>,
    pub locations: Vec<LocationConfig>,
    pub oauth_clients: Vec<OAuthClientConfig>,
    /// Applied to each location separately; all tokens of a location share its budget.
    pub rate_limits: RateLimitConfig,
    /// Faults for the resource endpoints (everything but `/oauth/token`).
    pub faults: FaultConfig,
    /// Faults for `POST /oauth/token`, separate because a lost refresh answer is its own hazard.
    pub token_faults: FaultConfig,
    /// Lifetime of issued OAuth access tokens (`expires_in`).
    pub access_token_ttl: Duration,
    /// Seeds both the fault dice and generated ids, so a sequential run repeats exactly.
    pub seed: u64,
    /// Print one `METHOD PATH STATUS` line per request to stdout (the binary turns this on).
    pub log_requests: bool,
    /// Send GHL's webhooks when contacts, tags, tasks or notes change; off when `None`.
    pub webhooks: Option<WebhookConfig>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: None,
            locations: vec![LocationConfig::new(DEFAULT_LOCATION_ID).with_token(DEFAULT_PIT)],
            oauth_clients: Vec::new(),
            rate_limits: RateLimitConfig::default(),
            faults: FaultConfig::default(),
            token_faults: FaultConfig::default(),
            access_token_ttl: Duration::from_secs(86_399),
            seed: 0x5eed,
            log_requests: false,
            webhooks: None,
        }
    }
}

impl SandboxConfig {
    pub fn with_rate_limits(mut self, max: u32, interval: Duration) -> Self {
        self.rate_limits.max = max;
        self.rate_limits.interval = interval;
        self
    }

    pub fn with_faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    pub fn with_webhooks(mut self, webhooks: WebhookConfig) -> Self {
        self.webhooks = Some(webhooks);
        self
    }

    pub fn with_oauth_client(mut self, client_id: &str, client_secret: &str) -> Self {
        self.oauth_clients.push(OAuthClientConfig {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scope: OAuthClientConfig::DEFAULT_SCOPE.into(),
        });
        self
    }

    /// The first location, which the one-location helpers below act on.
    pub fn first_location_mut(&mut self) -> Option<&mut LocationConfig> {
        self.locations.first_mut()
    }
}

#[derive(Debug, Clone)]
pub struct LocationConfig {
    pub id: String,
    pub company_id: String,
    /// The installing user reported in token answers and used as a note's default `userId`.
    pub user_id: String,
    /// An inactive location refuses token grants and resource requests (see the crate docs).
    pub active: bool,
    pub private_integration_tokens: Vec<String>,
    pub refresh_tokens: Vec<GrantSeed>,
    pub authorization_codes: Vec<GrantSeed>,
    pub custom_fields: Vec<CustomFieldDef>,
    pub contacts: Vec<ContactSeed>,
    /// The plan (and token) allow custom objects; `false`: every objects, custom-fields v2 and
    /// associations request answers 401.
    pub custom_objects: bool,
}

impl LocationConfig {
    /// A location with the custom fields `config/mapping.toml` names.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.into(),
            company_id: "5DP4iH6HLkQsiKESj6rh".into(),
            user_id: "y0BeYjuRIlDwsDcOHOJo".into(),
            active: true,
            private_integration_tokens: Vec::new(),
            refresh_tokens: Vec::new(),
            authorization_codes: Vec::new(),
            custom_fields: vec![
                CustomFieldDef::new(
                    "6dvNaf7VhkQ9snc5vnjJ",
                    "Employee Count",
                    "employee_count",
                    "NUMERICAL",
                ),
                CustomFieldDef::new("MgobCB14YMVKuE4Ka8p1", "LMS User Id", "lms_user_id", "TEXT"),
                CustomFieldDef::new("3sv6UEo51C9Bmpo1cKTq", "Last Course", "last_course", "TEXT"),
                CustomFieldDef::new("RoLe7lmsK2xq9TzP0aB1", "LMS Role", "lms_role", "TEXT"),
                CustomFieldDef::new("DePt4mNx8QwL2rS6vYc3", "Department", "department", "TEXT"),
            ],
            contacts: Vec::new(),
            custom_objects: true,
        }
    }

    pub fn with_token(mut self, pit: &str) -> Self {
        self.private_integration_tokens.push(pit.into());
        self
    }

    pub fn with_refresh_token(mut self, client_id: &str, token: &str) -> Self {
        self.refresh_tokens.push(GrantSeed::new(client_id, token));
        self
    }

    pub fn with_authorization_code(mut self, client_id: &str, code: &str) -> Self {
        self.authorization_codes.push(GrantSeed::new(client_id, code));
        self
    }
}

/// A refresh token or authorization code, valid for one client at one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantSeed {
    pub client_id: String,
    pub value: String,
}

impl GrantSeed {
    pub fn new(client_id: &str, value: &str) -> Self {
        Self {
            client_id: client_id.into(),
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OAuthClientConfig {
    pub client_id: String,
    pub client_secret: String,
    /// The `scope` string token answers carry.
    pub scope: String,
}

impl OAuthClientConfig {
    pub const DEFAULT_SCOPE: &str = "contacts.readonly contacts.write locations/customFields.readonly";
}

/// A contact custom field definition (`CustomFieldSchema` in locations.json).
#[derive(Debug, Clone, PartialEq)]
pub struct CustomFieldDef {
    pub id: String,
    pub name: String,
    /// Without the `contact.` prefix; writes accept either form.
    pub key: String,
    /// GHL's data types: TEXT, LARGE_TEXT, NUMERICAL, PHONE, MONETORY, CHECKBOX, SINGLE_OPTIONS, …
    pub data_type: String,
    pub picklist_options: Vec<String>,
}

impl CustomFieldDef {
    pub fn new(id: &str, name: &str, key: &str, data_type: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            key: key.trim_start_matches("contact.").into(),
            data_type: data_type.into(),
            picklist_options: Vec::new(),
        }
    }
}

/// A contact to put in place before requests arrive; goes through the same validation as
/// `POST /contacts/`, so a duplicate email or phone is refused.
#[derive(Debug, Clone, Default)]
pub struct ContactSeed {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    /// `(custom field id or key, value)`.
    pub custom_fields: Vec<(String, Value)>,
    /// There is no write path for it in the spec's DTOs, so seeding is the only way to set it.
    pub business_id: Option<String>,
    /// Defaults to now; set it to spread contacts over time for `startAfter` paging.
    pub date_added: Option<OffsetDateTime>,
}

impl ContactSeed {
    pub fn email(email: &str) -> Self {
        Self {
            email: Some(email.into()),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Requests admitted within any sliding `interval`.
    pub max: u32,
    pub interval: Duration,
    /// Requests admitted per day window.
    pub daily_limit: u64,
    /// Length of the fixed daily window, counted from the sandbox's start.
    pub daily_window: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            max: 100,
            interval: Duration::from_secs(10),
            daily_limit: 200_000,
            daily_window: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// Per-request fault probabilities. Drop, 429, 5xx and lost answer exclude each other, so their
/// sum must not exceed 1; latency is added on top, to faulty and healthy answers alike.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    pub rate_429: f64,
    pub rate_5xx: f64,
    pub rate_drop: f64,
    /// The request is carried out, then the connection closes without an answer: what a client
    /// sees when its timeout fires, or the network fails, after GHL acted.
    pub rate_lost_answer: f64,
    pub latency: Latency,
}

impl FaultConfig {
    pub fn is_off(&self) -> bool {
        self.rate_429 == 0.0
            && self.rate_5xx == 0.0
            && self.rate_drop == 0.0
            && self.rate_lost_answer == 0.0
            && self.latency == Latency::None
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Latency {
    #[default]
    None,
    Fixed(Duration),
    /// Uniform between the two bounds, inclusive.
    Uniform(Duration, Duration),
}
