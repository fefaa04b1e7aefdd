//! Everything the sandbox remembers, behind one mutex: requests are short and never hold it
//! across an await, so one lock keeps the invariants (indexes, single-use grants) simple.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::config::{ContactSeed, CustomFieldDef, OAuthClientConfig, SandboxConfig};
use crate::error::{ApiError, FORBIDDEN_LOCATION};
use crate::limits::Limiter;
use crate::model::{Contact, Note, Task, truncate_ms};
use crate::objects::Objects;
use crate::patch::{ContactPatch, WriteKind};
use crate::store::ContactStore;

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) locations: BTreeMap<String, LocationState>,
    /// Private Integration Tokens and issued access tokens.
    pub(crate) tokens: HashMap<String, Token>,
    pub(crate) refresh_tokens: HashMap<String, Grant>,
    pub(crate) codes: HashMap<String, Grant>,
    pub(crate) clients: HashMap<String, OAuthClientConfig>,
    ids: fastrand::Rng,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) location_id: String,
    /// `None` for a Private Integration Token, which does not expire.
    pub(crate) expires_at: Option<Instant>,
}

#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) location_id: String,
}

#[derive(Debug)]
pub(crate) struct LocationState {
    pub(crate) id: String,
    pub(crate) company_id: String,
    pub(crate) user_id: String,
    pub(crate) active: bool,
    pub(crate) contacts: ContactStore,
    pub(crate) custom_fields: Vec<CustomFieldDef>,
    /// Keyed by contact id; removed with the contact.
    pub(crate) tasks: HashMap<String, Vec<Task>>,
    pub(crate) notes: HashMap<String, Vec<Note>>,
    pub(crate) events: HashMap<String, Vec<Value>>,
    pub(crate) limiter: Limiter,
    pub(crate) objects: Objects,
}

/// Why a configuration or seeding call was refused.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("unknown location {0}")]
    UnknownLocation(String),
    #[error("unknown contact {0}")]
    UnknownContact(String),
    #[error("unknown OAuth client {0}")]
    UnknownClient(String),
    #[error("invalid seed: {0}")]
    Invalid(String),
}

impl From<ApiError> for SetupError {
    fn from(e: ApiError) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl State {
    pub(crate) fn from_config(config: &SandboxConfig, start: Instant) -> Result<Self, SetupError> {
        let mut state = Self {
            locations: BTreeMap::new(),
            tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            codes: HashMap::new(),
            clients: config
                .oauth_clients
                .iter()
                .map(|c| (c.client_id.clone(), c.clone()))
                .collect(),
            // Offset from the fault seed so ids and fault rolls are independent streams.
            ids: fastrand::Rng::with_seed(config.seed ^ 0x1d5_1d5),
        };
        for loc in &config.locations {
            state.locations.insert(
                loc.id.clone(),
                LocationState {
                    id: loc.id.clone(),
                    company_id: loc.company_id.clone(),
                    user_id: loc.user_id.clone(),
                    active: loc.active,
                    contacts: ContactStore::default(),
                    custom_fields: loc.custom_fields.clone(),
                    tasks: HashMap::new(),
                    notes: HashMap::new(),
                    events: HashMap::new(),
                    limiter: Limiter::new(config.rate_limits.clone(), start),
                    objects: Objects::new(loc.custom_objects),
                },
            );
            for pit in &loc.private_integration_tokens {
                state.add_token(pit, &loc.id, None);
            }
            for seed in &loc.refresh_tokens {
                state.add_grant(GrantKind::Refresh, &loc.id, &seed.client_id, &seed.value)?;
            }
            for seed in &loc.authorization_codes {
                state.add_grant(GrantKind::Code, &loc.id, &seed.client_id, &seed.value)?;
            }
            for seed in &loc.contacts {
                state.seed_contact(&loc.id, seed.clone())?;
            }
        }
        Ok(state)
    }

    /// A GHL-looking id: 20 alphanumerics.
    pub(crate) fn new_id(&mut self) -> String {
        self.random_alnum(20)
    }

    pub(crate) fn random_alnum(&mut self, len: usize) -> String {
        (0..len).map(|_| self.ids.alphanumeric()).collect()
    }

    pub(crate) fn random_hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from_digit(self.ids.u32(..16), 16).unwrap_or('0'))
            .collect()
    }

    pub(crate) fn add_token(&mut self, token: &str, location_id: &str, expires_at: Option<Instant>) {
        self.tokens.insert(
            token.to_owned(),
            Token {
                location_id: location_id.to_owned(),
                expires_at,
            },
        );
    }

    pub(crate) fn grants_mut(&mut self, kind: GrantKind) -> &mut HashMap<String, Grant> {
        match kind {
            GrantKind::Refresh => &mut self.refresh_tokens,
            GrantKind::Code => &mut self.codes,
        }
    }

    pub(crate) fn add_grant(
        &mut self,
        kind: GrantKind,
        location_id: &str,
        client_id: &str,
        value: &str,
    ) -> Result<(), SetupError> {
        if !self.locations.contains_key(location_id) {
            return Err(SetupError::UnknownLocation(location_id.into()));
        }
        if !self.clients.contains_key(client_id) {
            return Err(SetupError::UnknownClient(client_id.into()));
        }
        let grant = Grant {
            client_id: client_id.into(),
            location_id: location_id.into(),
        };
        self.grants_mut(kind).insert(value.into(), grant);
        Ok(())
    }

    /// The location a bearer token acts for, if the token is known, unexpired and its location active.
    pub(crate) fn authenticate(&self, token: &str, now: Instant) -> Result<&str, ApiError> {
        let invalid = ApiError::Unauthorized("Invalid JWT");
        let token = self.tokens.get(token).ok_or(invalid)?;
        if token.expires_at.is_some_and(|at| now >= at) {
            return Err(ApiError::Unauthorized("Invalid JWT"));
        }
        match self.locations.get(&token.location_id) {
            Some(loc) if loc.active => Ok(&token.location_id),
            Some(_) => Err(ApiError::Unauthorized("Location is not active")),
            None => Err(ApiError::Unauthorized("Invalid JWT")),
        }
    }

    pub(crate) fn location(&self, id: &str) -> Result<&LocationState, ApiError> {
        self.locations
            .get(id)
            .ok_or(ApiError::Forbidden(FORBIDDEN_LOCATION))
    }

    pub(crate) fn location_mut(&mut self, id: &str) -> Result<&mut LocationState, ApiError> {
        self.locations
            .get_mut(id)
            .ok_or(ApiError::Forbidden(FORBIDDEN_LOCATION))
    }

    /// Whether another location holds this contact: the caller then used the wrong token.
    pub(crate) fn contact_elsewhere(&self, location_id: &str, contact_id: &str) -> bool {
        self.locations
            .values()
            .any(|loc| loc.id != location_id && loc.contacts.contains(contact_id))
    }

    pub(crate) fn seed_contact(
        &mut self,
        location_id: &str,
        seed: ContactSeed,
    ) -> Result<Contact, SetupError> {
        let id = self.new_id();
        let loc = self
            .locations
            .get_mut(location_id)
            .ok_or_else(|| SetupError::UnknownLocation(location_id.into()))?;
        let body = seed_body(location_id, &seed, &loc.custom_fields);
        let patch = ContactPatch::parse(&body, WriteKind::Create, &loc.custom_fields)?;
        let now = truncate_ms(seed.date_added.unwrap_or_else(OffsetDateTime::now_utc));
        let mut contact = loc.create_contact(&patch, id, now)?;
        if seed.business_id.is_some() {
            contact.business_id = seed.business_id;
            loc.contacts.put(contact.clone());
        }
        Ok(contact)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantKind {
    Refresh,
    Code,
}

impl LocationState {
    /// The duplicate rule of `POST /contacts/`: email first, then phone.
    pub(crate) fn duplicate_of(&self, patch: &ContactPatch, except: Option<&str>) -> Result<(), ApiError> {
        let by_email = patch
            .email()
            .and_then(|e| self.contacts.find_by_email(e))
            .map(|c| (c, "email"));
        let by_phone = || {
            patch
                .phone()
                .and_then(|p| self.contacts.find_by_phone(p))
                .map(|c| (c, "phone"))
        };
        match by_email.or_else(by_phone) {
            Some((other, field)) if Some(other.id.as_str()) != except => Err(ApiError::Duplicate {
                contact_name: other.display_name(),
                contact_id: other.id.clone(),
                matching_field: field,
            }),
            _ => Ok(()),
        }
    }

    pub(crate) fn create_contact(
        &mut self,
        patch: &ContactPatch,
        id: String,
        now: OffsetDateTime,
    ) -> Result<Contact, ApiError> {
        self.duplicate_of(patch, None)?;
        let mut contact = Contact::new(id, self.id.clone(), now);
        patch.apply(&mut contact);
        self.contacts.put(contact.clone());
        Ok(contact)
    }

    pub(crate) fn contact(&self, id: &str) -> Result<&Contact, ApiError> {
        self.contacts.get(id).ok_or_else(ApiError::contact_not_found)
    }

    pub(crate) fn remove_contact(&mut self, id: &str) -> Option<Contact> {
        self.tasks.remove(id);
        self.notes.remove(id);
        self.events.remove(id);
        self.contacts.remove(id)
    }
}

/// A seed as the `CreateContactDto` it stands for, so seeding validates like the API does.
fn seed_body(
    location_id: &str,
    seed: &ContactSeed,
    defs: &[CustomFieldDef],
) -> serde_json::Map<String, Value> {
    let mut body = serde_json::Map::new();
    body.insert("locationId".into(), Value::from(location_id));
    for (key, value) in [
        ("firstName", &seed.first_name),
        ("lastName", &seed.last_name),
        ("email", &seed.email),
        ("phone", &seed.phone),
        ("companyName", &seed.company_name),
        ("source", &seed.source),
    ] {
        if let Some(value) = value {
            body.insert(key.into(), Value::from(value.as_str()));
        }
    }
    if !seed.tags.is_empty() {
        body.insert("tags".into(), Value::from(seed.tags.clone()));
    }
    if !seed.custom_fields.is_empty() {
        let fields: Vec<Value> = seed
            .custom_fields
            .iter()
            .map(|(id_or_key, value)| {
                let by = if defs.iter().any(|d| &d.id == id_or_key) {
                    "id"
                } else {
                    "key"
                };
                serde_json::json!({ by: id_or_key, "field_value": value })
            })
            .collect();
        body.insert("customFields".into(), Value::Array(fields));
    }
    body
}
