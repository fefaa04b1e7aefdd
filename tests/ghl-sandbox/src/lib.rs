//! A stateful imitation of GoHighLevel's API v2 for tests, local runs and benchmarks.
//!
//! It serves the contact endpoints of `tests/contract/ghl-api/apps/contacts.json` (contacts,
//! upsert, search, duplicates, tasks, notes, tags, appointments), the custom-field list of
//! `locations.json` and the token endpoint of `oauth.json`, with bodies in the spec's shapes,
//! from in-memory state that tests can seed and inspect. On top it imitates what the spec does
//! not state but GHL does: the `Version` header, bearer tokens bound to a location, single-use
//! refresh tokens, per-location rate limits with `X-RateLimit-*` headers, and it can inject
//! faults (429, 5xx, dropped connections, latency) at seeded random. When given a URL and a key,
//! it sends GHL's webhooks (signed `x-ghl-signature`) as its contacts, tags, tasks and notes
//! change (`webhooks`).
//!
//! Choices where GHL's behaviour is not documented:
//! - **Rate limit**: a sliding window log per location (at most `max` admitted requests in any
//!   `interval`), plus a fixed daily window counted from the sandbox's start. Only
//!   authenticated requests with a valid `Version` spend budget.
//! - **Inactive location**: `POST /oauth/token` answers 400
//!   `{"error":"invalid_request","error_description":"Location is not active"}` and does not
//!   spend the grant; resource requests with its tokens answer 401
//!   `{statusCode:401, message:"Location is not active", error:"Unauthorized"}`.
//! - **Dropped connection**: the connection is closed without writing a response (hyper aborts
//!   the connection when the service fails), so the client sees an incomplete message / reset.
//! - **Another location's data**: a token naming another location, or a contact id of another
//!   location, answers 403 `The token does not have access to this location.`.
//!
//! See `README.md` next to this crate for the full list of what is and is not imitated.

mod body;
mod config;
mod error;
mod faults;
mod flags;
mod gate;
pub mod kit;
mod limits;
mod model;
mod oauth;
mod objects;
mod patch;
mod routes;
mod server;
mod state;
mod stats;
mod store;
mod webhooks;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config::{
    ContactSeed, CustomFieldDef, DEFAULT_LOCATION_ID, DEFAULT_PIT, FaultConfig, GrantSeed, Latency,
    LocationConfig, OAuthClientConfig, RateLimitConfig, SandboxConfig,
};
pub use faults::Fault;
pub use model::{Contact, Note, Task};
pub use objects::{Association, ObjectField, ObjectRecord, ObjectSchema, Relation};
pub use state::SetupError;
pub use stats::Stats;
pub use webhooks::{WebhookConfig, WebhookDelivery, WebhookKey};

use server::{Edge, Faults, Shared, lock};
use state::{GrantKind, State};

/// A running sandbox. Dropping it stops the server too; `shutdown` also waits for that.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    webhook_log: Arc<Mutex<Vec<WebhookDelivery>>>,
    webhook_task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds 127.0.0.1 (on `config.port`, or a free port) and starts serving.
    pub async fn start(config: SandboxConfig) -> io::Result<Sandbox> {
        let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
        faults::validate("faults", &config.faults).map_err(invalid)?;
        faults::validate("token_faults", &config.token_faults).map_err(invalid)?;
        if config.rate_limits.max == 0 || config.rate_limits.interval.is_zero() {
            return Err(invalid("rate_limits: max and interval must be positive".into()));
        }
        let state = State::from_config(&config, Instant::now()).map_err(|e| invalid(e.to_string()))?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port.unwrap_or(0))).await?;
        let addr = listener.local_addr()?;
        let webhook_log = Arc::new(Mutex::new(Vec::new()));
        let (outbox, webhook_task) = match config.webhooks.clone() {
            Some(webhooks) => {
                let (outbox, task) =
                    webhooks::start(webhooks, config.seed, webhook_log.clone(), config.log_requests);
                (outbox, Some(task))
            }
            None => (webhooks::Outbox::off(), None),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            stats: Mutex::new(Stats::default()),
            faults: Mutex::new(Faults {
                dice: faults::Dice::new(config.seed),
                resource: config.faults.clone(),
                token: config.token_faults.clone(),
                scripted: Vec::new(),
            }),
            access_token_ttl: config.access_token_ttl,
            base_url: format!("http://{addr}"),
            log_requests: config.log_requests,
            webhooks: outbox,
        });
        let edge = Edge {
            router: routes::router(shared.clone()),
            shared: shared.clone(),
        };
        let (stop, task) = server::spawn(listener, edge);
        Ok(Sandbox {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
            webhook_log,
            webhook_task,
        })
    }

    /// The webhooks sent so far, in the order the changes happened, each once its last attempt
    /// was answered (or failed).
    pub fn webhooks(&self) -> Vec<WebhookDelivery> {
        server::lock(&self.webhook_log).clone()
    }

    /// Waits until at least `count` webhooks were sent (or `timeout` passed); returns them all.
    pub async fn wait_for_webhooks(&self, count: usize, timeout: Duration) -> Vec<WebhookDelivery> {
        let deadline = Instant::now() + timeout;
        loop {
            let sent = self.webhooks();
            if sent.len() >= count || Instant::now() >= deadline {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash: the `base_url` for a GHL client.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> Stats {
        let mut stats = lock(&self.shared.stats).clone();
        let state = self.shared.state();
        for (id, loc) in &state.locations {
            let (admitted, attempted) = (loc.limiter.max_admitted, loc.limiter.max_attempted);
            stats
                .windows_by_location
                .insert(id.clone(), (admitted, attempted));
            stats.max_admitted_in_window = stats.max_admitted_in_window.max(admitted);
            stats.max_attempted_in_window = stats.max_attempted_in_window.max(attempted);
        }
        stats
    }

    /// Zeroes the counters (not the limiters' windows), e.g. after seeding through the API.
    pub fn reset_stats(&self) {
        *lock(&self.shared.stats) = Stats::default();
    }

    /// Stops accepting, aborts open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(webhooks) = self.webhook_task.take() {
            webhooks.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// The location's contacts in list order (dateAdded, id).
    pub fn contacts(&self, location_id: &str) -> Vec<Contact> {
        let state = self.shared.state();
        state
            .locations
            .get(location_id)
            .map(|loc| loc.contacts.ordered().cloned().collect())
            .unwrap_or_default()
    }

    pub fn contact(&self, location_id: &str, contact_id: &str) -> Option<Contact> {
        let state = self.shared.state();
        state
            .locations
            .get(location_id)?
            .contacts
            .get(contact_id)
            .cloned()
    }

    pub fn tasks(&self, location_id: &str, contact_id: &str) -> Vec<Task> {
        let state = self.shared.state();
        let tasks = state
            .locations
            .get(location_id)
            .and_then(|loc| loc.tasks.get(contact_id));
        tasks.cloned().unwrap_or_default()
    }

    pub fn notes(&self, location_id: &str, contact_id: &str) -> Vec<Note> {
        let state = self.shared.state();
        let notes = state
            .locations
            .get(location_id)
            .and_then(|loc| loc.notes.get(contact_id));
        notes.cloned().unwrap_or_default()
    }

    pub fn custom_fields(&self, location_id: &str) -> Vec<CustomFieldDef> {
        let state = self.shared.state();
        let loc = state.locations.get(location_id);
        loc.map(|loc| loc.custom_fields.clone()).unwrap_or_default()
    }

    /// The location's custom-object schemas, with their fields and folders.
    pub fn object_schemas(&self, location_id: &str) -> Vec<ObjectSchema> {
        let state = self.shared.state();
        let loc = state.locations.get(location_id);
        loc.map(|loc| loc.objects.schemas.clone()).unwrap_or_default()
    }

    /// The records of one custom object (`custom_objects.…`), in creation order.
    pub fn records(&self, location_id: &str, object_key: &str) -> Vec<ObjectRecord> {
        let state = self.shared.state();
        let loc = state.locations.get(location_id);
        loc.map(|loc| {
            loc.objects
                .records
                .iter()
                .filter(|r| r.object_key == object_key)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
    }

    pub fn associations(&self, location_id: &str) -> Vec<Association> {
        let state = self.shared.state();
        let loc = state.locations.get(location_id);
        loc.map(|loc| loc.objects.associations.clone())
            .unwrap_or_default()
    }

    /// Every relation between records (a learning record and its contact, say).
    pub fn relations(&self, location_id: &str) -> Vec<Relation> {
        let state = self.shared.state();
        let loc = state.locations.get(location_id);
        loc.map(|loc| loc.objects.relations.clone()).unwrap_or_default()
    }

    /// Whether the location's plan (and token) allow custom objects; without, every objects,
    /// custom-fields v2 and associations request answers 401.
    pub fn set_custom_objects(&self, location_id: &str, available: bool) -> Result<(), SetupError> {
        let mut state = self.shared.state();
        let loc = state
            .locations
            .get_mut(location_id)
            .ok_or_else(|| SetupError::UnknownLocation(location_id.into()))?;
        loc.objects.available = available;
        Ok(())
    }

    /// Whether a refresh token would still be accepted (seeded or issued, and unused).
    pub fn refresh_token_is_valid(&self, token: &str) -> bool {
        self.shared.state().refresh_tokens.contains_key(token)
    }

    /// Adds contacts as `POST /contacts/` would (same validation and duplicate rule), without
    /// going through HTTP, the rate limit or the stats.
    pub fn seed_contacts(
        &self,
        location_id: &str,
        seeds: impl IntoIterator<Item = ContactSeed>,
    ) -> Result<Vec<Contact>, SetupError> {
        let mut state = self.shared.state();
        seeds
            .into_iter()
            .map(|seed| state.seed_contact(location_id, seed))
            .collect()
    }

    /// Adds an event (`GetEventSchema`) to `GET /contacts/:contactId/appointments`.
    pub fn seed_appointment(
        &self,
        location_id: &str,
        contact_id: &str,
        event: Value,
    ) -> Result<(), SetupError> {
        let mut state = self.shared.state();
        let loc = state
            .locations
            .get_mut(location_id)
            .ok_or_else(|| SetupError::UnknownLocation(location_id.into()))?;
        if !loc.contacts.contains(contact_id) {
            return Err(SetupError::UnknownContact(contact_id.into()));
        }
        loc.events.entry(contact_id.into()).or_default().push(event);
        Ok(())
    }

    pub fn add_custom_field(&self, location_id: &str, def: CustomFieldDef) -> Result<(), SetupError> {
        let mut state = self.shared.state();
        let loc = state
            .locations
            .get_mut(location_id)
            .ok_or_else(|| SetupError::UnknownLocation(location_id.into()))?;
        loc.custom_fields.retain(|d| d.id != def.id);
        loc.custom_fields.push(def);
        Ok(())
    }

    pub fn add_private_token(&self, location_id: &str, token: &str) -> Result<(), SetupError> {
        let mut state = self.shared.state();
        if !state.locations.contains_key(location_id) {
            return Err(SetupError::UnknownLocation(location_id.into()));
        }
        state.add_token(token, location_id, None);
        Ok(())
    }

    pub fn add_oauth_client(&self, client: OAuthClientConfig) {
        self.shared
            .state()
            .clients
            .insert(client.client_id.clone(), client);
    }

    pub fn add_refresh_token(
        &self,
        location_id: &str,
        client_id: &str,
        token: &str,
    ) -> Result<(), SetupError> {
        self.shared
            .state()
            .add_grant(GrantKind::Refresh, location_id, client_id, token)
    }

    pub fn add_authorization_code(
        &self,
        location_id: &str,
        client_id: &str,
        code: &str,
    ) -> Result<(), SetupError> {
        self.shared
            .state()
            .add_grant(GrantKind::Code, location_id, client_id, code)
    }

    pub fn set_location_active(&self, location_id: &str, active: bool) -> Result<(), SetupError> {
        let mut state = self.shared.state();
        let loc = state
            .locations
            .get_mut(location_id)
            .ok_or_else(|| SetupError::UnknownLocation(location_id.into()))?;
        loc.active = active;
        Ok(())
    }

    /// Makes every issued access token expired, to exercise a client's refresh path.
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for token in self.shared.state().tokens.values_mut() {
            if token.expires_at.is_some() {
                token.expires_at = Some(now);
            }
        }
    }

    /// Replaces the resource endpoints' faults; the dice keep rolling from where they were.
    pub fn set_faults(&self, faults: FaultConfig) -> Result<(), SetupError> {
        faults::validate("faults", &faults).map_err(SetupError::Invalid)?;
        lock(&self.shared.faults).resource = faults;
        Ok(())
    }

    /// `fault` for the next request to `route` (as the stats name it: `/objects/{key}/records`)
    /// with `method`, once, whatever the dice say.
    pub fn fail_next(&self, method: &str, route: &str, fault: Fault) {
        lock(&self.shared.faults)
            .scripted
            .push((method.to_owned(), route.to_owned(), fault));
    }

    pub fn set_token_faults(&self, faults: FaultConfig) -> Result<(), SetupError> {
        faults::validate("token_faults", &faults).map_err(SetupError::Invalid)?;
        lock(&self.shared.faults).token = faults;
        Ok(())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        if let Some(webhooks) = &self.webhook_task {
            webhooks.abort();
        }
    }
}
